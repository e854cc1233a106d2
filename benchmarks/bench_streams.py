"""Stream benchmarks (numbers to read, not tests):

    # commit-to-browser latency with 10 cameras publishing, through a real daphne server
    DJANGO_SETTINGS_MODULE=config.settings.local .venv/bin/python -m benchmarks.bench_streams \
        latency --cameras 10 --seconds 30
    # how many PETS-like streams one machine sustains at 5 analysed fps with frame age < 1 s,
    # with a detector per stream process ("local") and through the node's inference service
    .venv/bin/python -m benchmarks.bench_streams capacity --streams 10 20 --seconds 30 \
        --mode local service

``latency`` creates a throw-away tenant (dropped afterwards), starts daphne on a free port,
connects one WebSocket client per camera (session cookie, Origin, Host of the tenant) and
commits crossings through the real ledger path from one thread per camera.
``capacity`` runs N stream processes (as N prefork children would) against the camera
simulator: live MJPEG source, YOLOX-Nano, tracker and counters. Mode ``local``: each process
loads its own torch detector (1 thread), as with ``COUNTING_INFERENCE=local``. Mode
``service``: one ``counting.inference.server`` (preloaded; ``--service-layout 2x1 1x2``
compares batch workers x torch threads, each layout its own service) serves every process,
whose detector is an ``InferenceDetector`` (streams spread over three tenants), as with
``COUNTING_INFERENCE=service``. For each N the modes run one after the other in the same run,
and the last line gives the ratio of the two. Memory is the proportional set size (PSS: shared
pages split between the processes that map them) per stream, the service's included.
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
def _pss_mb(pid: int | str = "self") -> float:
    """Proportional set size of a process in MB (shared pages split among their users)."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _stream_worker(url: str, model: str, seconds: float, fps: float, out: Any,
                   socket_path: str = "", index: int = 0, precision: str = "float32") -> None:
    sys.path.insert(0, str(REPO))
    from cameras.streams import stream_ffmpeg_options
    from counting.pipeline import CountingEngine, LineSpec, create_detector, open_source

    if socket_path:
        from counting.inference import InferenceDetector, InferenceError
        from counting.pipeline.detectors import DetectorSpec

        spec = DetectorSpec(model_path=model, precision=precision)
        detector: Any = InferenceDetector(spec, socket_path=socket_path,
                                          tenant=f"tenant{index % 3}", camera=str(index),
                                          timeout_s=30)
        unavailable: tuple[type[BaseException], ...] = (InferenceError,)
    else:
        detector = create_detector(model, threads=1, precision=precision)
        unavailable = ()
    engine = CountingEngine(detector, lines=[LineSpec(key="1", name="l", start=(0.5, 0.0),
                                                      end=(0.5, 1.0))], detect_fps=fps)
    source = open_source(url, live=True, ffmpeg_options=stream_ffmpeg_options(url))
    ages: list[float] = []
    analysed = errors = 0
    cpu_started = time.process_time()  # every thread of this process: decoding included
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        frame = source.read(timeout_s=1.0)
        if frame is None:
            continue
        try:
            result = engine.process(frame)
        except unavailable:
            errors += 1
            continue
        if result.analysed:
            analysed += 1
            ages.append(time.time() - frame.time)
    health = source.health()
    cpu = (time.process_time() - cpu_started) / seconds  # cores used by this stream
    pss = _pss_mb()
    source.close()
    if socket_path:
        detector.close()
    out.put({"cpu": cpu, "fps": analysed / seconds, "pss": pss, "errors": errors,
             "p50": statistics.median(ages) if ages else None,
             "p95": _pct(ages, 0.95) if ages else None, "dropped": health.frames_dropped,
             "received": health.frames_received})


def _start_service(model: str, socket_path: str, layout: str,
                   precision: str = "float32") -> subprocess.Popen[bytes]:
    """The service with ``layout`` "WORKERSxTHREADS" ("default": the service's own choice)."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    layout_args: list[str] = []
    if layout != "default":
        workers, threads = layout.split("x")
        layout_args = ["--workers", workers, "--threads", threads]
    spec = json.dumps({"model_path": model, "precision": precision})
    proc = subprocess.Popen([sys.executable, "-m", "counting.inference.server", "--socket",
                             socket_path, "--preload", spec, *layout_args], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the inference service exited with {proc.returncode}")
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
            try:
                probe.connect(socket_path)
                return proc
            except OSError:
                time.sleep(0.2)
    raise RuntimeError("the inference service did not listen within 300 s")


def _service_stats(socket_path: str) -> dict[str, Any]:
    sys.path.insert(0, str(REPO))
    from counting.inference.protocol import recv_message, send_message

    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(30)
        sock.connect(socket_path)
        send_message(sock, {"op": "stats"})
        reply = recv_message(sock)
    assert reply is not None
    return reply[0]


def _capacity_run(n: int, mode: str, url: str, model: str, seconds: float, fps: float,
                  socket_path: str, service: subprocess.Popen[bytes] | None,
                  precision: str = "float32") -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    sock = socket_path if mode.startswith("service") else ""
    procs = [ctx.Process(target=_stream_worker,
                         args=(url, model, seconds, fps, out, sock, i, precision))
             for i in range(n)]
    service_cpu = _cpu_s(service.pid) if service is not None else 0.0
    before = _service_stats(socket_path) if service is not None else {}
    for p in procs:
        p.start()
    results = [out.get(timeout=seconds + 300) for _ in procs]
    for p in procs:
        p.join()
    rates = [r["fps"] for r in results]
    p95s = [r["p95"] for r in results if r["p95"] is not None] or [float("inf")]
    ok = min(rates) >= 0.95 * fps and max(p95s) < 1.0
    # The service's CPU over the run (it includes the processes' start-up) is split per stream.
    extra_cpu = ((_cpu_s(service.pid) - service_cpu) / seconds / n) if service else 0.0
    extra_pss = _pss_mb(service.pid) / n if service else 0.0
    batches = ""
    if service is not None:
        after = _service_stats(socket_path)
        frames = after["frames"] - before["frames"]
        runs = max(1, after["batches"] - before["batches"])
        busy = after["busy_s"] - before["busy_s"]
        batches = (f"; service ({after.get('workers', 1)} workers x {after['threads']} "
                   f"threads): {frames} frames in {runs} batches (mean {frames / runs:.1f}), "
                   f"{1000 * busy / max(1, frames):.1f} ms of detector time per frame")
    cores = statistics.mean(r["cpu"] for r in results) + extra_cpu
    pss = statistics.mean(r["pss"] for r in results) + extra_pss
    print(f"{mode:14} {n:3} streams: analysed fps min {min(rates):.2f} mean "
          f"{statistics.mean(rates):.2f}; frame age p50 "
          f"{statistics.median([r['p50'] or 0.0 for r in results]):.3f}s worst p95 "
          f"{max(p95s):.3f}s; CPU {cores:.2f} cores/stream; PSS {pss:.0f} MB/stream; "
          f"detect errors {sum(r['errors'] for r in results)} -> "
          f"{'OK' if ok else 'overloaded'}{batches}", flush=True)
    return {"min_fps": min(rates), "mean_fps": statistics.mean(rates), "p95": max(p95s),
            "cores": cores, "pss": pss, "ok": ok}


def capacity(counts: list[int], seconds: float, fps: float, video: str, model: str,
             source_fps: float, modes: list[str], layouts: list[str],
             precision: str = "float32") -> None:
    port = _free_port()
    # The source runs faster than the analysis rate (10 fps by default; a 7 fps source gives 5
    # analysed fps too, 5 frames of 7, but fewer decodes: docs/streams.md).
    sim = subprocess.Popen([sys.executable, str(REPO / "scripts" / "camera_simulator.py"),
                            "--video", video, "--port", str(port), "--fps", str(source_fps)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # One service per layout, started one after the other (a service idles between its runs).
    runs = ["local"] if "local" in modes else []
    runs += [f"service {layout}" for layout in layouts] if "service" in modes else []
    print(f"load average at start: {os.getloadavg()[0]:.1f} ({os.cpu_count()} cores); "
          f"detector precision {precision}")
    try:
        time.sleep(4)
        url = f"http://127.0.0.1:{port}/video.mjpg"
        for n in counts:
            got: dict[str, dict[str, Any]] = {}
            for run in runs:
                socket_path = f"/tmp/bench-inference-{os.getpid()}.sock"
                service = (_start_service(model, socket_path, run.split()[1], precision)
                           if run != "local" else None)
                try:
                    got[run] = _capacity_run(n, run, url, model, seconds, fps, socket_path,
                                             service, precision)
                finally:
                    if service is not None:
                        service.terminate()
                        service.wait(timeout=10)
            if "local" in got:
                loc = got["local"]
                for run, srv in got.items():
                    if run != "local":
                        print(f"        {n:3} streams: {run} / local: mean analysed fps "
                              f"{srv['mean_fps'] / loc['mean_fps']:.2f}x, CPU per stream "
                              f"{srv['cores'] / loc['cores']:.2f}x, PSS per stream "
                              f"{srv['pss'] / loc['pss']:.2f}x; load average now "
                              f"{os.getloadavg()[0]:.1f}", flush=True)
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
    cap.add_argument("--streams", type=int, nargs="+", default=[10, 20])
    cap.add_argument("--seconds", type=float, default=30)
    cap.add_argument("--fps", type=float, default=5.0)
    cap.add_argument("--source-fps", type=float, default=10.0)
    cap.add_argument("--mode", nargs="+", choices=["local", "service"],
                     default=["local", "service"])
    cap.add_argument("--service-layout", nargs="+", default=["default"],
                     help="service batch workers x torch threads each, e.g. 2x1 1x2 "
                          "(default: the service's own, one 1-thread worker per core)")
    shared = Path(os.environ.get("SHARED_DIR", REPO.parent / "shared"))
    cap.add_argument("--video", default=str(shared / "video/PETS09-S2L1/PETS09-S2L1.mp4"))
    cap.add_argument("--model", default=str(shared / "models/yolox_nano.onnx"))
    cap.add_argument("--precision", choices=["float32", "bfloat16"], default="float32",
                     help="torch detector precision (bfloat16: AMX CPUs; docs/pipeline.md)")
    args = parser.parse_args()
    if args.what == "latency":
        latency(args.cameras, args.seconds, args.rate)
    else:
        capacity(args.streams, args.seconds, args.fps, args.video, args.model,
                 args.source_fps, args.mode, args.service_layout, args.precision)


if __name__ == "__main__":
    main()
