"""Bucketed count and occupancy series from the rollups, in a site's local time.

Hourly and daily line counts read the UTC hour rollups when every bucket boundary is a whole
UTC hour, and the minute rollups otherwise (timezones such as +05:30).

Buckets are generated in the site's timezone and their boundaries converted to UTC, then the
UTC minute rollups are summed per bucket in SQL (``width_bucket`` over the boundaries). So a
day is local midnight to local midnight (23 or 25 hours on daylight-saving days), an hour is
one real hour (a day with a DST change has 23 or 25 hourly buckets, two of them labelled 01:00
with different offsets in autumn), and buckets without data are returned as zero.

::

    local   |00:00 ... 01:00(+02) 02:00(+02)=>02:00(+01) ... |00:00
    UTC     |22:00 ... 23:00      00:00      01:00           |23:00   (25 hourly buckets)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from django.db import connection

from counting.models import LineHourRollup, LineMinuteRollup, ZoneMinuteOccupancy

Bucket = Literal["minute", "hour", "day"]
BUCKETS: tuple[Bucket, ...] = ("minute", "hour", "day")
# The longest range per bucket size: at most a few thousand buckets per answer.
MAX_RANGE: dict[str, timedelta] = {
    "minute": timedelta(days=2),
    "hour": timedelta(days=93),
    "day": timedelta(days=1098),
}


class SeriesRangeError(ValueError):
    """The requested range is empty, reversed or too long for the bucket size."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class CountPoint:
    """In and out counts of one bucket; ``start``/``end`` are aware, in the site's timezone."""

    start: datetime
    end: datetime
    count_in: int
    count_out: int


@dataclass(frozen=True)
class OccupancyPoint:
    """Occupancy of one bucket: average over samples, maximum, entries and exits."""

    start: datetime
    end: datetime
    avg: float
    max: int
    entries: int
    exits: int


def _local_midnight(day: date, tz: ZoneInfo) -> datetime:
    # A midnight that does not exist (DST at 00:00) resolves to the first instant of the day.
    return datetime(day.year, day.month, day.day, tzinfo=tz).astimezone(UTC).astimezone(tz)


def bucket_bounds(*, bucket: Bucket, start: datetime, end: datetime,
                  tz: ZoneInfo) -> list[tuple[datetime, datetime]]:
    """The buckets covering [start, end), as (start, end) pairs aware in ``tz``.

    The first bucket starts at the local bucket boundary at or before ``start``; the last one is
    the one containing the instant just before ``end``.
    """
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("start and end must be aware datetimes")
    if start >= end:
        raise SeriesRangeError("from", "'from' must be before 'to'.")
    if end - start > MAX_RANGE[bucket]:
        days = MAX_RANGE[bucket].days
        raise SeriesRangeError(
            "to", f"A {bucket} series covers at most {days} days; shorten the range or use a "
                  "larger bucket.")
    bounds: list[tuple[datetime, datetime]] = []
    if bucket == "day":
        day = start.astimezone(tz).date()
        lower = _local_midnight(day, tz)
        while lower < end:
            day += timedelta(days=1)
            upper = _local_midnight(day, tz)
            bounds.append((lower, upper))
            lower = upper
        return bounds
    step = timedelta(minutes=1) if bucket == "minute" else timedelta(hours=1)
    local = start.astimezone(tz)
    # replace() keeps ``fold``, so the second 01:30 of an autumn night floors to the second 01:00.
    floored = local.replace(second=0, microsecond=0)
    if bucket == "hour":
        floored = floored.replace(minute=0)
    lower_utc = floored.astimezone(UTC)
    end_utc = end.astimezone(UTC)
    while lower_utc < end_utc:
        upper_utc = lower_utc + step  # real elapsed time: DST days get 23 or 25 hours
        bounds.append((lower_utc.astimezone(tz), upper_utc.astimezone(tz)))
        lower_utc = upper_utc
    return bounds


def _sum_per_bucket(table: str, key_column: str, keys: Sequence[int],
                    bounds: list[tuple[datetime, datetime]], aggregates: str,
                    time_column: str = "minute") -> dict[int, tuple]:
    thresholds = [b[0].timestamp() for b in bounds] + [bounds[-1][1].timestamp()]
    sql = (
        f"SELECT width_bucket(extract(epoch FROM {time_column})::float8, %s::float8[]) "
        f"AS bucket, {aggregates} FROM {connection.ops.quote_name(table)} "
        f"WHERE {key_column} = ANY(%s) AND {time_column} >= %s AND {time_column} < %s "
        "GROUP BY bucket"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [thresholds, list(keys), bounds[0][0], bounds[-1][1]])
        return {int(row[0]): tuple(row[1:]) for row in cursor.fetchall()}


def _on_utc_hours(bounds: list[tuple[datetime, datetime]]) -> bool:
    """True when every bucket boundary is a whole UTC hour (not so for +05:30, +05:45...)."""
    edges = [lower for lower, _ in bounds] + [bounds[-1][1]]
    return all(edge.astimezone(UTC).minute == 0 and edge.second == 0
               and edge.microsecond == 0 for edge in edges)


def line_count_series(*, line_ids: Sequence[int], bucket: Bucket, start: datetime,
                      end: datetime, tz: ZoneInfo) -> list[CountPoint]:
    """Sum of in/out counts of ``line_ids`` per bucket, zero-filled."""
    bounds = bucket_bounds(bucket=bucket, start=start, end=end, tz=tz)
    if not line_ids:
        sums: dict[int, tuple] = {}
    elif bucket != "minute" and _on_utc_hours(bounds):
        # Whole-hour offsets (most timezones): the hour rollups hold the same sums, 60x smaller.
        sums = _sum_per_bucket(LineHourRollup._meta.db_table, "line_id", line_ids, bounds,
                               "SUM(count_in), SUM(count_out)", time_column="hour")
    else:
        sums = _sum_per_bucket(LineMinuteRollup._meta.db_table, "line_id", line_ids, bounds,
                               "SUM(count_in), SUM(count_out)")
    points = []
    for index, (lower, upper) in enumerate(bounds, start=1):
        count_in, count_out = sums.get(index, (0, 0))
        points.append(CountPoint(start=lower, end=upper, count_in=int(count_in or 0),
                                 count_out=int(count_out or 0)))
    return points


def zone_occupancy_series(*, zone_ids: Sequence[int], bucket: Bucket, start: datetime,
                          end: datetime, tz: ZoneInfo) -> list[OccupancyPoint]:
    """Average and maximum occupancy, entries and exits of ``zone_ids`` per bucket."""
    bounds = bucket_bounds(bucket=bucket, start=start, end=end, tz=tz)
    sums = _sum_per_bucket(
        ZoneMinuteOccupancy._meta.db_table, "zone_id", zone_ids, bounds,
        "SUM(samples), SUM(occupancy_sum), MAX(max_occupancy), SUM(entries), SUM(exits)",
    ) if zone_ids else {}
    points = []
    for index, (lower, upper) in enumerate(bounds, start=1):
        samples, total, peak, entries, exits = sums.get(index, (0, 0.0, 0, 0, 0))
        points.append(OccupancyPoint(
            start=lower, end=upper,
            avg=round(float(total or 0.0) / samples, 3) if samples else 0.0,
            max=int(peak or 0), entries=int(entries or 0), exits=int(exits or 0)))
    return points
