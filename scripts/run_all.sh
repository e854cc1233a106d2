#!/usr/bin/env bash
# Run the whole system in the foreground: web (ASGI), stream worker, short-task worker, beat and
# the demo camera simulator. Ctrl-C (or SIGTERM) stops all of them within RUN_STOP_TIMEOUT_S
# (8 s) and leaves nothing behind; running it again works at once.
#
# Each service runs in a process group of its own (setsid), with its log prefixer, so one signal
# to the group reaches the service and every child it started (Celery's prefork children, ...).
# On Ctrl-C or SIGTERM every group gets SIGTERM: the stream workers' tasks see the shutdown flag
# (counting/runner/shutdown.py), flush and release their leases; whatever is still alive after
# the timeout gets SIGKILL.
set -u
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
export DJANGO_SETTINGS_MODULE=${DJANGO_SETTINGS_MODULE:-config.settings.local}
export PYTHONUNBUFFERED=1
WEB_PORT=${WEB_PORT:-8000}
STREAM_CONCURRENCY=${STREAM_CONCURRENCY:-2}
STOP_TIMEOUT_S=${RUN_STOP_TIMEOUT_S:-8}
RUN_DIR=${RUN_DIR:-var/run}
# Queues and node names can be changed to run a second copy beside a running one (tests).
STREAMS_QUEUE=${COUNTING_STREAMS_QUEUE:-streams}
WORKER_QUEUES=${RUN_WORKER_QUEUES:-default,${COUNTING_SHORT_QUEUE:-short}}
NODE_SUFFIX=${RUN_NAME:+-$RUN_NAME}
mkdir -p "$RUN_DIR"

groups=()
start() {  # name command...
  local name=$1; shift
  # setsid: a new session and process group whose id is the pid of this background job. The log
  # prefixer ignores SIGTERM/SIGINT so the service's last lines still get out; it ends when the
  # service and its children have closed the pipe.
  setsid bash -c 'name=$1; shift
    "$@" 2>&1 | (trap "" TERM INT; exec sed -u "s/^/[$name] /")' _ "$name" "$@" &
  groups+=($!)
  echo ">> started $name (process group $!)"
}

alive=0
count_alive() {  # sets $alive (no subshell: forks are slow on a starved machine)
  local group
  alive=0
  for group in "${groups[@]}"; do kill -0 -- "-$group" 2>/dev/null && alive=$((alive + 1)); done
}

stop_all() {
  trap '' INT TERM  # a second Ctrl-C does not interrupt the stop
  echo ">> stopping (SIGTERM to ${#groups[@]} process groups, SIGKILL after ${STOP_TIMEOUT_S} s)"
  local group
  for group in "${groups[@]}"; do kill -TERM -- "-$group" 2>/dev/null; done
  # The timeout is wall-clock time: counting sleeps would stretch it on a loaded machine (each
  # tick's sleep and checks then take far longer than their nominal 0.2 s).
  local deadline=$(( ${EPOCHREALTIME/[.,]/} / 1000 + STOP_TIMEOUT_S * 1000 ))
  count_alive
  while [ "$alive" -gt 0 ] && [ $(( ${EPOCHREALTIME/[.,]/} / 1000 )) -lt "$deadline" ]; do
    sleep 0.2
    count_alive
  done
  for group in "${groups[@]}"; do
    kill -KILL -- "-$group" 2>/dev/null && echo ">> process group $group killed after the timeout"
  done
  wait 2>/dev/null
  echo ">> all stopped"
  exit 0
}
trap stop_all INT TERM

VIDEO="${SHARED_DIR:-../shared}/video/PETS09-S2L1/PETS09-S2L1.mp4"
if [ -f scripts/camera_simulator.py ] && [ -f "$VIDEO" ]; then
  start simulator "$VENV/bin/python" scripts/camera_simulator.py \
    --video "$VIDEO" --port "${SIMULATOR_PORT:-8554}"
fi
start web "$VENV/bin/daphne" -b 127.0.0.1 -p "$WEB_PORT" config.asgi:application
start streams "$VENV/bin/celery" -A config worker -Q "$STREAMS_QUEUE" -n "streams$NODE_SUFFIX@%h" \
  --concurrency "$STREAM_CONCURRENCY" --prefetch-multiplier 1 -l INFO
start worker "$VENV/bin/celery" -A config worker -Q "$WORKER_QUEUES" -n "default$NODE_SUFFIX@%h" \
  --concurrency 2 -l INFO
start beat "$VENV/bin/celery" -A config beat -l INFO -s "$RUN_DIR/celerybeat-schedule"
echo ">> web on http://demo.localhost:$WEB_PORT/ (platform admin: http://localhost:$WEB_PORT/admin/). Ctrl-C stops everything."
# `wait` returns when a trapped signal arrives (the trap then stops everything), or when every
# service has ended by itself.
wait
stop_all
