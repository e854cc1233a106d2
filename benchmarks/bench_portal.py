"""Dashboard server time for a large tenant, and the page weight of the portal's pages.

    DJANGO_SETTINGS_MODULE=config.settings.local .venv/bin/python -m benchmarks.bench_portal

A throw-away tenant gets ``--sites`` sites (four timezones, one at +05:30), ``--cameras`` cameras
spread over them, one line and one zone per camera, hour rollups of every line for a year,
minute rollups of today and of the same weekday last week, and zone minutes of today. Then:

- ``site_summaries`` (the dashboard's reads) and the whole dashboard request (Django test
  client: middleware, permissions, template) are timed ``--repeat`` times: median and p95;
- the baseline, measured in the same run, is what the page would cost built from the existing
  per-site reads: ``analytics.series.line_count_series`` for today and the comparison day and
  ``counting.selectors.day_totals`` for every site;
- page weight: the HTML of the dashboard, a site page, a camera page and the editor, plus the
  CSS and JavaScript each loads (raw and gzip), as served from static/.
"""

from __future__ import annotations

import argparse
import gzip
import os
import re
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

TIMEZONES = ["Europe/London", "Europe/Berlin", "America/New_York", "Asia/Kolkata"]


def _timed(function: Callable[[], Any], repeat: int) -> tuple[float, float]:
    function()  # warm
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    times.sort()
    p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
    return statistics.median(times) * 1000, p95 * 1000


def _fill(sites: int, cameras: int, now: datetime) -> None:
    from django.db import connection

    from cameras.models import Camera, Site
    from counting.models import CountingLine, Zone

    site_rows = Site.objects.bulk_create(
        Site(name=f"Store {i:03d}", timezone=TIMEZONES[i % len(TIMEZONES)]) for i in range(sites))
    camera_rows = Camera.objects.bulk_create(
        Camera(site=site_rows[i % sites], name=f"Camera {i:04d}", stream_url="rtsp://10.0.0.1/",
               enabled=False, status="online") for i in range(cameras))
    CountingLine.objects.bulk_create(
        CountingLine(camera=camera, name="Door", x1=0.5, y1=0, x2=0.5, y2=1)
        for camera in camera_rows)
    Zone.objects.bulk_create(
        Zone(camera=camera, name="Floor", capacity=50,
             points=[[0.1, 0.1], [0.9, 0.1], [0.9, 0.9]]) for camera in camera_rows)
    hour = now.replace(minute=0, second=0, microsecond=0)
    minute = now.replace(second=0, microsecond=0)
    with connection.cursor() as cursor:
        # Filling takes longer than the web's statement timeout; the reads keep it.
        cursor.execute("SET statement_timeout = 0")
        # a year of hour rollups per line
        cursor.execute(
            "INSERT INTO counting_linehourrollup (camera_id, line_id, hour, count_in, count_out) "
            "SELECT l.camera_id, l.id, h, 5 + (extract(epoch FROM h)::bigint / 3600) %% 7, 3 "
            "FROM counting_countingline l, generate_series(%s::timestamptz - interval '365 days',"
            " %s::timestamptz, interval '1 hour') AS h", [hour, hour])
        # minutes of the last 26 hours and of the same 26 hours a week ago
        for shift in (timedelta(0), timedelta(days=7)):
            cursor.execute(
                "INSERT INTO counting_lineminuterollup (camera_id, line_id, minute, count_in, "
                "count_out) SELECT l.camera_id, l.id, m, 1, 0 FROM counting_countingline l, "
                "generate_series(%s::timestamptz - interval '26 hours', %s::timestamptz, "
                "interval '1 minute') AS m", [minute - shift, minute - shift])
        cursor.execute(
            "INSERT INTO counting_zoneminuteoccupancy (zone_id, camera_id, minute, samples, "
            "occupancy_sum, max_occupancy, entries, exits) SELECT z.id, z.camera_id, m, 60, "
            "600, 14, 2, 2 FROM counting_zone z, generate_series(%s::timestamptz - "
            "interval '26 hours', %s::timestamptz, interval '1 minute') AS m", [minute, minute])
        cursor.execute("ANALYZE")
        cursor.execute("RESET statement_timeout")


def _baseline(user: Any, now: datetime) -> None:
    """The dashboard's figures from the existing per-site reads (one site at a time)."""
    from analytics.series import line_count_series
    from cameras.local_time import local_day_bounds, local_today
    from cameras.selectors import camera_list_visible_to, site_list_visible_to
    from counting.models import CountingLine
    from counting.selectors import day_totals

    for site in site_list_visible_to(user=user):
        tz = ZoneInfo(site.timezone)
        cameras = list(camera_list_visible_to(user=user).filter(site=site)
                       .values_list("pk", flat=True))
        lines = list(CountingLine.objects.filter(camera_id__in=cameras)
                     .values_list("pk", flat=True))
        today = local_today(site_tz=site.timezone, now=now)
        for day in (today, today - timedelta(days=7)):
            start, end = local_day_bounds(site_tz=site.timezone, day=day)
            line_count_series(line_ids=lines, bucket="hour", start=start, end=end, tz=tz)
        day_totals(camera_ids=cameras, site_tz=site.timezone, day=today)


ASSET = re.compile(r'(?:src|href)="(/static/[^"]+)"')


def _weight(client: Any, path: str, static_root: Path) -> tuple[int, int, int, int]:
    response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    html = response.content
    raw = gz = 0
    for asset in sorted(set(ASSET.findall(html.decode()))):
        data = (static_root / asset.removeprefix("/static/")).read_bytes()
        raw += len(data)
        gz += len(gzip.compress(data))
    return len(html), len(gzip.compress(html)), raw, gz


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=50)
    parser.add_argument("--cameras", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django_tenants.utils import tenant_context

    from analytics.portal.selectors import site_summaries
    from benchmarks.throwaway import throwaway_tenant
    from cameras.models import Camera, Site

    settings.ALLOWED_HOSTS = ["*"]
    now = datetime.now(tz=UTC)
    with throwaway_tenant() as tenant, tenant_context(tenant):
        started = time.perf_counter()
        _fill(args.sites, args.cameras, now)
        print(f"filled {args.sites} sites, {args.cameras} cameras, a year of hour rollups in "
              f"{time.perf_counter() - started:.0f} s")
        owner = get_user_model().objects.get(username__startswith="o@")
        summaries = site_summaries(user=owner, now=now)
        assert len(summaries) == args.sites
        ours = _timed(lambda: site_summaries(user=owner), args.repeat)
        base = _timed(lambda: _baseline(owner, now), max(3, args.repeat // 4))
        client = Client(HTTP_HOST=tenant.domains.first().domain)
        client.force_login(owner)
        page = _timed(lambda: client.get("/"), args.repeat)
        print(f"{'':34} {'median ms':>10} {'p95 ms':>10}")
        print(f"{'dashboard reads (site_summaries)':34} {ours[0]:10.1f} {ours[1]:10.1f}")
        print(f"{'dashboard request (GET /)':34} {page[0]:10.1f} {page[1]:10.1f}")
        print(f"{'baseline: per-site series reads':34} {base[0]:10.1f} {base[1]:10.1f}")
        print(f"ratio baseline / ours (p95 of the reads): {base[1] / ours[1]:.1f}x")
        site = Site.objects.order_by("pk").first()
        camera = Camera.objects.order_by("pk").first()
        assert site is not None and camera is not None
        static_root = Path(settings.BASE_DIR) / "static"
        print(f"\n{'page weight (bytes)':24} {'HTML':>8} {'gzip':>7} {'CSS+JS':>8} {'gzip':>7}")
        for name, path in (("dashboard", "/"), ("site page", f"/sites/{site.pk}/"),
                           ("camera page", f"/cameras/{camera.pk}/"),
                           ("editor", f"/cameras/{camera.pk}/editor/"),
                           ("privacy settings", "/settings/privacy/")):
            html, html_gz, assets, assets_gz = _weight(client, path, static_root)
            print(f"{name:24} {html:8d} {html_gz:7d} {assets:8d} {assets_gz:7d}")


if __name__ == "__main__":
    main()
