"""Stream processing settings: queues, beat schedule, lease timing, ledger batching, buffers.

Imported at the end of ``base.py``; every value comes from the environment through ``env``.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import environ
from celery.schedules import crontab

env = environ.Env()  # the same process environment (and .env file) that base.py reads

# Queues: long-running stream tasks on their own queue (one per camera, prefetch 1), short jobs
# (rollups, health sweeps) on "short" so they never wait behind streams.
COUNTING_STREAMS_QUEUE = env.str("COUNTING_STREAMS_QUEUE", default="streams")
COUNTING_SHORT_QUEUE = env.str("COUNTING_SHORT_QUEUE", default="short")
CELERY_TASK_ROUTES = {
    "counting.stream_run": {"queue": COUNTING_STREAMS_QUEUE},
    "counting.streams_supervise": {"queue": COUNTING_SHORT_QUEUE},
    "counting.health_sweep": {"queue": COUNTING_SHORT_QUEUE},
    "counting.line_rollups_rebuild": {"queue": COUNTING_SHORT_QUEUE},
    "counting.retention_enforce": {"queue": COUNTING_SHORT_QUEUE},
    "counting.partitions_maintain": {"queue": COUNTING_SHORT_QUEUE},
    "analytics.*": {"queue": COUNTING_SHORT_QUEUE},
}

# The UTC hour at which the daily retention job runs.
RETENTION_HOUR_UTC = env.int("RETENTION_HOUR_UTC", default=3)
# The supervisor dispatches a stream task for every enabled camera without a live lease.
COUNTING_SUPERVISOR_INTERVAL_S = env.float("COUNTING_SUPERVISOR_INTERVAL_S", default=10.0)
CELERY_BEAT_SCHEDULE = {
    "counting-streams-supervise": {
        "task": "counting.streams_supervise",
        "schedule": timedelta(seconds=COUNTING_SUPERVISOR_INTERVAL_S),
        # A tick that waited longer than its interval is superseded by the next one.
        "options": {"expires": COUNTING_SUPERVISOR_INTERVAL_S},
    },
    "counting-health-sweep": {
        "task": "counting.health_sweep",
        "schedule": timedelta(seconds=30),
        "options": {"expires": 30},
    },
    # Retention (counting/retention.py): daily, in small batches, at a quiet hour (UTC).
    "counting-retention-enforce": {
        "task": "counting.retention_enforce",
        "schedule": crontab(hour=RETENTION_HOUR_UTC, minute=17),
        "options": {"expires": 6 * 3600},
    },
    # Partitions of the ledger and minute tables (tenants/partitions.py): months made ahead,
    # rows that fell into a default partition moved into their own; daily, before retention.
    "counting-partitions-maintain": {
        "task": "counting.partitions_maintain",
        "schedule": crontab(hour=RETENTION_HOUR_UTC, minute=2),
        "options": {"expires": 6 * 3600},
    },
}

# Lease: heartbeat every few seconds; a lease whose heartbeat is older than the TTL is free.
# TTL + supervisor interval bounds the takeover time after a crash (10 + 10 s < 30 s).
COUNTING_LEASE_TTL_S = env.float("COUNTING_LEASE_TTL_S", default=10.0)
COUNTING_HEARTBEAT_S = env.float("COUNTING_HEARTBEAT_S", default=2.0)
COUNTING_STOP_POLL_S = env.float("COUNTING_STOP_POLL_S", default=1.0)
COUNTING_RULES_POLL_S = env.float("COUNTING_RULES_POLL_S", default=3.0)
COUNTING_HEALTH_S = env.float("COUNTING_HEALTH_S", default=2.0)

# Takeover needs the owner's session gone (its advisory lock free) and a heartbeat older than the
# TTL; a session that keeps the lock without heartbeating for this long is ended by the taker.
COUNTING_LEASE_FORCE_S = env.float("COUNTING_LEASE_FORCE_S", default=90.0)
# The runner's duties thread (ledger flush, stop check, rules, health, gaps) wakes this often.
COUNTING_DUTIES_S = env.float("COUNTING_DUTIES_S", default=0.2)
# A database call of a runner's background thread running longer than this is cancelled; if
# the cancel does not end it within COUNTING_DB_CUT_S more, its socket is cut (stalled network).
COUNTING_DB_CANCEL_S = env.float("COUNTING_DB_CANCEL_S", default=10.0)
COUNTING_DB_CUT_S = env.float("COUNTING_DB_CUT_S", default=3.0)
# After a Redis failure a runner leaves Redis alone this long (stop flag, live updates).
COUNTING_REDIS_RETRY_S = env.float("COUNTING_REDIS_RETRY_S", default=5.0)
# No frame analysed for this long: the camera's condition is "stalled" and a gap is recorded.
COUNTING_STALL_AFTER_S = env.float("COUNTING_STALL_AFTER_S", default=3.0)
# Crossings a run could not write before it ended (database down at shutdown) wait here for
# the camera's next run on this host.
COUNTING_SPOOL_DIR = env.path(
    "COUNTING_SPOOL_DIR", default=Path(__file__).resolve().parent.parent.parent / "var" / "spool")

# Ledger batching: flush every second or once this many events wait.
COUNTING_FLUSH_S = env.float("COUNTING_FLUSH_S", default=1.0)
COUNTING_FLUSH_EVENTS = env.int("COUNTING_FLUSH_EVENTS", default=200)
# Events kept while PostgreSQL is unreachable; beyond this the oldest are dropped and counted.
COUNTING_BUFFER_MAX_EVENTS = env.int("COUNTING_BUFFER_MAX_EVENTS", default=20000)

# Sources: open/read timeouts, reconnect backoff and the frozen-stream threshold.
COUNTING_OPEN_TIMEOUT_S = env.float("COUNTING_OPEN_TIMEOUT_S", default=10.0)
COUNTING_READ_TIMEOUT_S = env.float("COUNTING_READ_TIMEOUT_S", default=10.0)
COUNTING_RECONNECT_MAX_S = env.float("COUNTING_RECONNECT_MAX_S", default=30.0)
COUNTING_FROZEN_AFTER_S = env.float("COUNTING_FROZEN_AFTER_S", default=20.0)
COUNTING_DETECTOR_BACKEND = env.str("COUNTING_DETECTOR_BACKEND", default="torch")
# An open live-counts WebSocket re-checks its user's permission this often (seconds).
LIVE_PERMISSION_RECHECK_S = env.float("LIVE_PERMISSION_RECHECK_S", default=30.0)
# Each live socket re-reads its tenant this often (a suspended or deleted tenant's sockets close
# within about 1.5 times this, even without the suspension signal) and renews its slot of the
# tenant's websocket_quota; a slot not renewed for LIVE_SLOT_TTL_S is free again.
LIVE_TENANT_CHECK_S = env.float("LIVE_TENANT_CHECK_S", default=5.0)
LIVE_SLOT_TTL_S = env.float("LIVE_SLOT_TTL_S", default=30.0)
# A client's resync (a database snapshot) at most this often per socket; sooner is answered
# resync_throttled with retry_after.
LIVE_RESYNC_MIN_INTERVAL_S = env.float("LIVE_RESYNC_MIN_INTERVAL_S", default=2.0)

# Shutdown: the stream loops' flag is set on SIGTERM/Ctrl-C (counting/runner/shutdown.py, imported
# by every Celery process before its pool forks); a stream task has this long to flush and
# release its lease before its process exits hard.
CELERY_IMPORTS = ("counting.runner.shutdown", "counting.runner.inference_supervisor",
                  "counting.nodes")
# Stream nodes (counting/nodes.py): every streams worker upserts its row (slots, cameras, load)
# this often; silent for 3 of these it is gone and its slots no longer count.
COUNTING_NODE_HEARTBEAT_S = env.float("COUNTING_NODE_HEARTBEAT_S", default=3.0)
# A camera that cannot connect ends its run after this many failed attempts spanning at least
# COUNTING_UNREACHABLE_AFTER_S (releasing its slot), and is retried after a backoff that doubles
# from COUNTING_UNREACHABLE_BACKOFF_S up to COUNTING_UNREACHABLE_BACKOFF_MAX_S.
COUNTING_UNREACHABLE_ATTEMPTS = env.int("COUNTING_UNREACHABLE_ATTEMPTS", default=5)
COUNTING_UNREACHABLE_AFTER_S = env.float("COUNTING_UNREACHABLE_AFTER_S", default=30.0)
COUNTING_UNREACHABLE_BACKOFF_S = env.float("COUNTING_UNREACHABLE_BACKOFF_S", default=30.0)
COUNTING_UNREACHABLE_BACKOFF_MAX_S = env.float("COUNTING_UNREACHABLE_BACKOFF_MAX_S",
                                               default=300.0)
COUNTING_SHUTDOWN_GRACE_S = env.float("COUNTING_SHUTDOWN_GRACE_S", default=6.0)
# Celery's own bound on a cold shutdown (second Ctrl-C, SIGQUIT): tasks get this long.
CELERY_WORKER_SOFT_SHUTDOWN_TIMEOUT = env.float("CELERY_WORKER_SOFT_SHUTDOWN_TIMEOUT_S",
                                                default=2.0)
# The stream runner keeps each camera's latest picture (people blurred per the tenant's privacy
# setting) this often, for the line editor while the camera is offline; 0 keeps none.
COUNTING_SNAPSHOT_INTERVAL_S = env.float("COUNTING_SNAPSHOT_INTERVAL_S", default=120.0)

# The node's inference service (counting/inference/, docs/streams.md "Inference service"):
# "service" runs every stream's frames through one process per node that loads each model once
# and batches across cameras; "local" loads a detector in each stream process (as before).
COUNTING_INFERENCE = env.str("COUNTING_INFERENCE", default="service")
COUNTING_INFERENCE_SOCKET = env.str(
    "COUNTING_INFERENCE_SOCKET",
    default=str(Path(__file__).resolve().parent.parent.parent / "var" / "run" / "inference.sock"))
# Batches the service runs at once and torch CPU threads per batch (0, 0: one single-threaded
# batch worker per core on CPU, one worker on a GPU), and the largest batch it runs.
COUNTING_INFERENCE_WORKERS = env.int("COUNTING_INFERENCE_WORKERS", default=0)
COUNTING_INFERENCE_THREADS = env.int("COUNTING_INFERENCE_THREADS", default=0)
COUNTING_INFERENCE_MAX_BATCH = env.int("COUNTING_INFERENCE_MAX_BATCH", default=8)
# A runner waits this long for one reply before it treats the service as gone and reconnects.
COUNTING_INFERENCE_TIMEOUT_S = env.float("COUNTING_INFERENCE_TIMEOUT_S", default=10.0)
