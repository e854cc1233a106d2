"""Moves the runner's buffered ledger work into PostgreSQL, one fenced batch at a time."""

from __future__ import annotations

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
            try:
                ledger_write(batch, on_commit=self.publisher.on_commit)
            except DB_ERRORS as exc:
                if final:
                    raise
                self.guard.failed(exc)
                return
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
