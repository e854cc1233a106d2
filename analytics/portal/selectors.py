"""Reads behind the dashboard and the site page: footfall, occupancy and camera health of the
sites a user may see, all from the ledger's rollups in each site's local time.

Footfall is the sum of the "in" crossings of every line of the cameras the user may see (a
Viewer granted one camera of a site sees that camera's share, never the whole site's). Current
occupancy is the sum of the latest stored occupancy today of the site's counted, enabled zones,
as the live views compute it (``counting.selectors.day_totals``).

Cost: one query per timezone (not per site) for the hourly counts of today and of the
comparison day, read from the hour rollups (and from minute rollups only for hours a local
boundary cuts, as ``analytics.series`` does), plus one query for the zones' latest occupancy.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.db import connection

from analytics.series import bucket_bounds, partial_hours
from cameras.local_time import local_day_bounds, local_today
from cameras.models import Camera, Site
from cameras.selectors import camera_list_visible_to, site_list_visible_to
from counting.health_text import HealthText, health_text
from counting.models import (
    CountingLine,
    LineHourRollup,
    LineMinuteRollup,
    Zone,
    ZoneMinuteOccupancy,
)
from counting.selectors import camera_health_condition

Bounds = list[tuple[datetime, datetime]]


@dataclass
class CameraState:
    """A camera as the portal shows it: the camera, its latest health row and its words."""

    camera: Camera
    health: Any
    text: HealthText


@dataclass
class DaySeries:
    """Hourly "in" counts of one local day (23, 24 or 25 hours) and its total so far."""

    day: date
    starts: list[datetime]
    counts: list[int]

    @property
    def total(self) -> int:
        return sum(self.counts)

    @property
    def labels(self) -> list[str]:
        return [start.strftime("%H:%M") for start in self.starts]


@dataclass
class SiteSummary:
    """One site's card on the dashboard (and the head of its site page)."""

    site: Site
    cameras: list[CameraState]
    today: DaySeries
    compare: DaySeries
    # The comparison day up to the same local time of day as now (a fair "so far").
    compare_so_far: int
    occupancy: int | None
    capacity: int | None
    line_count: int = 0
    # Whether the user may see the site itself, not only some of its cameras.
    site_visible: bool = True
    zone_ids: list[int] = field(default_factory=list)

    @property
    def footfall(self) -> int:
        return self.today.total

    @property
    def delta_percent(self) -> int | None:
        if not self.compare_so_far:
            return None
        return round(100 * (self.footfall - self.compare_so_far) / self.compare_so_far)

    @property
    def online(self) -> int:
        return sum(1 for state in self.cameras if state.text.severity == "ok")

    @property
    def troubled(self) -> list[CameraState]:
        return [state for state in self.cameras if state.text.in_trouble]


def _cut_and_whole(bounds: Bounds) -> tuple[list[float], list[datetime]]:
    edges = [lower for lower, _ in bounds] + [bounds[-1][1]]
    return [edge.timestamp() for edge in edges], partial_hours(bounds)


@dataclass(frozen=True)
class Footfall:
    """Which lines a site's "in" comes from: ``excluded`` lines are not entrances of a site
    that has entrances; ``swapped`` entrances enter in their "out" direction
    (:mod:`analytics.footfall`; zone entrances are counted by the API, not here)."""

    excluded: tuple[int, ...] = ()
    swapped: tuple[int, ...] = ()


def footfall_lines(*, camera_ids: Sequence[int]) -> Footfall:
    """The footfall definition of the cameras' sites: entrances only where a site has any."""
    rows = list(CountingLine.objects.filter(camera_id__in=list(camera_ids))
                .values_list("pk", "entrance", "camera__site_id"))
    with_entrances = {site for _, entrance, site in rows if entrance}
    return Footfall(
        excluded=tuple(pk for pk, entrance, site in rows
                       if site in with_entrances and not entrance),
        swapped=tuple(pk for pk, entrance, _ in rows if entrance == "out"))


_IN = "CASE WHEN line_id = ANY(%s) THEN count_out ELSE count_in END"


def hourly_in_per_camera(*, camera_ids: Sequence[int], bounds: Bounds,
                         footfall: Footfall | None = None) -> dict[int, list[int]]:
    """Entering per camera per bucket of ``bounds`` (hours of one local day): the entrances'
    entering direction where the site has entrances, else every line's "in"."""
    footfall = footfall or Footfall()
    result = {cid: [0] * len(bounds) for cid in camera_ids}
    if not camera_ids:
        return result
    thresholds, cut = _cut_and_whole(bounds)
    hours = connection.ops.quote_name(LineHourRollup._meta.db_table)
    minutes = connection.ops.quote_name(LineMinuteRollup._meta.db_table)
    swapped, excluded = list(footfall.swapped), list(footfall.excluded)
    sql = (
        "SELECT camera_id, width_bucket(extract(epoch FROM hour)::float8, %s::float8[]) AS b, "
        f"SUM({_IN}) FROM {hours} WHERE camera_id = ANY(%s) AND hour >= %s AND hour < %s "
        "AND NOT (line_id = ANY(%s)) "
        "AND NOT (hour = ANY(%s::timestamptz[])) GROUP BY camera_id, b")
    params: list[Any] = [thresholds, swapped, list(camera_ids), bounds[0][0], bounds[-1][1],
                         excluded, cut]
    if cut:
        # Only the hours a local boundary cuts (+05:30) come from the minutes: one index range
        # scan of (camera, minute) per cut hour, not the whole day's minutes.
        sql += (
            " UNION ALL SELECT m.camera_id, width_bucket(extract(epoch FROM m.minute)::float8, "
            "%s::float8[]) AS b, SUM(m.entering) FROM unnest(%s::timestamptz[]) AS cut(hour) "
            f"CROSS JOIN LATERAL (SELECT camera_id, minute, {_IN} AS entering FROM {minutes} "
            "WHERE camera_id = ANY(%s) AND minute >= GREATEST(cut.hour, %s) "
            "AND minute < LEAST(cut.hour + interval '1 hour', %s) "
            "AND NOT (line_id = ANY(%s))) AS m GROUP BY m.camera_id, b")
        params += [thresholds, cut, swapped, list(camera_ids), bounds[0][0], bounds[-1][1],
                   excluded]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for camera_id, bucket, total in cursor.fetchall():
            if 1 <= bucket <= len(bounds):
                result[int(camera_id)][bucket - 1] += int(total or 0)
    return result


def in_between_per_camera(*, camera_ids: Sequence[int], start: datetime,
                          end: datetime, footfall: Footfall | None = None) -> dict[int, int]:
    """Entering per camera in [start, end) from the minute rollups (a short range), as
    :func:`hourly_in_per_camera` counts it."""
    footfall = footfall or Footfall()
    result = dict.fromkeys(camera_ids, 0)
    if not camera_ids or start >= end:
        return result
    table = connection.ops.quote_name(LineMinuteRollup._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT camera_id, SUM({_IN}) FROM {table} WHERE camera_id = ANY(%s) "
            "AND minute >= %s AND minute < %s AND NOT (line_id = ANY(%s)) GROUP BY camera_id",
            [list(footfall.swapped), list(camera_ids), start, end, list(footfall.excluded)])
        for camera_id, total in cursor.fetchall():
            result[int(camera_id)] = int(total or 0)
    return result


def latest_zone_occupancy(*, zone_ids: Sequence[int], since: datetime) -> dict[int, int]:
    """Each zone's latest stored occupancy (rounded average of its minute) since ``since``."""
    if not zone_ids:
        return {}
    table = connection.ops.quote_name(ZoneMinuteOccupancy._meta.db_table)
    with connection.cursor() as cursor:
        # One backwards probe of the (zone, minute) index per zone, not today's every minute.
        cursor.execute(
            "SELECT z.zone_id, o.occupancy_sum, o.samples FROM unnest(%s::bigint[]) AS z(zone_id) "
            f"CROSS JOIN LATERAL (SELECT occupancy_sum, samples FROM {table} "
            "WHERE zone_id = z.zone_id AND minute >= %s ORDER BY minute DESC LIMIT 1) AS o",
            [list(zone_ids), since])
        return {int(zone_id): round(total / samples) if samples else 0
                for zone_id, total, samples in cursor.fetchall()}


def day_hour_bounds(*, tz: ZoneInfo, day: date) -> Bounds:
    start, end = local_day_bounds(site_tz=str(tz), day=day)
    return bucket_bounds(bucket="hour", start=start, end=end, tz=tz)


def camera_states(cameras: Iterable[Camera], *, now: datetime) -> list[CameraState]:
    """Health words of cameras (``health`` select_related or prefetched)."""
    states = []
    for camera in cameras:
        health = getattr(camera, "health", None)
        # A runner that stopped reporting makes an "online" camera stalled (counting.selectors).
        condition = camera_health_condition(health=health, camera_enabled=camera.enabled,
                                            now=now)
        states.append(CameraState(camera=camera, health=health, text=health_text(
            state=camera.status, reason=camera.status_reason, enabled=camera.enabled,
            health=health, now=now, condition=condition.condition,
            condition_reason=condition.reason)))
    return states


def _visible(user: Any) -> tuple[list[Site], dict[int, list[Camera]], set[int]]:
    cameras = list(camera_list_visible_to(user=user).select_related("site", "health"))
    by_site: dict[int, list[Camera]] = defaultdict(list)
    for camera in cameras:
        by_site[camera.site_id].append(camera)
    sites = {site.pk: site for site in site_list_visible_to(user=user)}
    direct = set(sites)
    for camera in cameras:
        sites.setdefault(camera.site_id, camera.site)
    ordered = sorted(sites.values(), key=lambda site: (site.name.lower(), site.pk))
    return ordered, by_site, direct


def site_summaries(*, user: Any, now: datetime | None = None,
                   site_id: int | None = None,
                   compare_day: date | None = None) -> list[SiteSummary]:
    """Every site ``user`` may see (or only ``site_id``), with today's figures.

    ``compare_day`` (default: the same weekday last week) is the day the hourly chart and the
    "so far" comparison use.
    """
    now = now or datetime.now(tz=UTC)
    sites, by_site, direct = _visible(user)
    if site_id is not None:
        sites = [site for site in sites if site.pk == site_id]
    camera_ids = [camera.pk for site in sites for camera in by_site.get(site.pk, [])]
    line_counts: dict[int, int] = defaultdict(int)
    for camera_id in CountingLine.objects.filter(camera_id__in=camera_ids).values_list(
            "camera_id", flat=True):
        line_counts[camera_id] += 1
    zones = list(Zone.objects.filter(camera_id__in=camera_ids, enabled=True,
                                     ignore_detections=False)
                 .values_list("pk", "camera_id", "capacity"))
    earliest = min((local_day_bounds(site_tz=site.timezone,
                                     day=local_today(site_tz=site.timezone, now=now))[0]
                    for site in sites), default=now)
    occupancy = latest_zone_occupancy(zone_ids=[pk for pk, _, _ in zones], since=earliest)

    by_tz: dict[str, list[Site]] = defaultdict(list)
    for site in sites:
        by_tz[site.timezone].append(site)
    summaries: dict[int, SiteSummary] = {}
    for tz_name, tz_sites in by_tz.items():
        tz = ZoneInfo(tz_name)
        today = local_today(site_tz=tz_name, now=now)
        other = compare_day or today - timedelta(days=7)
        ids = [camera.pk for site in tz_sites for camera in by_site.get(site.pk, [])]
        today_bounds = day_hour_bounds(tz=tz, day=today)
        other_bounds = day_hour_bounds(tz=tz, day=other)
        footfall = footfall_lines(camera_ids=ids)
        today_counts = hourly_in_per_camera(camera_ids=ids, bounds=today_bounds,
                                            footfall=footfall)
        other_counts = hourly_in_per_camera(camera_ids=ids, bounds=other_bounds,
                                            footfall=footfall)
        # The comparison day up to the same local time: whole hours plus the current hour's
        # minutes (wall-clock arithmetic in the zone: 7 days earlier at the same local time).
        local_now = now.astimezone(tz)
        shifted = datetime.combine(other, local_now.time(), tzinfo=tz).astimezone(UTC)
        whole = [index for index, (_, upper) in enumerate(other_bounds) if upper <= shifted]
        partial_start = other_bounds[len(whole)][0] if len(whole) < len(other_bounds) else None
        partial = (in_between_per_camera(camera_ids=ids, start=partial_start, end=shifted,
                                         footfall=footfall)
                   if partial_start is not None else {})
        for site in tz_sites:
            site_cameras = by_site.get(site.pk, [])
            cids = [camera.pk for camera in site_cameras]
            site_zones = [(pk, cap) for pk, cid, cap in zones if cid in set(cids)]
            hourly_today = [sum(today_counts[c][i] for c in cids) for i in range(len(today_bounds))]
            hourly_other = [sum(other_counts[c][i] for c in cids) for i in range(len(other_bounds))]
            so_far = sum(hourly_other[i] for i in whole) + sum(partial.get(c, 0) for c in cids)
            capacities = [cap for _, cap in site_zones if cap]
            summaries[site.pk] = SiteSummary(
                site=site, cameras=camera_states(site_cameras, now=now),
                today=DaySeries(day=today, starts=[b[0] for b in today_bounds],
                                counts=hourly_today),
                compare=DaySeries(day=other, starts=[b[0] for b in other_bounds],
                                  counts=hourly_other),
                compare_so_far=so_far,
                occupancy=(sum(occupancy.get(pk, 0) for pk, _ in site_zones)
                           if site_zones else None),
                capacity=sum(capacities) if capacities else None,
                line_count=sum(line_counts[c] for c in cids),
                zone_ids=[pk for pk, _ in site_zones], site_visible=site.pk in direct)
    return [summaries[site.pk] for site in sites]
