"""Overload: frames are analysed, but fewer than the camera's rate asks for.

A runner on a machine that cannot keep up analyses only the newest frame each time it is free
and the source replaces the ones it had no time for (``frames_dropped``). Counting goes on, but
a person who crosses a line between two analysed frames far apart can be missed, so such time
is neither "ok" nor a full gap: the condition is **degraded** with the rate in plain words, and
the stretch is recorded as a gap of cause ``overload`` whose ``analysed_share`` says which part
of the frames due was analysed (``seconds x (1 - analysed_share)`` is the analysis time lost).

:class:`OverloadMeter` judges it from the rates the health tick measures (no I/O):

- frames due per second = ``min(detect_fps, frames received per second)`` (a camera slower
  than its detect rate is not overloaded for it); under 0.5 frames due per second, or while the
  run is stalled, nothing is judged;
- a tick is *short* when fewer than ``SHORT_SHARE`` (75 %) of the frames due were analysed (the
  sampler's own rounding, e.g. 3.5 of 4 at 7 fps, stays above it);
- overloaded after ``sustain_s`` of short ticks in a row (the stretch starts at the first
  short tick); over after ``clear_s`` of full ticks in a row (ended at the first full tick);
- frames skipped: the frames due but not analysed in the short ticks of a stretch, reported
  as ``CameraHealth.frames_skipped`` (a total that only grows). Unlike ``frames_dropped`` (every
  frame the source replaced before the loop read it, many of which the sampler would have
  skipped anyway at a detect rate below the camera's) these are analyses the camera's rate
  asked for and the machine could not do.
"""

from __future__ import annotations

from dataclasses import dataclass

SHORT_SHARE = 0.75


@dataclass
class OverloadVerdict:
    """What a tick changed: ``started``/``ended`` are epoch times (None when nothing did)."""

    overloaded: bool
    reason: str = ""
    started: float | None = None
    ended: float | None = None
    analysed_share: float | None = None  # of the stretch that ended


class OverloadMeter:
    """Judges overload tick by tick and measures the share analysed while it lasts."""

    def __init__(self, *, sustain_s: float = 10.0, clear_s: float = 4.0) -> None:
        self.sustain_s = sustain_s
        self.clear_s = clear_s
        self._skipped = 0.0  # frames skipped not yet reported (kept across stretches)
        self._clear()

    def skipped_take(self) -> int:
        """Whole frames skipped since the last take (the fraction stays for the next)."""
        whole = int(self._skipped)
        self._skipped -= whole
        return whole

    def skipped_return(self, frames: int) -> None:
        """A report that failed: its frames are reported with the next one."""
        self._skipped += frames

    def _clear(self) -> None:
        self.overloaded = False
        self.reason = ""
        self._short_since: float | None = None  # epoch of the first short tick in a row
        self._full_since: float | None = None  # epoch of the first full tick in a row
        self._short_for = 0.0
        self._full_for = 0.0
        # frames analysed and due in the stretch (from its first short tick), and in the
        # full ticks since the last short one (part of the stretch only if it goes on)
        self._analysed = self._due = 0.0
        self._full_analysed = self._full_due = 0.0

    def reset(self, now: float) -> OverloadVerdict:
        """The run stalled (a gap of its own) or ends: an overload in course ends (at epoch
        ``now``, or where the full ticks since the last short one began)."""
        ended = OverloadVerdict(overloaded=False)
        if self.overloaded:
            ended = OverloadVerdict(overloaded=False, ended=self._full_since or now,
                                    analysed_share=self.share())
        self._clear()
        return ended

    def share(self) -> float:
        """Share of the frames due that were analysed in the stretch so far."""
        return min(1.0, self._analysed / self._due) if self._due else 1.0

    def tick(self, *, now: float, elapsed_s: float, fps_analysed: float, fps_received: float,
             detect_fps: float | None) -> OverloadVerdict:
        """One health tick's rates (over ``elapsed_s`` ending at epoch ``now``)."""
        due = fps_received if detect_fps is None else min(detect_fps, fps_received)
        if due < 0.5 or elapsed_s <= 0:
            return OverloadVerdict(overloaded=self.overloaded, reason=self.reason)
        begun = now - elapsed_s
        if fps_analysed < SHORT_SHARE * due:  # a short tick
            if self._short_since is None:
                self._short_since, self._short_for = begun, 0.0
                if self.overloaded:  # full ticks between short ones belong to the stretch
                    self._analysed += self._full_analysed
                    self._due += self._full_due
                else:
                    self._analysed = self._due = 0.0
            self._full_since, self._full_for = None, 0.0
            self._full_analysed = self._full_due = 0.0
            self._short_for += elapsed_s
            self._analysed += fps_analysed * elapsed_s
            self._due += due * elapsed_s
            if self.overloaded:
                self._skipped += (due - fps_analysed) * elapsed_s
            elif self._short_for >= self.sustain_s:  # the stretch's short ticks so far
                self._skipped += self._due - self._analysed
            if self.overloaded or self._short_for >= self.sustain_s:
                started = None if self.overloaded else self._short_since
                self.overloaded = True
                self.reason = _reason(fps_analysed, due)
                return OverloadVerdict(overloaded=True, reason=self.reason, started=started)
            return OverloadVerdict(overloaded=False)
        # a full tick
        self._short_since, self._short_for = None, 0.0
        if not self.overloaded:
            return OverloadVerdict(overloaded=False)
        if self._full_since is None:
            self._full_since, self._full_for = begun, 0.0
        self._full_for += elapsed_s
        self._full_analysed += fps_analysed * elapsed_s
        self._full_due += due * elapsed_s
        if self._full_for < self.clear_s:
            return OverloadVerdict(overloaded=True, reason=self.reason)
        verdict = OverloadVerdict(overloaded=False, ended=self._full_since,
                                  analysed_share=self.share())
        self._clear()
        return verdict


def _reason(fps_analysed: float, due: float) -> str:
    return (f"analysing {fps_analysed:.1f} of {due:.0f} frames per second: the machine is "
            "overloaded and frames are skipped, so crossings can be missed")
