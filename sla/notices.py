"""The sentences of event notices (flows.notify), written when read.

A notice stores its event's message id and parameters, not a sentence
(sla.models.Notification.message/params): the 通知 page, the badge list and
the API render it in the reader's active language, and an email in the
recipient's. The parameters are facts that do not depend on the language
(the case's label, the letter's kind and number, the deadline as an ISO
datetime); words come from the catalogue here and the letter kinds' labels.
"""

import datetime as dt
import zoneinfo

from django.utils.translation import gettext_lazy

from letters.models import LetterKind

# The office's time, whatever zone the reader's request runs in.
BEIJING = zoneinfo.ZoneInfo("Asia/Shanghai")

# message id -> sentence with %(case)s, %(letter)s, %(deadline)s
EVENT_MESSAGES = {
    "filed": gettext_lazy("已收到您的申请 %(case)s，平台将尽快审查。"),
    "supplement": gettext_lazy(
        "申请 %(case)s 需要补正材料，请在 %(deadline)s 前提交（%(letter)s）。"
    ),
    "accepted": gettext_lazy("申请 %(case)s 已受理（%(letter)s）。"),
    "refused": gettext_lazy("申请 %(case)s 不予受理（%(letter)s）。"),
    "decision": gettext_lazy("申请 %(case)s 已作出决定（%(letter)s）。"),
    "objection_result": gettext_lazy("异议 %(case)s 已办结（%(letter)s）。"),
    "revocation_notice": gettext_lazy(
        "%(case)s 拟撤销信用修复，您可在 %(deadline)s 前陈述申辩（%(letter)s）。"
    ),
    "revocation": gettext_lazy("%(case)s 的信用修复已撤销（%(letter)s）。"),
    "deadline": gettext_lazy("申请 %(case)s 的办理期限 %(deadline)s 即将届满，请及时办理。"),
    "task_assigned": gettext_lazy("案件 %(case)s 已指派给您办理。"),
    "task_queued": gettext_lazy("新的待办：案件 %(case)s 已进入您的待办队列，请及时领取办理。"),
    "breach_review": gettext_lazy(
        "新的履约核查：已修复的案件 %(case)s 在监管期内出现新情况，请及时核查。"
    ),
}


def notice_params(*, case_label: str, letter=None, deadline: dt.datetime | None = None) -> dict:
    """The parameters stored with a notice (JSON)."""
    params: dict = {"case": case_label}
    if letter is not None:
        params["letter_kind"] = letter.kind
        params["letter_number"] = letter.number
    if deadline is not None:
        params["deadline"] = deadline.isoformat()
    return params


def notice_text(message: str, params: dict | None) -> str | None:
    """The sentence of `message` in the active language; None for a message
    id the catalogue does not know (the caller falls back to stored text)."""
    template = EVENT_MESSAGES.get(message)
    if template is None:
        return None
    params = params or {}
    letter = ""
    if params.get("letter_kind"):
        kind = params["letter_kind"]
        label = LetterKind(kind).label if kind in LetterKind.values else kind
        letter = f"{label} {params.get('letter_number', '')}".strip()
    deadline = ""
    if params.get("deadline"):
        due = dt.datetime.fromisoformat(params["deadline"]).astimezone(BEIJING)
        deadline = due.strftime("%Y-%m-%d %H:%M")
    return str(template) % {"case": params.get("case", ""), "letter": letter, "deadline": deadline}
