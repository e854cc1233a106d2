"""Site occupancy that never drifts: entering minus leaving over the entrances, never below
zero, back to zero at every closing time and on a user's reset, with what each reset removed.

The walk (per UTC minute with crossings, in time order)::

    occupancy = max(0, occupancy + entering - leaving)    # leaving more than inside: "clamped"
    at closing time (end of each opening range; local midnight without opening hours):
        record(kind=closing, removed=occupancy); occupancy = 0
    at a manual reset (OccupancyReset row): occupancy = 0 (its stored ``removed``)

It starts from zero at the last closing before the range (at most 8 days back), so every
number is reproducible from the ledger's rollups: closing resets are computed on each read,
never stored, and a late-arriving crossing changes them as it changes the counts. What resets
removed is the drift (exits not counted); ``clamped`` is the opposite (exits of people whose
entry was not counted).
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.core.exceptions import PermissionDenied
from django.db import connection, transaction

from analytics.models import OccupancyReset, OccupancyResetKind
from analytics.series import Bucket, CountSources, bucket_bounds, minute_flows
from audit.services import audit_record
from cameras.local_time import closing_times
from cameras.models import Site

RESET_PERMISSION = "analytics.reset_occupancyreset"
LOOKBACK = timedelta(days=8)


@dataclass(frozen=True)
class ResetRecord:
    """One reset to zero: when, why, how many it removed and who (manual ones)."""

    at: datetime
    kind: str
    removed: int
    actor: str = ""
    reason: str = ""


@dataclass(frozen=True)
class SiteOccupancyPoint:
    """One bucket of site occupancy: the value at its end (or now), its peak, the flows, what
    resets removed and the exits ignored at zero."""

    start: datetime
    end: datetime
    occupancy: int
    max: int
    entering: int
    leaving: int
    removed: int
    clamped: int
    coverage: float | None = None
    quality: str | None = None
    quality_notes: tuple[str, ...] = ()


@dataclass
class SiteOccupancy:
    """A site's occupancy series, its resets in the range and the value now (or at the end)."""

    points: list[SiteOccupancyPoint]
    resets: list[ResetRecord] = field(default_factory=list)
    current: int = 0


@dataclass
class _Bucket:
    occupancy: int = 0
    peak: int = 0
    entering: int = 0
    leaving: int = 0
    removed: int = 0
    clamped: int = 0
    touched: bool = False


def _walk_start(site: Site, start: datetime) -> datetime:
    closings = closing_times(opening_hours=site.opening_hours or {}, site_tz=site.timezone,
                             start=start - LOOKBACK, end=start)
    return closings[-1] if closings else start - LOOKBACK


def site_occupancy_series(*, site: Site, sources: CountSources, bucket: Bucket,
                          start: datetime, end: datetime, now: datetime | None = None,
                          max_rows: int | None = None,
                          timeout_ms: int | None = None) -> SiteOccupancy:
    """The occupancy of ``site`` from ``sources`` (its entrances) per bucket of [start, end)
    in the site's timezone (see the module docstring); buckets after ``now`` carry the value
    of now."""
    tz = ZoneInfo(site.timezone)
    bounds = bucket_bounds(bucket=bucket, start=start, end=end, tz=tz)
    first, last = bounds[0][0].astimezone(UTC), bounds[-1][1].astimezone(UTC)
    now = now or datetime.now(tz=UTC)
    walk_from = _walk_start(site, first)
    walk_to = min(last, max(now, first))
    flows = (minute_flows(sources=sources, start=walk_from, end=walk_to, max_rows=max_rows,
                          timeout_ms=timeout_ms) if sources else [])
    steps: list[tuple[datetime, int, Any]] = [(m, 1, (i, o)) for m, i, o in flows]
    # A closing at 18:00 happens after the crossings of 17:59 and before those of 18:00.
    steps += [(c, 0, None) for c in closing_times(
        opening_hours=site.opening_hours or {}, site_tz=site.timezone, start=walk_from,
        end=walk_to)]
    manual = list(OccupancyReset.objects.filter(site=site, at__gte=walk_from, at__lt=walk_to)
                  .order_by("at", "id"))
    steps += [(reset.at, 0, reset) for reset in manual]
    steps.sort(key=lambda step: (step[0], step[1]))
    starts = [lower.astimezone(UTC) for lower, _ in bounds]
    buckets = [_Bucket() for _ in bounds]
    resets: list[ResetRecord] = []
    occupancy = 0
    last_index = -1

    def advance(index: int) -> None:
        nonlocal last_index
        for skipped in range(last_index + 1, index + 1):
            buckets[skipped].occupancy = buckets[skipped].peak = occupancy
        last_index = max(last_index, index)

    for moment, _order, payload in steps:
        index = bisect_right(starts, moment) - 1
        if index >= 0:
            advance(index)
        if payload is None or isinstance(payload, OccupancyReset):
            removed = occupancy
            occupancy = 0
            if index >= 0 and moment == starts[index]:
                buckets[index].peak = 0  # the value before a reset at the bucket's start
            if index >= 0 and moment < last:
                record = (ResetRecord(moment, OccupancyResetKind.CLOSING, removed)
                          if payload is None else
                          ResetRecord(moment, OccupancyResetKind.MANUAL, payload.removed,
                                      payload.actor_name, payload.reason))
                resets.append(record)
                buckets[index].removed += record.removed
        else:
            entering, leaving = payload
            after = occupancy + entering - leaving
            if index >= 0:
                buckets[index].entering += entering
                buckets[index].leaving += leaving
                buckets[index].clamped += max(0, -after)
            occupancy = max(0, after)
        if index >= 0:
            buckets[index].occupancy = occupancy
            buckets[index].peak = max(buckets[index].peak, occupancy)
    advance(len(bounds) - 1)
    points = [SiteOccupancyPoint(start=lower, end=upper, occupancy=b.occupancy, max=b.peak,
                                 entering=b.entering, leaving=b.leaving, removed=b.removed,
                                 clamped=b.clamped)
              for (lower, upper), b in zip(bounds, buckets, strict=True)]
    return SiteOccupancy(points=points, resets=resets, current=occupancy)


def site_occupancy_now(*, site: Site, sources: CountSources,
                       now: datetime | None = None) -> int:
    """The site's occupancy at ``now`` (from its last closing)."""
    now = now or datetime.now(tz=UTC)
    series = site_occupancy_series(site=site, sources=sources, bucket="minute",
                                   start=now - timedelta(minutes=1), end=now, now=now)
    return series.current


@transaction.atomic
def site_occupancy_reset(*, actor: Any, site: Site, sources: CountSources,
                         reason: str = "", now: datetime | None = None) -> OccupancyReset:
    """Set the site's occupancy to zero now and record what it removed (audited).

    Needs the ``analytics.reset_occupancyreset`` permission (Owner and Manager) and change on
    the site; raises PermissionDenied otherwise, changing nothing.
    """
    if not getattr(actor, "has_perm", None) or not actor.has_perm(RESET_PERMISSION):
        raise PermissionDenied("Resetting a site's occupancy needs the 'reset occupancy' "
                               "permission (Owner or Manager).")
    reason = (reason or "").strip()
    if len(reason) > 500:
        raise ValueError("The reason has at most 500 characters.")
    with connection.cursor() as cursor:  # two resets at once must not both remove the same
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext(current_schema() || "
                       "':occupancy:' || %s::text))", [site.pk])
    now = now or datetime.now(tz=UTC)
    removed = site_occupancy_now(site=site, sources=sources, now=now)
    reset = OccupancyReset.objects.create(
        site=site, at=now, kind=OccupancyResetKind.MANUAL, removed=removed,
        actor_id=getattr(actor, "pk", None), actor_name=getattr(actor, "get_username",
                                                                lambda: "")(),
        reason=reason)
    audit_record(action="site_occupancy.reset", target=site,
                 before={"occupancy": removed}, after={"occupancy": 0, "reason": reason},
                 actor=actor)
    return reset
