"""The numbers of the history page, built once for the page, its chart and its CSV.

Each chosen scope is one series from :mod:`analytics.series` over the local days of the range,
in the scopes' common timezone; a comparison runs the same series over the period of the same
length just before. The table rows, the chart data and the CSV rows all come from the
``HistoryReport`` built here, so the CSV is exactly what the page shows.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection

from analytics.history.forms import local_days, previous_days
from analytics.history.scopes import Scope
from analytics.quality import bucket_quality, with_quality
from analytics.series import (
    Bucket,
    CountPoint,
    OccupancyPoint,
    count_series,
    zone_occupancy_series,
)
from cameras.local_time import opening_windows

Point = CountPoint | OccupancyPoint
ZONE_METRICS = ["avg occupancy", "max occupancy", "entries", "median dwell s", "p90 dwell s"]


@dataclass(frozen=True)
class Period:
    """Local days ``first``..``last`` (included) as an aware [start, end)."""

    first: date
    last: date
    start: datetime
    end: datetime


@dataclass
class SeriesResult:
    """One scope's points, and those of the previous period when compared."""

    scope: Scope
    points: list[Point]
    previous: list[Point] | None = None

    def totals(self, points: list[Point] | None = None) -> dict[str, float]:
        points = self.points if points is None else points
        if self.scope.is_occupancy:
            peak = max((p.max for p in points if isinstance(p, OccupancyPoint)), default=0)
            entries = sum(p.entries for p in points if isinstance(p, OccupancyPoint))
            return {"max": peak, "entries": entries}
        return {"in": sum(p.count_in for p in points if isinstance(p, CountPoint)),
                "out": sum(p.count_out for p in points if isinstance(p, CountPoint))}


@dataclass
class HistoryReport:
    """Everything the page, chart and CSV show."""

    timezone: str
    bucket: Bucket
    period: Period
    previous: Period | None
    series: list[SeriesResult] = field(default_factory=list)

    @property
    def bounds(self) -> list[tuple[datetime, datetime]]:
        return [(p.start, p.end) for p in self.series[0].points] if self.series else []

    def labels(self) -> list[str]:
        return bucket_labels(self.bounds, self.bucket)

    def columns(self) -> list[str]:
        """The CSV's and table's value columns, in order."""
        names: list[str] = []
        for result in self.series:
            metrics = (ZONE_METRICS if result.scope.is_occupancy else ["in", "out"])
            names += [f"{result.scope.label} {m}" for m in metrics]
            if result.previous is not None:
                names += [f"{result.scope.label} {m} (previous period)" for m in metrics]
        return names

    def rows(self) -> list[dict[str, Any]]:
        """Per bucket: its label, start, end and the values of every column."""
        rows = []
        for index, (start, end) in enumerate(self.bounds):
            values: list[Any] = []
            for result in self.series:
                values += _values(result.scope, result.points[index])
                if result.previous is not None:
                    values += (_values(result.scope, result.previous[index])
                               if index < len(result.previous)
                               else [None] * (len(ZONE_METRICS) if result.scope.is_occupancy
                                              else 2))
            rows.append({"start": start, "end": end, "values": values})
        for row, label in zip(rows, self.labels(), strict=True):
            row["label"] = label
        return rows

    def long_days(self) -> list[tuple[date, int]]:
        """Local days of the range that do not have 24 hours (daylight-saving changes)."""
        tz = ZoneInfo(self.timezone)
        days = []
        day = self.period.first
        while day <= self.period.last:
            start = datetime.combine(day, time.min, tzinfo=tz)
            end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=tz)
            hours = round((end.timestamp() - start.timestamp()) / 3600)
            if hours != 24:
                days.append((day, hours))
            day += timedelta(days=1)
        return days

    def chart(self) -> dict[str, Any]:
        """Chart.js data: in (or average occupancy) per series, previous period dashed."""
        datasets = []
        for result in self.series:
            metric = "avg" if result.scope.is_occupancy else "count_in"
            name = "average occupancy" if result.scope.is_occupancy else "in"
            datasets.append({"label": f"{result.scope.label} – {name}", "key": result.scope.key,
                             "data": [getattr(p, metric) for p in result.points],
                             "quality": [p.quality for p in result.points],
                             "coverage": [p.coverage for p in result.points],
                             "quality_notes": [list(p.quality_notes) for p in result.points],
                             "occupancy": result.scope.is_occupancy, "previous": False})
            if result.scope.is_occupancy:
                datasets.append({
                    "label": f"{result.scope.label} – median dwell (s)", "key": result.scope.key,
                    "data": [_seconds(getattr(p, "dwell_median", None)) for p in result.points],
                    "quality": [p.quality for p in result.points],
                    "coverage": [p.coverage for p in result.points],
                    "quality_notes": [list(p.quality_notes) for p in result.points],
                    "occupancy": False, "dwell": True, "previous": False})
            if result.previous is not None:
                datasets.append({
                    "label": f"{result.scope.label} – {name}, previous period",
                    "key": result.scope.key, "occupancy": result.scope.is_occupancy,
                    "data": [getattr(p, metric) for p in result.previous[:len(result.points)]],
                    "previous": True})
        return {"labels": self.labels(), "datasets": datasets}


def _seconds(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _values(scope: Scope, point: Point) -> list[Any]:
    if isinstance(point, OccupancyPoint):
        return [point.avg, point.max, point.entries, _seconds(point.dwell_median),
                _seconds(point.dwell_p90)]
    return [point.count_in, point.count_out]


def _offset(moment: datetime) -> str:
    raw = f"{moment:%z}"  # +0200
    return f"UTC{raw[:3]}:{raw[3:]}"


def bucket_labels(bounds: list[tuple[datetime, datetime]], bucket: Bucket) -> list[str]:
    """Readable local labels; an hour that occurs twice (autumn) gets its UTC offset."""
    if bucket == "hour":
        plain = [f"{start:%a %d %b %H:%M}" for start, _ in bounds]
        repeated = {label for label, count in Counter(plain).items() if count > 1}
        return [f"{label} ({_offset(start)})" if label in repeated else label
                for label, (start, _) in zip(plain, bounds, strict=True)]
    if bucket == "day":
        labels = []
        for start, end in bounds:
            hours = round((end.timestamp() - start.timestamp()) / 3600)  # real hours
            labels.append(f"{start:%a %d %b %Y}" + (f" ({hours} h)" if hours != 24 else ""))
        return labels
    if bucket == "week":
        return [f"Week of {start:%a %d %b %Y}" for start, _ in bounds]
    if bucket == "month":
        return [f"{start:%B %Y}" for start, _ in bounds]
    return [f"{start:%Y-%m-%d %H:%M}" for start, _ in bounds]


def period_of(first: date, last: date, tz: ZoneInfo) -> Period:
    start = datetime.combine(first, time.min, tzinfo=tz)
    end = datetime.combine(last + timedelta(days=1), time.min, tzinfo=tz)
    return Period(first, last, start, end)


def _limits() -> dict[str, int | None]:
    tenant = getattr(connection, "tenant", None)
    quota = getattr(tenant, "quota", None)
    return {"max_rows": quota("query_rows_quota") if callable(quota) else None,
            "timeout_ms": int(getattr(settings, "SERIES_STATEMENT_TIMEOUT_S", 0) * 1000) or None}


def _series(scope: Scope, bucket: Bucket, period: Period, tz: ZoneInfo,
            open_hours: bool = False) -> list[Point]:
    if scope.is_occupancy:
        return list(zone_occupancy_series(zone_ids=[scope.zone_id] if scope.zone_id else [],
                                          bucket=bucket, start=period.start, end=period.end,
                                          tz=tz, **_limits()))
    windows = (opening_windows(opening_hours=scope.opening_hours or {}, site_tz=scope.timezone,
                               start=period.start, end=period.end) if open_hours else None)
    return list(count_series(sources=scope.sources, bucket=bucket, start=period.start,
                             end=period.end, tz=tz, windows=windows, day_rollups=True,
                             **_limits()))


def _with_quality(scope: Scope, points: list[Point]) -> list[Point]:
    """The points flagged complete/partial/missing (analytics/quality.py)."""
    return with_quality(points, bucket_quality(
        camera_ids=scope.camera_ids, bounds=[(p.start, p.end) for p in points],
        line_ids=scope.line_ids, zone_ids=(scope.zone_id,) if scope.zone_id else
        scope.sources.zones + scope.sources.zones_swapped))


def history_report(*, scopes: list[Scope], range_name: str, start: date | None,
                   end: date | None, bucket: Bucket, compare: bool,
                   now: datetime | None = None, open_hours: bool = False) -> HistoryReport:
    """Build the report; raises SeriesRangeError / SeriesTooLargeError / SeriesTimeoutError."""
    tz_name = scopes[0].timezone
    tz = ZoneInfo(tz_name)
    today = (now or datetime.now(tz=tz)).astimezone(tz).date()
    first, last = local_days(range_name=range_name, today=today, start=start, end=end)
    period = period_of(first, last, tz)
    previous = period_of(*previous_days(first, last), tz) if compare else None
    report = HistoryReport(timezone=tz_name, bucket=bucket, period=period, previous=previous)
    for scope in scopes:
        result = SeriesResult(scope=scope, points=_with_quality(
            scope, _series(scope, bucket, period, tz, open_hours)))
        if previous is not None:
            result.previous = _series(scope, bucket, previous, tz, open_hours)
        report.series.append(result)
    return report
