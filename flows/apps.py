from django.apps import AppConfig


class FlowsConfig(AppConfig):
    name = "flows"
    verbose_name = "修复与异议案件"

    def ready(self):
        from flows.monitoring.services import on_records_saved
        from records.signals import records_saved

        # A new penalty of a monitored subject opens a breach review at once.
        records_saved.connect(on_records_saved, dispatch_uid="flows.monitoring")
