"""API throughput and latency, each beside a trivial Django view measured in the same run.

    DJANGO_SETTINGS_MODULE=config.settings.local .venv/bin/python -m benchmarks.bench_api

Creates a throw-away tenant with 10 cameras and 20 counting lines, fills a year of minute
rollups for every line (about 10.5 million rows, written by one INSERT ... SELECT over
generate_series in index order), then calls, through the full middleware stack in-process
(Django's WSGI handler via the test client, tenant resolved from the Host header, token
authentication):

* a trivial Django view (``HttpResponse("ok")``) and a trivial DRF view (no auth), the floor;
* ``GET /api/v1/cameras/``;
* ``GET /api/v1/counts/?site=...&bucket=hour`` over 30 days (720 buckets, 20 lines).

It prints requests per second (one client, sequential) and p50/p95 latency, then drops the
tenant. Numbers depend on the machine; compare rows of the same run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.urls import path

BENCH_PASSWORD = "Bench-Password-123"  # noqa: S105


def trivial(request: HttpRequest) -> HttpResponse:
    """The floor: a Django view that does nothing."""
    return HttpResponse("ok", content_type="text/plain")


def _trivial_drf() -> Any:
    from rest_framework.permissions import AllowAny
    from rest_framework.response import Response
    from rest_framework.views import APIView

    class TrivialApi(APIView):
        """The DRF floor: no authentication, no throttling, a constant body."""

        authentication_classes: list[Any] = []
        permission_classes = [AllowAny]
        throttle_classes: list[Any] = []

        def get(self, request: Any) -> Response:
            return Response({"ok": True})

    return TrivialApi.as_view()


def _urlpatterns() -> list[Any]:
    from config.urls_tenant import urlpatterns as tenant_patterns

    return [path("bench/trivial/", trivial), path("bench/trivial-drf/", _trivial_drf()),
            *tenant_patterns]


urlpatterns: list[Any] = []  # filled in main(), after Django is set up


def _measure(label: str, call: Callable[[], Any], requests: int, warmup: int = 5) -> dict[str, Any]:
    for _ in range(warmup):
        response = call()
        assert response.status_code == 200, (label, response.status_code, response.content[:200])
    latencies = []
    started = time.perf_counter()
    for _ in range(requests):
        t0 = time.perf_counter()
        response = call()
        latencies.append(time.perf_counter() - t0)
        assert response.status_code == 200
    total = time.perf_counter() - started
    latencies.sort()
    return {"label": label, "n": requests, "rps": requests / total,
            "p50_ms": statistics.median(latencies) * 1000,
            "p95_ms": latencies[max(0, int(len(latencies) * 0.95) - 1)] * 1000}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--days", type=int, default=365, help="days of minute rollups per line")
    parser.add_argument("--requests", type=int, default=300, help="requests per cheap endpoint")
    parser.add_argument("--count-requests", type=int, default=40,
                        help="requests of the 30-day hourly counts")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    for scope in ("USER", "TOKEN", "ANON"):  # measure the API, not the throttle's refusals
        os.environ[f"API_THROTTLE_{scope}"] = "100000000/min"
    import django

    django.setup()
    from django.conf import settings

    settings.ROOT_URLCONF = __name__
    urlpatterns[:] = _urlpatterns()
    settings.ALLOWED_HOSTS = ["*"]
    from django.db import connection
    from django.test import Client
    from django_tenants.utils import tenant_context

    from cameras.models import Camera, Site
    from counting.models import CountingLine, LineHourRollup, LineMinuteRollup
    from tenants.accounts.tokens import token_create
    from tenants.platform.services import public_tenant_ensure, tenant_create, tenant_delete

    public_tenant_ensure(domain=settings.PUBLIC_DOMAIN)
    slug = f"bench_{uuid.uuid4().hex[:8]}"
    host = f"{slug.replace('_', '-')}.localhost"
    created = tenant_create(name=slug, slug=slug, domain=host, owner_email=f"o@{host}",
                            owner_password=BENCH_PASSWORD)
    tenant = created.tenant
    try:
        with tenant_context(tenant):
            from django.contrib.auth import get_user_model

            owner = get_user_model().objects.get(username=f"o@{host}")
            site = Site.objects.create(name="Mall", timezone="Europe/Paris")
            cameras = [Camera.objects.create(site=site, name=f"Cam {i}",
                                             stream_url=f"rtsp://10.0.0.{i + 1}/s")
                       for i in range(10)]
            for i in range(20):
                CountingLine.objects.create(camera=cameras[i % 10], name=f"Line {i}",
                                            x1=0.1, y1=0.5, x2=0.9, y2=0.5)
            end = datetime.now(tz=UTC).replace(second=0, microsecond=0)
            start = end - timedelta(days=args.days)
            t0 = time.perf_counter()
            with connection.cursor() as cursor:
                minutes_t = LineMinuteRollup._meta.db_table
                hours_t = LineHourRollup._meta.db_table
                cursor.execute(
                    f"INSERT INTO {minutes_t} (line_id, camera_id, minute, "
                    "count_in, count_out) SELECT l.id, l.camera_id, m, "
                    "(random() * 3)::int, (random() * 3)::int FROM "
                    f"{CountingLine._meta.db_table} l, "
                    "generate_series(%s::timestamptz, %s::timestamptz - interval '1 minute', "
                    "interval '1 minute') AS m ORDER BY l.id, m", [start, end])
                rows = cursor.rowcount
                # The ledger keeps hour rollups beside the minutes; derive them the same way.
                cursor.execute(
                    f"INSERT INTO {hours_t} (line_id, camera_id, hour, count_in, "
                    "count_out) SELECT line_id, camera_id, date_trunc('hour', minute), "
                    f"sum(count_in), sum(count_out) FROM {minutes_t} "
                    "GROUP BY 1, 2, 3")
                cursor.execute(f"ANALYZE {minutes_t}")
                cursor.execute(f"ANALYZE {hours_t}")
            fill_s = time.perf_counter() - t0
            token = token_create(actor=owner, user=owner, name="bench").plaintext
        print(f"tenant {slug}: {rows:,} minute rollups for 20 lines over {args.days} days "
              f"written in {fill_s:.1f} s")

        client = Client(HTTP_HOST=host)
        auth = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
        window = {"site": site.pk, "bucket": "hour",
                  "from": (end - timedelta(days=30)).isoformat(), "to": end.isoformat()}
        sample = client.get("/api/v1/counts/", window, **auth).json()
        assert len(sample["results"]) in (720, 721), len(sample["results"])
        results = [
            _measure("trivial Django view", lambda: client.get("/bench/trivial/"),
                     args.requests),
            _measure("trivial DRF view", lambda: client.get("/bench/trivial-drf/"),
                     args.requests),
            _measure("GET /api/v1/cameras/ (10 cameras, token)",
                     lambda: client.get("/api/v1/cameras/", **auth), args.requests),
            _measure("trivial Django view (again)", lambda: client.get("/bench/trivial/"),
                     args.requests),
            _measure("GET /api/v1/counts/ 30 days hourly, 20 lines, 1 year of minutes",
                     lambda: client.get("/api/v1/counts/", window, **auth),
                     args.count_requests, warmup=2),
        ]
        print(f"{'endpoint':66} {'n':>5} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8}")
        for r in results:
            print(f"{r['label']:66} {r['n']:>5} {r['rps']:>8.1f} {r['p50_ms']:>8.2f} "
                  f"{r['p95_ms']:>8.2f}")
    finally:
        connection.set_schema_to_public()
        tenant_delete(slug=slug)


if __name__ == "__main__":
    main()
