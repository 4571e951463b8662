from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RepairFlowConfig(AppConfig):
    name = "repair_flow"
    verbose_name = _("平台与审计")

    def ready(self) -> None:
        from repair_flow import checks  # noqa: F401  (registers the audit keys' check)
