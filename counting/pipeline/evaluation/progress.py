"""Progress of a long evaluation: a live line on a terminal, a few plain lines otherwise."""

from __future__ import annotations

import sys
import threading
import time
from typing import TextIO


class Progress:
    """Counts steps of named phases and shows them on ``stream`` (stderr by default).

    On a terminal one line is redrawn (``\\r``) at most five times a second with the count,
    the share, the rate and the time left; elsewhere (a log, CI) a plain line is written at
    every 25 % so that logs stay short. ``quiet`` shows nothing. Thread-safe: the pool's
    result thread and the caller may both advance it.
    """

    def __init__(self, stream: TextIO | None = None, *, quiet: bool = False) -> None:
        self.stream = stream or sys.stderr
        self.quiet = quiet
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._lock = threading.Lock()
        self._label = ""
        self._total = 0
        self._done = 0
        self._started = 0.0
        self._shown_at = 0.0
        self._shown_quarter = -1

    def start(self, label: str, total: int) -> None:
        """Begin a phase of ``total`` steps."""
        with self._lock:
            self._label, self._total, self._done = label, max(total, 0), 0
            self._started = time.monotonic()
            self._shown_at, self._shown_quarter = 0.0, -1
            self._show(force=True)

    def advance(self, steps: int = 1) -> None:
        """``steps`` more done in the current phase."""
        with self._lock:
            self._done += steps
            self._show(force=self._done >= self._total)

    def finish(self) -> None:
        """End the phase (the terminal line is closed with a newline)."""
        with self._lock:
            self._show(force=True)
            if self.tty and not self.quiet:
                self.stream.write("\n")
                self.stream.flush()

    def _show(self, *, force: bool) -> None:
        if self.quiet:
            return
        now = time.monotonic()
        share = self._done / self._total if self._total else 1.0
        if self.tty:
            if not force and now - self._shown_at < 0.2:
                return
            self._shown_at = now
            self.stream.write("\r" + self._text(now, share) + "\033[K")
            self.stream.flush()
            return
        quarter = int(share * 4)
        if quarter != self._shown_quarter:
            self._shown_quarter = quarter
            self.stream.write(self._text(now, share) + "\n")
            self.stream.flush()

    def _text(self, now: float, share: float) -> str:
        elapsed = now - self._started
        rate = self._done / elapsed if elapsed > 0 else 0.0
        left = (self._total - self._done) / rate if rate > 0 else 0.0
        return (f"{self._label}: {self._done}/{self._total} ({share:.0%}), {rate:.1f}/s, "
                f"{elapsed:.0f} s elapsed, ~{left:.0f} s left")
