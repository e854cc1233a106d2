"""Backup, restore and retention of one tenant with N crossings (default one million).

    DJANGO_SETTINGS_MODULE=config.settings.local .venv/bin/python -m benchmarks.bench_data \
        [--events 1000000] [--cameras 10] [--days 60]

Fills a throw-away tenant with ``--events`` crossings spread evenly over ``--days`` days up to
now (with their minute and hour rollups, made in SQL as the ledger would have), then measures:

1. ``backup_tenant`` (time, archive size) against ``pg_dump -Fc`` of the same schema (baseline,
   run as the PostgreSQL superuser over trust auth);
2. ``restore_tenant`` of that archive as a second tenant;
3. retention with events and minute counts kept 30 days (half the rows go): the batched job on
   the source against one plain ``DELETE ... WHERE time < cut-off`` per table on the restored
   copy (baseline; same rows), and the longest lock the batched job held (one batch).

Both tenants are dropped afterwards. Prints seconds, sizes and per-million figures.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

FILL_CHUNK = 2_000_000  # events per INSERT (and per commit), so progress can be printed


def _months_back(start: Any) -> None:
    """Monthly partitions of the ledger and line minutes from ``start``'s month on (a new
    tenant has this month and the next ones), made by pg_partman as maintenance would."""
    from django.db import connection

    from counting.models import CountEvent, LineMinuteRollup
    from tenants.partitions import PARTMAN, partitioned_tables

    schema = connection.schema_name  # type: ignore[attr-defined]
    managed = partitioned_tables(schema)
    with connection.cursor() as cursor:
        cursor.execute("SELECT array_agg(m) FROM generate_series(date_trunc('month', "
                       "%s::timestamptz, 'UTC'), now(), interval '1 month') m", [start])
        months = cursor.fetchone()[0]
        for model in (CountEvent, LineMinuteRollup):
            table = model._meta.db_table
            if table in managed:
                cursor.execute(f"SELECT {PARTMAN}.create_partition_time(%s, %s::timestamptz[])",
                               [f"{schema}.{table}", months])


def _fill(cameras: list[Any], events: int, days: int) -> None:
    from django.db import connection, transaction
    from django.utils import timezone

    from counting.models import CountEvent, CountingLine, LineHourRollup, LineMinuteRollup

    end = timezone.now().replace(second=0, microsecond=0)
    start = end - timedelta(days=days)
    _months_back(start)
    pairs = list(CountingLine.objects.filter(camera__in=cameras).order_by("pk")
                 .values_list("camera_id", "pk"))
    ev, mi, ho = (CountEvent._meta.db_table, LineMinuteRollup._meta.db_table,
                  LineHourRollup._meta.db_table)
    began = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("SET statement_timeout = 0")
        cursor.execute("CREATE TEMP TABLE bench_pairs (n int, camera_id bigint, line_id bigint)")
        cursor.executemany("INSERT INTO bench_pairs VALUES (%s, %s, %s)",
                           [(i, c, line) for i, (c, line) in enumerate(pairs)])
    for first in range(1, events + 1, FILL_CHUNK):
        last = min(events, first + FILL_CHUNK - 1)
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {ev} (camera_id, line_id, direction, track_id, occurred_at, "
                "frame_index, score, model_version, rule_version, lease_generation, "
                "idempotency_key, recorded_at) "
                "SELECT p.camera_id, p.line_id, CASE WHEN g %% 2 = 0 THEN 'in' ELSE 'out' END, "
                "  g, %s + (g::float8 / %s) * (%s - %s), g, 0.9, 'bench', '1', 1, md5(g::text), "
                "  now() "
                "FROM generate_series(%s, %s) g JOIN bench_pairs p ON p.n = g %% %s",
                [start, events, end, start, first, last, len(pairs)])
        done = time.perf_counter() - began
        print(f"  filled {last:,} of {events:,} events in {done:.0f} s "
              f"({last / done:,.0f} events/s)", flush=True)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {mi} (camera_id, line_id, minute, count_in, count_out) "
            "SELECT camera_id, line_id, date_trunc('minute', occurred_at, 'UTC'), "
            "count(*) FILTER (WHERE direction = 'in'), count(*) FILTER (WHERE direction = 'out') "
            f"FROM {ev} GROUP BY 1, 2, 3")
        cursor.execute(
            f"INSERT INTO {ho} (camera_id, line_id, hour, count_in, count_out) "
            "SELECT camera_id, line_id, date_trunc('hour', minute, 'UTC'), sum(count_in), "
            f"sum(count_out) FROM {mi} GROUP BY 1, 2, 3")
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {ev}; ANALYZE {mi}; ANALYZE {ho}")
        cursor.execute("DROP TABLE bench_pairs")


def _rows(table: str) -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {table}")
        return int(cursor.fetchone()[0])


def _retention(source: Any, events: int) -> Any:
    """Run the retention job on ``source`` and print what it did, its longest statement (the
    longest lock it held) and the rows left; returns its report."""
    from django.db import connection
    from django_tenants.utils import tenant_context

    from counting.models import CountEvent
    from counting.retention import retention_enforce

    with tenant_context(source):
        longest = [0.0, ""]

        def timed(execute: Any, sql: str, params: Any, many: bool, ctx: Any) -> Any:
            began = time.perf_counter()
            try:
                return execute(sql, params, many, ctx)
            finally:
                took = time.perf_counter() - began
                if sql.startswith(("DELETE", "DROP", "LOCK")) and took > longest[0]:
                    longest[:] = [took, sql.split(" ", 2)[0]]

        with connection.execute_wrapper(timed):
            report = retention_enforce(tenant=source)
        left = _rows(CountEvent._meta.db_table)
    print(f"retention of {events:,} events (whole months dropped, the month across the cut-off "
          f"in batches of 5,000 rows per camera): {report.seconds:.1f} s, removed "
          f"{report.removed} (by dropping months: {report.partitions_dropped}), {left:,} events "
          f"left; longest statement (= longest lock) "
          f"{float(longest[0]) * 1000:.0f} ms ({longest[1]})", flush=True)
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--cameras", type=int, default=10)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--retention-only", action="store_true",
                        help="skip the backup timings (the copy for the baseline is still made)")
    parser.add_argument("--no-copy", action="store_true",
                        help="retention on the filled tenant only: no backup, no restored copy, "
                             "no plain-DELETE baseline (for 100 M events, whose copy would take "
                             "hours)")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection
    from django_tenants.utils import tenant_context

    from benchmarks.throwaway import throwaway_tenant
    from counting.models import CountEvent, LineMinuteRollup
    from tenants.models import Tenant
    from tenants.platform.backup import tenant_backup, tenant_restore
    from tenants.platform.services import tenant_delete
    from tests.api import factories

    per_m = 1_000_000 / args.events
    tmp = Path(tempfile.mkdtemp(prefix="bench-data-"))
    with throwaway_tenant() as tenant:
        with tenant_context(tenant):
            site = factories.SiteFactory()
            cameras = [factories.CameraFactory(site=site) for _ in range(args.cameras)]
            for camera in cameras:
                factories.LineFactory(camera=camera)
                factories.LineFactory(camera=camera)
            started = time.perf_counter()
            _fill(cameras, args.events, args.days)
            fill_s = time.perf_counter() - started
            minutes = _rows(LineMinuteRollup._meta.db_table)
        connection.set_schema_to_public()
        print(f"filled {args.events:,} events, {minutes:,} minute rollups over {args.days} days "
              f"on {args.cameras} cameras in {fill_s:.1f} s")
        if args.no_copy:
            Tenant.objects.filter(pk=tenant.pk).update(retention_days=args.days // 2,
                                                       minute_retention_days=args.days // 2)
            _retention(Tenant.objects.get(pk=tenant.pk), args.events)
            shutil.rmtree(tmp, ignore_errors=True)
            return

        backup = tenant_backup(slug=tenant.slug, path=tmp / "bench.tenant.tar")
        db = settings.DATABASES["default"]
        dump = tmp / "baseline.dump"
        started = time.perf_counter()
        if not args.retention_only:
            subprocess.run(["pg_dump", "-h", str(db["HOST"] or "127.0.0.1"), "-p",
                            str(db["PORT"] or 5432), "-U", "postgres", "-Fc", "-n",
                            tenant.schema_name, "-f", str(dump), str(db["NAME"])], check=True)
        dump_s = time.perf_counter() - started
        print(f"backup_tenant: {backup.seconds:.1f} s, {backup.bytes / 1e6:.1f} MB "
              f"({backup.seconds * per_m:.1f} s and {backup.bytes * per_m / 1e6:.1f} MB per "
              f"million events); pg_dump -Fc of the schema (baseline): {dump_s:.1f} s, "
              f"{dump.stat().st_size / 1e6 if dump.exists() else 0:.1f} MB; ratio backup/pg_dump "
              "time "
              f"{backup.seconds / dump_s:.2f}")

        copy_slug = f"{tenant.slug}_r"
        restored = tenant_restore(path=backup.path, slug=copy_slug,
                                  domain=f"{copy_slug.replace('_', '-')}.localhost")
        try:
            print(f"restore_tenant: {restored.seconds:.1f} s "
                  f"({restored.seconds * per_m:.1f} s per million events), "
                  f"{sum(restored.rows.values()):,} rows")

            for subject in (tenant, restored.tenant):
                Tenant.objects.filter(pk=subject.pk).update(retention_days=args.days // 2,
                                                            minute_retention_days=args.days // 2)
            report = _retention(Tenant.objects.get(pk=tenant.pk), args.events)
            with tenant_context(restored.tenant):
                cutoff = report.cutoffs["events"]
                started = time.perf_counter()
                with connection.cursor() as cursor:
                    cursor.execute("SET statement_timeout = 0")
                    cursor.execute(f"DELETE FROM {CountEvent._meta.db_table} "
                                   "WHERE occurred_at < %s", [cutoff])
                    plain_events = cursor.rowcount
                    cursor.execute(f"DELETE FROM {LineMinuteRollup._meta.db_table} "
                                   "WHERE minute < %s", [report.cutoffs["minutes"]])
                    plain_minutes = cursor.rowcount
                plain_s = time.perf_counter() - started
            print(f"baseline: one DELETE per table (one lock for all of it): {plain_s:.1f} s, "
                  f"removed events {plain_events:,}, minutes {plain_minutes:,}; ratio "
                  f"batched/plain {report.seconds / plain_s:.2f}; retention per million events "
                  f"removed {report.seconds * 1e6 / max(report.removed['events'], 1):.1f} s")
        finally:
            connection.set_schema_to_public()
            tenant_delete(slug=copy_slug)
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
