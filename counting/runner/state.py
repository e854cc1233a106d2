"""What the frame loop and the runner's background threads hand each other.

::

    frame loop (the task's thread)          background threads (each its own DB connection)
    ------------------------------          ------------------------------------------------
    frames analysed, connection state  -->  duties: flush, stop check, rules, health, gaps
    verdict ("stopped", "disabled"...) <--  duties (stop check), lease (taken over)
    new rules, edited camera           <--  duties (polled from the database)
                                            lease: acquire, heartbeat, release
                                            publisher: live updates (bounded queue)

The loop never waits on any of them: it reads and writes these fields (plain assignments under
the GIL, or the small lock for the hand-overs that must be taken exactly once).
"""

from __future__ import annotations

import threading
import time
from typing import Any


class RunnerState:
    """The hand-off between one run's frame loop and its background threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.started_mono = time.monotonic()
        # background -> loop
        self.verdict: str | None = None
        self.lease_lost = False
        self._rules: Any = None
        self._camera: Any = None
        # loop -> background
        self.loop_alive_mono = self.started_mono
        self.last_analysed_mono: float | None = None
        self.last_analysed_wall: float | None = None  # the analysed frame's own (epoch) time
        self.state_dirty = threading.Event()  # the connection state changed: report it now
        # what the background threads see failing (for the health condition)
        self.lease_trouble = ""
        self.lease_lock_held = False
        self.db_down_since: float | None = None
        self.db_error = ""
        # the node's inference service (set by the loop when a detect call fails)
        self.detector_down_since: float | None = None
        self.detector_error = ""

    # -- verdicts ------------------------------------------------------------------------------
    def verdict_set(self, verdict: str) -> None:
        """Ask the loop to end with ``verdict`` (the first one wins)."""
        with self._lock:
            if self.verdict is None:
                self.verdict = verdict

    def lease_lost_set(self) -> None:
        self.lease_lost = True
        self.verdict_set("lease-lost")

    # -- hand-overs ----------------------------------------------------------------------------
    def rules_offer(self, rules: Any) -> None:
        with self._lock:
            self._rules = rules

    def rules_take(self) -> Any:
        with self._lock:
            rules, self._rules = self._rules, None
            return rules

    def camera_offer(self, camera: Any) -> None:
        with self._lock:
            self._camera = camera

    def camera_take(self) -> Any:
        with self._lock:
            camera, self._camera = self._camera, None
            return camera

    # -- progress of the loop ------------------------------------------------------------------
    def loop_alive(self) -> None:
        self.loop_alive_mono = time.monotonic()

    def frame_analysed(self, frame_time: float) -> None:
        self.last_analysed_mono = time.monotonic()
        self.last_analysed_wall = frame_time

    def seconds_since_analysis(self) -> float:
        """Seconds since the last analysed frame (since the run started if none yet)."""
        return time.monotonic() - (self.last_analysed_mono or self.started_mono)

    def db_failed(self, exc: BaseException) -> None:
        if self.db_down_since is None:
            self.db_down_since = time.monotonic()
        self.db_error = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)

    def detector_failed(self, exc: BaseException) -> None:
        if self.detector_down_since is None:
            self.detector_down_since = time.monotonic()
        self.detector_error = str(exc).strip() or type(exc).__name__

    def detector_ok(self) -> None:
        self.detector_down_since = None
        self.detector_error = ""

    def db_ok(self) -> None:
        self.db_down_since = None
        self.db_error = ""


def thread_schema_set(schema: str, camera_id: int | None = None) -> None:
    """Point this thread's own database connection at the tenant's schema (each background
    thread of a run has its own connection: Django's connections are per thread); its log
    records name ``camera_id`` (audit/logging.py)."""
    from django.db import connection

    from audit.logging import log_camera_set

    log_camera_set(camera_id)

    tenant_connection: Any = connection  # django-tenants' wrapper
    tenant_connection.set_schema(schema)
