"""Parts of the site page: comparison days, occupancy over the day, opening hours."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from analytics.footfall import site_footfall_sources
from analytics.series import zone_occupancy_series
from analytics.site_occupancy import RESET_PERMISSION, site_occupancy_series
from cameras.models import Site

WEEKDAYS = (("mon", "Monday"), ("tue", "Tuesday"), ("wed", "Wednesday"), ("thu", "Thursday"),
            ("fri", "Friday"), ("sat", "Saturday"), ("sun", "Sunday"))


def compare_choices(*, today: date) -> list[tuple[str, str]]:
    """The comparison days offered next to the chart: (ISO date, label)."""
    days = [(today - timedelta(days=7), "Same weekday last week"),
            (today - timedelta(days=1), "Yesterday"),
            (today - timedelta(days=14), "Same weekday two weeks ago"),
            (today - timedelta(days=364), "Same weekday last year")]
    return [(day.isoformat(), f"{label} ({day:%a %d %b %Y})") for day, label in days]


def zone_occupancy_today(*, zone_ids: Sequence[int], bounds: list[tuple[datetime, datetime]],
                         now: datetime) -> dict[str, Any]:
    """Average and peak occupancy per hour of today so far, summed over the site's zones."""
    if not zone_ids:
        return {"labels": [], "avg": [], "max": []}
    end = min(bounds[-1][1], now)
    start = bounds[0][0]
    if end <= start:
        return {"labels": [], "avg": [], "max": []}
    tz = start.tzinfo
    points = zone_occupancy_series(zone_ids=zone_ids, bucket="hour", start=start, end=end,
                                   tz=tz)  # type: ignore[arg-type]
    return {"labels": [point.start.strftime("%H:%M") for point in points],
            "avg": [round(point.avg, 1) for point in points],
            "max": [point.max for point in points]}


def opening_hours_rows(site: Site) -> list[tuple[str, str]]:
    """(weekday, "09:00-12:00, 13:00-18:00" or "Closed") for each day of the week."""
    hours = site.opening_hours or {}
    rows = []
    for key, label in WEEKDAYS:
        ranges = hours.get(key) or []
        text = ", ".join(f"{start}–{end}" for start, end in ranges) if ranges else "Closed"
        rows.append((label, text))
    return rows


DRIFT_DAYS = 14


def site_occupancy_card(*, user: Any, site: Site, today: date,
                        now: datetime) -> dict[str, Any]:
    """People inside now (entrances in minus out since the last closing or reset), today's
    resets and what the closing resets of the last two weeks removed (the drift), per day."""
    footfall = site_footfall_sources(user=user, site=site)
    tz = ZoneInfo(site.timezone)
    start = datetime.combine(today - timedelta(days=DRIFT_DAYS - 1), time.min, tzinfo=tz)
    end = datetime.combine(today + timedelta(days=1), time.min, tzinfo=tz)
    series = site_occupancy_series(site=site, sources=footfall.sources, bucket="day",
                                   start=start, end=end, now=now)
    today_start = datetime.combine(today, time.min, tzinfo=tz)
    return {
        "current": series.current, "basis": footfall.basis,
        "entrances": footfall.entrances,
        "resets_today": [r for r in series.resets if r.at >= today_start],
        "drift": {"labels": [p.start.strftime("%a %d %b") for p in series.points],
                  "removed": [p.removed for p in series.points],
                  "clamped": [p.clamped for p in series.points]},
        "drift_rows": [(p.start.strftime("%a %d %b"), p.removed, p.clamped)
                       for p in series.points],
        "can_reset": bool(user.has_perm(RESET_PERMISSION)),
    }
