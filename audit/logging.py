"""A logging filter that adds the request id, the tenant schema and the camera to every record."""

from __future__ import annotations

import logging
import threading

_camera = threading.local()


def log_camera_set(camera_id: int | None) -> None:
    """Name ``camera_id`` in every record logged by this thread (a stream runner's threads)."""
    _camera.id = camera_id


class RequestContextFilter(logging.Filter):
    """Adds ``request_id``, ``schema`` and ``camera`` attributes so formatters can print them."""

    def filter(self, record: logging.LogRecord) -> bool:
        from audit.context import current_audit_context

        record.request_id = current_audit_context().request_id or "-"
        try:
            from django.db import connection

            record.schema = getattr(connection, "schema_name", "-")
        except Exception:  # noqa: BLE001 - logging must never fail
            record.schema = "-"
        if not hasattr(record, "camera"):  # an explicit extra={"camera": ...} wins
            record.camera = getattr(_camera, "id", None)
        return True
