"""When a schedule is due and which local period its report covers.

A daily report sent at 07:00 on local day D covers D-1 00:00 to D 00:00 local: 23, 24 or 25
real hours. A weekly one sent on its weekday covers the last whole Monday-Sunday week before
the send date's week; a monthly one, sent on the 1st, the previous month. Times are converted
to UTC only at the end, so daylight-saving days keep their length.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class Period:
    """The period a send covers ([start, end), aware in the site's timezone) and when it is due."""

    start: datetime
    end: datetime
    due_at: datetime

    @property
    def hours(self) -> float:
        return (self.end.timestamp() - self.start.timestamp()) / 3600


def local_midnight(day: date, tz: ZoneInfo) -> datetime:
    """The first instant of local ``day`` (a midnight skipped by DST resolves forward)."""
    return datetime.combine(day, time.min, tzinfo=tz).astimezone(UTC).astimezone(tz)


def local_moment(day: date, at: time, tz: ZoneInfo) -> datetime:
    """``at`` on local ``day``; a time skipped by DST (02:30 in spring) is the instant after
    the gap, a repeated one (02:30 in autumn) its first occurrence."""
    return datetime.combine(day, at, tzinfo=tz).astimezone(UTC).astimezone(tz)


def _send_day(frequency: str, weekday: int, day: date) -> bool:
    if frequency == "weekly":
        return day.weekday() == weekday
    if frequency == "monthly":
        return day.day == 1
    return True


def _covered(frequency: str, send_day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    if frequency == "weekly":
        monday = send_day - timedelta(days=send_day.weekday())
        return local_midnight(monday - timedelta(days=7), tz), local_midnight(monday, tz)
    if frequency == "monthly":
        first = send_day.replace(day=1)
        previous = (first - timedelta(days=1)).replace(day=1)
        return local_midnight(previous, tz), local_midnight(first, tz)
    return local_midnight(send_day - timedelta(days=1), tz), local_midnight(send_day, tz)


def latest_due(*, frequency: str, weekday: int, send_time: time, tz: ZoneInfo,
               now: datetime) -> Period:
    """The most recent send moment at or before ``now`` and the period it covers."""
    day = now.astimezone(tz).date()
    for _ in range(40):  # a month back at most
        if _send_day(frequency, weekday, day):
            due = local_moment(day, send_time, tz)
            if due <= now:
                start, end = _covered(frequency, day, tz)
                return Period(start=start, end=end, due_at=due)
        day -= timedelta(days=1)
    raise ValueError("no send day in the last 40 days")  # unreachable for valid schedules


def next_due(*, frequency: str, weekday: int, send_time: time, tz: ZoneInfo,
             now: datetime) -> datetime:
    """The next send moment after ``now`` (shown in the portal and the API)."""
    day = now.astimezone(tz).date()
    for _ in range(40):
        if _send_day(frequency, weekday, day):
            due = local_moment(day, send_time, tz)
            if due > now:
                return due
        day += timedelta(days=1)
    raise ValueError("no send day in the next 40 days")
