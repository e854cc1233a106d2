"""Rebuilding minute and hour rollups from the ledger (repair and verification).

The stream runner keeps rollups in step with the events inside each ledger transaction; this
recomputes them from the events for a time range, so a report can always be made to agree with
the ledger (e.g. after restoring events from a backup).
"""

from __future__ import annotations

from datetime import datetime

from django.db import connection, transaction


def line_rollups_rebuild(*, camera_id: int, start: datetime, end: datetime) -> int:
    """Replace the camera's line rollups of [start, end) (whole UTC minutes) by sums of its
    events; returns the number of rollup rows written."""
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("start and end must be aware datetimes")
    with transaction.atomic(), connection.cursor() as cursor:
        # Lock the camera's lease row: a running writer cannot add events meanwhile.
        cursor.execute("SELECT 1 FROM counting_cameralease WHERE camera_id = %s FOR UPDATE",
                       [camera_id])
        cursor.execute(
            "DELETE FROM analytics_lineminuterollup WHERE camera_id = %s AND minute >= "
            "date_trunc('minute', %s::timestamptz) AND minute < date_trunc('minute', "
            "%s::timestamptz)", [camera_id, start, end])
        cursor.execute(
            "INSERT INTO analytics_lineminuterollup (line_id, camera_id, minute, count_in, "
            "count_out) SELECT line_id, camera_id, date_trunc('minute', occurred_at) AS m, "
            "count(*) FILTER (WHERE direction = 'in'), count(*) FILTER (WHERE direction = "
            "'out') FROM counting_countevent WHERE camera_id = %s AND occurred_at >= "
            "date_trunc('minute', %s::timestamptz) AND occurred_at < date_trunc('minute', "
            "%s::timestamptz) GROUP BY line_id, camera_id, m", [camera_id, start, end])
        written = int(cursor.rowcount)
        # Hours overlapping the range are recomputed whole from their minutes.
        cursor.execute(
            "DELETE FROM analytics_linehourrollup WHERE camera_id = %s AND hour >= "
            "date_trunc('hour', %s::timestamptz) AND hour < date_trunc('hour', "
            "%s::timestamptz - interval '1 microsecond') + interval '1 hour'",
            [camera_id, start, end])
        cursor.execute(
            "INSERT INTO analytics_linehourrollup (line_id, camera_id, hour, count_in, "
            "count_out) SELECT line_id, camera_id, date_trunc('hour', minute) AS h, "
            "sum(count_in), sum(count_out) FROM analytics_lineminuterollup WHERE camera_id = %s "
            "AND minute >= date_trunc('hour', %s::timestamptz) AND minute < date_trunc('hour', "
            "%s::timestamptz - interval '1 microsecond') + interval '1 hour' "
            "GROUP BY line_id, camera_id, h", [camera_id, start, end])
        return written
