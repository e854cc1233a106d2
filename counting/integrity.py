"""Integrity checks of the stored counts: rollups against the ledger, orphans, audit chains.

Read only: every check compares and reports, nothing is rewritten (the repair of line rollups
is :func:`counting.rollups.line_rollups_rebuild`, run by an operator who read the report).
Used by ``manage.py check_integrity``; each problem is one :class:`Problem` so that a cron job
can alert on the exit status and a person can read one line per problem.

The checks, per tenant schema:

- ``rollup_minute``: a (line, UTC minute) whose stored in/out counts differ from the count of
  its events, including a minute with events and no rollup row, or a row with no events;
- ``rollup_hour``: a (line, UTC hour) whose counts differ from the sum of its minutes;
- ``rollup_day``: a (line, local day of its site) whose counts differ from its minutes' sum;
- ``camera_mismatch``: an event or rollup row whose ``camera_id`` is not its line's (or zone's)
  camera (foreign keys cannot see this; a series by camera would count it in the wrong place);
- ``orphan_permission``: a per-object permission (django-guardian) naming a row that no longer
  exists (generic keys are not foreign keys, so deleting the object leaves them behind);
- ``default_partition``: rows in the default partition of the partitioned ledger or minute
  tables (their month had no partition; tenants/partitions.py);
- ``audit_chain``: the hash-chained audit trail does not verify (audit/verify.py).

And for the platform: ``orphan_schema`` (a schema with the tenant tables but no tenant row) and
``missing_schema`` (a tenant row whose schema does not exist).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from django.apps import apps
from django.db import connection
from django_tenants.utils import schema_context

from audit.verify import audit_verify_schema
from cameras.models import Camera, Site
from counting.models import (
    CountEvent,
    CountingLine,
    LineDayRollup,
    LineHourRollup,
    LineMinuteRollup,
    Zone,
    ZoneMinuteOccupancy,
)
from counting.retention import EVENTS, MINUTES, retention_marks
from counting.rollups import hour_of, minute_of
from tenants.partitions import default_rows

# Examples printed per check and tenant; the total is always reported.
EXAMPLES = 5


@dataclass(frozen=True, slots=True)
class Problem:
    """One integrity problem: where (tenant schema), which check, and what was found."""

    schema: str
    check: str
    detail: str

    def line(self) -> str:
        """The problem as one line for a log or a cron mail."""
        return f"PROBLEM {self.schema} {self.check}: {self.detail}"

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def _fetch(sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params or [])
        return list(cursor.fetchall())


def _since_clause(column: str, since: datetime | None, params: list[Any]) -> str:
    if since is None:
        return "TRUE"
    params.append(since)
    return f"{column} >= %s"


def _summarise(schema: str, check: str, rows: list[tuple[Any, ...]], total: int,
               describe: Any) -> list[Problem]:
    problems = [Problem(schema, check, describe(row)) for row in rows[:EXAMPLES]]
    if total > EXAMPLES:
        problems.append(Problem(schema, check, f"... and {total - EXAMPLES} more"))
    return problems


def minute_rollups_check(schema: str, since: datetime | None = None) -> list[Problem]:
    """Minute rollups against the counts of their events (a full outer join per bucket)."""
    since = minute_of(since) if since is not None else None
    params: list[Any] = []
    ev_since = _since_clause("occurred_at", since, params)
    ro_since = _since_clause("minute", since, params)
    rows = _fetch(
        f"""
        WITH ev AS (
            SELECT line_id, camera_id, date_trunc('minute', occurred_at, 'UTC') AS minute,
                   count(*) FILTER (WHERE direction = 'in') AS n_in,
                   count(*) FILTER (WHERE direction = 'out') AS n_out
            FROM {CountEvent._meta.db_table} WHERE {ev_since}
            GROUP BY 1, 2, 3),
        ro AS (
            SELECT line_id, camera_id, minute, count_in, count_out
            FROM {LineMinuteRollup._meta.db_table} WHERE {ro_since})
        SELECT coalesce(ev.line_id, ro.line_id), coalesce(ev.minute, ro.minute),
               coalesce(ev.n_in, 0), coalesce(ev.n_out, 0),
               ro.count_in, ro.count_out
        FROM ev FULL OUTER JOIN ro ON ev.line_id = ro.line_id AND ev.minute = ro.minute
        WHERE ro.line_id IS NULL
           OR coalesce(ev.n_in, 0) <> ro.count_in OR coalesce(ev.n_out, 0) <> ro.count_out
        ORDER BY 2, 1""", params)

    def describe(row: tuple[Any, ...]) -> str:
        line_id, minute, n_in, n_out, r_in, r_out = row
        stored = "no rollup row" if r_in is None else f"rollup in={r_in} out={r_out}"
        return (f"line {line_id} minute {minute:%Y-%m-%dT%H:%MZ}: events in={n_in} "
                f"out={n_out}, {stored}")

    return _summarise(schema, "rollup_minute", rows, len(rows), describe)


def hour_rollups_check(schema: str, since: datetime | None = None) -> list[Problem]:
    """Hour rollups against the sums of their minute rollups."""
    # A since inside an hour would cut that hour's minutes: start at the hour.
    since = hour_of(since) if since is not None else None
    params: list[Any] = []
    mi_since = _since_clause("minute", since, params)
    ho_since = _since_clause("hour", since, params)
    rows = _fetch(
        f"""
        WITH mi AS (
            SELECT line_id, date_trunc('hour', minute, 'UTC') AS hour,
                   sum(count_in) AS n_in, sum(count_out) AS n_out
            FROM {LineMinuteRollup._meta.db_table}
            WHERE {mi_since} GROUP BY 1, 2),
        ho AS (SELECT line_id, hour, count_in, count_out
               FROM {LineHourRollup._meta.db_table} WHERE {ho_since})
        SELECT coalesce(mi.line_id, ho.line_id), coalesce(mi.hour, ho.hour),
               coalesce(mi.n_in, 0), coalesce(mi.n_out, 0), ho.count_in, ho.count_out
        FROM mi FULL OUTER JOIN ho ON mi.line_id = ho.line_id AND mi.hour = ho.hour
        WHERE ho.line_id IS NULL
           OR coalesce(mi.n_in, 0) <> ho.count_in OR coalesce(mi.n_out, 0) <> ho.count_out
        ORDER BY 2, 1""", params)

    def describe(row: tuple[Any, ...]) -> str:
        line_id, hour, n_in, n_out, h_in, h_out = row
        stored = "no hour row" if h_in is None else f"hour rollup in={h_in} out={h_out}"
        return (f"line {line_id} hour {hour:%Y-%m-%dT%H:00Z}: minutes sum in={n_in} "
                f"out={n_out}, {stored}")

    return _summarise(schema, "rollup_hour", rows, len(rows), describe)


def day_rollups_check(schema: str, since: datetime | None = None) -> list[Problem]:
    """Day rollups (local days of the line's site) against the sums of their minutes.

    With ``since``, only the days that start (in their site's timezone) at or after it are
    compared: an earlier day's minutes may be partly outside the range or removed by retention.
    """
    minutes, days = LineMinuteRollup._meta.db_table, LineDayRollup._meta.db_table
    cameras, sites = Camera._meta.db_table, Site._meta.db_table
    params: list[Any] = []
    mi_since = _since_clause("m.minute", since, params)
    day_since = "TRUE"
    if since is not None:
        params.append(since)
        day_since = ("(coalesce(mi.day, da.day)::timestamp AT TIME ZONE "
                     "coalesce(mi.tz, da.tz)) >= %s")
    rows = _fetch(
        f"""
        WITH mi AS (
            SELECT m.line_id, (m.minute AT TIME ZONE s.timezone)::date AS day, s.timezone AS tz,
                   sum(m.count_in) AS n_in, sum(m.count_out) AS n_out
            FROM {minutes} m JOIN {cameras} c ON c.id = m.camera_id
            JOIN {sites} s ON s.id = c.site_id
            WHERE {mi_since} GROUP BY 1, 2, 3),
        da AS (
            SELECT d.line_id, d.day, s.timezone AS tz, d.count_in, d.count_out
            FROM {days} d JOIN {cameras} c ON c.id = d.camera_id
            JOIN {sites} s ON s.id = c.site_id)
        SELECT coalesce(mi.line_id, da.line_id), coalesce(mi.day, da.day),
               coalesce(mi.n_in, 0), coalesce(mi.n_out, 0), da.count_in, da.count_out
        FROM mi FULL OUTER JOIN da ON mi.line_id = da.line_id AND mi.day = da.day
        WHERE (da.line_id IS NULL
               OR coalesce(mi.n_in, 0) <> da.count_in OR coalesce(mi.n_out, 0) <> da.count_out)
          AND {day_since}
        ORDER BY 2, 1""", params)

    def describe(row: tuple[Any, ...]) -> str:
        line_id, day, n_in, n_out, d_in, d_out = row
        stored = "no day row" if d_in is None else f"day rollup in={d_in} out={d_out}"
        return (f"line {line_id} local day {day:%Y-%m-%d}: minutes sum in={n_in} "
                f"out={n_out}, {stored}")

    return _summarise(schema, "rollup_day", rows, len(rows), describe)


def camera_mismatch_check(schema: str) -> list[Problem]:
    """Rows whose camera is not the camera of their line or zone."""
    lines = CountingLine._meta.db_table
    problems: list[Problem] = []
    for model, owner_table, fk in ((CountEvent, lines, "line_id"),
                                   (LineMinuteRollup, lines, "line_id"),
                                   (LineHourRollup, lines, "line_id"),
                                   (LineDayRollup, lines, "line_id"),
                                   (ZoneMinuteOccupancy, Zone._meta.db_table, "zone_id")):
        table = model._meta.db_table
        rows = _fetch(f"SELECT t.id, t.camera_id, t.{fk}, o.camera_id FROM {table} t "
                      f"JOIN {owner_table} o ON o.id = t.{fk} WHERE t.camera_id <> o.camera_id "
                      f"ORDER BY t.id LIMIT {EXAMPLES + 1}")
        if not rows:
            continue
        total = _fetch(f"SELECT count(*) FROM {table} t JOIN {owner_table} o ON o.id = t.{fk} "
                       "WHERE t.camera_id <> o.camera_id")[0][0]
        problems += _summarise(
            schema, "camera_mismatch", rows, int(total),
            lambda r, table=table, fk=fk: (f"{table} id {r[0]} has camera {r[1]} but its "
                                           f"{fk.removesuffix('_id')} {r[2]} belongs to "
                                           f"camera {r[3]}"))
    return problems


def orphan_permissions_check(schema: str) -> list[Problem]:
    """Per-object permissions (django-guardian) whose object no longer exists."""
    from guardian.models import GroupObjectPermission, UserObjectPermission

    problems: list[Problem] = []
    for perm_model in (UserObjectPermission, GroupObjectPermission):
        perm_table = perm_model._meta.db_table
        kinds = _fetch(f"SELECT DISTINCT c.id, c.app_label, c.model FROM {perm_table} p "
                       "JOIN django_content_type c ON c.id = p.content_type_id")
        for content_type_id, app_label, model_name in kinds:
            try:
                model = apps.get_model(app_label, model_name)
            except LookupError:
                rows = _fetch(f"SELECT id, object_pk FROM {perm_table} "
                              "WHERE content_type_id = %s ORDER BY id", [content_type_id])
            else:
                target = model._meta.db_table
                pk = model._meta.pk.column if model._meta.pk else "id"
                rows = _fetch(
                    f"SELECT p.id, p.object_pk FROM {perm_table} p WHERE p.content_type_id = %s "
                    f"AND NOT EXISTS (SELECT 1 FROM {target} t WHERE t.{pk}::text = p.object_pk)"
                    " ORDER BY p.id", [content_type_id])
            problems += _summarise(
                schema, "orphan_permission", rows, len(rows),
                lambda r, t=perm_table, a=app_label, m=model_name: (
                    f"{t} id {r[0]} grants on {a}.{m} {r[1]}, which does not exist"))
    return problems


def audit_chain_check(schema: str) -> list[Problem]:
    """The schema's audit trail against its chain head."""
    report = audit_verify_schema(schema=schema)
    return [] if report.ok else [Problem(schema, "audit_chain", report.problem)]


def default_partition_check(schema: str) -> list[Problem]:
    """Rows in a partitioned table's default partition: their time had no monthly partition
    (far past or future, or maintenance not running). They are counted like any other row,
    but retention cannot drop them with their month; the maintenance task moves them."""
    return [Problem(schema, "default_partition",
                    f"{rows} rows of {table} are in its default partition (their time has no "
                    "monthly partition): run `manage.py partitions_maintain` to move them into "
                    "their own, and check that the counting.partitions_maintain beat runs")
            for table, rows in default_rows(schema).items() if rows]


def tenant_check(schema: str, since: datetime | None = None) -> list[Problem]:
    """Every per-tenant check of ``schema`` (a tenant's schema name)."""
    with schema_context(schema):
        # Rows the retention job removed on purpose are not missing: the minutes are compared
        # with their events only after both marks, the hours with their minutes after the
        # minutes' mark (counting/retention.py).
        marks = retention_marks()
        minute_since = _latest(since, marks.get(EVENTS), marks.get(MINUTES))
        hour_since = _latest(since, marks.get(MINUTES))
        return (minute_rollups_check(schema, minute_since)
                + hour_rollups_check(schema, hour_since)
                + day_rollups_check(schema, hour_since)
                + camera_mismatch_check(schema) + orphan_permissions_check(schema)
                + default_partition_check(schema) + audit_chain_check(schema))


def _latest(*moments: datetime | None) -> datetime | None:
    known = [moment for moment in moments if moment is not None]
    return max(known) if known else None


def platform_check(tenant_schemas: list[str]) -> list[Problem]:
    """Schemas holding tenant tables without a tenant row, and tenant rows without a schema."""
    ledger = CountEvent._meta.db_table
    with schema_context("public"):
        holders = {str(name) for (name,) in _fetch(
            "SELECT table_schema FROM information_schema.tables WHERE table_name = %s "
            "AND table_schema <> 'public'", [ledger])}
        existing = {str(name) for (name,) in _fetch("SELECT nspname FROM pg_namespace")}
    known = set(tenant_schemas)
    problems = [Problem(schema, "orphan_schema", f"schema {schema} holds a ledger "
                        f"({ledger}) but no tenant row names it")
                for schema in sorted(holders - known)]
    problems += [Problem(schema, "missing_schema", f"tenant schema {schema} does not exist")
                 for schema in sorted(known - existing)]
    return problems
