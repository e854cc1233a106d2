"""Stream benchmarks (numbers to read, not tests):

    # commit-to-browser latency with 10 cameras publishing, through a real daphne server
    DJANGO_SETTINGS_MODULE=config.settings.local .venv/bin/python -m benchmarks.bench_streams \
        latency --cameras 10 --seconds 30
    # how many PETS-like streams one machine sustains at 5 analysed fps with frame age < 1 s
    .venv/bin/python -m benchmarks.bench_streams capacity --streams 2 4 6 --seconds 30

``latency`` creates a throw-away tenant (dropped afterwards), starts daphne on a free port,
connects one WebSocket client per camera (session cookie, Origin, Host of the tenant) and
commits crossings through the real ledger path from one thread per camera.
``capacity`` runs N stream processes (as N prefork children would) against the camera
simulator: live MJPEG source, YOLOX-Nano (torch, 1 thread), tracker and counters.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# -- latency ------------------------------------------------------------------------------------
def latency(cameras: int, seconds: float, rate: float) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    import django

    django.setup()
    import websockets
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django_tenants.utils import tenant_context

    from cameras.models import Camera, Site
    from counting.leases import lease_acquire
    from counting.ledger import LedgerBatch, LedgerEvent, ledger_write
    from counting.live.publish import publish_camera_counts
    from counting.models import CountingLine
    from tenants.platform.services import public_tenant_ensure, tenant_create, tenant_delete

    public_tenant_ensure(domain=settings.PUBLIC_DOMAIN)
    slug = f"bench_{uuid.uuid4().hex[:8]}"
    domain = f"{slug.replace('_', '-')}.localhost"
    tenant = tenant_create(name=slug, slug=slug, domain=domain, owner_email=f"o@{domain}",
                           owner_password="Bench-Password-123").tenant
    port = _free_port()
    env = dict(os.environ, DJANGO_SETTINGS_MODULE=os.environ["DJANGO_SETTINGS_MODULE"])
    daphne = subprocess.Popen([sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p",
                               str(port), "config.asgi:application"], cwd=REPO, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        with tenant_context(tenant):
            site = Site.objects.create(name="bench", timezone="Europe/London")
            cams = []
            for i in range(cameras):
                cam = Camera.objects.create(site=site, name=f"c{i}", stream_url="rtsp://x/")
                line = CountingLine.objects.create(camera=cam, name="l", x1=0.5, y1=0, x2=0.5,
                                                   y2=1)
                taken = lease_acquire(camera_id=cam.pk, owner="bench", ttl_s=3600)
                assert taken is not None
                cams.append((cam, line, taken.generation))
            client = Client(HTTP_HOST=domain)
            client.force_login(get_user_model().objects.get(username=f"o@{domain}"))
            cookie = client.cookies["sessionid"].value
        for _ in range(100):
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.1)

        committed: dict[str, float] = {}
        received: dict[str, float] = {}
        stop = threading.Event()

        def publisher(cam: Any, line: Any, generation: int) -> None:
            connection.set_tenant(tenant)
            seq = 0
            while not stop.is_set():
                seq += 1
                at = datetime.now(tz=UTC)
                event = LedgerEvent(line_id=line.pk, direction="in", track_id=seq,
                                    occurred_at=at, frame_index=seq)

                def on_commit(result: Any, at: datetime = at) -> None:
                    committed[at.isoformat()] = time.time()
                    publish_camera_counts(schema=tenant.schema_name, camera_id=cam.pk,
                                          site_id=site.pk, site_tz=site.timezone,
                                          events=result.inserted)

                ledger_write(LedgerBatch(camera_id=cam.pk, generation=generation, seq=seq,
                                         events=(event,)), on_commit=on_commit)
                stop.wait(1.0 / rate)
            connection.close()

        async def listen(cam_id: int, ready: asyncio.Event, done: asyncio.Event) -> None:
            # The URI carries the tenant's host name (Host header); host/port say where to
            # connect, so no DNS entry for *.localhost is needed.
            async with websockets.connect(
                    f"ws://{domain}:{port}/ws/cameras/{cam_id}/", host="127.0.0.1", port=port,
                    origin=f"http://{domain}",  # type: ignore[arg-type]
                    additional_headers={"Cookie": f"sessionid={cookie}"}) as ws:
                await ws.recv()  # snapshot
                ready.set()
                while not done.is_set():
                    try:
                        raw = await asyncio.wait_for(ws.recv(), 0.5)
                    except TimeoutError:
                        continue
                    now = time.time()
                    for e in json.loads(raw)["events"]:
                        received[e["at"]] = now

        async def run() -> None:
            done = asyncio.Event()
            readies = [asyncio.Event() for _ in cams]
            tasks = [asyncio.create_task(listen(c.pk, r, done))
                     for (c, _, _), r in zip(cams, readies, strict=True)]
            await asyncio.wait_for(asyncio.gather(*(r.wait() for r in readies)), 30)
            threads = [threading.Thread(target=publisher, args=c) for c in cams]
            for t in threads:
                t.start()
            await asyncio.sleep(seconds)
            stop.set()
            await asyncio.to_thread(lambda: [t.join() for t in threads])
            await asyncio.sleep(1.0)
            done.set()
            await asyncio.gather(*tasks)

        asyncio.run(run())
        lat = [(received[k] - committed[k]) * 1000 for k in committed if k in received]
        lost = len(committed) - len(lat)
        print(f"cameras {cameras}, {rate:g} commits/s each, {seconds:g}s: {len(committed)} "
              f"commits, {len(lat)} delivered, {lost} missing")
        print(f"commit-to-browser latency ms: p50 {statistics.median(lat):.1f}  "
              f"p95 {_pct(lat, 0.95):.1f}  max {max(lat):.1f}")
    finally:
        daphne.terminate()
        daphne.wait(timeout=10)
        connection.set_schema_to_public()
        tenant_delete(slug=slug)


# -- capacity -----------------------------------------------------------------------------------
def _stream_worker(url: str, model: str, seconds: float, fps: float, out: Any) -> None:
    sys.path.insert(0, str(REPO))
    from cameras.streams import stream_ffmpeg_options
    from counting.pipeline import CountingEngine, LineSpec, create_detector, open_source

    detector = create_detector(model, threads=1)
    engine = CountingEngine(detector, lines=[LineSpec(key="1", name="l", start=(0.5, 0.0),
                                                      end=(0.5, 1.0))], detect_fps=fps)
    source = open_source(url, live=True, ffmpeg_options=stream_ffmpeg_options(url))
    ages: list[float] = []
    analysed = 0
    cpu_started = time.process_time()  # every thread of this process: decoding included
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        frame = source.read(timeout_s=1.0)
        if frame is None:
            continue
        if engine.process(frame).analysed:
            analysed += 1
            ages.append(time.time() - frame.time)
    health = source.health()
    cpu = (time.process_time() - cpu_started) / seconds  # cores used by this stream
    source.close()
    out.put({"cpu": cpu, "fps": analysed / seconds,
             "p50": statistics.median(ages) if ages else None,
             "p95": _pct(ages, 0.95) if ages else None, "dropped": health.frames_dropped,
             "received": health.frames_received})


def capacity(counts: list[int], seconds: float, fps: float, video: str, model: str,
             source_fps: float) -> None:
    port = _free_port()
    # The source runs faster than the analysis rate: the sampler analyses frames 1/fps apart,
    # so a 7 fps source sampled at 5 fps yields only ~3.5 analysed fps (every other frame).
    sim = subprocess.Popen([sys.executable, str(REPO / "scripts" / "camera_simulator.py"),
                            "--video", video, "--port", str(port), "--fps", str(source_fps)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(4)
        url = f"http://127.0.0.1:{port}/video.mjpg"
        ctx = mp.get_context("spawn")
        for n in counts:
            out = ctx.Queue()
            procs = [ctx.Process(target=_stream_worker, args=(url, model, seconds, fps, out))
                     for _ in range(n)]
            for p in procs:
                p.start()
            results = [out.get(timeout=seconds + 120) for _ in procs]
            for p in procs:
                p.join()
            rates = [r["fps"] for r in results]
            p95s = [r["p95"] for r in results if r["p95"] is not None]
            ok = min(rates) >= 0.95 * fps and max(p95s) < 1.0
            cores = statistics.mean(r["cpu"] for r in results)
            print(f"{n} streams: analysed fps min {min(rates):.2f} mean "
                  f"{statistics.mean(rates):.2f}; frame age p50 "
                  f"{statistics.median([r['p50'] for r in results]):.3f}s worst p95 "
                  f"{max(p95s):.3f}s; CPU {cores:.2f} cores/stream (load-independent bound: "
                  f"{(os.cpu_count() or 1) / cores:.1f} streams on this machine) -> "
                  f"{'OK' if ok else 'overloaded'}")
    finally:
        sim.terminate()
        sim.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="what", required=True)
    lat = sub.add_parser("latency")
    lat.add_argument("--cameras", type=int, default=10)
    lat.add_argument("--seconds", type=float, default=30)
    lat.add_argument("--rate", type=float, default=2.0, help="commits per second per camera")
    cap = sub.add_parser("capacity")
    cap.add_argument("--streams", type=int, nargs="+", default=[2, 4, 6])
    cap.add_argument("--seconds", type=float, default=30)
    cap.add_argument("--fps", type=float, default=5.0)
    cap.add_argument("--source-fps", type=float, default=10.0)
    shared = Path(os.environ.get("SHARED_DIR", REPO.parent / "shared"))
    cap.add_argument("--video", default=str(shared / "video/PETS09-S2L1/PETS09-S2L1.mp4"))
    cap.add_argument("--model", default=str(shared / "models/yolox_nano.onnx"))
    args = parser.parse_args()
    if args.what == "latency":
        latency(args.cameras, args.seconds, args.rate)
    else:
        capacity(args.streams, args.seconds, args.fps, args.video, args.model,
                 args.source_fps)


if __name__ == "__main__":
    main()
