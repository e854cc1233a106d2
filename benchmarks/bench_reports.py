"""``/api/v1/counts/`` for reports: a year of days over 100 lines, and 30 days of hours at a
half-hour timezone, each with a baseline measured in the same run.

    DJANGO_SETTINGS_MODULE=config.settings.local .venv/bin/python -m benchmarks.bench_reports

1. **Year of days, 100 lines** (a Paris site, 10 cameras x 10 lines, hour rollups for 366 days
   and the local-day rollups derived from them): p50/p95 of ``GET /counts/?site=&bucket=day``
   through the whole stack (token, throttles, footfall, quality), against the baseline of the
   same series read from the hour rollups (the path before day rollups), both series-only.
   Target: API p95 < 100 ms.
2. **30 days of hours at Asia/Kolkata (+05:30)**, 20 lines with a count in every minute:
   every UTC hour is cut by a local hour boundary, so the series reads minutes; the baseline is
   the same request on a Paris site (whole hours from the hour rollups) in the same run.

Creates a throw-away tenant in the configured database and drops it afterwards; requests are
sequential, in-process (Django's test client, tenant from the Host header).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return statistics.median(ordered) * 1000, p95 * 1000


def _timed(call: Callable[[], Any], repeat: int) -> tuple[float, float]:
    call()  # warm: plans, caches, connection
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)
    return _percentiles(samples)


def _site(name: str, tz: str, cameras: int, lines_each: int, created: datetime) -> Any:
    from cameras.models import Camera, Site
    from counting.models import CountingLine

    site = Site.objects.create(name=name, timezone=tz)
    made = [Camera.objects.create(site=site, name=f"{name} cam {i}", enabled=False,
                                  stream_url=f"rtsp://10.0.0.{i + 1}/s")
            for i in range(cameras)]
    Camera.objects.filter(site=site).update(created_at=created)
    CountingLine.objects.bulk_create(
        [CountingLine(camera=camera, name=f"Line {j}", x1=0.1, y1=0.5, x2=0.9, y2=0.5)
         for camera in made for j in range(lines_each)])
    return site


def _fill_hours(site: Any, start: datetime, end: datetime) -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SET statement_timeout = 0")
        cursor.execute(
            "INSERT INTO counting_linehourrollup (line_id, camera_id, hour, count_in, count_out) "
            "SELECT l.id, l.camera_id, h, (random() * 40)::int, (random() * 40)::int "
            "FROM counting_countingline l JOIN cameras_camera c ON c.id = l.camera_id, "
            "generate_series(%s::timestamptz, %s::timestamptz - interval '1 hour', "
            "interval '1 hour') AS h WHERE c.site_id = %s", [start, end, site.pk])
        rows = cursor.rowcount
        cursor.execute("ANALYZE counting_linehourrollup")
        cursor.execute("RESET statement_timeout")
    return int(rows)


def _fill_minutes(site: Any, start: datetime, end: datetime) -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SET statement_timeout = 0")
        cursor.execute(
            "INSERT INTO counting_lineminuterollup (line_id, camera_id, minute, count_in, "
            "count_out) SELECT l.id, l.camera_id, m, (random() * 3)::int, (random() * 3)::int "
            "FROM counting_countingline l JOIN cameras_camera c ON c.id = l.camera_id, "
            "generate_series(%s::timestamptz, %s::timestamptz - interval '1 minute', "
            "interval '1 minute') AS m WHERE c.site_id = %s", [start, end, site.pk])
        rows = cursor.rowcount
        cursor.execute(
            "INSERT INTO counting_linehourrollup (line_id, camera_id, hour, count_in, count_out) "
            "SELECT m.line_id, m.camera_id, date_trunc('hour', m.minute), SUM(m.count_in), "
            "SUM(m.count_out) FROM counting_lineminuterollup m JOIN cameras_camera c "
            "ON c.id = m.camera_id WHERE c.site_id = %s GROUP BY 1, 2, 3", [site.pk])
        cursor.execute("ANALYZE counting_lineminuterollup")
        cursor.execute("ANALYZE counting_linehourrollup")
        cursor.execute("RESET statement_timeout")
    return int(rows)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--only", choices=["days", "hours"], help="run one of the two parts")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    for scope in ("USER", "TOKEN", "ANON", "TENANT", "TENANT_SERIES"):
        os.environ[f"API_THROTTLE_{scope}"] = "100000000/min"  # measure the API, not refusals
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django_tenants.utils import tenant_context

    from benchmarks.throwaway import throwaway_tenant
    from tenants.accounts.tokens import token_create

    settings.ALLOWED_HOSTS = ["*"]
    now = datetime.now(tz=UTC).replace(minute=0, second=0, microsecond=0)
    with throwaway_tenant() as tenant, tenant_context(tenant):
        owner = get_user_model().objects.filter(is_active=True).order_by("pk").first()
        token = token_create(actor=owner, user=owner, name="bench").plaintext
        host = tenant.domains.first().domain
        client = Client(HTTP_HOST=host)
        auth = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
        installed = now - timedelta(days=800)

        if args.only != "hours":
            _year_of_days(client, auth, owner, now, installed, args.requests)
        if args.only != "days":
            _month_of_hours(client, auth, now, installed, args.requests)


def _year_of_days(client: Any, auth: dict[str, str], owner: Any, now: datetime,
                  installed: datetime, requests: int) -> None:
    """Part 1: a year of days over 100 lines (API, and series against the hour baseline)."""
    from django.db import connection

    from analytics.footfall import site_footfall_sources
    from analytics.series import count_series
    from counting.rollups import line_day_rollups_rebuild

    paris = _site("Mall", "Europe/Paris", 10, 10, installed)
    tz = ZoneInfo("Europe/Paris")
    today = now.astimezone(tz).date()
    first = today - timedelta(days=364)
    started = time.perf_counter()
    hours = _fill_hours(paris, datetime.combine(first, datetime.min.time(), tz)
                        - timedelta(days=1), now + timedelta(hours=1))
    camera_ids = list(paris.cameras.values_list("pk", flat=True))
    line_day_rollups_rebuild(camera_ids=camera_ids, timezone="Europe/Paris")
    with connection.cursor() as cursor:  # the state autovacuum keeps: index-only scans
        cursor.execute("VACUUM ANALYZE counting_linedayrollup")
    print(f"year of days: 100 lines, {hours:,} hour rollups and their day rollups in "
          f"{time.perf_counter() - started:.1f} s")
    window = {"site": paris.pk, "from": first.isoformat(),
              "to": (today + timedelta(days=1)).isoformat(), "bucket": "day"}
    sample = client.get("/api/v1/counts/", window, **auth)
    assert sample.status_code == 200, sample.content[:300]
    api_p50, api_p95 = _timed(lambda: client.get("/api/v1/counts/", window, **auth),
                              requests)
    sources = site_footfall_sources(user=owner, site=paris).sources
    start = datetime.combine(first, datetime.min.time(), tz)
    end = datetime.combine(today + timedelta(days=1), datetime.min.time(), tz)
    query: dict[str, Any] = {"sources": sources, "bucket": "day", "start": start,
                             "end": end, "tz": tz}
    days = count_series(**query, day_rollups=True)
    assert days == count_series(**query, day_rollups=False), "day rollups differ"
    day_p50, day_p95 = _timed(lambda: count_series(**query, day_rollups=True),
                              requests)
    hour_p50, hour_p95 = _timed(lambda: count_series(**query, day_rollups=False),
                                max(5, requests // 4))
    print(f"  GET /counts/ site, {len(days)} days x 100 lines: p50 {api_p50:.1f} ms, "
          f"p95 {api_p95:.1f} ms (target < 100 ms), n={requests}")
    print(f"  series only, day rollups : p50 {day_p50:.1f} ms  p95 {day_p95:.1f} ms")
    print(f"  series only, hour rollups: p50 {hour_p50:.1f} ms  p95 {hour_p95:.1f} ms "
          "(baseline: the path before day rollups)")
    print(f"  ratio baseline / day rollups (p50): {hour_p50 / day_p50:.1f}x")


def _month_of_hours(client: Any, auth: dict[str, str], now: datetime, installed: datetime,
                    requests: int) -> None:
    """Part 2: 30 days of hours at +05:30 against a whole-hour zone, 20 lines each."""
    month_start = now - timedelta(days=30)
    rows = {}
    sites = {}
    for name, zone in (("Kolkata", "Asia/Kolkata"), ("Paris", "Europe/Paris")):
        sites[name] = _site(name, zone, 2, 10, installed)
        started = time.perf_counter()
        rows[name] = _fill_minutes(sites[name], month_start - timedelta(days=1), now)
        print(f"30 days of hours, {name}: {rows[name]:,} minute rollups (and hours) in "
              f"{time.perf_counter() - started:.1f} s")
    results = {}
    for name, site in sites.items():
        local = site.timezone
        local_now = now.astimezone(ZoneInfo(local)).replace(tzinfo=None)
        hourly = {"site": site.pk, "bucket": "hour",
                  "from": (local_now - timedelta(days=30)).strftime("%Y-%m-%dT%H:00:00"),
                  "to": local_now.strftime("%Y-%m-%dT%H:00:00")}
        response = client.get("/api/v1/counts/", hourly, **auth)
        assert response.status_code == 200, response.content[:300]
        results[name] = _timed(lambda q=hourly: client.get("/api/v1/counts/", q, **auth),
                               requests)
        print(f"  GET /counts/ site, 720 hours x 20 lines, {local}: p50 "
              f"{results[name][0]:.1f} ms, p95 {results[name][1]:.1f} ms")
    print(f"  ratio +05:30 / whole-hour baseline (p95): "
          f"{results['Kolkata'][1] / results['Paris'][1]:.1f}x")


if __name__ == "__main__":
    main()
