"""gunicorn's settings for the scale-out set-up, read from this file when
gunicorn starts in the checkout (`.venv/bin/gunicorn repair_flow.wsgi`).
Each value can be changed by environment (listed in .env.example)."""

import gc
import multiprocessing

from repair_flow.env import env_int, env_str

# GUNICORN_BIND: the address the HTTPS proxy forwards to; loopback unless
# the proxy runs on another machine.
bind = env_str("GUNICORN_BIND", "127.0.0.1:8000")
# Sync workers, each serving one request at a time: gunicorn's advice of
# 2 x cores + 1 keeps the CPUs busy while others wait on PostgreSQL.
workers = env_int("WEB_CONCURRENCY", 2 * multiprocessing.cpu_count() + 1, minimum=1)
# A request still running after this is killed and its worker replaced: no
# page should take it (PDFs render in the Celery worker, large exports run as
# background jobs); the proxy's own read timeout should be a little longer.
timeout = env_int("GUNICORN_TIMEOUT", 60, minimum=5)
graceful_timeout = 30
# Replace each worker after a while, so a slow leak never grows unbounded.
max_requests = env_int("GUNICORN_MAX_REQUESTS", 2000, minimum=0)
max_requests_jitter = max_requests // 10
# X-Forwarded-Proto / X-Forwarded-For are believed only from the proxy's
# address (FORWARDED_ALLOW_IPS, comma-separated; gunicorn's default is
# 127.0.0.1); Django reads the same header (SECURE_PROXY_SSL_HEADER) and
# TRUSTED_PROXY_COUNT for the client's address.
forwarded_allow_ips = env_str("FORWARDED_ALLOW_IPS", "127.0.0.1")
accesslog = "-"
# The request id (repair_flow.middleware) joins these lines to the app's logs.
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms "%({x-request-id}o)s"'


def post_worker_init(worker):
    """The app is loaded: its modules' ~200,000 objects live as long as the
    worker. Frozen, Python's collector no longer walks them on each full
    collection, which came about every tenth request of a list page and cost
    ~10 ms a request on average (issue 18's list benchmark)."""
    gc.freeze()
