"""The runner's timings, read from settings once per run."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings


@dataclass
class RunnerConfig:
    """Timings of the loop (seconds) and sizes of its buffer; defaults from settings."""

    lease_ttl_s: float
    heartbeat_s: float
    stop_poll_s: float
    rules_poll_s: float
    health_s: float
    flush_s: float
    flush_events: int
    buffer_max_events: int
    open_timeout_s: float
    read_timeout_s: float
    reconnect_max_s: float
    frozen_after_s: float
    lease_force_s: float = 90.0
    duties_s: float = 0.2
    db_cancel_s: float = 10.0
    db_cut_s: float = 3.0
    redis_retry_s: float = 5.0
    stall_after_s: float = 3.0
    shutdown_grace_s: float = 6.0
    # A camera that fails this many opens in a row, over at least unreachable_after_s, ends
    # its run (freeing the slot) and backs off (counting/leases.py: lease_backoff_set).
    unreachable_attempts: int = 5
    unreachable_after_s: float = 30.0
    unreachable_backoff_s: float = 30.0
    unreachable_backoff_max_s: float = 300.0

    @classmethod
    def from_settings(cls) -> RunnerConfig:
        s = settings
        return cls(lease_ttl_s=s.COUNTING_LEASE_TTL_S, heartbeat_s=s.COUNTING_HEARTBEAT_S,
                   stop_poll_s=s.COUNTING_STOP_POLL_S, rules_poll_s=s.COUNTING_RULES_POLL_S,
                   health_s=s.COUNTING_HEALTH_S, flush_s=s.COUNTING_FLUSH_S,
                   flush_events=s.COUNTING_FLUSH_EVENTS,
                   buffer_max_events=s.COUNTING_BUFFER_MAX_EVENTS,
                   open_timeout_s=s.COUNTING_OPEN_TIMEOUT_S,
                   read_timeout_s=s.COUNTING_READ_TIMEOUT_S,
                   reconnect_max_s=s.COUNTING_RECONNECT_MAX_S,
                   frozen_after_s=s.COUNTING_FROZEN_AFTER_S,
                   lease_force_s=s.COUNTING_LEASE_FORCE_S, duties_s=s.COUNTING_DUTIES_S,
                   db_cancel_s=s.COUNTING_DB_CANCEL_S, db_cut_s=s.COUNTING_DB_CUT_S,
                   redis_retry_s=s.COUNTING_REDIS_RETRY_S,
                   stall_after_s=s.COUNTING_STALL_AFTER_S,
                   shutdown_grace_s=s.COUNTING_SHUTDOWN_GRACE_S,
                   unreachable_attempts=s.COUNTING_UNREACHABLE_ATTEMPTS,
                   unreachable_after_s=s.COUNTING_UNREACHABLE_AFTER_S,
                   unreachable_backoff_s=s.COUNTING_UNREACHABLE_BACKOFF_S,
                   unreachable_backoff_max_s=s.COUNTING_UNREACHABLE_BACKOFF_MAX_S)
