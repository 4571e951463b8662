from django.apps import AppConfig


class LettersConfig(AppConfig):
    name = "letters"
    verbose_name = "文书与通知"

    def ready(self) -> None:
        from letters import (  # noqa: F401
            checks,  # registers the signing keys' system check
            tracking,  # connects the ESP tracking receiver
        )
        from letters.repair_info import on_records_saved
        from records.hooks import records_saved_hook_register

        # 两书同送: a new penalty of a reachable subject brings the
        # credit-repair notice, in the import's transaction.
        records_saved_hook_register("letters.repair_info", on_records_saved)
