"""``/counts/`` series: rows read and time, before (minute rollups whenever a bucket boundary is
not a whole UTC hour) and after (whole hours from the hour rollups, only cut hours from the
minutes), on one line with a count in every minute of three years.

    DJANGO_SETTINGS_MODULE=config.settings.local .venv/bin/python -m benchmarks.bench_series

Creates a throw-away tenant in the configured database and drops it afterwards. Rows read are
the rows the scans returned (``EXPLAIN ANALYZE``: actual rows times loops of every scan node).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

SCANS = {"Seq Scan", "Index Scan", "Index Only Scan", "Bitmap Heap Scan"}


def _scanned(plan: dict[str, Any]) -> int:
    own = plan["Actual Rows"] * plan["Actual Loops"] if plan["Node Type"] in SCANS else 0
    return int(own) + sum(_scanned(child) for child in plan.get("Plans", []))


@contextmanager
def _captured() -> Iterator[list[tuple[str, Any]]]:
    from django.db import connection

    statements: list[tuple[str, Any]] = []

    def wrapper(execute: Callable[..., Any], sql: str, params: Any, many: bool,
                context: Any) -> Any:
        if sql.lstrip().upper().startswith("SELECT WIDTH_BUCKET"):
            statements.append((sql, params))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(wrapper):
        yield statements


def _rows_read(statements: list[tuple[str, Any]]) -> int:
    from django.db import connection

    total = 0
    with connection.cursor() as cursor:
        for sql, params in statements:
            cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql, params)
            document = cursor.fetchone()[0]
            plan = (document if isinstance(document, list) else __import__("json").loads(
                document))[0]["Plan"]
            total += _scanned(plan)
    return total


def _measure(function: Callable[..., Any], repeat: int, **kwargs: Any) -> tuple[float, int, Any]:
    function(**kwargs)  # warm the cache: both paths measured hot
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        result = function(**kwargs)
        times.append(time.perf_counter() - started)
    with _captured() as statements:
        function(**kwargs)
    return statistics.median(times), _rows_read(statements), result


def _fill(camera_id: int, line_id: int, start: datetime, end: datetime) -> None:
    """A count in every UTC minute of [start, end) and the hours summed from them."""
    from django.db import connection, transaction

    # 1.6 million rows can take longer than the web's statement timeout on a busy machine.
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL statement_timeout = 0")
        cursor.execute(
            "INSERT INTO counting_lineminuterollup (camera_id, line_id, minute, count_in, "
            "count_out) SELECT %s, %s, m, 1 + (extract(epoch FROM m)::bigint %% 3), "
            "extract(epoch FROM m)::bigint %% 2 FROM generate_series(%s::timestamptz, "
            "%s::timestamptz - interval '1 minute', interval '1 minute') AS m",
            [camera_id, line_id, start, end])
        cursor.execute(
            "INSERT INTO counting_linehourrollup (camera_id, line_id, hour, count_in, "
            "count_out) SELECT camera_id, line_id, date_trunc('hour', minute AT TIME ZONE 'UTC') "
            "AT TIME ZONE 'UTC', SUM(count_in), SUM(count_out) FROM counting_lineminuterollup "
            "WHERE line_id = %s GROUP BY 1, 2, 3", [line_id])
    with connection.cursor() as cursor:
        cursor.execute("SET statement_timeout = 0")
        cursor.execute("ANALYZE counting_lineminuterollup")
        cursor.execute("ANALYZE counting_linehourrollup")
        cursor.execute("RESET statement_timeout")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--timezone", default="Asia/Kolkata")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    import django

    django.setup()
    from django_tenants.utils import tenant_context

    from analytics.series import line_count_series
    from benchmarks.throwaway import throwaway_tenant
    from cameras.models import Camera, Site
    from counting.models import CountingLine
    from tests.api.series_reference import old_line_count_series

    tz = ZoneInfo(args.timezone)
    start, end = datetime(2024, 1, 1, tzinfo=tz), datetime(2027, 1, 1, tzinfo=tz)
    with throwaway_tenant() as tenant, tenant_context(tenant):
        site = Site.objects.create(name="b", timezone=args.timezone)
        camera = Camera.objects.create(site=site, name="b", stream_url="rtsp://10.0.0.1/")
        line = CountingLine.objects.create(camera=camera, name="l", x1=0, y1=0, x2=1, y2=1)
        filled = time.perf_counter()
        _fill(camera.pk, line.pk, start, end)
        print(f"filled three years of minutes in {time.perf_counter() - filled:.1f} s")
        query = {"line_ids": [line.pk], "bucket": "day", "start": start, "end": end, "tz": tz}
        old_s, old_rows, old = _measure(old_line_count_series, args.repeat, **query)
        new_s, new_rows, new = _measure(line_count_series, args.repeat, **query)
    assert new == old, "the new series differs from the old one"
    print(f"daily counts of one line, {start:%Y-%m-%d} .. {end:%Y-%m-%d}, {args.timezone} "
          f"({len(new)} buckets, median of {args.repeat})")
    print(f"before (minutes unless whole UTC hours): {old_rows:>9,} rows  {old_s:.3f} s")
    print(f"after  (hours + cut hours' minutes)    : {new_rows:>9,} rows  {new_s:.3f} s")
    print(f"ratio  rows {old_rows / max(new_rows, 1):.1f}x fewer, time "
          f"{old_s / new_s:.1f}x faster; answers identical")


if __name__ == "__main__":
    main()
