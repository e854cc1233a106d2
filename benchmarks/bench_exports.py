"""Export cost: a year of hourly data of a site with 50 lines, as CSV, XLSX and PDF.

    DJANGO_SETTINGS_MODULE=config.settings.local .venv/bin/python -m benchmarks.bench_exports

Creates a throw-away tenant (one Paris site, 5 cameras of 10 counting lines, hour rollups for
every hour of 366 days: ~440,000 rows), then makes the export the ``/api/v1/exports/`` task
makes (analytics/reports: the API's answers read in chunks of whole local days, rows streamed
to a file) once per format, and prints seconds, rows, file size and peak Python memory
(tracemalloc, a second run) per format. The baseline, measured in the same run, is the reads
alone: the same chunked API answers, serialized and thrown away; the ratio says what writing
the format costs on top. Drops the tenant after.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

CAMERAS, LINES_PER_CAMERA = 5, 10


def _populate(tenant: Any) -> dict[str, Any]:
    from django.db import connection
    from django_tenants.utils import tenant_context

    from cameras.models import Camera, Site
    from counting.models import CountingLine, LineHourRollup

    with tenant_context(tenant):
        site = Site.objects.create(name="Flagship store", timezone="Europe/Paris")
        cameras = Camera.objects.bulk_create(
            [Camera(site=site, name=f"Camera {c}", stream_url="rtsp://10.0.0.1/", enabled=False)
             for c in range(CAMERAS)])
        CountingLine.objects.bulk_create(
            [CountingLine(camera=camera, name=f"Door {n}", x1=0.5, y1=0, x2=0.5, y2=1)
             for camera in cameras for n in range(LINES_PER_CAMERA)])
        table = connection.ops.quote_name(LineHourRollup._meta.db_table)
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table} (camera_id, line_id, hour, count_in, count_out) "
                "SELECT l.camera_id, l.id, h, (random() * 30)::int, (random() * 30)::int "
                "FROM counting_countingline l CROSS JOIN generate_series("
                "date_trunc('day', now()) - interval '367 days', date_trunc('day', now()), "
                "interval '1 hour') AS h")
            rows = cursor.rowcount
            cursor.execute(f"ANALYZE {table}")
        print(f"populated 1 site, {CAMERAS * LINES_PER_CAMERA} lines, {rows:,} hour rollups in "
              f"{time.perf_counter() - started:.1f} s")
        return {"site": site.pk}


def _measure(call: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    value = call()
    return time.perf_counter() - started, value


def _peak(call: Callable[[], Any]) -> float:
    tracemalloc.start()
    try:
        call()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--formats", default="csv,xlsx,pdf")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django_tenants.utils import tenant_context

    from analytics.reports.tables import export_table
    from analytics.reports.writers import export_write
    from benchmarks.throwaway import throwaway_tenant

    settings.DEBUG = False
    with throwaway_tenant() as tenant:
        made = _populate(tenant)
        tz = ZoneInfo("Europe/Paris")
        end = datetime.now(tz=tz).date()
        start = end - timedelta(days=args.days)
        params = {"site": str(made["site"]), "from": f"{start}T00:00:00",
                  "to": f"{end}T00:00:00", "bucket": "hour"}
        with tenant_context(tenant):
            owner = get_user_model().objects.get(username__startswith="o@")

            def read_only() -> int:
                table = export_table(kind="counts", user=owner, params=params, chunked=True)
                return sum(1 for _ in table.iter())

            def write(fmt: str) -> Callable[[], int]:
                def run() -> int:
                    table = export_table(kind="counts", user=owner, params=params,
                                         chunked=True)
                    with tempfile.TemporaryFile() as out:
                        rows = export_write(table, fmt, out)
                        out.seek(0, 2)
                        sizes[fmt] = out.tell()
                    return rows
                return run

            sizes: dict[str, int] = {}
            read_only()  # warm: connection, plans
            base_s, base_rows = _measure(read_only)
            base_peak = _peak(read_only)
            print(f"\n{args.days} days per hour of a site with {CAMERAS * LINES_PER_CAMERA} "
                  f"lines ({base_rows:,} rows)")
            print(f"{'what':28} {'seconds':>8} {'ratio':>6} {'rows':>7} {'file KB':>8} "
                  f"{'peak MB':>8}")
            print(f"{'reads only (baseline)':28} {base_s:8.2f} {1.0:6.1f} {base_rows:7,} "
                  f"{'-':>8} {base_peak:8.1f}")
            for fmt in args.formats.split(","):
                seconds, rows = _measure(write(fmt))
                peak = _peak(write(fmt))
                print(f"{fmt:28} {seconds:8.2f} {seconds / base_s:6.1f} {rows:7,} "
                      f"{sizes[fmt] / 1024:8.0f} {peak:8.1f}")
        print("\nseconds: one export, wall time; peak: Python allocations during a second run "
              "(tracemalloc); ratio: to the reads alone.")


if __name__ == "__main__":
    main()
