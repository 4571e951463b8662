from django.apps import AppConfig


class LettersConfig(AppConfig):
    name = "letters"
    verbose_name = "文书与通知"

    def ready(self) -> None:
        from letters import (  # noqa: F401
            checks,  # registers the signing keys' system check
            tracking,  # connects the ESP tracking receiver
        )
