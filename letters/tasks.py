from celery import shared_task

from letters.outbox import letter_render, letters_sweep, message_send
from letters.repair_info import repair_info_issue_due


@shared_task(name="letters.render")
def render_letter(letter_id: int) -> str:
    """Render one letter (after the commit that issued it)."""
    result = letter_render(letter_id=letter_id)
    return "rendered" if result.rendered else (result.error or "nothing to do")


@shared_task(name="letters.render_many")
def render_letters(letter_ids: list[int]) -> str:
    """Render letters issued in bulk (an import's batch of notices), in order."""
    rendered = sum(letter_render(letter_id=pk).rendered for pk in letter_ids)
    return f"rendered {rendered} of {len(letter_ids)}"


@shared_task(name="letters.send")
def send_message(message_id: int) -> str:
    """Send one outbox message (after the commit that wrote it, or its letter's render)."""
    return message_send(message_id=message_id).status


@shared_task(name="letters.sweep")
def sweep() -> str:
    """Periodic: retry failed renders and sends whose time has come."""
    return str(letters_sweep(actor="scheduler"))


@shared_task(name="letters.repair_info_issue_due")
def issue_repair_info_due() -> str:
    """After an import's commit, and periodically for what a crash left:
    issue the credit-repair notices due, then render them here, already in
    the background (a render another worker claimed first is skipped)."""
    issued = repair_info_issue_due()
    rendered = sum(letter_render(letter_id=pk).rendered for pk in issued)
    return f"issued {len(issued)}, rendered {rendered}"
