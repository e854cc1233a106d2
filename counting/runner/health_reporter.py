"""What the runner tells the camera's health: state, reason, rates, frame age, gaps."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from cameras.constants import CameraStatus
from counting.constants import GapCause, HealthCondition
from counting.health import (
    HealthSnapshot,
    health_gap_record,
    health_last_frame_at,
    health_report,
    health_takeover_count,
)
from counting.pipeline.sources import LiveSource
from counting.runner.frames import epoch_to_utc
from counting.runner.redis_gate import RedisGate
from counting.runner.state import RunnerState


def health_condition(*, state: RunnerState, stream_state: str, stream_reason: str,
                     redis: RedisGate, buffered: int, stall_after_s: float,
                     overload: str = "") -> tuple[str, str, str]:
    """(condition, reason, gap cause) of a run right now; no I/O.

    Stalled when no frame was analysed for ``stall_after_s`` (the source is offline or frozen,
    the node's inference service is unavailable: cause ``detector``, or the loop itself is
    blocked); degraded when frames are analysed but fewer than due
    (``overload``: the meter's reason) or the database, the lease heartbeat or Redis fails
    beside the loop; ok otherwise.
    """
    idle = state.seconds_since_analysis()
    blocked = time.monotonic() - state.loop_alive_mono
    if blocked >= stall_after_s:
        return (HealthCondition.STALLED,
                f"frame loop blocked for {blocked:.0f} s: nothing analysed", GapCause.LOOP)
    detector_down = state.detector_down_since
    if idle >= stall_after_s and detector_down is not None:
        return (HealthCondition.STALLED,
                f"no frame analysed for {idle:.0f} s: the inference service is unavailable "
                f"({state.detector_error}); the runner reconnects by itself",
                GapCause.DETECTOR)
    if idle >= stall_after_s:
        why = stream_reason or stream_state
        return (HealthCondition.STALLED,
                f"no frame analysed for {idle:.0f} s: {why}", GapCause.SOURCE)
    problems = [overload] if overload else []
    if detector_down is not None:
        problems.append(f"inference service unavailable for "
                        f"{time.monotonic() - detector_down:.0f} s ({state.detector_error}); "
                        "reconnecting")
    if state.db_down_since is not None:
        problems.append(f"database writes failing for "
                        f"{time.monotonic() - state.db_down_since:.0f} s ({state.db_error}); "
                        f"{buffered} crossings wait in the buffer")
    if state.lease_trouble:
        problems.append(state.lease_trouble)
    if redis.down:
        problems.append("Redis unreachable: live updates and stop requests paused")
    if problems:
        return HealthCondition.DEGRADED, "; ".join(problems), ""
    return HealthCondition.OK, "", ""


class HealthReporter:
    """Keeps the stream's state and counters and reports them to :mod:`counting.health`.

    The loop tells it about frames (``frame_seen``, ``frame_analysed``); ``tick`` (every few
    seconds) derives the state from the source's own health and reports rates since the last
    tick; ``state_change`` reports a connection change at once.
    """

    def __init__(self, *, camera_id: int) -> None:
        self.camera_id = camera_id
        self.state: str = CameraStatus.STARTING
        self.reason = ""
        self.analysed = 0
        self.last_frame_wall: float | None = None
        self._analysed_mark = 0
        self._received_mark = (0, time.monotonic())
        # The source's cumulative counters as last seen (kept when the source is gone, so a
        # final report does not reset them to zero).
        self._counters = (0, 0)
        self.last_elapsed_s = 0.0  # the interval of the last measure's rates

    def frame_seen(self, wall_time: float) -> None:
        self.last_frame_wall = wall_time

    def frame_analysed(self) -> None:
        self.analysed += 1

    def takeover_gap_record(self, *, previous_owner: str, generation: int) -> None:
        """Record the processing gap a takeover ends (nothing when the lease was free)."""
        if not previous_owner:
            return  # the lease was free or released cleanly: no one was interrupted
        health_takeover_count(camera_id=self.camera_id)
        last = health_last_frame_at(camera_id=self.camera_id)
        gap = (datetime.now(tz=UTC) - last).total_seconds() if last else None
        health_gap_record(
            camera_id=self.camera_id, state=CameraStatus.STARTING,
            reason=f"taken over from {previous_owner} after its heartbeat stopped",
            gap_seconds=gap,
            details={"previous_owner": previous_owner, "generation": generation})

    def changed(self, state: str, reason: str) -> bool:
        """Remember a new state; True when it differs from the last one."""
        if (state, reason) == (self.state, self.reason):
            return False
        self.state, self.reason = state, reason
        return True

    def tick(self, source: LiveSource | None) -> None:
        """Report the state and rates since the last tick."""
        snapshot = self.measure(source)
        health_report(camera_id=self.camera_id, snapshot=snapshot)

    def measure(self, source: LiveSource | None) -> HealthSnapshot:
        """The state (from the source's own health) and the rates since the last measure;
        no I/O, so it can be taken on the loop's thread and reported elsewhere."""
        now_mono = time.monotonic()
        received = 0
        dropped, reconnects = self._counters
        if source is not None:
            h = source.health()
            received, dropped, reconnects = h.frames_received, h.frames_dropped, h.reconnects
            self._counters = (dropped, reconnects)
            if h.state in ("reconnecting", "failed"):
                self.state, self.reason = CameraStatus.OFFLINE, h.reason or h.state
            elif h.frozen:
                self.state, self.reason = CameraStatus.FROZEN, h.reason
            else:
                self.state, self.reason = CameraStatus.ONLINE, "streaming"
        last_received, last_mark = self._received_mark
        elapsed = max(1e-6, now_mono - last_mark)
        self.last_elapsed_s = elapsed
        fps_received = max(0, received - last_received) / elapsed
        fps_analysed = (self.analysed - self._analysed_mark) / elapsed
        self._received_mark, self._analysed_mark = (received, now_mono), self.analysed
        age = (time.time() - self.last_frame_wall) if self.last_frame_wall else None
        return self._snapshot(self.state, self.reason, fps_received=fps_received,
                              fps_analysed=fps_analysed, frame_age_s=age,
                              frames_dropped=dropped, reconnects=reconnects)

    def report(self, state: str, reason: str, **numbers: Any) -> None:
        dropped, reconnects = self._counters
        numbers = {"frames_dropped": dropped, "reconnects": reconnects, **numbers}
        health_report(camera_id=self.camera_id,
                      snapshot=self._snapshot(state, reason, **numbers))

    def _snapshot(self, state: str, reason: str, **numbers: Any) -> HealthSnapshot:
        last = epoch_to_utc(self.last_frame_wall) if self.last_frame_wall else None
        return HealthSnapshot(state=state, reason=reason, last_frame_at=last, **numbers)
