"""The rollups derived from the ledger: the one place that computes them.

Crossings are bucketed per (line, UTC minute), minutes per (line, UTC hour), crossings also
per (line, local day of the site: ``LineDayRollup``); zone samples are
kept per (zone, UTC minute), with the dwell (seconds inside) of every exit of the minute. Two
paths write them, both through the functions below:

- the ledger transaction (:func:`counting.ledger.ledger_write`) *adds* the buckets of the events
  it really inserted (``count = count + EXCLUDED.count``) and the batch's zone samples;
- the repair path (:func:`line_rollups_rebuild`) *replaces* a range of line rollups by the
  buckets of the stored events, e.g. after restoring events from a backup.

So an hour is always the sum of its minutes, and a minute the count of its events.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.db import connection, transaction

from cameras.models import Camera, Site
from counting.constants import Direction
from counting.models import (
    CameraLease,
    CountEvent,
    LineDayRollup,
    LineHourRollup,
    LineMinuteRollup,
    ZoneMinuteOccupancy,
)

# (line id, start of the UTC minute or hour) -> [count in, count out]
LineBuckets = dict[tuple[int, datetime], list[int]]
# What a crossing contributes to the rollups: (line id, direction, aware time).
Crossing = tuple[int, str, datetime]

# Rows read per round trip when rebuilding from the events (a server-side cursor).
REBUILD_CHUNK = 5000


def minute_of(moment: datetime) -> datetime:
    """The start of the UTC minute containing ``moment``."""
    return moment.astimezone(UTC).replace(second=0, microsecond=0)


def hour_of(moment: datetime) -> datetime:
    """The start of the UTC hour containing ``moment``."""
    return minute_of(moment).replace(minute=0)


@dataclass(slots=True)
class ZoneMinute:
    """Occupancy samples of one zone in one UTC minute, accumulated by the runner."""

    zone_id: int
    minute: datetime
    samples: int = 0
    occupancy_sum: float = 0.0
    max_occupancy: int = 0
    entries: int = 0
    exits: int = 0
    dwells: list[float] = field(default_factory=list)

    def add(self, occupancy: int, entries: int = 0, exits: int = 0,
            dwells: Sequence[float] = ()) -> None:
        """Add one analysed frame's occupancy, its entry/exit events and the seconds inside of
        its exits (dwell)."""
        self.samples += 1
        self.occupancy_sum += occupancy
        self.max_occupancy = max(self.max_occupancy, occupancy)
        self.entries += entries
        self.exits += exits
        self.dwells.extend(float(d) for d in dwells)


def line_minute_buckets(crossings: Iterable[Crossing]) -> LineBuckets:
    """In/out counts per (line, UTC minute) of ``crossings``."""
    buckets: LineBuckets = defaultdict(lambda: [0, 0])
    for line_id, direction, occurred_at in crossings:
        bucket = buckets[(line_id, minute_of(occurred_at))]
        bucket[0 if direction == Direction.IN else 1] += 1
    return dict(buckets)


def line_hour_buckets(minutes: Mapping[tuple[int, datetime], Sequence[int]]) -> LineBuckets:
    """In/out counts per (line, UTC hour): the sums of the given minute buckets."""
    hours: LineBuckets = defaultdict(lambda: [0, 0])
    for (line_id, minute), (count_in, count_out) in minutes.items():
        hour = hours[(line_id, hour_of(minute))]
        hour[0] += count_in
        hour[1] += count_out
    return dict(hours)


def _line_rows_add(cursor: Any, *,
                   model: type[LineMinuteRollup] | type[LineHourRollup] | type[LineDayRollup],
                   column: str, camera_id: int, rows: Mapping[tuple[int, Any], Sequence[int]],
                   ) -> None:
    """Upsert ``rows`` into one line rollup table, adding to the counts already there."""
    if not rows:
        return
    table = model._meta.db_table
    params: list[object] = []
    for (line_id, moment), (count_in, count_out) in sorted(rows.items()):
        params.extend([line_id, camera_id, moment, count_in, count_out])
    cursor.execute(
        f"INSERT INTO {table} (line_id, camera_id, {column}, count_in, count_out) VALUES "
        + ", ".join(["(%s, %s, %s, %s, %s)"] * len(rows))
        + f" ON CONFLICT (line_id, {column}) DO UPDATE SET "
        f"count_in = {table}.count_in + EXCLUDED.count_in, "
        f"count_out = {table}.count_out + EXCLUDED.count_out", params)


def line_rollups_add(cursor: Any, *, camera_id: int, crossings: Iterable[Crossing]) -> None:
    """Add ``crossings`` (newly stored events) to the camera's minute and hour rollups.

    Called inside the ledger transaction with only the events it really inserted, so a
    replayed event is never counted twice.
    """
    crossings = list(crossings)
    minutes = line_minute_buckets(crossings)
    _line_rows_add(cursor, model=LineMinuteRollup, column="minute", camera_id=camera_id,
                   rows=minutes)
    _line_rows_add(cursor, model=LineHourRollup, column="hour", camera_id=camera_id,
                   rows=line_hour_buckets(minutes))
    if crossings:
        tz = ZoneInfo(_site_timezone(cursor, camera_id))
        days: dict[tuple[int, date], list[int]] = defaultdict(lambda: [0, 0])
        for line_id, direction, occurred_at in crossings:
            days[(line_id, occurred_at.astimezone(tz).date())][
                0 if direction == Direction.IN else 1] += 1
        _line_rows_add(cursor, model=LineDayRollup, column="day", camera_id=camera_id,
                       rows=days)


def _site_timezone(cursor: Any, camera_id: int) -> str:
    """The camera's site timezone, the site row share-locked until commit: a timezone change
    (which rebuilds the day rollups in its own transaction) waits for this batch, and a batch
    after it reads the new timezone."""
    cursor.execute(
        f"SELECT s.timezone FROM {Site._meta.db_table} s JOIN {Camera._meta.db_table} c "
        "ON c.site_id = s.id WHERE c.id = %s FOR SHARE OF s", [camera_id])
    row = cursor.fetchone()
    return str(row[0]) if row else "UTC"


def line_day_rollups_rebuild(*, camera_ids: Sequence[int], timezone: str,
                             start: datetime | None = None,
                             end: datetime | None = None) -> None:
    """Replace the day rollups of the cameras' lines (all, or the local days overlapping
    [start, end)) by the sums of their hour rollups in ``timezone``.

    An hour that a local midnight cuts (+05:30, +05:45) is split by its minute rollups; if
    retention already removed those minutes, the whole hour goes to the day it starts in.
    """
    if not camera_ids:
        return
    tz = ZoneInfo(timezone)
    day_from = start.astimezone(tz).date() if start else date.min
    day_to = end.astimezone(tz).date() if end else date.max
    hours, minutes = LineHourRollup._meta.db_table, LineMinuteRollup._meta.db_table
    days = LineDayRollup._meta.db_table
    local_hour = "(h.hour AT TIME ZONE %(tz)s)"
    cut = (f"({local_hour})::date <> ((h.hour + interval '59 minutes 59 seconds') "
           "AT TIME ZONE %(tz)s)::date")
    with transaction.atomic(), connection.cursor() as cursor:
        params: dict[str, Any] = {"cameras": list(camera_ids), "tz": timezone,
                                  "first": day_from,
                  "last": day_to}
        cursor.execute(f"DELETE FROM {days} WHERE camera_id = ANY(%(cameras)s) AND day >= "
                       "%(first)s AND day <= %(last)s", params)
        cursor.execute(
            f"INSERT INTO {days} (line_id, camera_id, day, count_in, count_out) "
            "SELECT line_id, camera_id, day, SUM(i), SUM(o) FROM ("
            f"  SELECT h.line_id, h.camera_id, ({local_hour})::date AS day, h.count_in AS i, "
            f"  h.count_out AS o FROM {hours} h WHERE h.camera_id = ANY(%(cameras)s) "
            f"  AND (NOT {cut} OR NOT EXISTS (SELECT 1 FROM {minutes} m WHERE m.line_id = "
            "   h.line_id AND m.minute >= h.hour AND m.minute < h.hour + interval '1 hour'))"
            "  UNION ALL"
            "  SELECT m.line_id, m.camera_id, (m.minute AT TIME ZONE %(tz)s)::date, m.count_in,"
            f"  m.count_out FROM {hours} h JOIN {minutes} m ON m.line_id = h.line_id "
            "   AND m.minute >= h.hour AND m.minute < h.hour + interval '1 hour' "
            f"  WHERE h.camera_id = ANY(%(cameras)s) AND {cut}"
            ") AS parts WHERE day >= %(first)s AND day <= %(last)s "
            "GROUP BY line_id, camera_id, day", params)


def zone_minutes_add(cursor: Any, *, camera_id: int, zones: Sequence[ZoneMinute]) -> None:
    """Add zone samples to the camera's zone minute rows (sums add up, the maximum is kept)."""
    if not zones:
        return
    params: list[object] = []
    for z in sorted(zones, key=lambda z: (z.zone_id, z.minute)):
        params.extend([z.zone_id, camera_id, minute_of(z.minute), z.samples, z.occupancy_sum,
                       z.max_occupancy, z.entries, z.exits, list(z.dwells)])
    t = ZoneMinuteOccupancy._meta.db_table
    cursor.execute(
        f"INSERT INTO {t} (zone_id, camera_id, minute, samples, occupancy_sum, max_occupancy, "
        "entries, exits, dwell_seconds) VALUES "
        + ", ".join(["(%s, %s, %s, %s, %s, %s, %s, %s, %s::float8[])"] * len(zones))
        + f" ON CONFLICT (zone_id, minute) DO UPDATE SET samples = {t}.samples + "
        f"EXCLUDED.samples, occupancy_sum = {t}.occupancy_sum + EXCLUDED.occupancy_sum, "
        f"max_occupancy = GREATEST({t}.max_occupancy, EXCLUDED.max_occupancy), "
        f"entries = {t}.entries + EXCLUDED.entries, exits = {t}.exits + EXCLUDED.exits, "
        f"dwell_seconds = {t}.dwell_seconds || EXCLUDED.dwell_seconds",
        params)


def line_rollups_rebuild(*, camera_id: int, start: datetime, end: datetime) -> int:
    """Replace the camera's line rollups of [start, end) (whole UTC minutes) by the buckets of
    its events; returns the number of minute rollup rows written.

    Hours overlapping the range are recomputed whole, as the sums of their minutes (the rebuilt
    ones and those outside the range, which are kept).
    """
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("start and end must be aware datetimes")
    first_minute, end_minute = minute_of(start), minute_of(end)
    first_hour = hour_of(start)
    end_hour = hour_of(end - timedelta(microseconds=1)) + timedelta(hours=1)
    with transaction.atomic(), connection.cursor() as cursor:
        # Lock the camera's lease row: a running writer cannot add events meanwhile.
        cursor.execute(f"SELECT 1 FROM {CameraLease._meta.db_table} WHERE camera_id = %s "
                       "FOR UPDATE", [camera_id])
        LineMinuteRollup.objects.filter(camera_id=camera_id, minute__gte=first_minute,
                                        minute__lt=end_minute).delete()
        events = (CountEvent.objects
                  .filter(camera_id=camera_id, occurred_at__gte=first_minute,
                          occurred_at__lt=end_minute)
                  .order_by()
                  .values_list("line_id", "direction", "occurred_at")
                  .iterator(chunk_size=REBUILD_CHUNK))
        minutes = line_minute_buckets(events)
        _line_rows_add(cursor, model=LineMinuteRollup, column="minute", camera_id=camera_id,
                       rows=minutes)
        LineHourRollup.objects.filter(camera_id=camera_id, hour__gte=first_hour,
                                      hour__lt=end_hour).delete()
        in_hours = (LineMinuteRollup.objects
                    .filter(camera_id=camera_id, minute__gte=first_hour, minute__lt=end_hour)
                    .values_list("line_id", "minute", "count_in", "count_out"))
        hours = line_hour_buckets({(line_id, minute): (count_in, count_out)
                                   for line_id, minute, count_in, count_out in in_hours})
        _line_rows_add(cursor, model=LineHourRollup, column="hour", camera_id=camera_id,
                       rows=hours)
        site_tz = _site_timezone(cursor, camera_id)
        line_day_rollups_rebuild(camera_ids=[camera_id], timezone=site_tz, start=first_hour,
                                 end=end_hour)
        return len(minutes)
