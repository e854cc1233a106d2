"""The runner's Redis gate: after a Redis failure, Redis is left alone for a few seconds.

A stopped Redis refuses within its connect timeout and a frozen one answers nothing until the
socket timeout (tenants/redis_keys.py); asking it again on every stop check and publish would
cost those seconds over and over. The gate turns the first failure into "Redis is down" for
``retry_s`` seconds, logs the outage once when it starts and once when it ends, and lets one
call through after each interval to see whether Redis is back.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TypeVar

import redis

logger = logging.getLogger(__name__)

T = TypeVar("T")

RETRY_S = 5.0


class RedisGate:
    """Whether a runner may call Redis now; shared by the stop check and the publisher."""

    def __init__(self, *, name: str = "redis", retry_s: float = RETRY_S) -> None:
        self.name = name
        self.retry_s = retry_s
        self.down_since: float | None = None
        self.last_error = ""
        self._closed_until = 0.0
        self._lock = threading.Lock()

    @property
    def down(self) -> bool:
        return self.down_since is not None

    def open(self) -> bool:
        """True when a call may be tried (Redis up, or the retry interval has passed)."""
        return time.monotonic() >= self._closed_until

    def failed(self, exc: BaseException | str) -> None:
        with self._lock:
            now = time.monotonic()
            self._closed_until = now + self.retry_s
            self.last_error = str(exc)
            first = self.down_since is None
            if first:
                self.down_since = now
        if first:
            logger.error("%s unreachable (%s); not asked again for %.0f s at a time",
                         self.name, exc, self.retry_s)

    def succeeded(self) -> None:
        with self._lock:
            since, self.down_since = self.down_since, None
            self._closed_until = 0.0
        if since is not None:
            logger.warning("%s back after %.1f s", self.name, time.monotonic() - since)

    def call(self, func: Callable[[], T], default: T) -> T:
        """``func()`` when the gate is open, else ``default``; a Redis error closes the gate
        and returns ``default``."""
        if not self.open():
            return default
        try:
            result = func()
        except redis.RedisError as exc:
            self.failed(exc)
            return default
        self.succeeded()
        return result
