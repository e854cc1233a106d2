"""History page server time for a tenant with 50 sites, 500 cameras and a year of rollups.

    DJANGO_SETTINGS_MODULE=config.settings.local .venv/bin/python -m benchmarks.bench_history

Creates a throw-away tenant in the configured database (50 Paris sites of 10 cameras, one
counting line each, hour rollups for every opening hour 08:00-21:00 of the last 366 days:
~2.4 M rows), then requests pages through Django's test client in this process (real
PostgreSQL, whole middleware stack, no network) and prints p50/p95 per page with the ratio to
the baseline measured in the same run: ``/api/v1/counts/`` for the same site and range, the
read the page must make anyway. Also prints each page's HTML weight. Drops the tenant after.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

SITES, CAMERAS_PER_SITE = 50, 10


def _populate(tenant: Any) -> dict[str, Any]:
    from django.db import connection
    from django_tenants.utils import tenant_context

    from cameras.models import Camera, Site
    from counting.models import CountingLine, LineHourRollup

    with tenant_context(tenant):
        sites = Site.objects.bulk_create(
            [Site(name=f"Store {n:02d}", timezone="Europe/Paris") for n in range(SITES)])
        cameras = Camera.objects.bulk_create(
            [Camera(site=site, name=f"Store {s:02d} camera {c}", stream_url="rtsp://10.0.0.1/",
                    enabled=False)
             for s, site in enumerate(sites) for c in range(CAMERAS_PER_SITE)])
        CountingLine.objects.bulk_create(
            [CountingLine(camera=camera, name="Door", x1=0.5, y1=0, x2=0.5, y2=1)
             for camera in cameras])
        table = connection.ops.quote_name(LineHourRollup._meta.db_table)
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table} (camera_id, line_id, hour, count_in, count_out) "
                "SELECT l.camera_id, l.id, h, (random() * 30)::int, (random() * 30)::int "
                "FROM counting_countingline l CROSS JOIN generate_series("
                "date_trunc('hour', now()) - interval '366 days', date_trunc('hour', now()), "
                "interval '1 hour') AS h "
                "WHERE extract(hour FROM h AT TIME ZONE 'Europe/Paris') BETWEEN 8 AND 20")
            rows = cursor.rowcount
            cursor.execute(f"ANALYZE {table}")
        # The local-day rollups the ledger keeps beside the hours (day/week/month series).
        from counting.rollups import line_day_rollups_rebuild

        line_day_rollups_rebuild(camera_ids=[c.pk for c in cameras], timezone="Europe/Paris")
        print(f"populated {SITES} sites, {len(cameras)} cameras, {rows:,} hour rollups in "
              f"{time.perf_counter() - started:.1f} s")
        return {"sites": [s.pk for s in sites], "cameras": [c.pk for c in cameras]}


def _timed(call: Callable[[], Any], repeat: int) -> tuple[list[float], Any]:
    call()  # warm: templates, connection, plans
    times, last = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        last = call()
        times.append((time.perf_counter() - started) * 1000)
    return times, last


def _p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1] if len(values) >= 2 else values[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--profile", action="store_true",
                        help="also print where one 30-day hourly page spends its time")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django_tenants.utils import tenant_context

    from benchmarks.throwaway import throwaway_tenant

    settings.DEBUG = False  # no query log, templates as in production
    with throwaway_tenant() as tenant:
        made = _populate(tenant)
        domain = tenant.domains.first().domain
        with tenant_context(tenant):
            owner = get_user_model().objects.get(username__startswith="o@")
            client = Client(HTTP_HOST=domain)
            client.force_login(owner)
        site, sites = made["sites"][0], made["sites"]
        api = "/api/v1/counts/"
        cases: list[tuple[str, str, dict[str, Any], str, dict[str, Any]]] = [
            ("default view (first site, 7 days per day)", "/history/", {},
             api, {"site": site, "bucket": "day"}),
            ("site, last 30 days per hour (720 buckets)", "/history/",
             {"series": [f"site:{site}"], "range": "30d", "bucket": "hour"},
             api, {"site": site, "bucket": "hour"}),
            ("site, a year per day, with previous period", "/history/",
             {"series": [f"site:{site}"], "range": "custom", "start": "{year_start}",
              "end": "{today}", "bucket": "day", "compare": "on"},
             api, {"site": site, "bucket": "day"}),
            ("8 sites, last 30 days per day", "/history/",
             {"series": [f"site:{s}" for s in sites[:8]], "range": "30d", "bucket": "day"},
             api, {"site": site, "bucket": "day"}),
            ("CSV: site, a year per week", "/history/export.csv",
             {"series": [f"site:{site}"], "range": "custom", "start": "{year_start}",
              "end": "{today}", "bucket": "week"},
             api, {"site": site, "bucket": "week"}),
        ]
        from datetime import datetime, timedelta
        from zoneinfo import ZoneInfo

        today = datetime.now(tz=ZoneInfo("Europe/Paris")).date()
        year_start = today - timedelta(days=364)
        ranges = {"7d": (today - timedelta(days=6), today),
                  "30d": (today - timedelta(days=29), today),
                  "year": (year_start, today)}
        print(f"\n{'page':48} {'p50 ms':>8} {'p95 ms':>8} {'API p95':>8} {'ratio':>6} "
              f"{'HTML KB':>8}")
        for label, path, params, api_path, api_params in cases:
            params = {k: (v.format(today=today, year_start=year_start)
                          if isinstance(v, str) else v) for k, v in params.items()}
            key = "year" if "year" in label else ("30d" if "30" in label else "7d")
            first, last = ranges[key]
            api_query = {**api_params, "from": f"{first}T00:00:00",
                         "to": f"{last + timedelta(days=1)}T00:00:00"}
            page_times, response = _timed(lambda p=path, q=params: client.get(p, q),
                                          args.repeat)
            assert response.status_code == 200, (label, response.content[:300])
            api_times, api_response = _timed(lambda p=api_path, q=api_query: client.get(p, q),
                                             args.repeat)
            assert api_response.status_code == 200, (label, api_response.content[:300])
            ratio = _p95(page_times) / _p95(api_times)
            print(f"{label:48} {statistics.median(page_times):8.1f} {_p95(page_times):8.1f} "
                  f"{_p95(api_times):8.1f} {ratio:6.1f} {len(response.content) / 1024:8.1f}")
        if args.profile:
            import cProfile
            import pstats

            profiler = cProfile.Profile()
            profiler.enable()
            client.get("/history/", {"series": [f"site:{site}"], "range": "30d",
                                     "bucket": "hour"})
            profiler.disable()
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
        print(f"\n{args.repeat} requests per case after one warm-up; the API baseline reads "
              "one site's series for the same range (the page's own first read).")


if __name__ == "__main__":
    main()
