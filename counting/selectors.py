"""Reads of counting rules, health, leases and day totals; the ``*_visible_to`` ones apply
permissions.

A user sees a camera's lines, zones and health when they may view the camera (see
:mod:`cameras.selectors`); they may change them when they may change the camera.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, TypeVar

from django.conf import settings
from django.db.models import QuerySet, Sum
from django.utils import timezone

from cameras.constants import CameraStatus
from cameras.local_time import local_day_bounds
from cameras.selectors import camera_get_visible_to, camera_list_visible_to
from counting.constants import GapCause, HealthCondition
from counting.models import (
    CameraGap,
    CameraHealth,
    CameraRule,
    CountingLine,
    LineMinuteRollup,
    Zone,
    ZoneMinuteOccupancy,
)

RuleT = TypeVar("RuleT", bound=CameraRule)


def _rules_visible_to(model: type[RuleT], *, user: Any, camera_id: int | None,
                      perm: str) -> QuerySet[RuleT]:
    """Lines or zones of the cameras ``user`` may ``perm``, optionally of one camera."""
    rules = model._default_manager.filter(
        camera__in=camera_list_visible_to(user=user, perm=perm).values("pk"))
    if camera_id is not None:
        rules = rules.filter(camera_id=camera_id)
    return rules.order_by("camera_id", "name", "id")


def counting_line_list_visible_to(*, user: Any, camera_id: int | None = None,
                                  perm: str = "view") -> QuerySet[CountingLine]:
    """Lines of the cameras ``user`` may ``perm`` (view/change), optionally of one camera."""
    return _rules_visible_to(CountingLine, user=user, camera_id=camera_id, perm=perm)


def counting_line_get_visible_to(*, user: Any, line_id: int,
                                 perm: str = "view") -> CountingLine | None:
    """One line if ``user`` may ``perm`` its camera, else None (callers answer 404)."""
    return counting_line_list_visible_to(user=user, perm=perm).filter(pk=line_id).first()


def zone_list_visible_to(*, user: Any, camera_id: int | None = None,
                         perm: str = "view") -> QuerySet[Zone]:
    """Zones of the cameras ``user`` may ``perm``, optionally of one camera."""
    return _rules_visible_to(Zone, user=user, camera_id=camera_id, perm=perm)


def zone_get_visible_to(*, user: Any, zone_id: int, perm: str = "view") -> Zone | None:
    """One zone if ``user`` may ``perm`` its camera, else None."""
    return zone_list_visible_to(user=user, perm=perm).filter(pk=zone_id).first()


def camera_health_get_visible_to(*, user: Any, camera_id: int) -> CameraHealth | None:
    """The health row of a camera the user may view (None if not visible or never run)."""
    if camera_get_visible_to(user=user, camera_id=camera_id) is None:
        return None
    return CameraHealth.objects.filter(camera_id=camera_id).first()


@dataclass(frozen=True)
class CameraCondition:
    """A camera's condition as shown to users: the runner's own, or "stalled" when the runner
    has not reported for a while although the camera should be running."""

    condition: str
    reason: str


def health_report_stale_after_s() -> float:
    """A running camera's health older than this means its runner is gone or cut off."""
    return max(10.0, 5 * float(settings.COUNTING_HEALTH_S))


def camera_health_condition(*, health: CameraHealth | None, camera_enabled: bool,
                            now: datetime | None = None) -> CameraCondition:
    """The condition of a camera's analysis (see :class:`HealthCondition`), with the reason."""
    if health is None:
        if camera_enabled:
            return CameraCondition(HealthCondition.STALLED,
                                    "no stream runner has reported for this camera yet")
        return CameraCondition(HealthCondition.OK, "")
    now = now or timezone.now()
    silent = (now - health.updated_at).total_seconds() if health.updated_at else None
    running = camera_enabled and health.state not in (CameraStatus.DISABLED, CameraStatus.ERROR)
    if running and silent is not None and silent > health_report_stale_after_s():
        return CameraCondition(
            HealthCondition.STALLED,
            f"no report from the stream runner for {silent:.0f} s: it stopped, or cannot reach "
            "the database; counts of this time are missing until a runner takes the camera")
    return CameraCondition(health.condition, health.condition_reason)


def camera_gaps_recent(*, camera_id: int, limit: int = 10) -> list[CameraGap]:
    """The camera's latest gaps in analysis, newest first (an open one has no end)."""
    return list(CameraGap.objects.filter(camera_id=camera_id).order_by("-started_at", "-id")
                [:limit])


@dataclass(frozen=True)
class UnanalysedTime:
    """Seconds of a window in which a camera's frames were not analysed, from its gaps: a
    stall (source, runner, loop) whole, a closed overload for the share of frames not
    analysed. An overload still going on has no share yet: it is flagged, not counted."""

    seconds: float
    overload_ongoing: bool


def camera_unanalysed_time(*, camera_id: int, now: datetime,
                           window: timedelta = timedelta(hours=24)) -> UnanalysedTime:
    """Time not analysed in the ``window`` before ``now`` (gaps clipped to it; an open stall
    counts until ``now``)."""
    since = now - window
    gaps = CameraGap.objects.filter(camera_id=camera_id, started_at__lt=now).exclude(
        ended_at__lte=since)
    seconds = 0.0
    overload_ongoing = False
    for gap in gaps:
        start = max(gap.started_at, since)
        end = min(gap.ended_at or now, now)
        length = max(0.0, (end - start).total_seconds())
        if gap.cause == GapCause.OVERLOAD:
            if gap.ended_at is None:
                overload_ongoing = True
                continue
            length *= 1.0 - (gap.analysed_share or 0.0)
        seconds += length
    return UnanalysedTime(seconds=seconds, overload_ongoing=overload_ongoing)


# -- for the stream runner (no user: the runner acts for the tenant) ----------------------------
def camera_rules_fingerprint(*, camera_id: int) -> tuple[tuple[str, int, int, bool], ...]:
    """A cheap value that changes whenever a line or zone of the camera is added, edited,
    enabled/disabled or deleted; the runner polls it to hot-reload rules."""
    lines = CountingLine.objects.filter(camera_id=camera_id).values_list("id", "version",
                                                                         "enabled")
    zones = Zone.objects.filter(camera_id=camera_id).values_list("id", "version", "enabled")
    return tuple(sorted([("l", i, v, e) for i, v, e in lines] + [("z", i, v, e)
                                                                   for i, v, e in zones]))


def camera_rules_enabled(*, camera_id: int) -> tuple[list[CountingLine], list[Zone]]:
    """The enabled lines and zones of a camera, as the runner counts with them."""
    lines = list(CountingLine.objects.filter(camera_id=camera_id, enabled=True)
                 .order_by("id"))
    zones = list(Zone.objects.filter(camera_id=camera_id, enabled=True).order_by("id"))
    return lines, zones


# -- for live views (callers have checked that the user may view these cameras) ----------------
def day_totals(*, camera_ids: list[int], site_tz: str, day: date) -> dict[int, dict[str, Any]]:
    """A local day's totals for live views, read from the same minute rollups reports use.

    Per camera: each line's in/out totals of the site-local ``day`` (all lines, zero included)
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
