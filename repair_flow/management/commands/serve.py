import ipaddress
import os
import threading
from urllib.parse import urlsplit

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from repair_flow import background, scheduler


def _wildcard(addr: str) -> bool:
    try:
        return ipaddress.ip_address(addr).is_unspecified
    except ValueError:
        return not addr


def site_url_follow(*, addr: str, port: int) -> str:
    """In the embedded mode the letters' verify links and QR codes point at
    the address actually served, unless SITE_URL is set in the environment
    (a deployment behind a proxy names its public address). A wildcard
    address keeps the configured host."""
    if os.environ.get("SITE_URL"):
        return settings.SITE_URL
    current = urlsplit(settings.SITE_URL)
    host = (current.hostname or "127.0.0.1") if _wildcard(addr) else addr
    if ":" in host:
        host = f"[{host}]"
    settings.SITE_URL = f"{current.scheme or 'http'}://{host}:{port}"
    return settings.SITE_URL


class Command(BaseCommand):
    help = "Embedded default: the web server plus the scheduler loop, in one process."

    def add_arguments(self, parser):
        parser.add_argument("--addr", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--no-scheduler", action="store_true")

    def handle(self, *args, addr, port, no_scheduler, **options):
        site_url_follow(addr=addr, port=port)
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
