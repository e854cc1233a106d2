"""The crossing ledger: batches of events written idempotently with their minute rollups.

One batch = one transaction in the tenant schema::

    1. fence    UPDATE lease SET last_batch_seq = :seq, stored_until = :covered_until
                 WHERE camera = :cam AND generation = :gen AND owner <> '' AND last_batch_seq < :seq
                -> no row: stale generation (StaleLeaseError) or batch already applied (no-op)
                The row stays locked until commit, so a takeover waits for this batch.
    2. events   INSERT INTO counting_countevent ... VALUES (...), (...)
                 ON CONFLICT (idempotency_key, occurred_at) DO NOTHING RETURNING ...
                (the table is partitioned by month of occurred_at: a unique key must hold it,
                and the key hashes the frame time, so this rejects what (key) alone rejected)
    3. rollups  the *returned* (really new) rows, bucketed per (line, UTC minute) and per (line,
                UTC hour), upserted into the minute and hour line rollups with
                count = count + EXCLUDED.count (counting/rollups.py, the one place that
                computes rollups)
    4. zones    the batch's per-minute zone samples upserted (sum, max, samples, entries, exits)

Step 2 makes replays of events harmless whatever their batch; step 3 only adds what step 2
really inserted, so rollups always equal the events; step 1 protects the zone samples (which
have no natural key) from a retried batch and rejects writers whose lease was taken over.

Why a multi-row INSERT and not COPY: COPY cannot do ON CONFLICT, so it needs a temporary table
and an INSERT ... SELECT, which costs more than it saves at our batch sizes (one second of one
camera is 0-50 events); see benchmarks/bench_ledger.py for the numbers.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.db import connection, transaction

from counting.models import CameraLease, CountEvent, CountingLine, Zone
from counting.rollups import ZoneMinute, line_rollups_add, zone_minutes_add
from counting.rollups import minute_of as minute_of  # re-exported: the runner's buffer uses it
from counting.signals import ledger_committed, send_robust
from tenants.db import current_schema

logger = logging.getLogger(__name__)

EVENT_COLUMNS = ("camera_id", "line_id", "direction", "track_id", "occurred_at", "frame_index",
                 "score", "model_version", "rule_version", "lease_generation",
                 "idempotency_key", "recorded_at")


class StaleLeaseError(RuntimeError):
    """The writer's lease generation is no longer current: another runner owns the camera."""


@dataclass(frozen=True, slots=True)
class LedgerEvent:
    """One crossing to store; ``occurred_at`` is an aware UTC datetime (the frame's time)."""

    line_id: int
    direction: str
    track_id: int
    occurred_at: datetime
    frame_index: int
    score: float = 0.0
    model_version: str = ""
    rule_version: str = ""


@dataclass(frozen=True, slots=True)
class LedgerBatch:
    """What one runner writes in one transaction. ``seq`` grows by one per batch of a lease
    generation (from 1)."""

    camera_id: int
    generation: int
    seq: int
    events: tuple[LedgerEvent, ...] = ()
    zones: tuple[ZoneMinute, ...] = ()
    # The last analysed frame this batch completes (all crossings up to it are in this batch
    # or earlier ones); recorded on the lease row as ``stored_until``.
    covered_until: datetime | None = None


@dataclass(slots=True)
class WriteResult:
    """Outcome of :func:`ledger_write`: ``inserted`` are the new events (duplicates left out);
    ``applied`` is False when this batch had already been applied (a retry)."""

    camera_id: int
    applied: bool
    inserted: list[LedgerEvent] = field(default_factory=list)
    duplicates: int = 0
    dropped_unknown_rules: int = 0


def idempotency_key(*, camera_id: int, line_id: int, track_id: int, direction: str,
                    occurred_at: datetime, generation: int) -> str:
    """sha256 of (camera, line, track, direction, frame time, lease generation).

    The generation is part of the key because track ids restart with each runner: the same id
    in another generation is another person. A takeover does not re-count what the old owner
    stored, because a live stream has no rewind: the new owner starts from the frames arriving
    *now*, which the old owner never saw.
    """
    raw = (f"{camera_id}|{line_id}|{track_id}|{direction}|"
           f"{occurred_at.astimezone(UTC).isoformat(timespec='microseconds')}|{generation}")
    return hashlib.sha256(raw.encode()).hexdigest()


def _fence(cursor: object, batch: LedgerBatch) -> bool:
    """True when the batch is new for a current lease; False when it was already applied."""
    cursor.execute(  # type: ignore[attr-defined]
        f"UPDATE {CameraLease._meta.db_table} SET last_batch_seq = %s, "
        "stored_until = GREATEST(stored_until, %s) WHERE camera_id = %s "
        "AND generation = %s AND owner <> '' AND last_batch_seq < %s",
        [batch.seq, batch.covered_until, batch.camera_id, batch.generation, batch.seq])
    if cursor.rowcount == 1:  # type: ignore[attr-defined]
        return True
    cursor.execute(  # type: ignore[attr-defined]
        f"SELECT generation, owner FROM {CameraLease._meta.db_table} WHERE camera_id = %s",
        [batch.camera_id])
    row = cursor.fetchone()  # type: ignore[attr-defined]
    if row is None or int(row[0]) != batch.generation or not row[1]:
        raise StaleLeaseError(
            f"camera {batch.camera_id}: lease generation {batch.generation} is no longer "
            f"current ({'none' if row is None else row[0]}); another runner owns it")
    return False


def _existing(cursor: object, table: str, ids: set[int]) -> set[int]:
    """Ids of rules that still exist, locked against deletion until commit (a rule deleted
    while its events were buffered must not poison the batch)."""
    if not ids:
        return set()
    cursor.execute(  # type: ignore[attr-defined]
        f"SELECT id FROM {table} WHERE id = ANY(%s) FOR KEY SHARE", [sorted(ids)])
    return {int(row[0]) for row in cursor.fetchall()}  # type: ignore[attr-defined]


def _insert_events(cursor: object, batch: LedgerBatch, events: Sequence[LedgerEvent],
                   now: datetime) -> list[LedgerEvent]:
    by_key: dict[str, LedgerEvent] = {}
    params: list[object] = []
    for event in events:
        key = idempotency_key(camera_id=batch.camera_id, line_id=event.line_id,
                              track_id=event.track_id, direction=event.direction,
                              occurred_at=event.occurred_at, generation=batch.generation)
        if key in by_key:
            continue
        by_key[key] = event
        params.extend([batch.camera_id, event.line_id, event.direction, event.track_id,
                       event.occurred_at, event.frame_index, event.score, event.model_version,
                       event.rule_version, batch.generation, key, now])
    if not by_key:
        return []
    row = "(" + ", ".join(["%s"] * len(EVENT_COLUMNS)) + ")"
    cursor.execute(  # type: ignore[attr-defined]
        f"INSERT INTO {CountEvent._meta.db_table} ({', '.join(EVENT_COLUMNS)}) VALUES "
        + ", ".join([row] * len(by_key))
        + " ON CONFLICT (idempotency_key, occurred_at) DO NOTHING RETURNING idempotency_key",
        params)
    return [by_key[r[0]] for r in cursor.fetchall()]  # type: ignore[attr-defined]


@dataclass(slots=True)
class LateWriteResult:
    """Outcome of :func:`ledger_write_late`: events stored now, already stored, left to the
    new owner (they happened after it took the camera), or of rules deleted since."""

    inserted: list[LedgerEvent] = field(default_factory=list)
    duplicates: int = 0
    superseded: int = 0
    dropped_unknown_rules: int = 0


def ledger_write_late(*, camera_id: int, generation: int,
                      events: Sequence[LedgerEvent]) -> LateWriteResult:
    """Write the crossings of a lease generation that is no longer current (the runner lost
    its lease, or its final flush failed and the events were spooled), idempotently.

    The idempotency key carries the writer's generation, so a replay stores nothing twice, and
    the new owner's events (another generation, other track ids) never collide with these.
    Crossings that happened at or after the current owner's ``acquired_at`` are *not* written:
    the new owner analyses the stream from then on, and both would count the same person.
    Zone samples are not written late (statistics; no natural key to make them idempotent).
    Raises :class:`StaleLeaseError` for a generation the camera never had.
    """
    result = LateWriteResult()
    now = datetime.now(tz=UTC)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"SELECT generation, acquired_at FROM {CameraLease._meta.db_table} "
            "WHERE camera_id = %s", [camera_id])
        row = cursor.fetchone()
        if row is None or int(row[0]) < generation:
            raise StaleLeaseError(f"camera {camera_id}: generation {generation} was never "
                                  "granted; late events refused")
        current, acquired_at = int(row[0]), row[1]
        keep = list(events)
        if current > generation and acquired_at is not None:
            keep = [e for e in keep if e.occurred_at < acquired_at]
        result.superseded = len(events) - len(keep)
        lines = _existing(cursor, CountingLine._meta.db_table, {e.line_id for e in keep})
        known = [e for e in keep if e.line_id in lines]
        result.dropped_unknown_rules = len(keep) - len(known)
        batch = LedgerBatch(camera_id=camera_id, generation=generation, seq=0)
        result.inserted = _insert_events(cursor, batch, known, now)
        result.duplicates = len(known) - len(result.inserted)
        line_rollups_add(cursor, camera_id=camera_id,
                         crossings=[(e.line_id, e.direction, e.occurred_at)
                                    for e in result.inserted])
    if result.inserted or result.superseded:
        logger.warning("camera %s: %d late events of generation %s stored, %d left to the "
                       "current owner (generation %s)", camera_id, len(result.inserted),
                       generation, result.superseded, current)
    return result


def ledger_write(batch: LedgerBatch,
                 on_commit: Callable[[WriteResult], None] | None = None) -> WriteResult:
    """Write one batch in one transaction (see the module docstring); safe to repeat.

    Raises :class:`StaleLeaseError` when the batch's generation is no longer the camera's
    lease generation. ``on_commit`` runs after a successful commit that stored new events or
    zone samples (live publishing).
    """
    result = WriteResult(camera_id=batch.camera_id, applied=False)
    now = datetime.now(tz=UTC)
    with transaction.atomic(), connection.cursor() as cursor:
        if not _fence(cursor, batch):
            return result
        result.applied = True
        lines = _existing(cursor, CountingLine._meta.db_table, {e.line_id for e in batch.events})
        zones_ok = _existing(cursor, Zone._meta.db_table, {z.zone_id for z in batch.zones})
        events = [e for e in batch.events if e.line_id in lines]
        zones = [z for z in batch.zones if z.zone_id in zones_ok and z.samples > 0]
        result.dropped_unknown_rules = len(batch.events) - len(events)
        if result.dropped_unknown_rules:
            logger.warning("camera %s: %d events of deleted lines dropped", batch.camera_id,
                           result.dropped_unknown_rules)
        result.inserted = _insert_events(cursor, batch, events, now)
        result.duplicates = len(events) - len(result.inserted)
        line_rollups_add(cursor, camera_id=batch.camera_id,
                         crossings=[(e.line_id, e.direction, e.occurred_at)
                                    for e in result.inserted])
        zone_minutes_add(cursor, camera_id=batch.camera_id, zones=zones)
        if on_commit is not None and (result.inserted or zones):
            transaction.on_commit(lambda: on_commit(result))
        if result.inserted or zones:  # alerts evaluate what was committed (counting/signals.py)
            transaction.on_commit(lambda: send_robust(
                ledger_committed, schema=current_schema(), camera_id=batch.camera_id,
                inserted=result.inserted, zones=zones))
    return result
