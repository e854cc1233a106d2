"""Listening to counting (analytics -> counting; counting knows nothing of alerts).

``ledger_committed`` arrives in the stream runner's thread right after its commit: the receiver
must not make it wait. It checks (from a per-process cache refreshed every few seconds) whether
the camera has rules at all, and hands an evaluation task to a background thread that sends it
to the short-task queue; a full hand-off queue drops the oldest (the next batch, a second
later, carries fresher values). ``health_swept`` arrives in the health sweep's task on the short
queue: health rules are evaluated there, directly.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from typing import Any

from django.conf import settings
from django.utils import timezone

from tenants.db import connection

logger = logging.getLogger(__name__)

CACHE_S = 5.0
_cameras: dict[str, tuple[float, set[int]]] = {}
_outbox: queue.Queue[tuple[str, int, dict[str, float], str]] = queue.Queue(maxsize=1000)
_thread: threading.Thread | None = None
_thread_lock = threading.Lock()


def _has_rules(schema: str, camera_id: int) -> bool:
    from analytics.alerts.triggers import cameras_with_event_rules

    cached = _cameras.get(schema)
    if cached is None or time.monotonic() - cached[0] > CACHE_S:
        cached = (time.monotonic(), cameras_with_event_rules())
        _cameras[schema] = cached
    return camera_id in cached[1]


def event_rules_cache_clear() -> None:
    """Forget which cameras have rules (this process): called when a rule changes here."""
    _cameras.clear()


def _sender() -> None:
    from analytics.alerts.tasks import alerts_evaluate_batch

    while True:
        schema, camera_id, occupancy, at = _outbox.get()
        try:
            alerts_evaluate_batch.apply_async(args=[camera_id, occupancy, at],
                                              queue=settings.ALERTS_EVALUATION_QUEUE,
                                              headers={"_schema_name": schema}, expires=60)
        except Exception:
            logger.exception("%s camera %s: alert evaluation not sent", schema, camera_id)


def _ensure_thread() -> None:
    global _thread
    with _thread_lock:
        if _thread is None or not _thread.is_alive():
            _thread = threading.Thread(target=_sender, name="alerts-dispatch", daemon=True)
            _thread.start()


def on_ledger_committed(sender: Any, *, schema: str, camera_id: int, inserted: Any = (),
                        zones: Any = (), **kwargs: Any) -> None:
    from analytics.alerts.conditions import batch_zone_occupancy

    if connection.schema_name != schema or not _has_rules(schema, camera_id):
        return
    occupancy = {str(k): v for k, v in batch_zone_occupancy(zones).items()}
    item = (schema, camera_id, occupancy, timezone.now().isoformat())
    _ensure_thread()
    try:
        _outbox.put_nowait(item)
    except queue.Full:
        try:
            _outbox.get_nowait()
        except queue.Empty:
            pass
        _outbox.put_nowait(item)


def on_health_swept(sender: Any, *, schema: str, **kwargs: Any) -> None:
    from analytics.alerts.triggers import on_health

    if connection.schema_name != schema:
        return
    on_health(now=timezone.now())


def connect() -> None:
    from counting.signals import health_swept, ledger_committed

    ledger_committed.connect(on_ledger_committed, dispatch_uid="alerts.ledger_committed")
    health_swept.connect(on_health_swept, dispatch_uid="alerts.health_swept")
