"""A site's local calendar: its days as UTC ranges, for whoever reads counts by local day.

Days are computed in the site's timezone and converted to UTC, so daylight-saving days have 23
or 25 hours and non-whole-hour offsets still fall on minute boundaries of the UTC rollups.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from cameras.constants import WEEKDAYS


def local_day_bounds(*, site_tz: str, day: date) -> tuple[datetime, datetime]:
    """UTC start (inclusive) and end (exclusive) of ``day`` in the timezone ``site_tz``."""
    tz = ZoneInfo(site_tz)
    start = datetime.combine(day, time.min, tzinfo=tz)
    end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=tz)
    return start.astimezone(UTC), end.astimezone(UTC)


def local_today(*, site_tz: str, now: datetime | None = None) -> date:
    """The site's current local date."""
    return (now or datetime.now(tz=UTC)).astimezone(ZoneInfo(site_tz)).date()


def _local_clock(day: date, text: str, tz: ZoneInfo) -> datetime:
    """``"HH:MM"`` (or ``"24:00"``) of a local day, as an aware UTC datetime."""
    if text == "24:00":
        return datetime.combine(day + timedelta(days=1), time.min, tzinfo=tz).astimezone(UTC)
    hours, minutes = (int(part) for part in text.split(":"))
    return datetime.combine(day, time(hours, minutes), tzinfo=tz).astimezone(UTC)


def opening_windows(*, opening_hours: dict[str, list[list[str]]], site_tz: str,
                    start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    """The site's open stretches overlapping [start, end), as sorted UTC (open, close) pairs
    clipped to the range (a day without an entry is closed).

    Each weekday's ranges are local wall-clock times of that day, so a daylight-saving day
    keeps its opening at 09:00 local.
    """
    tz = ZoneInfo(site_tz)
    start_utc, end_utc = start.astimezone(UTC), end.astimezone(UTC)
    day = start_utc.astimezone(tz).date() - timedelta(days=1)
    last = end_utc.astimezone(tz).date()
    windows: list[tuple[datetime, datetime]] = []
    while day <= last:
        for opens, closes in (opening_hours or {}).get(WEEKDAYS[day.weekday()], []):
            lower = max(_local_clock(day, opens, tz), start_utc)
            upper = min(_local_clock(day, closes, tz), end_utc)
            if lower < upper:
                windows.append((lower, upper))
        day += timedelta(days=1)
    return sorted(windows)


def closing_times(*, opening_hours: dict[str, list[list[str]]], site_tz: str,
                  start: datetime, end: datetime) -> list[datetime]:
    """The UTC instants in (start, end] at which the site closes: the end of each opening
    range, or every local midnight when the site has no opening hours (open all day)."""
    tz = ZoneInfo(site_tz)
    start_utc, end_utc = start.astimezone(UTC), end.astimezone(UTC)
    day = start_utc.astimezone(tz).date() - timedelta(days=1)
    last = end_utc.astimezone(tz).date() + timedelta(days=1)
    moments: set[datetime] = set()
    while day <= last:
        if opening_hours:
            for _opens, closes in opening_hours.get(WEEKDAYS[day.weekday()], []):
                moments.add(_local_clock(day, closes, tz))
        else:
            moments.add(_local_clock(day, "24:00", tz))
        day += timedelta(days=1)
    return sorted(m for m in moments if start_utc < m <= end_utc)
