"""The runner's snapshotter: keeps the camera's last picture (CameraSnapshot) fresh.

Every ``interval_s`` the frame loop offers its current frame: ``offer`` only keeps a reference
(no copy, no I/O, no blocking). A thread of its own then blurs the people (when the tenant's
``privacy_blur`` is on), encodes and stores the picture. A failure is logged and tried again
at the next interval: the picture is a convenience for the line editor, never a reason to
slow or stop counting.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.db import connection

from counting.runner.state import thread_schema_set

logger = logging.getLogger(__name__)


class Snapshotter:
    """Stores one picture of a running camera every ``interval_s`` seconds (0: never)."""

    def __init__(self, *, camera_id: int, schema: str, interval_s: float | None = None) -> None:
        self.camera_id = camera_id
        self.schema = schema
        self.interval_s = (settings.COUNTING_SNAPSHOT_INTERVAL_S if interval_s is None
                           else interval_s)
        self._pending: tuple[Any, float] | None = None
        self._last_offer = float("-inf")
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.stored = 0

    def offer(self, image: Any, frame_time: float) -> None:
        """Called by the frame loop with every analysed frame; keeps one when one is due."""
        if self.interval_s <= 0:
            return
        now = time.monotonic()
        if now - self._last_offer < self.interval_s:
            return
        self._last_offer = now
        self._pending = (image, frame_time)
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, daemon=True,
                                            name=f"snapshotter-{self.camera_id}")
            self._thread.start()
        self._wake.set()

    def stop(self, timeout_s: float = 1.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=timeout_s)

    def _run(self) -> None:
        thread_schema_set(self.schema, self.camera_id)
        try:
            while not self._stop.is_set():
                self._wake.wait()
                self._wake.clear()
                pending, self._pending = self._pending, None
                if pending is None or self._stop.is_set():
                    continue
                self._store(*pending)
        finally:
            connection.close()

    def _store(self, image: Any, frame_time: float) -> None:
        from counting.snapshots import camera_snapshot_from_image
        from tenants.models import Tenant

        try:
            tenant = Tenant.objects.filter(schema_name=self.schema).first()
            blur = True if tenant is None else tenant.privacy_blur
            camera_snapshot_from_image(camera_id=self.camera_id, image=image, blur=blur,
                                       taken_at=datetime.fromtimestamp(frame_time, tz=UTC))
            self.stored += 1
        except Exception as exc:  # a picture is never worth a stream: log, try again later
            logger.warning("camera %s: last picture not stored (%s)", self.camera_id, exc)
        finally:
            # One picture every COUNTING_SNAPSHOT_INTERVAL_S (2 min): a connection of its own
            # between them would only sit idle beside the duties' and the lease's.
            if not connection.in_atomic_block:  # (a test's transaction stays open)
                connection.close()
