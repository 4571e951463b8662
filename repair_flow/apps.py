from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

from repair_flow import choices


class RepairFlowConfig(AppConfig):
    name = "repair_flow"
    verbose_name = _("平台与审计")

    def ready(self) -> None:
        # Registers the system checks (the audit keys, integration purposes).
        from repair_flow import checks, masking  # noqa: F401

        # Every log record is masked where it is made, whatever handler then
        # writes it (runserver's request lines, gunicorn's access log, Celery's
        # worker, pytest's capture): shared domain reference section 8.
        masking.install_record_masking()
        # Every model's get_<field>_display(), without translating each choice.
        choices.install()
