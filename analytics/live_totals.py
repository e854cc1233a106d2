"""Today's totals for live views, read from the same minute rollups reports use.

A "day" is the site's local calendar day: its bounds are computed in the site's timezone and
converted to UTC, so daylight-saving days have 23 or 25 hours and non-whole-hour offsets still
fall on minute boundaries of the UTC rollups.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import Sum

from analytics.models import LineMinuteRollup, ZoneMinuteOccupancy
from counting.models import CountingLine, Zone


def local_day_bounds(*, site_tz: str, day: date) -> tuple[datetime, datetime]:
    """UTC start (inclusive) and end (exclusive) of ``day`` in the timezone ``site_tz``."""
    tz = ZoneInfo(site_tz)
    start = datetime.combine(day, time.min, tzinfo=tz)
    end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=tz)
    return start.astimezone(UTC), end.astimezone(UTC)


def local_today(*, site_tz: str, now: datetime | None = None) -> date:
    """The site's current local date."""
    return (now or datetime.now(tz=UTC)).astimezone(ZoneInfo(site_tz)).date()


def day_totals(*, camera_ids: list[int], site_tz: str, day: date) -> dict[int, dict[str, Any]]:
    """Per camera: each line's in/out totals of the local ``day`` (all lines, zero included)
    and each zone's latest stored occupancy (masks, zones that ignore detections, are left out).

    Shape: ``{camera_id: {"lines": {line_id: {"name", "in_label", "out_label", "in", "out",
    "enabled"}}, "zones": {zone_id: {"name", "capacity", "occupancy", "enabled"}}}}``
    """
    start, end = local_day_bounds(site_tz=site_tz, day=day)
    result: dict[int, dict[str, Any]] = {cid: {"lines": {}, "zones": {}} for cid in camera_ids}
    for line in CountingLine.objects.filter(camera_id__in=camera_ids).order_by("id"):
        result[line.camera_id]["lines"][line.pk] = {
            "name": line.name, "in_label": line.in_label, "out_label": line.out_label,
            "enabled": line.enabled, "in": 0, "out": 0}
    sums = (LineMinuteRollup.objects
            .filter(camera_id__in=camera_ids, minute__gte=start, minute__lt=end)
            .values("camera_id", "line_id")
            .annotate(total_in=Sum("count_in"), total_out=Sum("count_out")))
    for row in sums:
        entry = result[row["camera_id"]]["lines"].get(row["line_id"])
        if entry is not None:
            entry["in"], entry["out"] = int(row["total_in"]), int(row["total_out"])
    counted_zones = Zone.objects.filter(camera_id__in=camera_ids, ignore_detections=False)
    for zone in counted_zones.order_by("id"):
        latest = (ZoneMinuteOccupancy.objects.filter(zone_id=zone.pk, minute__gte=start,
                                                     minute__lt=end)
                  .order_by("-minute").first())
        occupancy = round(latest.avg_occupancy) if latest is not None else 0
        result[zone.camera_id]["zones"][zone.pk] = {
            "name": zone.name, "capacity": zone.capacity, "enabled": zone.enabled,
            "occupancy": occupancy}
    return result
