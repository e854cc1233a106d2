"""Live updates of one camera: stored crossings and zone occupancy to the browsers, sent from a
thread of their own through a bounded queue, so neither the frame loop nor the ledger writes
ever wait on Redis.

Messages carry *absolute* day totals, so when the queue is full the oldest waiting message is
dropped (the next one supersedes it), and after a Redis outage one fresh message resynchronises
every open view. While Redis is down (the :class:`RedisGate` is closed) nothing is sent.
"""

from __future__ import annotations

import logging
import queue
import threading
import time

import redis
from django.db import DatabaseError, connection

from cameras.models import Camera
from counting.ledger import LedgerEvent, WriteResult
from counting.live.publish import publish_camera_counts
from counting.runner.redis_gate import RedisGate
from counting.runner.state import thread_schema_set

logger = logging.getLogger(__name__)

QUEUE_SIZE = 64

_Message = tuple[list[LedgerEvent], dict[int, int]]


class LivePublisher:
    """Publishes what the ledger stored (after its commit) with the latest zone occupancy, and
    occupancy changes that no batch carried yet.

    ``publish()`` only queues (any thread); ``start()`` runs the sender thread, which calls
    :meth:`send` (day totals from the database, then Redis). ``dropped`` counts messages
    superseded in a full queue, ``skipped`` those not sent while Redis was down.
    """

    def __init__(self, *, schema: str, camera: Camera, gate: RedisGate | None = None,
                 queue_size: int = QUEUE_SIZE) -> None:
        self.schema = schema
        self.camera = camera
        self.gate = gate or RedisGate(name="Redis (live updates)")
        self.occupancy: dict[int, int] = {}
        self.published_occupancy: dict[int, int] = {}
        self.dropped = 0
        self.skipped = 0
        self.sent = 0
        self._queue: queue.Queue[_Message] = queue.Queue(maxsize=queue_size)
        self._resync = False
        self._retry_at = 0.0  # after a failed totals' read, resync no sooner than this
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- any thread ----------------------------------------------------------------------------
    def queued(self) -> int:
        """Messages waiting to be published (for the health report and the metrics)."""
        return self._queue.qsize()

    def occupancy_set(self, zone_id: int, occupancy: int) -> None:
        self.occupancy[zone_id] = occupancy

    def zones_keep(self, zone_ids: set[int]) -> None:
        """Forget the occupancy of zones that no longer count (deleted, disabled, masks)."""
        self.occupancy = {k: v for k, v in self.occupancy.items() if k in zone_ids}

    def on_commit(self, result: WriteResult) -> None:
        """The ledger's commit callback: publish the events it inserted."""
        self.publish(result.inserted)

    def publish(self, events: list[LedgerEvent]) -> None:
        """Queue a message with ``events`` and the current occupancy (never blocks)."""
        self.published_occupancy = dict(self.occupancy)
        message = (list(events), dict(self.published_occupancy))
        while True:
            try:
                self._queue.put_nowait(message)
                return
            except queue.Full:
                try:
                    self._queue.get_nowait()  # superseded: the next message has the totals
                    self.dropped += 1
                except queue.Empty:
                    pass

    def publish_occupancy_if_changed(self) -> None:
        if self.occupancy != self.published_occupancy:
            self.publish([])

    # -- the sender thread ---------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, daemon=True, name="live-publish")
        self._thread.start()

    def stop(self, timeout_s: float) -> None:
        """Send what waits (within ``timeout_s``) and end the thread."""
        self._stop.set()
        if self._thread is not None and self._thread.is_alive():
            self._thread.join(timeout_s)

    def _run(self) -> None:
        thread_schema_set(self.schema, self.camera.pk)
        try:
            while True:
                try:
                    events, zones = self._queue.get(timeout=0.25)
                except queue.Empty:
                    if self._stop.is_set():
                        return
                    if self._resync and self.gate.open() and time.monotonic() >= self._retry_at:
                        self.send([], dict(self.occupancy))  # Redis back: resync the views
                    continue
                self.send(events, zones)
        finally:
            connection.close()

    def send(self, events: list[LedgerEvent], zones: dict[int, int]) -> bool:
        """Send one message now (the sender thread); False if Redis (or the totals' read)
        failed or the gate is closed."""
        if not self.gate.open():
            self.skipped += 1
            self._resync = True
            return False
        try:
            publish_camera_counts(schema=self.schema, camera_id=self.camera.pk,
                                  site_id=self.camera.site_id, site_tz=self.camera.site.timezone,
                                  events=events, zones=zones, raise_errors=True)
        except redis.RedisError as exc:
            self.gate.failed(exc)
        except DatabaseError as exc:  # the day totals could not be read: not Redis's fault
            logger.warning("camera %s: live update skipped, totals unreadable (%s)",
                           self.camera.pk, exc)
            connection.close()  # the next read reconnects
            self._retry_at = time.monotonic() + 2.0
        except Exception:
            logger.exception("camera %s: live update failed", self.camera.pk)
        else:
            self.gate.succeeded()
            self._resync = False
            self.sent += 1
            return True
        self.skipped += 1
        self._resync = True
        return False
