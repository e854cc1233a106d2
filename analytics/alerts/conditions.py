"""What a rule measures, turned into observations: "for this scope, the condition holds (or
not), the value is V".

- occupancy (zone, camera, site): people present, from the batch the ledger just committed
  (the mean of its samples, rounded); for other cameras of a site, their latest stored minute;
- footfall (line, zone, camera, site): entries counted since the period's local start, from the
  rollups; "above" holds inside the period once the count exceeds the value; "below" is known at
  the period's end and holds until the end of the site's day;
- camera health (camera, or each camera of a site): the stream state the runner reports;
- data completeness (camera, or each camera of a site): the share of a period the camera was
  analysed (online), from its health events, known at the period's end.

Outside a rule's schedule (weekdays, opening hours) its condition does not hold.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Sum

from analytics.alerts.constants import WEEKDAYS, RuleKind, Scope
from analytics.alerts.index import RuleEntry
from cameras.constants import CameraStatus
from cameras.models import Camera
from counting.models import (
    CameraHealth,
    CameraHealthEvent,
    LineMinuteRollup,
    Zone,
    ZoneMinuteOccupancy,
)


@dataclass(slots=True)
class Observation:
    """A rule's condition for one scope at one moment."""

    rule: RuleEntry
    scope_key: str
    holds: bool
    value: float | None
    label: str
    camera_id: int | None
    details: dict[str, Any] = field(default_factory=dict)


# --- schedules and periods --------------------------------------------------------------------
def rule_active(rule: RuleEntry, now: datetime,
                _memo: dict[tuple[Any, ...], bool] | None = None) -> bool:
    """Whether ``now`` is inside the rule's schedule (weekdays, and opening hours if chosen).
    ``_memo`` shares the answer between rules of the same site and schedule in one batch."""
    if _memo is not None:
        key = (rule.site_tz, rule.schedule, rule.weekdays, id(rule.opening_hours), now)
        if key not in _memo:
            _memo[key] = rule_active(rule, now)
        return _memo[key]
    local = now.astimezone(rule.tz)
    if local.weekday() not in rule.weekdays:
        return False
    if rule.schedule != "opening_hours":
        return True
    hhmm = local.strftime("%H:%M")
    return any(start <= hhmm < end
               for start, end in rule.opening_hours.get(WEEKDAYS[local.weekday()], []))


def period_today(rule: RuleEntry, now: datetime) -> tuple[datetime, datetime] | None:
    """Today's occurrence (site-local day of ``now``) of the rule's period, in UTC."""
    if rule.period_start is None or rule.period_end is None:
        return None
    local = now.astimezone(rule.tz)
    start = datetime.combine(local.date(), rule.period_start, tzinfo=rule.tz)
    end = datetime.combine(local.date(), rule.period_end, tzinfo=rule.tz)
    return start.astimezone(UTC), end.astimezone(UTC)


def _period_due(rule: RuleEntry, now: datetime) -> tuple[datetime, datetime] | None:
    """The period whose result is known and still current: today's, once it has ended (until
    the end of the site's day); None before it ends."""
    period = period_today(rule, now)
    if period is None or now < period[1]:
        return None
    return period


def _inactive(rule: RuleEntry, key: str, label: str, camera_id: int | None) -> Observation:
    return Observation(rule=rule, scope_key=key, holds=False, value=None, label=label,
                       camera_id=camera_id, details={"reason": "outside the rule's schedule"})


def _compare(rule: RuleEntry, value: float, above: bool) -> bool:
    threshold = rule.threshold if rule.threshold is not None else 0.0
    return value > threshold if above else value < threshold


# --- occupancy ----------------------------------------------------------------------------------
def batch_zone_occupancy(zones: Iterable[Any]) -> dict[int, float]:
    """People present per zone in a committed batch: the mean of its latest minute's samples."""
    latest: dict[int, Any] = {}
    for zone in zones:
        if zone.samples and (zone.zone_id not in latest
                             or zone.minute >= latest[zone.zone_id].minute):
            latest[zone.zone_id] = zone
    return {zid: float(round(z.occupancy_sum / z.samples)) for zid, z in latest.items()}


def _stored_zone_occupancy(zone_ids: list[int], now: datetime) -> dict[int, float]:
    """Latest stored minute (within two minutes) per zone: for cameras not in the batch."""
    rows = (ZoneMinuteOccupancy.objects.filter(zone_id__in=zone_ids,
                                               minute__gte=now - timedelta(minutes=2))
            .order_by("zone_id", "-minute").distinct("zone_id")
            .values_list("zone_id", "occupancy_sum", "samples"))
    return {zid: float(round(total / samples)) for zid, total, samples in rows if samples}


def occupancy_observations(rules: list[RuleEntry], *, camera_id: int,
                           occupancy: Mapping[int, float], now: datetime) -> list[Observation]:
    """Occupancy rules of a committed batch of ``camera_id`` (``occupancy`` per zone)."""
    rules = [r for r in rules if r.kind in (RuleKind.OCCUPANCY_ABOVE, RuleKind.OCCUPANCY_BELOW)]
    if not rules:
        return []
    counted: dict[int, list[int]] = defaultdict(list)  # camera -> zones that count people
    site_of_zone: dict[int, int] = {}
    if any(r.scope != Scope.ZONE for r in rules):  # zone rules need no lookup
        need_sites = {r.site_id for r in rules if r.scope == Scope.SITE}
        zone_filter = Zone.objects.filter(ignore_detections=False)
        if need_sites:
            zone_filter = zone_filter.filter(camera__site_id__in=need_sites)
        else:
            zone_filter = zone_filter.filter(camera_id=camera_id)
        for zid, cid, sid in zone_filter.values_list("id", "camera_id", "camera__site_id"):
            counted[cid].append(zid)
            site_of_zone[zid] = sid
    others = [z for cid, zs in counted.items() if cid != camera_id for z in zs]
    stored = _stored_zone_occupancy(others, now) if others else {}
    out: list[Observation] = []
    memo: dict[tuple[Any, ...], bool] = {}
    for rule in rules:
        above = rule.kind == RuleKind.OCCUPANCY_ABOVE
        if rule.scope == Scope.ZONE:
            key, value = f"zone:{rule.zone_id}", occupancy.get(rule.zone_id or 0)
        elif rule.scope == Scope.CAMERA:
            present = [occupancy[z] for z in counted.get(camera_id, []) if z in occupancy]
            key, value = f"camera:{camera_id}", (sum(present) if present else None)
        else:
            zones = [z for z, s in site_of_zone.items() if s == rule.site_id]
            present = [occupancy[z] if z in occupancy else stored.get(z, 0.0) for z in zones]
            key, value = f"site:{rule.site_id}", float(sum(present))
        if value is None:
            continue
        if not rule_active(rule, now, memo):
            out.append(_inactive(rule, key, rule.scope_label, camera_id))
            continue
        out.append(Observation(rule=rule, scope_key=key, holds=_compare(rule, value, above),
                               value=value, label=rule.scope_label,
                               camera_id=None if rule.scope == Scope.SITE else camera_id,
                               details={"occupancy": value, "threshold": rule.threshold}))
    return out


# --- footfall -----------------------------------------------------------------------------------
def _footfall(rule: RuleEntry, start: datetime, end: datetime) -> float:
    if rule.scope == Scope.ZONE:
        total = (ZoneMinuteOccupancy.objects
                 .filter(zone_id=rule.zone_id or 0, minute__gte=start, minute__lt=end)
                 .aggregate(n=Sum("entries"))["n"])
        return float(total or 0)
    rows = LineMinuteRollup.objects.filter(minute__gte=start, minute__lt=end)
    if rule.scope == Scope.LINE:
        rows = rows.filter(line_id=rule.line_id)
    elif rule.scope == Scope.CAMERA:
        rows = rows.filter(camera_id=rule.camera_id or 0)
    else:
        rows = rows.filter(camera__site_id=rule.site_id)
    return float(rows.aggregate(n=Sum("count_in"))["n"] or 0)


def _scope_id(rule: RuleEntry) -> int | None:
    ids = {Scope.SITE: rule.site_id, Scope.CAMERA: rule.camera_id, Scope.LINE: rule.line_id,
           Scope.ZONE: rule.zone_id}
    return ids[rule.scope]  # type: ignore[index]


def _scope_key(rule: RuleEntry) -> str:
    return f"{rule.scope}:{_scope_id(rule)}"


def minute_end(moment: datetime) -> datetime:
    """The end of the UTC minute containing ``moment`` (rollup minutes are [start, end))."""
    return moment.replace(second=0, microsecond=0) + timedelta(minutes=1)


def footfall_observations(rules: list[RuleEntry], *, now: datetime) -> list[Observation]:
    """Footfall rules: entries since the period's start (above) or over the ended period
    (below)."""
    out: list[Observation] = []
    sums: dict[tuple[str, int | None, datetime, datetime], float] = {}

    def footfall(rule: RuleEntry, start: datetime, end: datetime) -> float:
        # rules of one scope and period share one query
        key = (rule.scope, _scope_id(rule), start, end)
        if key not in sums:
            sums[key] = _footfall(rule, start, end)
        return sums[key]

    for rule in rules:
        if rule.kind not in (RuleKind.FOOTFALL_ABOVE, RuleKind.FOOTFALL_BELOW):
            continue
        key = _scope_key(rule)
        camera_id = None if rule.scope == Scope.SITE else rule.camera_id
        period = period_today(rule, now)
        if period is None:
            continue
        if not rule_active(rule, period[0]):  # the schedule of the period's day and start
            out.append(_inactive(rule, key, rule.scope_label, camera_id))
            continue
        if rule.kind == RuleKind.FOOTFALL_ABOVE:
            inside = period[0] <= now < period[1]
            value = footfall(rule, period[0], min(minute_end(now), period[1])) \
                if inside else None
            holds = inside and value is not None and _compare(rule, value, above=True)
        else:
            due = _period_due(rule, now)
            value = footfall(rule, *due) if due else None
            holds = due is not None and value is not None and _compare(rule, value, above=False)
        out.append(Observation(rule=rule, scope_key=key, holds=holds, value=value,
                               label=rule.scope_label, camera_id=camera_id, details={
                                   "footfall": value, "threshold": rule.threshold,
                                   "period": [period[0].isoformat(), period[1].isoformat()]}))
    return out


# --- camera health and completeness ---------------------------------------------------------------
def _cameras_of(rule: RuleEntry, cameras: Mapping[int, Camera]) -> list[Camera]:
    if rule.scope == Scope.CAMERA:
        camera = cameras.get(rule.camera_id or 0)
        return [camera] if camera is not None else []
    return [c for c in cameras.values() if c.site_id == rule.site_id]


def health_observations(rules: list[RuleEntry], *, now: datetime) -> list[Observation]:
    """Health rules from the cameras' latest health (the runner's reports and the sweep's)."""
    rules = [r for r in rules if r.kind in (RuleKind.CAMERA_OFFLINE, RuleKind.CAMERA_FROZEN,
                                            RuleKind.CAMERA_LOW_FPS)]
    if not rules:
        return []
    cameras = {c.pk: c for c in Camera.objects.filter(enabled=True).select_related("site")}
    health = {h.camera_id: h for h in CameraHealth.objects.filter(camera_id__in=list(cameras))}
    ratio = settings.ALERTS_LOW_FPS_RATIO
    out: list[Observation] = []
    for rule in rules:
        for camera in _cameras_of(rule, cameras):
            key = f"camera:{camera.pk}"
            label = f"{camera.site.name} / {camera.name}"
            if not rule_active(rule, now):
                out.append(_inactive(rule, key, label, camera.pk))
                continue
            row = health.get(camera.pk)
            state = row.state if row else camera.status
            fps = row.fps_analysed if row else 0.0
            if rule.kind == RuleKind.CAMERA_OFFLINE:
                holds = state in (CameraStatus.OFFLINE, CameraStatus.ERROR)
                value: float | None = None
            elif rule.kind == RuleKind.CAMERA_FROZEN:
                holds, value = state == CameraStatus.FROZEN, None
            else:
                floor = (rule.threshold if rule.threshold is not None
                         else camera.detect_fps * ratio)
                holds, value = state == CameraStatus.ONLINE and fps < floor, round(fps, 2)
            out.append(Observation(rule=rule, scope_key=key, holds=holds, value=value,
                                   label=label, camera_id=camera.pk, details={
                                       "state": state, "reason": row.reason if row else "",
                                       "fps_analysed": fps, "detect_fps": camera.detect_fps}))
    return out


def analysed_share(camera_id: int, start: datetime, end: datetime) -> float:
    """Share (0..1) of [start, end) the camera's stream was online, from its health events."""
    before = (CameraHealthEvent.objects.filter(camera_id=camera_id, occurred_at__lt=start,
                                               gap_seconds__isnull=True)
              .order_by("-occurred_at", "-id").values_list("state", flat=True).first())
    changes = list(CameraHealthEvent.objects
                   .filter(camera_id=camera_id, occurred_at__gte=start, occurred_at__lt=end)
                   .order_by("occurred_at", "id")
                   .values_list("occurred_at", "state", "gap_seconds"))
    online = 0.0
    state, since = before, start
    gaps = 0.0
    for at, new_state, gap in changes:
        if gap is not None:
            gaps += gap
            continue
        if state == CameraStatus.ONLINE:
            online += (at - since).total_seconds()
        state, since = new_state, at
    if state == CameraStatus.ONLINE:
        online += (end - since).total_seconds()
    total = (end - start).total_seconds()
    return max(0.0, min(1.0, (online - gaps) / total)) if total > 0 else 1.0


def completeness_observations(rules: list[RuleEntry], *, now: datetime) -> list[Observation]:
    """Data rules: the ended period's analysed share below the rule's percentage."""
    rules = [r for r in rules if r.kind == RuleKind.DATA_INCOMPLETE]
    if not rules:
        return []
    cameras = {c.pk: c for c in Camera.objects.filter(enabled=True).select_related("site")}
    out: list[Observation] = []
    for rule in rules:
        due = _period_due(rule, now)
        for camera in _cameras_of(rule, cameras):
            key = f"camera:{camera.pk}"
            label = f"{camera.site.name} / {camera.name}"
            period = period_today(rule, now)
            if period is not None and not rule_active(rule, period[0]):
                out.append(_inactive(rule, key, label, camera.pk))
                continue
            share = analysed_share(camera.pk, *due) if due else None
            minimum = rule.threshold if rule.threshold is not None else 95.0
            value = None if share is None else round(share * 100, 1)
            out.append(Observation(
                rule=rule, scope_key=key, holds=value is not None and value < minimum,
                value=value, label=label, camera_id=camera.pk,
                details={"complete_percent": value, "minimum_percent": minimum,
                         "period": [due[0].isoformat(), due[1].isoformat()] if due else None}))
    return out

