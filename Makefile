# Two set-up commands: `make run` (everything, in the foreground) and `make test` (the suite).
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= python3
SHARED_DIR ?= $(abspath ../shared)
export SHARED_DIR

.PHONY: run serve test install services system-deps migrate demo lint typecheck pytest eval bench bench-count-video bench-services clean

$(VENV)/.installed: requirements.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	@touch $@

install: $(VENV)/.installed

services:
	@bash scripts/services.sh

system-deps:
	@bash scripts/system_deps.sh

migrate: install services
	@bash scripts/db_create.sh
	DJANGO_SETTINGS_MODULE=config.settings.local $(PY) manage.py migrate_schemas --shared -v 0
	DJANGO_SETTINGS_MODULE=config.settings.local $(PY) manage.py migrate_schemas --tenant -v 0

demo: migrate
	DJANGO_SETTINGS_MODULE=config.settings.local $(PY) manage.py provision_demo

# exec: the script replaces the recipe's shell, so make's SIGTERM (which make passes on to its
# child) and Ctrl-C reach the script's trap directly (it stops every service it started).
run: system-deps demo
	@exec bash scripts/run_all.sh

# Production serving of HTTP and WebSockets (gunicorn + uvicorn workers; docs/deploy.md).
serve: install
	@exec bash scripts/serve.sh

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports

typecheck: install
	$(VENV)/bin/mypy

pytest: install services system-deps
	@bash scripts/db_create.sh
	DJANGO_SETTINGS_MODULE=config.settings.test $(VENV)/bin/pytest

test: lint typecheck pytest

eval: install
	$(PY) -m benchmarks.eval_counting --shared "$(SHARED_DIR)" --also-fps 6 5 4 3

bench: install
	$(PY) -m benchmarks.bench_pipeline --shared "$(SHARED_DIR)"

# Whole processes, a few minutes: count_video (all cores; and --threads 1 --batch 1) against the
# peer recipe (ONNX Runtime + trackers' ByteTrack + supervision's LineZone) on PETS, alternating.
bench-count-video: install
	$(PY) -m benchmarks.bench_count_video --shared "$(SHARED_DIR)"

# Benchmarks that need the database and the demo stack's services (throw-away tenants).
bench-services: migrate
	DJANGO_SETTINGS_MODULE=config.settings.local $(PY) -m benchmarks.bench_ledger
	DJANGO_SETTINGS_MODULE=config.settings.local $(PY) -m benchmarks.bench_streams latency --cameras 10 --seconds 30
	DJANGO_SETTINGS_MODULE=config.settings.local $(PY) -m benchmarks.bench_streams capacity --streams 2 4 6 --seconds 30
	DJANGO_SETTINGS_MODULE=config.settings.local $(PY) -m benchmarks.bench_api
	DJANGO_SETTINGS_MODULE=config.settings.local $(PY) -m benchmarks.bench_serving

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
