"""Every second a camera was not analysed is recorded: the runner's gap tracker.

The duties thread calls :meth:`GapTracker.observe` on each health tick with whether frames are
being analysed. A gap opens when the last analysed frame is older than the stall threshold
(``started_at`` is that frame's time, so the threshold itself is inside the gap) and closes at
the next analysed frame. Rows are written when the database answers; while it does not, the
gap is kept here and written later, with its true times.

A takeover opens a gap too (cause ``runner``): from the last frame the dead owner reported to
the new owner's first analysed frame.

An overload (frames analysed, but fewer than due: :mod:`counting.runner.overload`) is a gap of
cause ``overload`` that analysed frames do not close; the meter opens and closes it, and the
closed row says which share of the frames due was analysed. A stall during an overload ends the
overload gap where the stall's begins.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from counting.constants import GapCause
from counting.health import health_gap_close, health_gap_open

logger = logging.getLogger(__name__)


@dataclass
class _Gap:
    started_at: datetime
    cause: str
    reason: str
    ended_at: datetime | None = None
    row_id: int | None = None
    analysed_share: float | None = None


class GapTracker:
    """The open gap of one run (at most one) and closed gaps not yet written."""

    def __init__(self, *, camera_id: int, generation: int) -> None:
        self.camera_id = camera_id
        self.generation = generation
        self.current: _Gap | None = None
        self.unwritten: list[_Gap] = []
        self.last_end: datetime | None = None  # where the last closed gap ended

    def open(self, *, started_at: datetime, cause: str, reason: str) -> None:
        if self.current is not None:
            return
        self.current = _Gap(started_at=started_at, cause=cause, reason=reason)
        logger.warning("camera %s: not analysed since %s (%s)", self.camera_id,
                       started_at.isoformat(timespec="seconds"), reason)

    def close(self, *, ended_at: datetime, analysed_share: float | None = None) -> None:
        gap, self.current = self.current, None
        if gap is None:
            return
        gap.ended_at = max(ended_at, gap.started_at)
        gap.analysed_share = analysed_share
        self.last_end = gap.ended_at
        logger.warning("camera %s: analysed again after a gap of %.1f s", self.camera_id,
                       (gap.ended_at - gap.started_at).total_seconds())
        self.unwritten.append(gap)

    def observe(self, *, stalled: bool, last_analysed: datetime | None, run_started: datetime,
                cause: str, reason: str) -> None:
        """Open a gap when analysis stalls; close the open one when frames are analysed
        (an overload gap is closed by :meth:`overload_end` only)."""
        current = self.current
        if stalled:
            started_at = last_analysed or run_started
            if current is not None and current.cause == GapCause.OVERLOAD:
                self.close(ended_at=started_at, analysed_share=None)
            self.open(started_at=started_at, cause=cause, reason=reason)
        elif current is not None and current.cause != GapCause.OVERLOAD \
                and last_analysed is not None and last_analysed >= current.started_at:
            self.close(ended_at=last_analysed)

    def overload_start(self, *, started_at: datetime, reason: str) -> None:
        """Frames are analysed only in part since ``started_at`` (nothing if a gap is open; no
        sooner than the last gap's end: the meter's first short tick may reach into a stall)."""
        if self.last_end is not None:
            started_at = max(started_at, self.last_end)
        self.open(started_at=started_at, cause=GapCause.OVERLOAD, reason=reason)

    def overload_end(self, *, ended_at: datetime, analysed_share: float | None) -> None:
        if self.current is not None and self.current.cause == GapCause.OVERLOAD:
            self.close(ended_at=ended_at, analysed_share=analysed_share)

    def write(self) -> None:
        """Store what is pending (database errors propagate: retried at the next tick)."""
        while self.unwritten:
            gap = self.unwritten[0]
            if gap.row_id is None:
                health_gap_open(camera_id=self.camera_id, started_at=gap.started_at,
                                ended_at=gap.ended_at, cause=gap.cause, reason=gap.reason,
                                generation=self.generation, analysed_share=gap.analysed_share)
            else:
                assert gap.ended_at is not None
                health_gap_close(gap_id=gap.row_id, ended_at=gap.ended_at,
                                 analysed_share=gap.analysed_share)
            self.unwritten.pop(0)
        current = self.current
        if current is not None and current.row_id is None:
            current.row_id = health_gap_open(
                camera_id=self.camera_id, started_at=current.started_at, cause=current.cause,
                reason=current.reason, generation=self.generation)

    def finish(self, analysed_share: float | None = None) -> None:
        """The run ends: an open gap ends now (the next run, if any, starts its own); an
        overload gap with the share analysed so far."""
        if self.current is not None:
            share = analysed_share if self.current.cause == GapCause.OVERLOAD else None
            self.close(ended_at=datetime.now(tz=UTC), analysed_share=share)
