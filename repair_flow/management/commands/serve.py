import threading

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from repair_flow import background, scheduler


class Command(BaseCommand):
    help = "Embedded default: the web server plus the scheduler loop, in one process."

    def add_arguments(self, parser):
        parser.add_argument("--addr", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--no-scheduler", action="store_true")

    def handle(self, *args, addr, port, no_scheduler, **options):
        stop = threading.Event()
        if not no_scheduler:
            scheduler.start(stop)
            self.stdout.write(
                "Scheduler loop started (" + ", ".join(j.name for j in scheduler.JOBS) + ")"
            )
        if settings.CELERY_TASK_ALWAYS_EAGER:
            # No broker: letters render on a thread, after the response.
            background.start()
            self.stdout.write("Render worker started")
        self.stdout.write(f"Serving on http://{addr}:{port}/")
        try:
            call_command("runserver", f"{addr}:{port}", use_reloader=False, use_threading=True)
        finally:
            stop.set()
            background.stop(timeout=5)
