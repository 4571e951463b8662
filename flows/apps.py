from django.apps import AppConfig


class FlowsConfig(AppConfig):
    name = "flows"
    verbose_name = "修复与异议案件"

    def ready(self):
        from flows.monitoring.services import on_records_saved
        from records.hooks import records_saved_hook_register

        # A new penalty of a monitored subject opens a breach review at once,
        # in the import's transaction.
        records_saved_hook_register("flows.monitoring", on_records_saved)
