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
                   frozen_after_s=s.COUNTING_FROZEN_AFTER_S)
