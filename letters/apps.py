from django.apps import AppConfig


class LettersConfig(AppConfig):
    name = "letters"
    verbose_name = "文书与通知"

    def ready(self) -> None:
        from letters import tracking  # noqa: F401 - connects the ESP tracking receiver
