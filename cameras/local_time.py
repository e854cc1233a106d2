"""A site's local calendar: its days as UTC ranges, for whoever reads counts by local day.

Days are computed in the site's timezone and converted to UTC, so daylight-saving days have 23
or 25 hours and non-whole-hour offsets still fall on minute boundaries of the UTC rollups.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo


def local_day_bounds(*, site_tz: str, day: date) -> tuple[datetime, datetime]:
    """UTC start (inclusive) and end (exclusive) of ``day`` in the timezone ``site_tz``."""
    tz = ZoneInfo(site_tz)
    start = datetime.combine(day, time.min, tzinfo=tz)
    end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=tz)
    return start.astimezone(UTC), end.astimezone(UTC)


def local_today(*, site_tz: str, now: datetime | None = None) -> date:
    """The site's current local date."""
    return (now or datetime.now(tz=UTC)).astimezone(ZoneInfo(site_tz)).date()
