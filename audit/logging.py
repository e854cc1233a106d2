"""A logging filter that adds the request id and the tenant schema to every record."""

from __future__ import annotations

import logging


class RequestContextFilter(logging.Filter):
    """Adds ``request_id`` and ``schema`` attributes so formatters can print them."""

    def filter(self, record: logging.LogRecord) -> bool:
        from audit.context import current_audit_context

        record.request_id = current_audit_context().request_id or "-"
        try:
            from django.db import connection

            record.schema = getattr(connection, "schema_name", "-")
        except Exception:  # noqa: BLE001 - logging must never fail
            record.schema = "-"
        return True
