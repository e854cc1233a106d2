"""The API under concurrent load on the production serving set-up (scripts/serve.sh: gunicorn
with uvicorn workers, pooled connections), loopback only, bounded in requests and time.

    DJANGO_SETTINGS_MODULE=config.settings.local .venv/bin/python -m benchmarks.bench_serving
    ... --workers 5 --concurrency 1 4 8 16 32 --seconds 10 --days 35

Creates a throw-away tenant with 10 cameras and 20 lines and ``--days`` of minute (and hour)
rollups, starts scripts/serve.sh on a free loopback port, then for each endpoint and each
number of concurrent clients (closed loop: each client sends its next request when the last
one is answered; aiohttp, one process) runs for ``--seconds`` or ``--max-requests``, and
prints requests per second, p50/p95/p99 latency, errors and the 1-minute load average.

Endpoints: ``/healthz`` (the floor: a Django view without database work, measured in the same
run), ``GET /api/v1/cameras/`` and ``GET /api/v1/counts/`` (30 days hourly of a site, 20
lines), token authentication, throttles raised out of the way. The verdict per endpoint is
the highest throughput whose p95 stays under ``--p95-ms`` (200). The load generator shares
the machine's cores with the server: its own CPU time is printed so the node's capacity can
be read with that in mind.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def _fill(tenant: Any, days: int) -> tuple[str, int, dict[str, str]]:
    """10 cameras, 20 lines, ``days`` of rollups; returns (token, site id, counts query)."""
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django_tenants.utils import tenant_context

    from cameras.models import Camera, Site
    from counting.models import CountingLine, LineHourRollup, LineMinuteRollup
    from tenants.accounts.tokens import token_create

    with tenant_context(tenant):
        owner = get_user_model().objects.get(is_superuser=False, email__startswith="o@")
        site = Site.objects.create(name="Mall", timezone="Europe/Paris")
        cameras = [Camera.objects.create(site=site, name=f"Cam {i}",
                                         stream_url=f"rtsp://10.0.0.{i + 1}/s")
                   for i in range(10)]
        for i in range(20):
            CountingLine.objects.create(camera=cameras[i % 10], name=f"Line {i}",
                                        x1=0.1, y1=0.5, x2=0.9, y2=0.5)
        end = datetime.now(tz=UTC).replace(second=0, microsecond=0)
        start = end - timedelta(days=days)
        # The cameras existed before their counts (else every bucket's quality would say "not
        # installed yet" for 10 cameras: a new node's first day, not the steady state).
        Camera.objects.filter(site=site).update(created_at=start - timedelta(days=1))
        minutes, hours = LineMinuteRollup._meta.db_table, LineHourRollup._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute("SET statement_timeout = 0")  # a million rows on a loaded machine
            cursor.execute(
                f"INSERT INTO {minutes} (line_id, camera_id, minute, count_in, count_out) "
                "SELECT l.id, l.camera_id, m, (random() * 3)::int, (random() * 3)::int FROM "
                f"{CountingLine._meta.db_table} l, generate_series(%s::timestamptz, "
                "%s::timestamptz - interval '1 minute', interval '1 minute') AS m "
                "ORDER BY l.id, m", [start, end])
            cursor.execute(
                f"INSERT INTO {hours} (line_id, camera_id, hour, count_in, count_out) "
                "SELECT line_id, camera_id, date_trunc('hour', minute, 'UTC'), sum(count_in), "
                f"sum(count_out) FROM {minutes} GROUP BY 1, 2, 3")
            cursor.execute(f"ANALYZE {minutes}")
            cursor.execute(f"ANALYZE {hours}")
        token = token_create(actor=owner, user=owner, name="bench").plaintext
    window = {"site": str(site.pk), "bucket": "hour",
              "from": (end - timedelta(days=30)).isoformat(), "to": end.isoformat()}
    return token, int(site.pk), window


def _serve(port: int, workers: int, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "WEB_BIND": f"127.0.0.1:{port}", "WEB_CONCURRENCY": str(workers),
           "DATABASE_POOL": "true", "DJANGO_DEBUG": "false", "WEB_LOG_LEVEL": "warning",
           "LOG_LEVEL": "WARNING", "VENV": str(REPO_ROOT / ".venv"),
           **{f"API_THROTTLE_{s}": "100000000/min"
              for s in ("USER", "TOKEN", "ANON", "TENANT", "TENANT_SERIES")}}
    process = subprocess.Popen(["bash", "scripts/serve.sh"], cwd=REPO_ROOT, env=env,
                               stdout=log.open("wb"), stderr=subprocess.STDOUT,
                               start_new_session=True)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"serve.sh exited: {log.read_text()}")
        children = Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text().split()
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            if len(children) >= workers:
                return process
        except OSError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"serve.sh did not start {workers} workers in 90 s: {log.read_text()}")


async def _load(url: str, headers: dict[str, str], params: dict[str, str] | None,
                clients: int, seconds: float, max_requests: int) -> dict[str, Any]:
    import aiohttp

    latencies: list[float] = []
    errors = 0
    sent = 0
    stop_at = time.monotonic() + seconds
    connector = aiohttp.TCPConnector(limit=clients, force_close=False)
    timeout = aiohttp.ClientTimeout(total=30)

    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        async def client() -> None:
            nonlocal errors, sent
            while time.monotonic() < stop_at and sent < max_requests:
                sent += 1
                t0 = time.perf_counter()
                try:
                    async with session.get(url, headers=headers, params=params) as response:
                        await response.read()
                        ok = response.status == 200
                except (aiohttp.ClientError, TimeoutError):
                    ok = False
                if ok:
                    latencies.append(time.perf_counter() - t0)
                else:
                    errors += 1

        started = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(clients)))
        elapsed = time.perf_counter() - started
    return {"n": len(latencies), "errors": errors, "rps": len(latencies) / elapsed,
            "p50": _percentile(latencies, 0.50) * 1000, "p95": _percentile(latencies, 0.95) * 1000,
            "p99": _percentile(latencies, 0.99) * 1000}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=(os.cpu_count() or 1) * 2 + 1)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 8, 16, 32])
    parser.add_argument("--seconds", type=float, default=10.0, help="per level, at most")
    parser.add_argument("--max-requests", type=int, default=5000, help="per level, at most")
    parser.add_argument("--days", type=int, default=35, help="days of minute rollups")
    parser.add_argument("--p95-ms", type=float, default=200.0)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    import django

    django.setup()
    from benchmarks.throwaway import throwaway_tenant

    with throwaway_tenant() as tenant:
        t0 = time.perf_counter()
        token, _, window = _fill(tenant, args.days)
        host = tenant.domains.first().domain
        print(f"tenant {tenant.schema_name}: 20 lines x {args.days} days of minute rollups in "
              f"{time.perf_counter() - t0:.1f} s; {args.workers} web workers on "
              f"{os.cpu_count()} cores")
        port = _free_port()
        log = REPO_ROOT / "var" / f"bench-serving-{port}.log"
        log.parent.mkdir(exist_ok=True)
        server = _serve(port, args.workers, log)
        try:
            base = f"http://127.0.0.1:{port}"
            headers = {"Host": host, "Authorization": f"Bearer {token}"}
            endpoints = [("GET /healthz (floor)", "/healthz", None),
                         ("GET /api/v1/cameras/", "/api/v1/cameras/", None),
                         ("GET /api/v1/counts/ 30 d hourly", "/api/v1/counts/", window)]
            print(f"{'endpoint':34} {'clients':>7} {'n':>6} {'err':>4} {'req/s':>8} "
                  f"{'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'load1':>6} {'gen cpu%':>8}")
            verdicts = []
            for label, path, params in endpoints:
                asyncio.run(_load(base + path, headers, params, 2, 2.0, 50))  # warm up
                best: dict[str, Any] | None = None
                for clients in args.concurrency:
                    usage0 = resource.getrusage(resource.RUSAGE_SELF)
                    wall0 = time.perf_counter()
                    r = asyncio.run(_load(base + path, headers, params, clients,
                                          args.seconds, args.max_requests))
                    usage1 = resource.getrusage(resource.RUSAGE_SELF)
                    cpu = ((usage1.ru_utime + usage1.ru_stime - usage0.ru_utime
                            - usage0.ru_stime) / (time.perf_counter() - wall0) * 100)
                    load1 = os.getloadavg()[0]
                    print(f"{label:34} {clients:>7} {r['n']:>6} {r['errors']:>4} "
                          f"{r['rps']:>8.1f} {r['p50']:>8.1f} {r['p95']:>8.1f} "
                          f"{r['p99']:>8.1f} {load1:>6.1f} {cpu:>8.0f}", flush=True)
                    if r["errors"] == 0 and r["p95"] < args.p95_ms and (
                            best is None or r["rps"] > best["rps"]):
                        best = {**r, "clients": clients}
                verdicts.append((label, best))
            floor = verdicts[0][1]
            print(f"\nhighest throughput with p95 < {args.p95_ms:.0f} ms (one node, "
                  f"{args.workers} workers, the load generator on the same cores):")
            for label, best in verdicts:
                if best is None:
                    print(f"  {label:34} none: p95 >= {args.p95_ms:.0f} ms at every level")
                    continue
                ratio = (f", {best['rps'] / floor['rps']:.2f} x the floor"
                         if floor and label != verdicts[0][0] else "")
                print(f"  {label:34} {best['rps']:8.1f} req/s at {best['clients']} clients "
                      f"(p95 {best['p95']:.1f} ms){ratio}")
        finally:
            os.killpg(server.pid, 15)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, 9)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
