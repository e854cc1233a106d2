"""Bucketed count and occupancy series from the rollups, in a site's local time.

Hourly and daily line counts read every UTC hour that lies whole inside one bucket from the hour
rollups, and only the hours that a local bucket boundary cuts (every local midnight at +05:30 or
+05:45) from the minute rollups: a three-year daily series reads about 83 rows a day per line
instead of 1440. Minute series read the minute rollups. A series that could read more rows than
the caller allows is refused before it runs, and the database time is bounded (``SET LOCAL
statement_timeout``).

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

from bisect import bisect_right
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from django.db import OperationalError, connection, transaction

from counting.models import LineDayRollup, LineHourRollup, LineMinuteRollup, ZoneMinuteOccupancy

Bucket = Literal["minute", "hour", "day", "week", "month"]
BUCKETS: tuple[Bucket, ...] = ("minute", "hour", "day", "week", "month")
# The longest range per bucket size: at most a few thousand buckets per answer.
MAX_RANGE: dict[str, timedelta] = {
    "minute": timedelta(days=2),
    "hour": timedelta(days=93),
    "day": timedelta(days=1098),
    "week": timedelta(days=1098),
    "month": timedelta(days=1098),
}
# Calendar buckets: local midnight to local midnight; a week starts on Monday (ISO 8601).
CALENDAR_BUCKETS = frozenset({"day", "week", "month"})
# Dwell distribution: the upper edges (seconds) of its bins; the last bin is 60 min and more.
DWELL_EDGES: tuple[int, ...] = (10, 30, 60, 120, 300, 600, 1800, 3600)
DWELL_BINS: tuple[str, ...] = ("<10 s", "10-30 s", "30-60 s", "1-2 min", "2-5 min",
                               "5-10 min", "10-30 min", "30-60 min", ">=60 min")
HOUR = timedelta(hours=1)


class SeriesRangeError(ValueError):
    """The requested range is empty, reversed or too long for the bucket size."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class SeriesTooLargeError(Exception):
    """The series could read more rollup rows than the tenant's plan allows per query."""

    def __init__(self, *, rows: int, limit: int) -> None:
        super().__init__(
            f"This query could read up to {rows:,} stored rows; the limit is {limit:,} per "
            "query. Shorten the range, use a larger bucket (day instead of hour), or ask for "
            "one camera or line instead of a whole site.")
        self.rows = rows
        self.limit = limit


class SeriesTimeoutError(Exception):
    """The database did not finish the series within the allowed time."""

    def __init__(self, timeout_ms: int) -> None:
        super().__init__(
            f"The query took longer than {timeout_ms / 1000:g} s and was stopped. Try again "
            "shortly, or shorten the range or use a larger bucket.")
        self.timeout_ms = timeout_ms


# SQLSTATE of "canceling statement due to statement timeout" and "... lock timeout".
_TIMEOUT_STATES = frozenset({"57014", "55P03"})


@contextmanager
def statement_timeout(timeout_ms: int | None) -> Iterator[None]:
    """Run the block in a transaction (or savepoint) whose statements stop after
    ``timeout_ms`` (``SET LOCAL statement_timeout``; None keeps the connection's) and are
    planned without JIT; a stop raises :class:`SeriesTimeoutError`.

    JIT is off because the planner cannot estimate the per-hour ranges of the cut-hour query
    and would spend about half a second compiling a query that runs in milliseconds. Leaving
    the block restores the previous values, so an enclosing transaction keeps its own; when
    the block is the outermost transaction its COMMIT ends the ``SET LOCAL`` values, so
    nothing is sent to restore them (one round trip per series instead of five).
    """
    settings_local = {"jit": "off"}
    if timeout_ms is not None:
        settings_local["statement_timeout"] = f"{int(timeout_ms)}ms"
    nested = connection.in_atomic_block
    try:
        with transaction.atomic():
            previous = _set_local(settings_local)
            yield
            if nested:
                _set_local(previous)
    except OperationalError as exc:
        if timeout_ms is not None and getattr(exc.__cause__, "sqlstate", None) in _TIMEOUT_STATES:
            raise SeriesTimeoutError(int(timeout_ms)) from exc
        raise


def _set_local(values: dict[str, str]) -> dict[str, str]:
    """``SET LOCAL`` every setting in one statement (names from this module only); returns
    the previous values."""
    names = list(values)
    columns = ", ".join("current_setting(%s), set_config(%s, %s, true)" for _ in names)
    params: list[str] = []
    for name in names:
        params += [name, name, values[name]]
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {columns}", params)
        row = cursor.fetchone()
    if not row:
        return dict(values)
    return {name: str(row[2 * i]) for i, name in enumerate(names)}


@dataclass(frozen=True)
class CountPoint:
    """In and out counts of one bucket; ``start``/``end`` are aware, in the site's timezone."""

    start: datetime
    end: datetime
    count_in: int
    count_out: int
    # Data quality (analytics/quality.py), filled in by the readers that show it.
    coverage: float | None = None
    quality: str | None = None
    quality_notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class OccupancyPoint:
    """Occupancy of one bucket: average over samples, maximum, entries and exits."""

    start: datetime
    end: datetime
    avg: float
    max: int
    entries: int
    exits: int
    # Dwell (seconds inside) of the exits of the bucket: count, median, 90th percentile, mean
    # (None without exits) and the count per DWELL_BINS.
    dwell_count: int = 0
    dwell_median: float | None = None
    dwell_p90: float | None = None
    dwell_mean: float | None = None
    dwell_distribution: tuple[int, ...] = ()
    coverage: float | None = None
    quality: str | None = None
    quality_notes: tuple[str, ...] = ()


def _local_midnight(day: date, tz: ZoneInfo) -> datetime:
    # A midnight that does not exist (DST at 00:00) resolves to the first instant of the day.
    return datetime(day.year, day.month, day.day, tzinfo=tz).astimezone(UTC).astimezone(tz)


def _period_first_day(day: date, bucket: Bucket) -> date:
    if bucket == "week":
        return day - timedelta(days=day.weekday())
    if bucket == "month":
        return day.replace(day=1)
    return day


def _next_period_day(day: date, bucket: Bucket) -> date:
    if bucket == "week":
        return day + timedelta(days=7)
    if bucket == "month":
        return (day.replace(day=28) + timedelta(days=4)).replace(day=1)
    return day + timedelta(days=1)


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
    if bucket in CALENDAR_BUCKETS:
        day = _period_first_day(start.astimezone(tz).date(), bucket)
        lower = _local_midnight(day, tz)
        while lower < end:
            day = _next_period_day(day, bucket)
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


def _edges(bounds: list[tuple[datetime, datetime]]) -> list[datetime]:
    return [lower for lower, _ in bounds] + [bounds[-1][1]]


def _on_hour(moment: datetime) -> bool:
    utc = moment.astimezone(UTC)
    return utc.minute == 0 and utc.second == 0 and utc.microsecond == 0


def partial_hours(bounds: list[tuple[datetime, datetime]]) -> list[datetime]:
    """The UTC hours that a bucket boundary cuts (+05:30: the hour of every local midnight).

    Only these hours are read from the minute rollups; every other hour of the range lies whole
    inside one bucket and is read from the hour rollups.
    """
    hours = {edge.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
             for edge in _edges(bounds) if not _on_hour(edge)}
    return sorted(hours)


def _overlap_minutes(hour: datetime, start: datetime, end: datetime) -> int:
    lower, upper = max(hour, start), min(hour + HOUR, end)
    return max(0, int((upper - lower).total_seconds() // 60))


def series_rows_estimate(*, keys: int, bucket: Bucket,
                         bounds: list[tuple[datetime, datetime]]) -> int:
    """An upper bound of the rollup rows a series of ``keys`` lines or zones reads."""
    start, end = bounds[0][0].astimezone(UTC), bounds[-1][1].astimezone(UTC)
    minutes = int((end - start).total_seconds() // 60)
    if bucket == "minute":
        return keys * minutes
    cut = sum(_overlap_minutes(hour, start, end) for hour in partial_hours(bounds))
    return keys * ((minutes - cut) // 60 + cut)


def _thresholds(bounds: list[tuple[datetime, datetime]]) -> list[float]:
    return [edge.timestamp() for edge in _edges(bounds)]


def _fetch(sql: str, params: list[Any]) -> dict[int, tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return {int(row[0]): tuple(row[1:]) for row in cursor.fetchall()}


def _sum_per_bucket(table: str, key_column: str, keys: Sequence[int],
                    bounds: list[tuple[datetime, datetime]], aggregates: str,
                    time_column: str = "minute") -> dict[int, tuple]:
    """Aggregates of every row of ``table`` in the range, per bucket (``width_bucket``)."""
    sql = (
        f"SELECT width_bucket(extract(epoch FROM {time_column})::float8, %s::float8[]) "
        f"AS bucket, {aggregates} FROM {connection.ops.quote_name(table)} "
        f"WHERE {key_column} = ANY(%s) AND {time_column} >= %s AND {time_column} < %s "
        "GROUP BY bucket"
    )
    return _fetch(sql, [_thresholds(bounds), list(keys), bounds[0][0], bounds[-1][1]])


def _sum_whole_hours(line_ids: Sequence[int],
                     bounds: list[tuple[datetime, datetime]]) -> dict[int, tuple]:
    """In/out per bucket from the hour rollups of the hours no bucket boundary cuts.

    An hour is whole when its start and its last half second fall in the same bucket: exactly
    the hours :func:`partial_hours` leaves out (boundaries have whole seconds).
    """
    table = connection.ops.quote_name(LineHourRollup._meta.db_table)
    # The lines are summed per hour first, so the bucket of each hour is found once (a 30-day
    # hourly site of 20 lines: 720 hours instead of 14,400 rows; integer sums, same totals).
    sql = (
        "SELECT width_bucket(extract(epoch FROM h.hour)::float8, edges.a) AS bucket, "
        "SUM(h.i), SUM(h.o) FROM (SELECT hour, SUM(count_in) AS i, SUM(count_out) AS o "
        f"FROM {table} WHERE line_id = ANY(%s) AND hour >= %s AND hour < %s GROUP BY hour) "
        "AS h, (SELECT %s::float8[] AS a) AS edges "
        "WHERE width_bucket(extract(epoch FROM h.hour)::float8, edges.a) "
        "= width_bucket(extract(epoch FROM h.hour)::float8 + 3599.5, edges.a) GROUP BY bucket"
    )
    return _fetch(sql, [list(line_ids), bounds[0][0], bounds[-1][1], _thresholds(bounds)])


def _sum_cut_hours(line_ids: Sequence[int], bounds: list[tuple[datetime, datetime]],
                   cut: list[datetime]) -> dict[int, tuple]:
    """In/out per bucket from the minute rollups of the cut hours only.

    ``LATERAL`` makes one index range scan of ``(line, minute)`` per cut hour, so a three-year
    daily series at +05:30 reads about 60 minute rows a day instead of 1440.
    """
    table = connection.ops.quote_name(LineMinuteRollup._meta.db_table)
    sql = (
        "SELECT width_bucket(extract(epoch FROM m.minute)::float8, %s::float8[]) AS bucket, "
        "SUM(m.count_in), SUM(m.count_out) FROM unnest(%s::timestamptz[]) AS cut(hour) "
        f"CROSS JOIN LATERAL (SELECT minute, count_in, count_out FROM {table} "
        "WHERE line_id = ANY(%s) AND minute >= GREATEST(cut.hour, %s) "
        "AND minute < LEAST(cut.hour + interval '1 hour', %s)) AS m GROUP BY bucket"
    )
    return _fetch(sql, [_thresholds(bounds), cut, list(line_ids), bounds[0][0], bounds[-1][1]])


def _add(left: dict[int, tuple], right: dict[int, tuple]) -> dict[int, tuple]:
    total = dict(left)
    for index, (count_in, count_out) in right.items():
        had_in, had_out = total.get(index, (0, 0))
        total[index] = (int(had_in or 0) + int(count_in or 0),
                        int(had_out or 0) + int(count_out or 0))
    return total


def _line_sums(line_ids: Sequence[int], bucket: Bucket,
               bounds: list[tuple[datetime, datetime]]) -> dict[int, tuple]:
    if bucket == "minute":
        return _sum_per_bucket(LineMinuteRollup._meta.db_table, "line_id", line_ids, bounds,
                               "SUM(count_in), SUM(count_out)")
    # An hour rollup is the sum of its minutes (counting/rollups.py keeps it so), so whole hours
    # come from the hours and only the hours a local boundary cuts come from the minutes.
    cut = partial_hours(bounds)
    sums = _sum_whole_hours(line_ids, bounds)
    return _add(sums, _sum_cut_hours(line_ids, bounds, cut)) if cut else sums


def _check_rows(estimate: int, max_rows: int | None) -> None:
    if max_rows is not None and estimate > max_rows:
        raise SeriesTooLargeError(rows=estimate, limit=max_rows)


@dataclass(frozen=True)
class CountSources:
    """What a count series sums, and which way each source's directions read.

    ``lines`` count as they are (``in`` is in); ``lines_swapped`` are entrances whose "out"
    direction enters the site, so their out-crossings are read as in; ``zones`` read their
    entries as in and exits as out (zone entrances), ``zones_swapped`` the reverse. A camera or
    line series has ``lines`` only; a site's footfall has its entrances
    (:mod:`analytics.footfall`).
    """

    lines: tuple[int, ...] = ()
    lines_swapped: tuple[int, ...] = ()
    zones: tuple[int, ...] = ()
    zones_swapped: tuple[int, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.lines or self.lines_swapped or self.zones or self.zones_swapped)


Segments = tuple[list[tuple[datetime, datetime]], list[int | None]]


def _segments(bounds: list[tuple[datetime, datetime]],
              windows: Sequence[tuple[datetime, datetime]] | None) -> Segments:
    """The stretches summed in SQL and the 1-based bucket each one adds to (None: left out).

    Without ``windows`` the segments are the buckets. With them (opening hours), every window
    edge inside the range splits its bucket, and only the segments inside a window are kept,
    so an hourly or daily series with opening hours on whole local hours still reads the hour
    rollups.
    """
    if windows is None:
        return bounds, list(range(1, len(bounds) + 1))
    first, last = bounds[0][0].astimezone(UTC), bounds[-1][1].astimezone(UTC)
    edges = {edge.astimezone(UTC) for edge in _edges(bounds)}
    for lower, upper in windows:
        edges.update(e.astimezone(UTC) for e in (lower, upper) if first < e < last)
    ordered = sorted(edges)
    starts = [lower.astimezone(UTC) for lower, _ in bounds]
    open_ranges = sorted((a.astimezone(UTC), b.astimezone(UTC)) for a, b in windows)
    segments: list[tuple[datetime, datetime]] = []
    owners: list[int | None] = []
    for lower, upper in zip(ordered, ordered[1:], strict=False):
        index = bisect_right(starts, lower)
        inside = any(a <= lower and upper <= b for a, b in open_ranges)
        segments.append((lower, upper))
        owners.append(index if inside else None)
    return segments, owners


def _fold(sums: dict[int, tuple], owners: list[int | None], swap: bool = False) -> dict[int, tuple]:
    """Segment sums (1-based) added into their buckets; ``swap`` exchanges in and out."""
    folded: dict[int, tuple] = {}
    for index, values in sums.items():
        owner = owners[index - 1] if 0 < index <= len(owners) else None
        if owner is None:
            continue
        count_in, count_out = (int(v or 0) for v in values[:2])
        if swap:
            count_in, count_out = count_out, count_in
        had_in, had_out = folded.get(owner, (0, 0))
        folded[owner] = (had_in + count_in, had_out + count_out)
    return folded


def _sum_days(line_ids: Sequence[int],
              bounds: list[tuple[datetime, datetime]]) -> dict[int, tuple]:
    """In/out per calendar bucket from the local-day rollups (one row per line and day).

    Only for buckets of local days in the lines' site timezone (``bounds`` made in it)."""
    firsts = [lower.date() for lower, _ in bounds]
    table = connection.ops.quote_name(LineDayRollup._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT day, SUM(count_in), SUM(count_out) FROM {table} WHERE line_id = ANY(%s) "
            "AND day >= %s AND day < %s GROUP BY day",
            [list(line_ids), firsts[0], bounds[-1][1].date()])
        sums: dict[int, tuple] = {}
        for day, count_in, count_out in cursor.fetchall():
            index = bisect_right(firsts, day)
            had_in, had_out = sums.get(index, (0, 0))
            sums[index] = (had_in + int(count_in or 0), had_out + int(count_out or 0))
    return sums


def _uses_days(bucket: Bucket, windows: object, day_rollups: bool) -> bool:
    return day_rollups and bucket in CALENDAR_BUCKETS and windows is None


def count_sources_rows(*, sources: CountSources, bucket: Bucket,
                       bounds: list[tuple[datetime, datetime]],
                       day_rollups: bool = False) -> int:
    """An upper bound of the rollup rows :func:`count_series` reads for ``sources``."""
    lines = len(sources.lines) + len(sources.lines_swapped)
    zones = len(sources.zones) + len(sources.zones_swapped)
    if day_rollups and bucket in CALENDAR_BUCKETS:
        days = (bounds[-1][1].date() - bounds[0][0].date()).days
        rows = lines * days
    else:
        rows = series_rows_estimate(keys=lines, bucket=bucket, bounds=bounds) if lines else 0
    if zones:
        rows += series_rows_estimate(keys=zones, bucket="minute", bounds=bounds)
    return rows


def count_sums(*, sources: CountSources, bucket: Bucket,
               bounds: list[tuple[datetime, datetime]],
               windows: Sequence[tuple[datetime, datetime]] | None = None,
               day_rollups: bool = False) -> dict[int, tuple]:
    """In/out per 1-based bucket index of ``sources`` (no limits: callers check them).

    ``day_rollups``: ``bounds`` are in the lines' site timezone, so calendar buckets without
    ``windows`` read the local-day rollups."""
    segments, owners = _segments(bounds, windows)
    total: dict[int, tuple] = {}
    if not segments:
        return total
    days = _uses_days(bucket, windows, day_rollups)
    for line_ids, swap in ((sources.lines, False), (sources.lines_swapped, True)):
        if line_ids:
            sums = (_sum_days(line_ids, bounds) if days
                    else _line_sums(line_ids, bucket, segments))
            total = _add(total, _fold(sums, owners, swap))
    for zone_ids, swap in ((sources.zones, False), (sources.zones_swapped, True)):
        if zone_ids:
            sums = _sum_per_bucket(ZoneMinuteOccupancy._meta.db_table, "zone_id", zone_ids,
                                   segments, "SUM(entries), SUM(exits)")
            total = _add(total, _fold(sums, owners, swap))
    return total


def count_series(*, sources: CountSources, bucket: Bucket, start: datetime, end: datetime,
                 tz: ZoneInfo, windows: Sequence[tuple[datetime, datetime]] | None = None,
                 max_rows: int | None = None, timeout_ms: int | None = None,
                 day_rollups: bool = False) -> list[CountPoint]:
    """In/out of ``sources`` per bucket, zero-filled; with ``windows`` (UTC open stretches,
    e.g. :func:`cameras.local_time.opening_windows`) only what happened inside them counts.

    ``day_rollups=True`` says that ``tz`` is the lines' site timezone: day, week and month
    series (without windows) then read one local-day rollup per line and day (a year of days
    over 100 lines: 36,500 rows instead of 876,000 hours).

    ``max_rows`` refuses (:class:`SeriesTooLargeError`) a series that could read more rollup
    rows; ``timeout_ms`` bounds the database time (:class:`SeriesTimeoutError`).
    """
    bounds = bucket_bounds(bucket=bucket, start=start, end=end, tz=tz)
    sums: dict[int, tuple] = {}
    if sources:
        segments, _ = _segments(bounds, windows)
        days = _uses_days(bucket, windows, day_rollups)
        _check_rows(count_sources_rows(sources=sources, bucket=bucket, bounds=segments,
                                       day_rollups=days), max_rows)
        with statement_timeout(timeout_ms):
            sums = count_sums(sources=sources, bucket=bucket, bounds=bounds, windows=windows,
                              day_rollups=days)
    points = []
    for index, (lower, upper) in enumerate(bounds, start=1):
        count_in, count_out = sums.get(index, (0, 0))
        points.append(CountPoint(start=lower, end=upper, count_in=int(count_in or 0),
                                 count_out=int(count_out or 0)))
    return points


def line_count_series(*, line_ids: Sequence[int], bucket: Bucket, start: datetime,
                      end: datetime, tz: ZoneInfo, max_rows: int | None = None,
                      timeout_ms: int | None = None,
                      windows: Sequence[tuple[datetime, datetime]] | None = None,
                      ) -> list[CountPoint]:
    """Sum of in/out counts of ``line_ids`` per bucket, zero-filled (see :func:`count_series`).
    """
    return count_series(sources=CountSources(lines=tuple(line_ids)), bucket=bucket,
                        start=start, end=end, tz=tz, windows=windows, max_rows=max_rows,
                        timeout_ms=timeout_ms)


def _dwell_per_bucket(zone_ids: Sequence[int], bounds: list[tuple[datetime, datetime]],
                      ) -> tuple[dict[int, tuple], dict[int, list[int]]]:
    """Dwell statistics per bucket from the exact dwell of every exit (``percentile_cont``:
    linear interpolation, as numpy's default) and the counts per :data:`DWELL_BINS`."""
    table = connection.ops.quote_name(ZoneMinuteOccupancy._meta.db_table)
    where = (f"FROM {table} AS z CROSS JOIN LATERAL unnest(z.dwell_seconds) AS d(s) "
             "WHERE z.zone_id = ANY(%s) AND z.minute >= %s AND z.minute < %s "
             "AND cardinality(z.dwell_seconds) > 0")
    bucket = "width_bucket(extract(epoch FROM z.minute)::float8, %s::float8[])"
    params: list[Any] = [list(zone_ids), bounds[0][0], bounds[-1][1]]
    stats = _fetch(
        f"SELECT {bucket} AS b, count(*), percentile_cont(0.5) WITHIN GROUP (ORDER BY d.s), "
        f"percentile_cont(0.9) WITHIN GROUP (ORDER BY d.s), avg(d.s) {where} GROUP BY b",
        [_thresholds(bounds), *params])
    bins: dict[int, list[int]] = {}
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {bucket} AS b, width_bucket(d.s, %s::float8[]) AS k, count(*) {where} "
            "GROUP BY b, k", [_thresholds(bounds), [float(e) for e in DWELL_EDGES], *params])
        for index, k, count in cursor.fetchall():
            bins.setdefault(int(index), [0] * len(DWELL_BINS))[int(k)] += int(count)
    return stats, bins


def zone_occupancy_series(*, zone_ids: Sequence[int], bucket: Bucket, start: datetime,
                          end: datetime, tz: ZoneInfo, max_rows: int | None = None,
                          timeout_ms: int | None = None) -> list[OccupancyPoint]:
    """Average and maximum occupancy, entries, exits and dwell of ``zone_ids`` per bucket.

    ``max_rows`` and ``timeout_ms`` as in :func:`line_count_series` (zones have minutes only).
    """
    bounds = bucket_bounds(bucket=bucket, start=start, end=end, tz=tz)
    sums: dict[int, tuple] = {}
    dwell: dict[int, tuple] = {}
    bins: dict[int, list[int]] = {}
    if zone_ids:
        _check_rows(series_rows_estimate(keys=len(zone_ids), bucket="minute", bounds=bounds),
                    max_rows)
        with statement_timeout(timeout_ms):
            sums = _sum_per_bucket(
                ZoneMinuteOccupancy._meta.db_table, "zone_id", zone_ids, bounds,
                "SUM(samples), SUM(occupancy_sum), MAX(max_occupancy), SUM(entries), "
                "SUM(exits)")
            dwell, bins = _dwell_per_bucket(zone_ids, bounds)
    points = []
    empty = (0,) * len(DWELL_BINS)
    for index, (lower, upper) in enumerate(bounds, start=1):
        samples, total, peak, entries, exits = sums.get(index, (0, 0.0, 0, 0, 0))
        count, median, p90, mean = dwell.get(index, (0, None, None, None))
        points.append(OccupancyPoint(
            start=lower, end=upper,
            avg=round(float(total or 0.0) / samples, 3) if samples else 0.0,
            max=int(peak or 0), entries=int(entries or 0), exits=int(exits or 0),
            dwell_count=int(count or 0),
            dwell_median=None if median is None else float(median),
            dwell_p90=None if p90 is None else float(p90),
            dwell_mean=None if mean is None else float(mean),
            dwell_distribution=tuple(bins.get(index, empty))))
    return points


def minute_flows(*, sources: CountSources, start: datetime, end: datetime,
                 max_rows: int | None = None,
                 timeout_ms: int | None = None) -> list[tuple[datetime, int, int]]:
    """(UTC minute, in, out) of ``sources`` for every minute of [start, end) with a crossing,
    in time order (directions read as in :class:`CountSources`); site occupancy walks them."""
    minutes = max(0, int((end - start).total_seconds() // 60))
    keys = (len(sources.lines) + len(sources.lines_swapped) + len(sources.zones)
            + len(sources.zones_swapped))
    _check_rows(keys * minutes, max_rows)
    flows: dict[datetime, list[int]] = {}
    line_table = connection.ops.quote_name(LineMinuteRollup._meta.db_table)
    zone_table = connection.ops.quote_name(ZoneMinuteOccupancy._meta.db_table)
    parts = ((line_table, "line_id", "count_in", "count_out", sources.lines, False),
             (line_table, "line_id", "count_in", "count_out", sources.lines_swapped, True),
             (zone_table, "zone_id", "entries", "exits", sources.zones, False),
             (zone_table, "zone_id", "entries", "exits", sources.zones_swapped, True))
    with statement_timeout(timeout_ms), connection.cursor() as cursor:
        for table, key, col_in, col_out, ids, swap in parts:
            if not ids:
                continue
            cursor.execute(
                f"SELECT minute, SUM({col_in}), SUM({col_out}) FROM {table} "
                f"WHERE {key} = ANY(%s) AND minute >= %s AND minute < %s GROUP BY minute",
                [list(ids), start, end])
            for minute, count_in, count_out in cursor.fetchall():
                entering, leaving = int(count_in or 0), int(count_out or 0)
                if swap:
                    entering, leaving = leaving, entering
                row = flows.setdefault(minute, [0, 0])
                row[0] += entering
                row[1] += leaving
    return [(minute, row[0], row[1]) for minute, row in sorted(flows.items())]
