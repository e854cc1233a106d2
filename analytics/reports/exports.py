"""Exports made by a task: a range too long to wait for (a year of hours), with progress and a
signed, expiring download link.

``export_create`` checks the query as the API would (scope visible, parameters valid, on one
day of the range) and queues ``analytics.reports_export`` with the tenant; ``export_run`` reads
the series in chunks (analytics/reports/tables.py) and streams the rows into a file under
``REPORTS_EXPORT_DIR/<schema>/``, recording the rows done. The download link is signed with
the tenant's schema and the export's id and expires after ``REPORTS_EXPORT_TTL_S``: another
tenant's domain, a changed id or an old link get a 404.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.utils import timezone
from rest_framework.exceptions import APIException, ValidationError

from analytics.reports.models import Export, ExportStatus
from analytics.reports.tables import Kind, api_answer, export_table
from analytics.reports.writers import FORMATS, export_write
from tenants.db import connection

logger = logging.getLogger(__name__)

DOWNLOAD_SALT = "analytics.reports.export"
# The longest range of one export per bucket (the API answers at most 2 / 93 / 1098 days).
EXPORT_MAX_DAYS = {"minute": 31, "hour": 1098, "day": 1098, "week": 1098, "month": 1098}
PARAMS = {"counts": frozenset({"site", "camera", "line", "from", "to", "bucket", "hours"}),
          "occupancy": frozenset({"zone", "from", "to", "bucket"})}


def _directory() -> Path:
    path = Path(settings.REPORTS_EXPORT_DIR) / connection.schema_name
    path.mkdir(parents=True, exist_ok=True)
    return path


def export_path(export: Export) -> Path:
    return _directory() / f"{export.pk}.{export.format}"


def _check(kind: str, fmt: str, params: dict[str, str], user: Any) -> None:
    """The query as the API checks it, on the range's first day; range and format here."""
    errors: dict[str, list[str]] = {}
    if kind not in PARAMS:
        errors["kind"] = ["Choose counts or occupancy."]
    if fmt not in FORMATS:
        errors["format"] = [f"Choose one of {', '.join(FORMATS)}."]
    unknown = sorted(set(params) - PARAMS.get(kind, frozenset()))
    if unknown:
        errors["params"] = [f"Unknown query parameters: {', '.join(unknown)}."]
    if errors:
        raise ValidationError(errors)
    try:
        start = datetime.fromisoformat(params.get("from", ""))
        end = datetime.fromisoformat(params.get("to", ""))
    except ValueError:
        api_answer(kind=kind, user=user, params=params)  # type: ignore[arg-type]
        raise ValidationError({"from": ["Give 'from' and 'to' as ISO 8601 date-times."]}
                              ) from None
    bucket = params.get("bucket", "hour")
    if bucket in EXPORT_MAX_DAYS and (start.tzinfo is None) == (end.tzinfo is None):
        if end <= start:
            raise ValidationError({"to": ["'to' must be after 'from'."]})
        if end - start > timedelta(days=EXPORT_MAX_DAYS[bucket]):
            raise ValidationError({"to": [
                f"An export per {bucket} covers at most {EXPORT_MAX_DAYS[bucket]} days; "
                "shorten the range or use a larger bucket."]})
    api_answer(kind=kind, user=user, params={  # type: ignore[arg-type]
        **params, "to": min(end, start + timedelta(days=1)).isoformat()})


def export_create(*, user: Any, kind: str, fmt: str, params: dict[str, Any]) -> Export:
    """Check the query (API errors as the API raises them) and queue the export's task."""
    from analytics.reports.tasks import reports_export

    params = {str(k): str(v) for k, v in params.items()}
    _check(kind, fmt, params, user)
    export = Export.objects.create(kind=kind, params=params, format=fmt,
                                   created_by=user if getattr(user, "pk", None) else None)
    transaction.on_commit(lambda: reports_export.apply_async(
        (str(export.pk),), queue=settings.REPORTS_QUEUE))
    return export


def export_run(*, export_id: str) -> str:
    """Write the export's file; progress is saved every few hundred rows."""
    export = Export.objects.select_related("created_by").filter(pk=export_id).first()
    if export is None or export.status not in (ExportStatus.PENDING, ExportStatus.RUNNING):
        return export.status if export else "missing"
    Export.objects.filter(pk=export.pk).update(status=ExportStatus.RUNNING)
    path = export_path(export)
    partial = path.with_suffix(path.suffix + ".part")
    try:
        if export.created_by is None or not export.created_by.is_active:
            raise ValidationError("The account that asked for this export is not active.")
        kind: Kind = "occupancy" if export.kind == "occupancy" else "counts"
        table = export_table(kind=kind, user=export.created_by, params=dict(export.params),
                             chunked=True)
        Export.objects.filter(pk=export.pk).update(rows_expected=table.total_rows)

        def progress(rows: int) -> None:
            Export.objects.filter(pk=export.pk).update(rows_done=rows)

        with partial.open("wb") as out:
            rows = export_write(table, export.format, out, progress)
        partial.replace(path)
    except (APIException, OSError) as exc:
        partial.unlink(missing_ok=True)
        detail = getattr(exc, "detail", None) or str(exc)
        Export.objects.filter(pk=export.pk).update(
            status=ExportStatus.FAILED, error=f"The export could not be made: {detail}"[:2000],
            finished_at=timezone.now())
        return ExportStatus.FAILED
    now = timezone.now()
    Export.objects.filter(pk=export.pk).update(
        status=ExportStatus.DONE, rows_done=rows, rows_expected=max(rows, table.total_rows),
        size=path.stat().st_size, filename=table.filename(export.format), finished_at=now,
        expires_at=now + timedelta(seconds=settings.REPORTS_EXPORT_TTL_S))
    return ExportStatus.DONE


def download_token(export: Export) -> str:
    """A link token naming this tenant and export, valid for ``REPORTS_EXPORT_TTL_S``."""
    return signing.dumps({"s": connection.schema_name, "x": str(export.pk)},
                         salt=DOWNLOAD_SALT)


def download_resolve(token: str) -> Export | None:
    """The finished export of a valid, unexpired token made on this tenant, else None."""
    try:
        data = signing.loads(token, salt=DOWNLOAD_SALT,
                             max_age=settings.REPORTS_EXPORT_TTL_S)
    except signing.BadSignature:  # includes SignatureExpired
        return None
    if not isinstance(data, dict) or data.get("s") != connection.schema_name:
        return None
    export = Export.objects.filter(pk=str(data.get("x")), status=ExportStatus.DONE).first()
    if export is None or (export.expires_at and export.expires_at < timezone.now()):
        return None
    return export if export_path(export).exists() else None


def exports_expire(*, now: datetime | None = None) -> int:
    """Delete the files (and rows) of exports past their expiry in the current tenant."""
    now = now or timezone.now()
    expired = list(Export.objects.filter(expires_at__lt=now))
    for export in expired:
        export_path(export).unlink(missing_ok=True)
    Export.objects.filter(pk__in=[e.pk for e in expired]).delete()
    return len(expired)
