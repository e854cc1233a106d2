#!/usr/bin/env bash
# Production serving of HTTP and WebSockets on one node: gunicorn with uvicorn workers
# (config/gunicorn.py; docs/deploy.md). Runs in the foreground (a process supervisor such as
# systemd keeps it up); SIGTERM stops it gracefully.
#
#   scripts/serve.sh                     # 127.0.0.1:8000, 2 x cores + 1 workers
#   WEB_BIND=0.0.0.0:8000 WEB_CONCURRENCY=4 scripts/serve.sh
#
# The environment is the application's (.env.example); this script adds only:
# - PROMETHEUS_MULTIPROC_DIR: a fresh directory per start, so /metrics from any worker sums
#   every worker's request, database and cache metrics (prometheus-client multiprocess mode);
# - DATABASE_POOL (default on here): each worker borrows connections from its own pool.
# Static files: WhiteNoise serves them from the apps' folders, or from STATIC_ROOT after
# `manage.py collectstatic` with STATIC_USE_FINDERS=false.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${VENV:-.venv}"
export DJANGO_SETTINGS_MODULE="${DJANGO_SETTINGS_MODULE:-config.settings.production}"
export DATABASE_POOL="${DATABASE_POOL:-true}"
export PROMETHEUS_MULTIPROC_DIR="${PROMETHEUS_MULTIPROC_DIR:-${TMPDIR:-/tmp}/peoplecount-metrics-$$}"
rm -rf "$PROMETHEUS_MULTIPROC_DIR"
mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
exec "$VENV/bin/gunicorn" -c config/gunicorn.py config.asgi:application
