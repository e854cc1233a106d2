"""Moves the runner's buffered ledger work into PostgreSQL, one fenced batch at a time."""

from __future__ import annotations

import time

from counting.health import health_events_lost_add
from counting.ledger import ledger_write
from counting.runner.buffer import LedgerBuffer
from counting.runner.db_guard import DB_ERRORS, DatabaseGuard
from counting.runner.publisher import LivePublisher


class LedgerFlusher:
    """Writes batches of the :class:`LedgerBuffer` with :func:`counting.ledger.ledger_write`.

    A database error leaves the batch in flight for the next flush (the buffer keeps it and
    the fence makes its retry idempotent); events the buffer dropped while the database was
    away are added to the camera's health once it is back. Each commit publishes what it
    stored (:class:`LivePublisher`).
    """

    def __init__(self, *, buffer: LedgerBuffer, publisher: LivePublisher, guard: DatabaseGuard,
                 batch_events: int) -> None:
        self.buffer = buffer
        self.publisher = publisher
        self.guard = guard
        self.batch_events = batch_events
        # Since the last health report (counting/runner/duties.py takes and clears them):
        # events stored, transactions, their summed and longest duration in seconds.
        self.written = 0
        self.writes = 0
        self.write_seconds = 0.0
        self.write_max_s: float | None = None

    def stats_take(self) -> tuple[int, int, float, float | None]:
        """(events stored, writes, seconds, longest write) since the last take; cleared."""
        stats = (self.written, self.writes, self.write_seconds, self.write_max_s)
        self.written, self.writes, self.write_seconds, self.write_max_s = 0, 0, 0.0, None
        return stats

    def stats_return(self, stats: tuple[int, int, float, float | None]) -> None:
        """Put back stats whose report failed, so the totals lose nothing."""
        written, writes, seconds, longest = stats
        self.written += written
        self.writes += writes
        self.write_seconds += seconds
        if longest is not None:
            self.write_max_s = max(self.write_max_s or 0.0, longest)

    def due(self) -> bool:
        """A full batch waits: write it without waiting for the flush interval."""
        return len(self.buffer.events) >= self.batch_events

    def flush(self, *, final: bool = False) -> None:
        """Write what waits, batch after batch. Not final: a database error stops the flush
        (the batch stays in flight for the next one), and an occupancy change that no batch
        carried is published. Final (shutdown): a database error is raised.
        ``StaleLeaseError`` (the lease was taken over) is always raised."""
        buffer = self.buffer
        while (batch := buffer.next_batch(self.batch_events)) is not None:
            started = time.monotonic()
            try:
                result = ledger_write(batch, on_commit=self.publisher.on_commit)
            except DB_ERRORS as exc:
                if final:
                    raise
                self.guard.failed(exc)
                return
            took = time.monotonic() - started
            self.written += len(result.inserted)
            self.writes += 1
            self.write_seconds += took
            self.write_max_s = max(self.write_max_s or 0.0, took)
            buffer.done()
            self.guard.recovered()
            self._report_lost()
            if not final and not buffer.events:
                break
        if not final:
            self.publisher.publish_occupancy_if_changed()

    def _report_lost(self) -> None:
        buffer = self.buffer
        if buffer.lost > buffer.lost_reported:
            lost = buffer.lost - buffer.lost_reported
            health_events_lost_add(
                camera_id=buffer.camera_id, lost=lost,
                reason=f"{lost} events lost: ledger buffer overflowed while the database "
                       "was unreachable")
            buffer.lost_reported = buffer.lost
