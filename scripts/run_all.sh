#!/usr/bin/env bash
# Run the whole system in the foreground: web (ASGI), stream worker, short-task worker, beat and
# the demo camera simulator. Ctrl-C (or SIGTERM) stops all of them cleanly.
set -u
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
export DJANGO_SETTINGS_MODULE=${DJANGO_SETTINGS_MODULE:-config.settings.local}
export PYTHONUNBUFFERED=1
WEB_PORT=${WEB_PORT:-8000}
STREAM_CONCURRENCY=${STREAM_CONCURRENCY:-2}
mkdir -p var/run

pids=()
start() {  # name command...
  local name=$1; shift
  ( exec "$@" 2>&1 | sed -u "s/^/[$name] /" ) &
  pids+=($!)
  echo ">> started $name"
}

stop_all() {
  trap - INT TERM
  echo ">> stopping: ${pids[*]}"
  for pid in "${pids[@]}"; do pkill -TERM -P "$pid" 2>/dev/null; kill -TERM "$pid" 2>/dev/null; done
  for _ in $(seq 1 40); do
    alive=0
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ $alive = 0 ] && break
    sleep 0.25
  done
  for pid in "${pids[@]}"; do pkill -KILL -P "$pid" 2>/dev/null; kill -KILL "$pid" 2>/dev/null; done
  echo ">> all stopped"
  exit 0
}
trap stop_all INT TERM

if [ -f scripts/camera_simulator.py ] && [ -f "${SHARED_DIR:-../shared}/video/PETS09-S2L1/PETS09-S2L1.mp4" ]; then
  start simulator "$VENV/bin/python" scripts/camera_simulator.py \
    --video "${SHARED_DIR:-../shared}/video/PETS09-S2L1/PETS09-S2L1.mp4" --port "${SIMULATOR_PORT:-8554}"
fi
start web "$VENV/bin/daphne" -b 127.0.0.1 -p "$WEB_PORT" config.asgi:application
start streams "$VENV/bin/celery" -A config worker -Q streams -n "streams@%h" \
  --concurrency "$STREAM_CONCURRENCY" --prefetch-multiplier 1 -l INFO
start worker "$VENV/bin/celery" -A config worker -Q default,short -n "default@%h" --concurrency 2 -l INFO
start beat "$VENV/bin/celery" -A config beat -l INFO -s var/run/celerybeat-schedule
echo ">> web on http://demo.localhost:$WEB_PORT/ (platform admin: http://localhost:$WEB_PORT/admin/). Ctrl-C stops everything."
wait
stop_all
