from django.apps import AppConfig


class RepairFlowConfig(AppConfig):
    name = "repair_flow"
    verbose_name = "平台与审计"
