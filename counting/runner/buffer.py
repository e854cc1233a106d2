"""The runner's bounded buffer of ledger work waiting for PostgreSQL."""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Sequence
from datetime import datetime

from counting.ledger import LedgerBatch, LedgerEvent, ZoneMinute, minute_of

logger = logging.getLogger(__name__)

MAX_ZONE_MINUTES = 50_000


class LedgerBuffer:
    """Events and zone samples not yet written, and the batch in flight.

    A batch that failed (database unreachable) is retried *as is* with the same sequence
    number: if its commit did happen, the fence recognises it and nothing is added twice; new
    events wait behind it. When more than ``max_events`` wait, the oldest are dropped and
    counted in ``lost`` (reported in camera health once the database is back).

    Thread-safe: the frame loop adds, the duties thread takes batches (one lock, held for
    microseconds, never across I/O).
    """

    def __init__(self, *, camera_id: int, generation: int, max_events: int) -> None:
        self.camera_id = camera_id
        self.generation = generation
        self.max_events = max_events
        self.events: deque[LedgerEvent] = deque()
        self.zones: dict[tuple[int, datetime], ZoneMinute] = {}
        self.in_flight: LedgerBatch | None = None
        self.seq = 0
        self.lost = 0
        self.lost_reported = 0
        self.covered_until: datetime | None = None  # the last analysed frame's time
        self._batched_until: datetime | None = None
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self.events) + (len(self.in_flight.events) if self.in_flight else 0)

    def frame_done(self, moment: datetime) -> None:
        """Every crossing and zone sample of the frame at ``moment`` has been added."""
        self.covered_until = moment

    def add_event(self, event: LedgerEvent) -> None:
        with self._lock:
            self._add_event(event)

    def _add_event(self, event: LedgerEvent) -> None:
        if len(self) >= self.max_events:
            self.lost += 1
            if self.lost == 1 or self.lost % 1000 == 0:
                logger.error("camera %s: ledger buffer full (%d events), %d events lost so far",
                             self.camera_id, self.max_events, self.lost)
            if not self.events:
                return  # only the batch in flight is held (kept for its retry): drop the new
            self.events.popleft()  # drop the oldest waiting event
        self.events.append(event)

    def add_zone_sample(self, zone_id: int, moment: datetime, occupancy: int, entries: int,
                        exits: int, dwells: Sequence[float] = ()) -> None:
        with self._lock:
            self._add_zone_sample(zone_id, moment, occupancy, entries, exits, dwells)

    def _add_zone_sample(self, zone_id: int, moment: datetime, occupancy: int, entries: int,
                         exits: int, dwells: Sequence[float] = ()) -> None:
        key = (zone_id, minute_of(moment))
        bucket = self.zones.get(key)
        if bucket is None:
            if len(self.zones) >= MAX_ZONE_MINUTES:
                return  # occupancy samples are statistics; dropping some is acceptable
            bucket = self.zones[key] = ZoneMinute(zone_id=zone_id, minute=key[1])
        bucket.add(occupancy, entries, exits, dwells)

    def next_batch(self, limit: int) -> LedgerBatch | None:
        """The batch to write now: the one in flight, else a new one (None if nothing waits)."""
        with self._lock:
            return self._next_batch(limit)

    def _next_batch(self, limit: int) -> LedgerBatch | None:
        if self.in_flight is not None:
            return self.in_flight
        covered = self.covered_until
        if not self.events and not self.zones and covered == self._batched_until:
            return None  # (a batch without events still records how far analysis got)
        take = min(limit, len(self.events))
        events = tuple(self.events.popleft() for _ in range(take))
        zones = tuple(self.zones.values())
        self.zones = {}
        self.seq += 1
        self._batched_until = covered
        self.in_flight = LedgerBatch(camera_id=self.camera_id, generation=self.generation,
                                     seq=self.seq, events=events, zones=zones,
                                     covered_until=covered if not self.events else None)
        return self.in_flight

    def done(self) -> None:
        """The batch in flight was committed (or recognised as already applied)."""
        self.in_flight = None

    def take_all(self) -> list[LedgerEvent]:
        """Every event not yet written (the batch in flight first), emptying the buffer; zone
        samples are dropped (the run is over and they cannot be written late)."""
        with self._lock:
            events = list(self.in_flight.events) if self.in_flight else []
            events.extend(self.events)
            self.events.clear()
            self.in_flight = None
            self.zones = {}
            return events
