"""Alert evaluation and delivery, measured.

1. Evaluation cost per committed batch with 1,000 rules in a tenant
   (``analytics.alerts.triggers.on_batch``, what the short-queue worker runs per batch):
   - "one camera": 1,000 occupancy rules on one zone (thresholds 0..999, half of them holding);
   - "spread": 1,000 rules over 100 cameras (10 each), a batch of one camera;
   - "footfall": 1,000 footfall-above rules on one camera's line, 10 distinct periods;
   each against the baseline measured in the same run: the same evaluation with the rule index
   rebuilt on every batch (every enabled rule of the tenant loaded, as without the index).
2. Condition to e-mail: a rule with duration 0 fires on a committed batch; time from the
   commit (the condition holding for its duration) to the e-mail arriving at a real SMTP server
   (aiosmtpd on loopback), through the receiver, the evaluation task and the delivery task on a
   real Celery worker. Reported for the default digest window and for none (its floor).

    DJANGO_SETTINGS_MODULE=config.settings.local .venv/bin/python -m benchmarks.bench_alerts

Creates a throw-away tenant in the configured database and drops it afterwards.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def _timed(fn: Any, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        out.append((time.perf_counter() - start) * 1000)
    return out


def _report(name: str, fast: list[float], slow: list[float]) -> None:
    p50, p95 = statistics.median(fast), _pct(fast, 0.95)
    b50, b95 = statistics.median(slow), _pct(slow, 0.95)
    print(f"{name:<44} indexed p50 {p50:7.2f} ms p95 {p95:7.2f} ms | "
          f"rebuilt p50 {b50:7.2f} ms p95 {b95:7.2f} ms | ratio {b50 / p50:5.1f}x")


def bench_evaluation(tenant: Any, repeat: int) -> None:
    from django.db import connection
    from django_tenants.utils import tenant_context

    from analytics.alerts.index import rule_index_clear
    from analytics.alerts.models import Alert, AlertRule
    from analytics.alerts.triggers import on_batch
    from cameras.models import Camera, Site
    from counting.models import CountingLine, Zone

    with tenant_context(tenant):
        site = Site.objects.create(name="bench", timezone="Europe/Paris")
        cameras = [Camera.objects.create(site=site, name=f"c{i}",
                                         stream_url=f"rtsp://10.0.{i // 250}.{i % 250}/")
                   for i in range(101)]
        zones = [Zone.objects.create(camera=c, name="z", points=[[0, 0], [1, 0], [1, 1]])
                 for c in cameras]
        line = CountingLine.objects.create(camera=cameras[100], name="door", x1=0, y1=0,
                                           x2=1, y2=1)
        now = datetime.now(tz=UTC)

        def rules(specs: list[dict[str, Any]]) -> None:
            AlertRule.objects.all().delete()
            AlertRule.objects.bulk_create([AlertRule(name=f"r{i}", severity="warning",
                                                     cooldown_s=0, **spec)
                                           for i, spec in enumerate(specs)])
            rule_index_clear()

        def run(camera: Any, zone: Any, occupancy: float) -> None:
            on_batch(camera_id=camera.pk, occupancy={zone.pk: occupancy}, now=now,
                     site_id=site.pk)

        def rebuilt(camera: Any, zone: Any, occupancy: float) -> None:
            rule_index_clear()
            run(camera, zone, occupancy)

        print(f"evaluation per committed batch, {repeat} batches each "
              f"(PostgreSQL {connection.pg_version})")
        # one camera: 1,000 occupancy rules on one zone
        one = cameras[0]
        rules([{"kind": "occupancy_above", "scope": "zone", "site": site, "camera": one,
                "zone": zones[0], "threshold": float(i)} for i in range(1000)])
        first = _timed(lambda: run(one, zones[0], 500.0), 1)[0]
        opened = Alert.objects.filter(state="open").count()
        _report("one camera, 1,000 rules (steady)",
                _timed(lambda: run(one, zones[0], 500.0), repeat),
                _timed(lambda: rebuilt(one, zones[0], 500.0), repeat))
        print(f"{'':<44} first batch (opens {opened} alerts): {first:.0f} ms")
        Alert.objects.all().delete()
        # spread: 10 rules on each of 100 cameras; a batch of one of them
        rules([{"kind": "occupancy_above", "scope": "zone", "site": site, "camera": cameras[i],
                "zone": zones[i], "threshold": float(j * 10)}
               for i in range(100) for j in range(10)])
        run(cameras[7], zones[7], 45.0)
        _report("spread, 1,000 rules on 100 cameras",
                _timed(lambda: run(cameras[7], zones[7], 45.0), repeat),
                _timed(lambda: rebuilt(cameras[7], zones[7], 45.0), repeat))
        Alert.objects.all().delete()
        # footfall: 1,000 rules on one line, 10 distinct periods covering now
        local = now.astimezone(site_tz := __import__("zoneinfo").ZoneInfo("Europe/Paris"))
        starts = [(local - timedelta(minutes=10 * (k + 1))).time().replace(second=0,
                                                                           microsecond=0)
                  for k in range(10)]
        if any(s >= dtime(23, 0) or s > local.time() for s in starts):
            print("footfall: skipped (too close to the site's midnight)")
        else:
            rules([{"kind": "footfall_above", "scope": "line", "site": site,
                    "camera": cameras[100], "line": line, "threshold": 1e9,
                    "period_start": starts[i % 10], "period_end": dtime(23, 59)}
                   for i in range(1000)])
            run(cameras[100], zones[100], 0.0)
            _report("footfall, 1,000 rules on one line",
                    _timed(lambda: run(cameras[100], zones[100], 0.0), repeat),
                    _timed(lambda: rebuilt(cameras[100], zones[100], 0.0), repeat))
        del site_tz
        AlertRule.objects.all().delete()
        Alert.objects.all().delete()


def bench_latency(tenant: Any, trials: int) -> None:
    """Condition (commit) to e-mail, through a real worker and SMTP server."""
    from aiosmtpd.controller import Controller
    from django.conf import settings
    from django.db import connection
    from django_tenants.utils import tenant_context

    from analytics.alerts.models import Alert, AlertRule
    from analytics.alerts.receivers import event_rules_cache_clear
    from cameras.models import Camera, Site
    from counting.leases import lease_acquire
    from counting.ledger import LedgerBatch, ledger_write
    from counting.models import Zone
    from counting.rollups import ZoneMinute, minute_of

    arrivals: dict[str, float] = {}

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
            for rcpt in envelope.rcpt_tos:
                arrivals[rcpt] = time.perf_counter()
            return "250 OK"

    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    params = connection.settings_dict
    db_url = (f"postgres://{params['USER'] or 'postgres'}@{params['HOST'] or '127.0.0.1'}:"
              f"{params['PORT'] or 5432}/{params['NAME']}")
    try:
        for window in (settings.ALERTS_DIGEST_WINDOW_S, 0.0):
            queue = f"bench-alerts-{uuid.uuid4().hex[:8]}"
            settings.ALERTS_QUEUE = settings.ALERTS_EVALUATION_QUEUE = queue
            settings.ALERTS_DIGEST_WINDOW_S = window
            env = {**os.environ, "DATABASE_URL": db_url, "ALERTS_QUEUE": queue,
                   "ALERTS_EVALUATION_QUEUE": queue, "EMAIL_HOST": "127.0.0.1",
                   "EMAIL_PORT": str(port), "ALERTS_DIGEST_WINDOW_S": str(window),
                   "LOG_LEVEL": "WARNING"}
            log = open(REPO / "var" / f"bench-{queue}.log", "wb")  # noqa: SIM115
            worker = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", queue,
                 "-n", f"{queue}@%h", "--concurrency", "2", "--without-gossip",
                 "--without-mingle", "-l", "INFO"], cwd=REPO, env=env, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True)
            try:
                deadline = time.monotonic() + 60
                while b" ready." not in (REPO / "var" / f"bench-{queue}.log").read_bytes():
                    if time.monotonic() > deadline:
                        raise RuntimeError("the worker did not start")
                    time.sleep(0.2)
                latencies = []
                with tenant_context(tenant):
                    site = Site.objects.create(name=f"lat {window}")
                    camera = Camera.objects.create(site=site, name="lat",
                                                   stream_url="rtsp://10.9.0.1/")
                    zone = Zone.objects.create(camera=camera, name="z", capacity=1,
                                               points=[[0, 0], [1, 0], [1, 1]])
                    lease = lease_acquire(camera_id=camera.pk, owner="bench", ttl_s=600)
                    assert lease is not None
                    seq = 0
                    for trial in range(trials):
                        address = f"t{trial}-{uuid.uuid4().hex[:6]}@bench.test"
                        AlertRule.objects.filter(zone=zone).delete()
                        Alert.objects.filter(camera=camera).update(state="resolved")
                        AlertRule.objects.create(name=f"lat{trial}", kind="occupancy_above",
                                                 scope="zone", site=site, camera=camera,
                                                 zone=zone, threshold=1, duration_s=0,
                                                 cooldown_s=0, emails=[address])
                        event_rules_cache_clear()
                        seq += 1
                        at = datetime.now(tz=UTC)
                        ledger_write(LedgerBatch(
                            camera_id=camera.pk, generation=lease.generation, seq=seq,
                            zones=(ZoneMinute(zone_id=zone.pk, minute=minute_of(at),
                                              samples=1, occupancy_sum=3, max_occupancy=3),)))
                        committed = time.perf_counter()
                        deadline = time.monotonic() + 30
                        while address not in arrivals and time.monotonic() < deadline:
                            time.sleep(0.005)
                        if address in arrivals:
                            latencies.append((arrivals[address] - committed) * 1000)
                print(f"condition to e-mail, digest window {window:.1f} s, {len(latencies)} of "
                      f"{trials}: p50 {statistics.median(latencies):.0f} ms, "
                      f"p95 {_pct(latencies, 0.95):.0f} ms, max {max(latencies):.0f} ms")
            finally:
                os.killpg(worker.pid, 15)
                worker.wait(timeout=30)
                log.close()
                from config.celery import app

                with app.connection_for_write() as conn:
                    conn.default_channel.queue_delete(queue)
    finally:
        controller.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--skip-latency", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    import django

    django.setup()
    from benchmarks.throwaway import throwaway_tenant

    (REPO / "var").mkdir(exist_ok=True)
    with throwaway_tenant() as tenant:
        bench_evaluation(tenant, args.repeat)
        if not args.skip_latency:
            bench_latency(tenant, args.trials)


if __name__ == "__main__":
    main()
