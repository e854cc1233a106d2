"""Frame sampling: analyse at ``detect_fps`` and skip the rest with one comparison per frame."""

from __future__ import annotations

import math


class FrameSampler:
    """Decides which frames to analyse so that analysed frames are ``1/detect_fps`` apart.

    Works on frame times (seconds), so it behaves the same for a 25 fps file, a 12.5 fps camera
    or a jittery live stream. The schedule advances in fixed steps from the first accepted frame
    (no drift); after a gap longer than one period (stream stall, reconnect) it restarts from
    the next frame instead of bursting to catch up. A frame whose time goes backwards (clock
    adjusted, file looped) restarts the schedule too. ``detect_fps=None`` or a rate at least the
    source's analyses every frame.
    """

    def __init__(self, detect_fps: float | None) -> None:
        if detect_fps is not None and not (math.isfinite(detect_fps) and detect_fps > 0):
            raise ValueError(f"detect_fps must be a positive number, got {detect_fps}")
        self.detect_fps = detect_fps
        self._period = 0.0 if detect_fps is None else 1.0 / detect_fps
        # Half a millisecond of tolerance absorbs timestamp rounding (e.g. 7 fps -> 142.857 ms).
        self._tolerance = min(5e-4, self._period / 10)
        self._next: float | None = None
        self._last: float | None = None
        self.accepted = 0
        self.skipped = 0

    def accept(self, time: float) -> bool:
        """True when the frame at ``time`` should be analysed."""
        if self._period == 0.0:
            self.accepted += 1
            return True
        if (
            self._next is None
            or self._last is None
            or time < self._last
            or time - self._next >= self._period
        ):
            self._next = time
        self._last = time
        if time + self._tolerance >= self._next:
            self._next += self._period
            self.accepted += 1
            return True
        self.skipped += 1
        return False

    def reset(self) -> None:
        """Forget the schedule (e.g. after a reconnect)."""
        self._next = None
        self._last = None
