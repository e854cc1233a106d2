"""Live cameras on one node through the real system (numbers to read, not a test):

    .venv/bin/python -m benchmarks.bench_node --cameras 10 20 --seconds 60 \
        --mode local service [--detect-fps 5] [--precision bfloat16]

For each number of cameras and each inference mode, in the same run: a throw-away database
(from the template) with one tenant, one camera simulator playing PETS09-S2L1 at
``--source-fps`` to every camera (10 by default; PETS's own 7 also gives 5 analysed frames a
second, 5 of every 7, with fewer decodes), a real stream worker (Celery, ``--concurrency`` =
cameras, ``COUNTING_INFERENCE`` = the mode) with the short-task worker and beat that dispatch the
cameras, every camera with two counting lines writing through the ledger. Once every camera is
online, the cameras' health rows (what the runners report every 2 s) are sampled for
``--seconds``: analysed fps (mean and the slowest camera), frame age (p95 over the samples, the
worst camera), crossings stored in the ledger meanwhile, and the memory (PSS) of the stream
worker with its children (and the inference service) per camera. A camera is "OK" at the target
when its analysed rate is at least 95 % of ``--detect-fps`` and its frame age p95 under 1 s.
Everything it made (workers, simulator, queues, database) is removed at the end.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from benchmarks.bench_streams import _pss_mb
from benchmarks.soak_faults import (
    Service,
    database_create,
    database_drop,
    database_tenant,
    environ_for,
    log,
    queues_delete,
    start_service,
)

REPO = Path(__file__).resolve().parent.parent


def _tree(pid: int) -> list[int]:
    """The process and all its descendants."""
    try:
        kids = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        kids = []
    return [pid] + [found for kid in kids for found in _tree(int(kid))]


def _cameras_make(tenant: Any, n: int, url: str, detect_fps: float, label: str) -> list[int]:
    from django_tenants.utils import tenant_context

    from cameras.services import camera_create, site_create
    from counting.services import counting_line_create

    with tenant_context(tenant):
        site = site_create(actor=None, name=f"Node bench {label}", timezone="UTC")
        ids = []
        for index in range(n):
            camera = camera_create(actor=None, site=site, name=f"{label}-{index + 1}",
                                   stream_url=url, detect_fps=detect_fps)
            counting_line_create(actor=None, camera=camera, name="east-west", x1=0.5, y1=0.0,
                                 x2=0.5, y2=1.0)
            counting_line_create(actor=None, camera=camera, name="north-south", x1=0.0,
                                 y1=0.55, x2=1.0, y2=0.55)
            ids.append(camera.pk)
    return ids


def _cameras_disable(tenant: Any, ids: list[int]) -> None:
    from django_tenants.utils import tenant_context

    from cameras.models import Camera

    with tenant_context(tenant):
        Camera.objects.filter(pk__in=ids).update(enabled=False)


def _health(tenant: Any, ids: list[int]) -> dict[int, Any]:
    from django_tenants.utils import tenant_context

    from counting.models import CameraHealth

    with tenant_context(tenant):
        return {h.camera_id: h for h in CameraHealth.objects.filter(camera_id__in=ids)}


def _events(tenant: Any, ids: list[int]) -> int:
    from django_tenants.utils import tenant_context

    from counting.models import CountEvent

    with tenant_context(tenant):
        return CountEvent.objects.filter(camera_id__in=ids).count()


def _run(tenant: Any, n: int, mode: str, url: str, args: argparse.Namespace,
         base_env: dict[str, str], workdir: Path) -> dict[str, Any]:
    suffix = uuid.uuid4().hex[:6]
    env = {**base_env, "COUNTING_INFERENCE": mode,
           "COUNTING_STREAMS_QUEUE": f"node-streams-{suffix}",
           "COUNTING_SHORT_QUEUE": f"node-short-{suffix}",
           "COUNTING_INFERENCE_SOCKET": str(workdir / f"inference-{suffix}.sock")}
    celery = [sys.executable, "-m", "celery", "-A", "config"]
    services: list[Service] = []
    ids: list[int] = []
    try:
        worker = start_service(f"stream worker {mode} {n}", celery + [
            "worker", "-Q", env["COUNTING_STREAMS_QUEUE"], "-n", f"node-streams-{suffix}@%h",
            "--concurrency", str(n), "--prefetch-multiplier", "1", "--without-gossip",
            "--without-mingle", "-l", "WARNING"], env, workdir)
        services.append(worker)
        services.append(start_service(f"short worker {mode} {n}", celery + [
            "worker", "-Q", env["COUNTING_SHORT_QUEUE"], "-n", f"node-short-{suffix}@%h",
            "--concurrency", "1", "--without-gossip", "--without-mingle", "-l", "WARNING"],
            env, workdir))
        services.append(start_service(f"beat {mode} {n}", celery + [
            "beat", "-l", "WARNING", "-s", str(workdir / f"beat-{suffix}")], env, workdir))
        ids = _cameras_make(tenant, n, url, args.detect_fps, f"{mode}-{n}")
        log(f"{mode} {n} cameras: waiting until every camera is online and analysing")
        deadline = time.monotonic() + 300
        while True:
            health = _health(tenant, ids)
            online = [h for h in health.values() if h.state == "online" and h.fps_analysed > 0]
            if len(online) == n:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"only {len(online)} of {n} cameras online after 300 s; "
                                   f"see the logs in {workdir}")
            time.sleep(2)
        time.sleep(10)  # past the start-up: every runner's rates cover running time only
        events_before = _events(tenant, ids)
        fps: dict[int, list[float]] = {i: [] for i in ids}
        ages: dict[int, list[float]] = {i: [] for i in ids}
        started = time.monotonic()
        pss = 0.0
        while time.monotonic() - started < args.seconds:
            for camera_id, h in _health(tenant, ids).items():
                fps[camera_id].append(h.fps_analysed)
                ages[camera_id].append(h.frame_age_s if h.frame_age_s is not None else 99.0)
            pss = max(pss, sum(_pss_mb(pid) for pid in _tree(worker.process.pid)))
            time.sleep(2)
        events = _events(tenant, ids) - events_before
        means = [statistics.mean(v) for v in fps.values()]
        p95s = [sorted(v)[min(len(v) - 1, int(0.95 * len(v)))] for v in ages.values()]
        ok = min(means) >= 0.95 * args.detect_fps and max(p95s) < 1.0
        result = {"mean_fps": statistics.mean(means), "min_fps": min(means),
                  "p95": max(p95s), "events": events, "pss": pss / n, "ok": ok}
        log(f"{mode:7} {n:3} cameras: analysed fps mean {result['mean_fps']:.2f} (slowest "
            f"camera {result['min_fps']:.2f}); frame age p95 worst {result['p95']:.2f} s; "
            f"{events} crossings stored in {args.seconds:.0f} s; PSS {result['pss']:.0f} MB "
            f"per camera (worker and children) -> {'OK' if ok else 'below target'}")
        return result
    finally:
        if ids:
            _cameras_disable(tenant, ids)
        for service in reversed(services):
            service.stop()
        queues_delete([env["COUNTING_STREAMS_QUEUE"], env["COUNTING_SHORT_QUEUE"]])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cameras", type=int, nargs="+", default=[10, 20])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--mode", nargs="+", choices=["local", "service"],
                        default=["local", "service"])
    parser.add_argument("--detect-fps", type=float, default=5.0)
    parser.add_argument("--source-fps", type=float, default=10.0)
    shared = Path(os.environ.get("SHARED_DIR", REPO.parent / "shared"))
    parser.add_argument("--video", default=str(shared / "video/PETS09-S2L1/PETS09-S2L1.mp4"))
    parser.add_argument("--precision", choices=["float32", "bfloat16", "auto"],
                        default="float32",
                        help="COUNTING_DETECTOR_PRECISION of the workers (docs/pipeline.md)")
    args = parser.parse_args()
    from tests.chaos.faults import free_port

    workdir = Path(tempfile.mkdtemp(prefix="bench-node-"))
    db_name = f"node_{uuid.uuid4().hex[:8]}"
    environ_for(db_name, workdir)
    env = {**os.environ, "COUNTING_TORCH_THREADS": "1", "PYTHONUNBUFFERED": "1",
           "SHARED_DIR": str(shared), "COUNTING_DETECTOR_PRECISION": args.precision}
    log(f"workdir {workdir}, database {db_name}; load average {os.getloadavg()[0]:.1f} "
        f"({os.cpu_count()} cores); detector precision {args.precision}")
    database_create(db_name)
    simulator: Service | None = None
    try:
        tenant = database_tenant("nodebench", "Node bench")
        from tenants.models import Tenant

        # Every run adds its cameras (the earlier runs' are disabled, not deleted).
        Tenant.objects.filter(pk=tenant.pk).update(camera_quota=1000)
        tenant = Tenant.objects.get(pk=tenant.pk)
        port = free_port()
        simulator = start_service("simulator", [
            sys.executable, "scripts/camera_simulator.py", "--video", args.video, "--port",
            str(port), "--fps", str(args.source_fps)], env, workdir)
        url = f"http://127.0.0.1:{port}/video.mjpg"
        for n in args.cameras:
            got = {mode: _run(tenant, n, mode, url, args, env, workdir) for mode in args.mode}
            if len(got) == 2:
                loc, srv = got["local"], got["service"]
                log(f"        {n:3} cameras: service / local: analysed fps "
                    f"{srv['mean_fps'] / loc['mean_fps']:.2f}x, PSS per camera "
                    f"{srv['pss'] / loc['pss']:.2f}x; load average {os.getloadavg()[0]:.1f}")
    finally:
        if simulator is not None:
            simulator.stop()
        from django.db import connections

        connections.close_all()
        database_drop(db_name)
        log(f"logs kept in {workdir}")


if __name__ == "__main__":
    main()
