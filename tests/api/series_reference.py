"""The /counts/ computation as it was before whole hours came from the hour rollups (kept to
prove the new one equal, and as the benchmark's baseline): every bucket summed from the minute
rollups unless every boundary is a whole UTC hour."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from django.db import connection

from analytics.series import Bucket, CountPoint, bucket_bounds
from counting.models import LineHourRollup, LineMinuteRollup


def _sum_per_bucket(table: str, keys: Sequence[int], bounds: list[tuple[datetime, datetime]],
                    time_column: str) -> dict[int, tuple]:
    thresholds = [b[0].timestamp() for b in bounds] + [bounds[-1][1].timestamp()]
    sql = (
        f"SELECT width_bucket(extract(epoch FROM {time_column})::float8, %s::float8[]) "
        f"AS bucket, SUM(count_in), SUM(count_out) FROM {connection.ops.quote_name(table)} "
        f"WHERE line_id = ANY(%s) AND {time_column} >= %s AND {time_column} < %s "
        "GROUP BY bucket"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [thresholds, list(keys), bounds[0][0], bounds[-1][1]])
        return {int(row[0]): tuple(row[1:]) for row in cursor.fetchall()}


def _on_utc_hours(bounds: list[tuple[datetime, datetime]]) -> bool:
    edges = [lower for lower, _ in bounds] + [bounds[-1][1]]
    return all(edge.astimezone(UTC).minute == 0 and edge.second == 0
               and edge.microsecond == 0 for edge in edges)


def old_line_count_series(*, line_ids: Sequence[int], bucket: Bucket, start: datetime,
                          end: datetime, tz: ZoneInfo) -> list[CountPoint]:
    """The previous ``analytics.series.line_count_series``, unchanged."""
    bounds = bucket_bounds(bucket=bucket, start=start, end=end, tz=tz)
    if not line_ids:
        sums: dict[int, tuple] = {}
    elif bucket != "minute" and _on_utc_hours(bounds):
        sums = _sum_per_bucket(LineHourRollup._meta.db_table, line_ids, bounds, "hour")
    else:
        sums = _sum_per_bucket(LineMinuteRollup._meta.db_table, line_ids, bounds, "minute")
    points = []
    for index, (lower, upper) in enumerate(bounds, start=1):
        count_in, count_out = sums.get(index, (0, 0))
        points.append(CountPoint(start=lower, end=upper, count_in=int(count_in or 0),
                                 count_out=int(count_out or 0)))
    return points
