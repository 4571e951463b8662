#!/usr/bin/env bash
# `make load`: the scale-out stack on this machine (gunicorn, a Celery worker
# and beat on PostgreSQL and Redis, production settings, the demo seeded into
# its own database), a bounded headless locust run against it (loopback
# only), the figures per endpoint, then everything it started stopped again.
#
#   make load LOAD_USERS=20 LOAD_SECONDS=30
#
# Needs PostgreSQL reachable at LOAD_PG (its LOAD_DB database is dropped and
# created again: never point it at a database you keep) and redis-server.
set -euo pipefail
cd "$(dirname "$0")/.."

USERS=${LOAD_USERS:-20}
RUN_SECONDS=${LOAD_SECONDS:-30}
SPAWN_RATE=${LOAD_SPAWN_RATE:-5}
PG=${LOAD_PG:-postgres://postgres@127.0.0.1:5432}
DB=${LOAD_DB:-rf_load}
WEB_PORT=${LOAD_WEB_PORT:-8765}
REDIS_PORT=${LOAD_REDIS_PORT:-6391}
RECORDS=${LOAD_RECORDS:-3000}
PY=.venv/bin/python

case "$DB" in rf_load*|*_load) ;; *) echo "LOAD_DB=$DB: the load database's name must end in _load or start with rf_load (it is dropped)" >&2; exit 2 ;; esac
if [ "$USERS" -gt 200 ] || [ "$RUN_SECONDS" -gt 600 ]; then
  echo "at most 200 users and 600 seconds on a shared machine" >&2; exit 2
fi

WORK=$(mktemp -d /tmp/rf-load.XXXXXX)
PIDS=()
stop_all() {
  # Each service was started in its own process group (setsid): TERM the
  # group, give it 15 s to shut down warm, then KILL what is left.
  for pid in "${PIDS[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || true; done
  for _ in $(seq 30); do
    alive=0
    for pid in "${PIDS[@]}"; do kill -0 -- "-$pid" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 0.5
  done
  for pid in "${PIDS[@]}"; do kill -KILL -- "-$pid" 2>/dev/null || true; done
  echo "stopped gunicorn, the Celery worker and beat, redis; logs in $WORK"
}
trap stop_all EXIT
trap 'exit 130' INT TERM

start() {  # start NAME COMMAND...: in its own process group, output to $WORK/NAME.log
  local name=$1; shift
  setsid "$@" >"$WORK/$name.log" 2>&1 &
  PIDS+=("$!")
}

export DJANGO_ENV=production
export SECRET_KEY=$($PY -c 'import secrets; print(secrets.token_urlsafe(50))')
export AUDIT_CHAIN_KEY=$($PY -c 'import secrets; print(secrets.token_urlsafe(48))')
export AUDIT_ANCHOR_KEY=$($PY -c 'import secrets; print(secrets.token_urlsafe(48))')
# Personal data at rest (repair_flow/encryption.py): production refuses to start
# without both keys; fresh ones for this throw-away database.
export FIELD_ENCRYPTION_KEYS=$($PY -c 'import base64, os; print(base64.b64encode(os.urandom(32)).decode())')
export FIELD_BLIND_INDEX_KEYS=$($PY -c 'import base64, os; print(base64.b64encode(os.urandom(32)).decode())')
export ALLOWED_HOSTS=127.0.0.1,localhost
export DATABASE_URL=$PG/$DB
export CELERY_BROKER_URL=redis://127.0.0.1:$REDIS_PORT/0
export CACHE_URL=redis://127.0.0.1:$REDIS_PORT/1
export VAR_DIR=$WORK/var
export SITE_URL=https://127.0.0.1:$WEB_PORT
export CSRF_TRUSTED_ORIGINS=https://127.0.0.1:$WEB_PORT
export GUNICORN_BIND=127.0.0.1:$WEB_PORT
export WEB_CONCURRENCY=${LOAD_WEB_WORKERS:-3}
export TRUSTED_PROXY_COUNT=1
# Staging: letters signed with the demo CA (样章), as seed_demo expects.
export LETTER_SIGNING_DEMO=1
export LOG_LEVEL=WARNING
# The notices the seeding and the run send: counted, not printed.
export EMAIL_BACKEND=django.core.mail.backends.dummy.EmailBackend
mkdir -p "$VAR_DIR"

echo "[${SECONDS}s] == redis on :$REDIS_PORT, database $DB (fresh), work dir $WORK"
start redis redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no
for _ in $(seq 50); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.2; done
psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB" >/dev/null
$PY manage.py migrate --noinput -v 0
$PY manage.py collectstatic --noinput -v 0

echo "[${SECONDS}s] == Celery worker and beat"
start worker .venv/bin/celery -A repair_flow worker -l warning --concurrency "${LOAD_WORKER_CONCURRENCY:-1}"
start beat .venv/bin/celery -A repair_flow beat -l warning

echo "[${SECONDS}s] == seed_demo --allow-production ($RECORDS records)"
$PY manage.py seed_demo --allow-production --records "$RECORDS" >"$WORK/seed.log" 2>&1 \
  || { cat "$WORK/seed.log"; exit 1; }
# Codes of letters the worker has rendered (a pending one verifies as 404).
LOAD_VERIFY_CODES=$($PY manage.py shell -v 0 -c "
from letters.models import Letter
rendered = Letter.objects.filter(status='rendered').exclude(verification_code=None)
print(','.join(rendered.values_list('verification_code', flat=True)[:50]))")
export LOAD_VERIFY_CODES

echo "[${SECONDS}s] == gunicorn ($WEB_CONCURRENCY workers) on $GUNICORN_BIND"
start gunicorn .venv/bin/gunicorn repair_flow.wsgi
for _ in $(seq 120); do
  curl -fs "http://127.0.0.1:$WEB_PORT/healthz" >/dev/null 2>&1 && break
  sleep 0.5
done
curl -fsS "http://127.0.0.1:$WEB_PORT/healthz"; echo

echo "[${SECONDS}s] == locust: $USERS users for ${RUN_SECONDS}s (loopback)"
.venv/bin/locust -f tests/load/locustfile.py --headless --only-summary \
  -u "$USERS" -r "$SPAWN_RATE" -t "${RUN_SECONDS}s" --stop-timeout 5 \
  --host "http://127.0.0.1:$WEB_PORT" --csv "$WORK/locust" --exit-code-on-error 0 \
  >"$WORK/locust.log" 2>&1 || { tail -30 "$WORK/locust.log"; exit 1; }
$PY tests/load/report.py "$WORK/locust"
echo "health after the run: $(curl -s "http://127.0.0.1:$WEB_PORT/healthz")"
