"""Short analytics jobs (queue "short"): thin tasks that call services, safe to run twice."""

from __future__ import annotations

from celery import shared_task
from django.utils.dateparse import parse_datetime

from analytics.ledger_rollups import line_rollups_rebuild


@shared_task(name="analytics.line_rollups_rebuild", ignore_result=False)
def line_rollups_rebuild_task(camera_id: int, start: str, end: str) -> int:
    """Recompute a camera's minute rollups of [start, end) (ISO 8601, aware) from its events."""
    start_at, end_at = parse_datetime(start), parse_datetime(end)
    if start_at is None or end_at is None:
        raise ValueError("start and end must be ISO 8601 datetimes with a UTC offset")
    return line_rollups_rebuild(camera_id=camera_id, start=start_at, end=end_at)
