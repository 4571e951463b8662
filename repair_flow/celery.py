"""Celery for scale-out. Without CELERY_BROKER_URL tasks run eagerly in-process."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "repair_flow.settings")

app = Celery("repair_flow")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def task_named(name: str):
    """The task registered under `name`, to enqueue or call.

    How a module enqueues a task whose body calls back into it (a service
    queueing its own after-commit work, the embedded scheduler running beat's
    jobs): by name, so no import points from a service up to a tasks module.
    The first lookup imports every app's tasks module, as a worker does at start.
    """
    if name not in app.tasks:
        app.loader.import_default_modules()
    return app.tasks[name]
