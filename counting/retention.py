"""Retention: removing a tenant's raw crossings, minute counts and health events past their age.

How long each kind is kept is the tenant's (``Tenant.retention(name)``: its override, else its
plan's). Cut-offs are whole UTC days, so a removed range never splits a minute or an hour::

    now ─────────────────────────────────────────────────────────────> past
    | kept                                    | removed (events < cut-off) ...
                                              ^ start of the UTC day `retention_days` ago

Audit events go as a prefix of their hash chain, anchored so that verify_audit still checks
what stays (audit/retention.py).

What stays, always: hour rollups (and the days built on them), zone occupancy minutes (they
have no coarser summary to fall back on), the lease, health state and gaps (current state).

- **Never what a rollup still needs**: an event or a minute goes only when the hour rollup of
  its (line, hour) exists: the ledger writes rollups in the events' own transaction, so a
  missing hour is damage; such rows are kept and reported (``kept_without_rollup``), and
  ``check_integrity`` names them.
- **Whole partitions first**: the events and line minutes are partitioned by month
  (tenants/partitions.py); a month that ends at or before the cut-off, every row of it rolled
  up, is dropped as a table (instant, no bloat, ``partitions_dropped`` in the report).
- **No long locks, no bloat**: what is left (the month across the cut-off) is deleted per
  camera, ``batch`` rows per statement, each in its own short transaction, through the
  (camera, time) indexes; autovacuum reuses the space.
- **Reported and audited**: the job returns what it removed per kind and records one
  ``retention.enforce`` audit event per tenant run that removed something; each kind's
  ``RetentionMark`` says how far back rows are gone on purpose.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.db import connection, transaction
from django.utils import timezone

from audit.retention import audit_prune
from audit.services import audit_record
from cameras.models import Camera
from counting.models import (
    CameraHealthEvent,
    CountEvent,
    LineHourRollup,
    LineMinuteRollup,
    RetentionMark,
)
from tenants.db import current_schema
from tenants.models import Tenant
from tenants.partitions import is_partitioned, partition_drop, partitions_of

logger = logging.getLogger(__name__)

EVENTS, MINUTES, HEALTH, AUDIT = "events", "minutes", "health", "audit"
# kind -> the tenant's retention field
KIND_FIELDS = {EVENTS: "retention_days", MINUTES: "minute_retention_days",
               HEALTH: "health_retention_days", AUDIT: "audit_retention_days"}
BATCH = 5000


@dataclass
class RetentionReport:
    """What one retention run did in one tenant: the cut-off per kind, rows removed per kind,
    rows kept because their hour rollup is missing, and the time taken."""

    schema: str
    cutoffs: dict[str, datetime]
    removed: dict[str, int] = field(default_factory=dict)
    kept_without_rollup: dict[str, int] = field(default_factory=dict)
    partitions_dropped: dict[str, int] = field(default_factory=dict)  # rows removed that way
    seconds: float = 0.0

    @property
    def total(self) -> int:
        return sum(self.removed.values())

    def line(self) -> str:
        parts = [f"{kind} before {self.cutoffs[kind]:%Y-%m-%d}: {self.removed.get(kind, 0)}"
                 for kind in KIND_FIELDS]
        kept = "".join(f"; KEPT {n} {kind} whose hour rollup is missing (run check_integrity)"
                       for kind, n in self.kept_without_rollup.items() if n)
        return f"{self.schema}: removed {', '.join(parts)} in {self.seconds:.1f} s{kept}"


def retention_cutoff(days: int, *, now: datetime) -> datetime:
    """The start of the UTC day ``days`` days before ``now``: rows before it are removed."""
    day = (now.astimezone(UTC) - timedelta(days=days)).date()
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def retention_of(tenant: Tenant) -> dict[str, int]:
    """The tenant's retention in days per kind (what the portal and the API show)."""
    return {kind: tenant.retention(name) for kind, name in KIND_FIELDS.items()}


def retention_enforce(*, tenant: Tenant, now: datetime | None = None, batch: int = BATCH,
                      ) -> RetentionReport:
    """Remove the current tenant schema's rows past their retention (run in ``tenant``'s
    context; outside a transaction each batch commits on its own); see the module docstring
    for what goes and what stays."""
    if current_schema() != tenant.schema_name:
        raise RuntimeError("retention_enforce must run in the tenant's own schema")
    started = time.monotonic()
    now = now or timezone.now()
    days = retention_of(tenant)
    report = RetentionReport(schema=tenant.schema_name,
                             cutoffs={kind: retention_cutoff(n, now=now)
                                      for kind, n in days.items()})
    cameras = list(Camera.objects.order_by("pk").values_list("pk", flat=True))
    for kind, table, guarded, plain, unrolled in (
            (EVENTS, _EV, _EVENTS_SQL, _EVENTS_PLAIN_SQL, _EVENTS_UNROLLED_SQL),
            (MINUTES, _MI, _MINUTES_SQL, _MINUTES_PLAIN_SQL, _MINUTES_UNROLLED_SQL)):
        dropped = _partitions_dropped(tenant.schema_name, table, report.cutoffs[kind])
        removed, report.kept_without_rollup[kind] = _rolled_up_removed(
            guarded, plain, unrolled, cameras, report.cutoffs[kind], batch)
        report.removed[kind] = dropped + removed
        report.partitions_dropped[kind] = dropped
    report.removed[HEALTH] = sum(_batched(_HEALTH_SQL, camera_id, report.cutoffs[HEALTH], batch)
                                 for camera_id in cameras)
    # A prefix of the hash chain, anchored (audit/retention.py); before this run's own event.
    report.removed[AUDIT] = audit_prune(schema=tenant.schema_name, before=report.cutoffs[AUDIT])
    with transaction.atomic():
        for kind, cutoff in report.cutoffs.items():
            mark, _ = RetentionMark.objects.select_for_update().get_or_create(
                kind=kind, defaults={"removed_before": cutoff})
            # A shorter retention later never moves the mark back (rows before it are gone).
            mark.removed_before = max(mark.removed_before, cutoff)
            mark.removed_total += report.removed[kind]
            mark.save()
        if report.total:
            audit_record(action="retention.enforce", actor=None,
                         target_type="tenants.tenant", target_id=str(tenant.pk),
                         target_repr=tenant.slug,
                         after={"removed": report.removed,
                                "before": {k: v.isoformat() for k, v in report.cutoffs.items()},
                                "retention_days": days,
                                "kept_without_rollup": report.kept_without_rollup})
    report.seconds = time.monotonic() - started
    logger.info("retention %s", report.line())
    return report


def retention_marks() -> dict[str, datetime]:
    """kind -> the time before which the retention job removed that kind (current schema)."""
    return dict(RetentionMark.objects.values_list("kind", "removed_before"))


_EV, _MI = CountEvent._meta.db_table, LineMinuteRollup._meta.db_table
_HO, _HE = LineHourRollup._meta.db_table, CameraHealthEvent._meta.db_table
# An event or minute goes only with its (line, hour) rollup in place.
_EV_ROLLED = (f"EXISTS (SELECT 1 FROM {_HO} h WHERE h.line_id = e.line_id "
              "AND h.hour = date_trunc('hour', e.occurred_at, 'UTC'))")
_MI_ROLLED = (f"EXISTS (SELECT 1 FROM {_HO} h WHERE h.line_id = m.line_id "
              "AND h.hour = date_trunc('hour', m.minute, 'UTC'))")
# "id = ANY(ARRAY(subquery))", not "id IN (subquery)": the batch's ids become a constant array
# probed through the primary key; with IN the planner may hash-join the whole table per batch.
_EVENTS_SQL = (f"DELETE FROM {_EV} WHERE id = ANY(ARRAY(SELECT e.id FROM {_EV} e "
               f"WHERE e.camera_id = %s AND e.occurred_at < %s AND {_EV_ROLLED} LIMIT %s))")
_MINUTES_SQL = (f"DELETE FROM {_MI} WHERE id = ANY(ARRAY(SELECT m.id FROM {_MI} m "
                f"WHERE m.camera_id = %s AND m.minute < %s AND {_MI_ROLLED} LIMIT %s))")
_EVENTS_PLAIN_SQL = (f"DELETE FROM {_EV} WHERE id = ANY(ARRAY(SELECT id FROM {_EV} "
                     "WHERE camera_id = %s AND occurred_at < %s LIMIT %s))")
_MINUTES_PLAIN_SQL = (f"DELETE FROM {_MI} WHERE id = ANY(ARRAY(SELECT id FROM {_MI} "
                      "WHERE camera_id = %s AND minute < %s LIMIT %s))")
_HEALTH_SQL = (f"DELETE FROM {_HE} WHERE id = ANY(ARRAY(SELECT id FROM {_HE} "
               "WHERE camera_id = %s AND occurred_at < %s LIMIT %s))")
_EVENTS_UNROLLED_SQL = (f"SELECT count(*) FROM {_EV} e WHERE e.camera_id = %s "
                        f"AND e.occurred_at < %s AND NOT {_EV_ROLLED}")
_MINUTES_UNROLLED_SQL = (f"SELECT count(*) FROM {_MI} m WHERE m.camera_id = %s "
                         f"AND m.minute < %s AND NOT {_MI_ROLLED}")


_PARTITION_UNROLLED = {
    _EV: (f"SELECT EXISTS (SELECT 1 FROM {{partition}} e WHERE NOT {_EV_ROLLED})"),
    _MI: (f"SELECT EXISTS (SELECT 1 FROM {{partition}} m WHERE NOT {_MI_ROLLED})"),
}


def _partitions_dropped(schema: str, table: str, cutoff: datetime) -> int:
    """Drop the table's monthly partitions that end at or before ``cutoff`` and whose every
    row has its hour rollup (``DROP TABLE``: instant, no bloat); returns the rows they held.
    A partition with a row lacking its rollup stays for the per-row path, which keeps that row.
    The partition across the cut-off (and the default one) are left to the per-row path."""
    if not is_partitioned(schema, table):
        return 0
    removed = 0
    for partition in partitions_of(schema, table):
        if partition.end > cutoff:
            break
        qualified = f'"{schema}"."{partition.name}"'
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(_PARTITION_UNROLLED[table].format(partition=qualified))
            if cursor.fetchone()[0]:
                continue
            removed += partition_drop(schema, table, partition.name)
    return removed


def _rolled_up_removed(guarded: str, plain: str, unrolled: str, cameras: list[int],
                       cutoff: datetime, batch: int) -> tuple[int, int]:
    """Remove a camera's rows before ``cutoff`` whose hour rollup exists: when none of them
    lacks it (the normal case: the ledger writes both together) without the per-row check.
    Returns (removed, kept because their hour rollup is missing)."""
    removed = kept = 0
    for camera_id in cameras:
        with connection.cursor() as cursor:
            cursor.execute(unrolled, [camera_id, cutoff])
            missing = int(cursor.fetchone()[0])
        removed += _batched(guarded if missing else plain, camera_id, cutoff, batch)
        kept += missing
    return removed, kept


def _batched(sql: str, camera_id: int, cutoff: datetime, batch: int) -> int:
    """Run a bounded DELETE until it removes less than a batch; each statement is its own
    transaction (autocommit), so locks last one batch."""
    removed = 0
    with connection.cursor() as cursor:
        while True:
            cursor.execute(sql, [camera_id, cutoff, batch])
            removed += cursor.rowcount
            if cursor.rowcount < batch:
                return removed


def retention_enforce_all(*, now: datetime | None = None, batch: int = BATCH,
                          slugs: list[str] | None = None) -> list[RetentionReport]:
    """Run retention in every tenant (or the given slugs), suspended ones included (their data
    ages the same)."""
    from django_tenants.utils import tenant_context

    tenants = Tenant.objects.exclude(schema_name="public").select_related("plan")
    if slugs:
        tenants = tenants.filter(slug__in=slugs)
    reports = []
    for tenant in tenants.order_by("schema_name"):
        with tenant_context(tenant):
            reports.append(retention_enforce(tenant=tenant, now=now, batch=batch))
    return reports
