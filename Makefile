# The two commands a newcomer needs: `make run` and `make test`.
PY := .venv/bin/python
# Compiled bytecode goes to one cache outside the source tree (no __pycache__
# beside the code), and is written, even where the environment says not to:
# uv installs the venv without .pyc files, so every interpreter compiled
# Django, DRF, pyHanko... from source again (django.setup() took 4.1 s of CPU
# instead of 1.7 s), and a test run starts dozens (xdist workers, the
# start-up and manage.py subprocess tests).
unexport PYTHONDONTWRITEBYTECODE
export PYTHONPYCACHEPREFIX ?= $(CURDIR)/.venv/pycache

.PHONY: install lock run test lint fmt bench load migrate seed

install:
	@bash scripts/install.sh

# Refresh requirements.lock from pyproject.toml's ranges, keeping the pins that
# still fit; `make lock LOCK_ARGS=--upgrade` takes the newest releases instead.
lock: install
	.venv/bin/uv pip compile pyproject.toml --extra dev --universal --python-version 3.11 \
		--generate-hashes --custom-compile-command "make lock" -q $(LOCK_ARGS) -o requirements.lock
	@bash scripts/install.sh

migrate: install
	$(PY) manage.py migrate --noinput

seed: migrate
	$(PY) manage.py seed_demo --if-empty

# Embedded default: SQLite, tasks in-process, one command, no services.
run: seed
	$(PY) manage.py serve --addr 127.0.0.1 --port 8000

# pytest-xdist workers, each with its own test database (test_<name>_gw0, ...).
# On 2 cores 3 beat 2 and matched 4: browser and race tests wait on I/O.
# worksteal: pytest-django puts the transactional tests (the browser journeys
# among them) together near the end, and xdist's default hands them out in
# runs of consecutive tests; one worker ran them alone for the last ~110 s.
TEST_WORKERS ?= 3

test: install
	$(PY) -m pytest -n $(TEST_WORKERS) --dist worksteal $(PYTEST_ARGS)

lint: install
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .

fmt: install
	.venv/bin/ruff check --fix .
	.venv/bin/ruff format .

bench: install
	$(PY) -m pytest tests/bench -s -p no:cacheprovider -o addopts=""

# The scale-out stack on this machine under a bounded locust run (tests/load/):
# p50/p95/p99 per endpoint and the errors; stops everything it started.
LOAD_USERS ?= 20
LOAD_SECONDS ?= 30

load: install
	LOAD_USERS=$(LOAD_USERS) LOAD_SECONDS=$(LOAD_SECONDS) bash scripts/load.sh
