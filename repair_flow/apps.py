from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RepairFlowConfig(AppConfig):
    name = "repair_flow"
    verbose_name = _("平台与审计")
