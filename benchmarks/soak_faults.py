"""Soak under faults: several live cameras counted for a long time while Redis, PostgreSQL,
RabbitMQ, the lease row and the stream worker misbehave on a schedule. Numbers to read, not a
test:

    SHARED_DIR=../shared .venv/bin/python -m benchmarks.soak_faults --minutes 30 --cameras 3 \
        --detect-fps 4

What runs (all on loopback, all started and stopped here, nothing shared is disturbed):

- a database of its own (cloned from ``peoplecount_template``, migrated, dropped at the end)
  with one tenant, N cameras with the two PETS lines;
- a redis-server of its own (stop, SIGSTOP), a TCP proxy in front of PostgreSQL (refuse,
  stall) and one in front of RabbitMQ (cut) for the workers;
- the real system: a stream worker (N prefork children), the short-task worker and beat (the
  supervisor and health sweep), on private queues;
- N camera simulators looping a 40 s PETS segment ``--loops K`` times.

Faults, one after another with a calm pause between them (``--calm``): Redis stopped 20 s,
Redis frozen 20 s, PostgreSQL refused 30 s, PostgreSQL stalled 30 s, one camera's lease row
locked 40 s, ``kill -9`` of a stream runner's process, RabbitMQ cut 20 s.

At the end every camera's stored counts are compared with ``count_video`` on the frames its
simulator played: count_video runs over three passes of the looped segment (packets copied,
so the frames are the segment's own) and the whole sequence counts the first pass plus the
later pass for every further one; at 3 fps every pass counts the same (13), the seam costs
nothing (see ``references``). Next to that, what the system itself reported: events lost,
frames dropped, gaps (seconds not analysed). Memory (RSS) of every process at the start and
the end is printed.

Overload is reported as the system reports it (docs/streams.md, "Overload"): gaps of cause
``overload`` with the share of the frames due that was analysed, so ``seconds x (1 - share)``
is analysis time lost. The crossings missed in it cannot be known; the report turns it into
an estimate (the reference's crossings per second x the seconds not analysed) and compares
missing crossings with ``events lost + crossings in reported gaps (estimated)``. Passes of
the clip are split into passes a fault touched, passes an overload touched and clean ones.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
CLIP_FRAMES = 280  # 40 s of the 7 fps PETS clip
CLIP_FPS = 7.0
PASSWORD = "Soak-Password-123"  # noqa: S105


def log(message: str) -> None:
    print(f"{datetime.now(UTC):%H:%M:%S} {message}", flush=True)


# -- processes and memory -----------------------------------------------------------------------
def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


@dataclass
class Service:
    """A process this soak started (in a session of its own), its role and its log."""

    role: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def pids(self) -> dict[str, int]:
        """The process and its direct children (a worker's pool), by role."""
        found = {self.role: self.process.pid}
        for index, child in enumerate(children(self.process.pid)):
            found[f"{self.role} child {index + 1}"] = child
        return found

    def stop(self, timeout_s: float = 15.0) -> float:
        """SIGTERM to its process group; seconds until it ended (SIGKILL after timeout)."""
        if self.process.poll() is not None:
            return 0.0
        started = time.monotonic()
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        return time.monotonic() - started


def start_service(role: str, args: list[str], env: dict[str, str], workdir: Path) -> Service:
    log_path = workdir / f"{role.replace(' ', '-')}.log"
    out = open(log_path, "ab")  # noqa: SIM115 - handed to the child
    process = subprocess.Popen(args, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT,
                               start_new_session=True)
    out.close()
    return Service(role=role, process=process, log_path=log_path)


def memory_snapshot(pids: dict[str, int]) -> dict[str, tuple[int, float | None]]:
    return {role: (pid, rss_mb(pid)) for role, pid in pids.items()}


# -- references -------------------------------------------------------------------------------
Counts = dict[str, dict[str, int]]


SEAM_PASSES = 3  # passes of the clip count_video runs over to see what the loop seam costs


def looped_clip(segment: Path, path: Path, passes: int) -> Path:
    """The segment ``passes`` times in a row, as the simulator plays it: the JPEG packets are
    copied (ffmpeg's concat demuxer, ``-c copy``), not re-encoded, so every pass decodes to the
    very frames of the segment. (Re-encoding them, as an earlier version did, changes the
    pixels enough that a pass counts 12 instead of 13 at 3 fps: that, not the seam, was the
    "short second pass".)"""
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise RuntimeError("the reference needs the ffmpeg program (apt-get install ffmpeg)")
    listing = path.with_suffix(".txt")
    listing.write_text(f"file '{segment.resolve()}'\n" * passes)
    subprocess.run([ffmpeg, "-loglevel", "error", "-y", "-f", "concat", "-safe", "0", "-i",
                    str(listing), "-c", "copy", str(path)], check=True)
    return path


def counts_per_pass(video: Path, passes: int, detect_fps: float) -> list[Counts]:
    """``count_video --json`` on ``video`` (``passes`` passes of the clip), its crossings
    split by the pass their frame falls in."""
    from django.core.management import call_command

    from tests.chaos.reference import PETS_LINES

    out = io.StringIO()
    call_command("count_video", str(video), line=list(PETS_LINES), json=True, threads=1,
                 detect_fps=detect_fps, stdout=out)
    result = json.loads(out.getvalue())
    names = [line["name"] for line in result["lines"]]
    per_pass: list[Counts] = [{name: {"in": 0, "out": 0} for name in names}
                              for _ in range(passes)]
    for event in result["events"]:
        index = min(passes - 1, int(event["frame"]) // CLIP_FRAMES)
        per_pass[index][event["line"]][event["direction"]] += 1
    totals = {line["name"]: {"in": int(line["in"]), "out": int(line["out"])}
              for line in result["lines"]}
    summed = {name: {d: sum(p[name][d] for p in per_pass) for d in ("in", "out")}
              for name in names}
    if summed != totals:  # an event without its frame: the split would be wrong
        raise RuntimeError(f"count_video's events {summed} do not add up to {totals}")
    return per_pass


def references(segment: Path, workdir: Path, cache: Path,
               detect_fps: float) -> tuple[Counts, Counts]:
    """The reference per pass of the clip: count_video over the first ``SEAM_PASSES`` passes
    of the sequence the simulator plays (the segment looped, frames identical), split per
    pass. Returns the first pass's counts and a later pass's (the last one).

    Why not count_video over all the passes: at 3 fps that is ~12 s of CPU per pass, 40 min
    for a 2 h soak on an idle machine, more than the soak can spare. It is not needed: the
    sequence repeats exactly (280 frames at 7 fps = 40 s, a whole number of detect periods at
    any whole detect fps, so the sampler takes the same frames in every pass), and the
    tracker carries nothing over a seam that changes a pass: measured at 3 fps, every pass of
    a 3-pass run counts 13, the very crossings at the very frames of the clip counted alone.
    So pass 2 stands for every later pass, and the whole sequence counts ``first + (passes -
    1) x later`` (= single pass x passes when the seam costs nothing, as measured). The soak
    prints the passes, and says so if a later pass differs from the first or from each
    other (then the seam costs something and the later pass is used)."""
    key = f"{segment.stat().st_size}:{CLIP_FRAMES}:{detect_fps}:{SEAM_PASSES}:copy"
    if cache.exists():
        stored = json.loads(cache.read_text())
        if stored.get("key") == key:
            per_pass = stored["passes"]
            report_seam(per_pass)
            return per_pass[0], per_pass[-1]
    log(f"count_video on {SEAM_PASSES} passes of the segment, packets copied (reference)...")
    per_pass = counts_per_pass(looped_clip(segment, workdir / "pets-looped.avi", SEAM_PASSES),
                               SEAM_PASSES, detect_fps)
    cache.write_text(json.dumps({"key": key, "passes": per_pass}))
    report_seam(per_pass)
    return per_pass[0], per_pass[-1]


def report_seam(per_pass: list[Counts]) -> None:
    totals = [sum(sum(d.values()) for d in counts.values()) for counts in per_pass]
    if all(counts == per_pass[0] for counts in per_pass):
        verdict = "the loop seam costs nothing: reference = one pass x passes"
    elif all(counts == per_pass[1] for counts in per_pass[1:]):
        verdict = "the seam changes the passes after the first: reference = first + later"
    else:
        verdict = "WARNING: later passes differ from each other; the reference is approximate"
    log(f"count_video per pass of the looped clip: {totals} ({verdict})")


def expected_counts(first: Counts, following: Counts, passes: int) -> Counts:
    return {name: {d: first[name][d] + (passes - 1) * following[name][d] for d in ("in", "out")}
            for name in first}


# -- the fault schedule ----------------------------------------------------------------------
@dataclass
class FaultRecord:
    """One injected fault: its name and when it started (monotonic), for the report."""

    name: str
    started: float
    ended: float = 0.0
    note: str = ""
    wall_started: float = field(default_factory=time.time)
    wall_ended: float = 0.0


@dataclass
class Faults:
    """Injects the faults in turn; records when each started and ended."""

    redis: Any
    pg_proxy: Any
    broker_proxy: Any
    schema: str
    camera_ids: list[int]
    stream_worker: Service
    records: list[FaultRecord] = field(default_factory=list)

    only: list[str] = field(default_factory=list)

    def plan(self) -> list[tuple[str, Callable[[], str]]]:
        faults = {
            "redis-stop": ("redis stopped 20 s", self.redis_stop),
            "redis-freeze": ("redis frozen 20 s", self.redis_freeze),
            "pg-refuse": ("postgres refused 30 s",
                          lambda: self.proxy_fault(self.pg_proxy, "refuse", 30)),
            "pg-stall": ("postgres stalled 30 s",
                         lambda: self.proxy_fault(self.pg_proxy, "stall", 30)),
            "lease-lock": ("lease row locked 40 s", self.lease_lock),
            "kill-runner": ("kill -9 of a stream runner", self.kill_runner),
            "broker-cut": ("rabbitmq cut 20 s",
                           lambda: self.proxy_fault(self.broker_proxy, "refuse", 20)),
        }
        return [faults[key] for key in (self.only or list(faults))]

    def redis_stop(self) -> str:
        self.redis.stop()
        time.sleep(20)
        self.redis.start()
        return ""

    def redis_freeze(self) -> str:
        self.redis.freeze()
        time.sleep(20)
        self.redis.thaw()
        return ""

    @staticmethod
    def proxy_fault(proxy: Any, how: str, seconds: float) -> str:
        getattr(proxy, how)()
        time.sleep(seconds)
        proxy.forward()
        return ""

    def _camera(self, index: int) -> int:
        return self.camera_ids[index % len(self.camera_ids)]

    def lease_lock(self) -> str:
        from tests.chaos.faults import lease_row_locked

        camera_id = self._camera(len(self.records))
        with lease_row_locked(self.schema, camera_id):
            time.sleep(40)
        return f"camera {camera_id}"

    def kill_runner(self) -> str:
        from django_tenants.utils import schema_context

        from counting.models import CameraLease

        camera_id = self._camera(len(self.records))
        with schema_context(self.schema):
            owner = CameraLease.objects.filter(camera_id=camera_id).values_list(
                "owner", flat=True).first() or ""
        try:
            pid = int(owner.split(":")[1])
        except (IndexError, ValueError):
            return f"camera {camera_id} had no runner to kill ({owner!r})"
        if pid not in children(self.stream_worker.process.pid):
            return f"camera {camera_id}: owner pid {pid} is not a child of the worker"
        os.kill(pid, signal.SIGKILL)
        return f"camera {camera_id}, pid {pid}"

    def run(self, stop_at: float, calm_s: float, stop: threading.Event) -> None:
        plan = self.plan()
        index = 0
        while not stop.wait(calm_s):
            name, inject = plan[index % len(plan)]
            longest = 45.0
            if time.monotonic() + longest + calm_s > stop_at:
                return
            record = FaultRecord(name=name, started=time.monotonic())
            log(f"fault: {name}")
            try:
                record.note = inject()
            except Exception as exc:  # noqa: BLE001 - a failed injection is reported
                record.note = f"injection failed: {exc!r}"
            record.ended = time.monotonic()
            record.wall_ended = time.time()
            self.records.append(record)
            log(f"fault over: {name} {record.note}")
            index += 1


# -- the soak ---------------------------------------------------------------------------------
def queues_delete(names: list[str]) -> None:
    """Delete the run's own RabbitMQ queues (best effort: a queue never declared is skipped)."""
    try:
        from config.celery import app

        with app.connection_for_write() as conn:
            for queue in names:
                try:
                    conn.default_channel.queue_delete(queue)
                except Exception:  # noqa: BLE001, S112 - never declared
                    continue
    except Exception:  # noqa: BLE001, S110 - best effort clean-up
        pass


def environ_for(db_name: str, workdir: Path) -> None:
    """This process's (and its services') settings for a run on its own database ``db_name``.

    DEBUG off as in production: with DEBUG on (settings.local's default) every connection keeps
    its last 9,000 queries (~480 B each), which grows each runner by ~12 MB over its first hour
    or two (benchmarks/stream_memory.py, docs/streams.md). DJANGO_DEBUG=1 keeps it."""
    os.environ.setdefault("DJANGO_DEBUG", "0")
    os.environ.update({
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DATABASE_URL": f"postgres://peoplecount@127.0.0.1:5432/{db_name}",
        "AUDIT_EXPORT_DIR": str(workdir / "audit"),
        "CAMERA_URL_ALLOW_LOOPBACK": "1",
        "LOG_LEVEL": "WARNING",
    })


def database_create(name: str) -> None:
    import psycopg

    with psycopg.connect("host=127.0.0.1 user=postgres dbname=postgres", autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}" TEMPLATE peoplecount_template OWNER peoplecount')


def database_drop(name: str) -> None:
    import psycopg

    with psycopg.connect("host=127.0.0.1 user=postgres dbname=postgres", autocommit=True) as c:
        c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def database_tenant(slug: str, name: str) -> Any:
    """Set Django up on the benchmark's own database (``DATABASE_URL``, made by
    :func:`database_create`), migrate its public schema and make one tenant."""
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    from tenants.platform.services import public_tenant_ensure, tenant_create

    call_command("migrate_schemas", shared=True, verbosity=0)
    public_tenant_ensure(domain=settings.PUBLIC_DOMAIN)
    return tenant_create(name=name, slug=slug, domain=f"{slug}.localhost",
                         owner_email=f"o@{slug}.test", owner_password=PASSWORD).tenant


def make_cameras(tenant: Any, urls: list[str], detect_fps: float) -> list[int]:
    from django_tenants.utils import tenant_context

    from cameras.services import camera_create, site_create
    from counting.services import counting_line_create

    ids = []
    with tenant_context(tenant):
        site = site_create(actor=None, name="Soak", timezone="Europe/London")
        for index, url in enumerate(urls):
            camera = camera_create(actor=None, site=site, name=f"soak-{index + 1}",
                                   stream_url=url, detect_fps=detect_fps)
            counting_line_create(actor=None, camera=camera, name="east-west", x1=0.5, y1=0.0,
                                 x2=0.5, y2=1.0, in_label="east", out_label="west")
            counting_line_create(actor=None, camera=camera, name="north-south", x1=0.0,
                                 y1=200 / 360, x2=1.0, y2=200 / 360, in_label="north",
                                 out_label="south")
            ids.append(camera.pk)
    return ids


def simulator_status(port: int) -> dict[str, Any]:
    import urllib.request

    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/status", timeout=2) as response:
            return json.loads(response.read())  # type: ignore[no-any-return]
    except OSError:
        return {}


def outcome(tenant: Any, camera_id: int) -> dict[str, Any]:
    from django.db.models import Count
    from django_tenants.utils import tenant_context

    from counting import models

    with tenant_context(tenant):
        stored: Counts = {}
        for row in (models.CountEvent.objects.filter(camera_id=camera_id)
                    .values("line__name", "direction").annotate(n=Count("id"))):
            stored.setdefault(row["line__name"], {"in": 0, "out": 0})[row["direction"]] = row["n"]
        health = models.CameraHealth.objects.filter(camera_id=camera_id).first()
        lease = models.CameraLease.objects.filter(camera_id=camera_id).first()
        gap_model = getattr(models, "CameraGap", None)
        gaps: list[tuple[str, float, float, float, float]] = []
        if gap_model is not None:
            for gap in gap_model.objects.filter(camera_id=camera_id).order_by("started_at"):
                end = gap.ended_at or datetime.now(UTC)
                seconds = (end - gap.started_at).total_seconds()
                share = getattr(gap, "analysed_share", None) or 0.0
                gaps.append((str(gap.cause), seconds, seconds * (1 - share),
                             gap.started_at.timestamp(), end.timestamp()))
    return {"stored": stored, "lost": int(getattr(health, "events_lost", 0) or 0),
            "dropped": int(getattr(health, "frames_dropped", 0) or 0),
            "state": getattr(health, "state", "-"), "gaps": gaps, "gaps_known": gap_model
            is not None, "generation": getattr(lease, "generation", 0)}


FAULT_KEYS = ["redis-stop", "redis-freeze", "pg-refuse", "pg-stall", "lease-lock",
              "kill-runner", "broker-cut"]


def soak(minutes: float, cameras: int, calm_s: float, only: list[str],
         detect_fps: float, keep: bool = False) -> int:
    from tests.chaos.faults import RedisProcess, TcpProxy, free_port
    from tests.chaos.reference import pets_segment

    shared = Path(os.environ.get("SHARED_DIR", REPO.parent / "shared"))
    source = shared / "video" / "PETS09-S2L1" / "PETS09-S2L1.mp4"
    workdir = Path(tempfile.mkdtemp(prefix="soak-faults-"))
    db_name = f"soak_{uuid.uuid4().hex[:8]}"
    suffix = uuid.uuid4().hex[:6]
    environ_for(db_name, workdir)
    log(f"workdir {workdir}, database {db_name}")
    database_create(db_name)
    services: list[Service] = []
    redis = RedisProcess(workdir)
    proxies: list[TcpProxy] = []
    try:
        tenant = database_tenant("soak", "Soak")
        segment = pets_segment(source, workdir / "pets-280.avi", CLIP_FRAMES)
        first, following = references(segment, workdir, Path(tempfile.gettempdir())
                                      / "soak-faults-reference.json", detect_fps)
        passes = max(2, math.ceil(minutes * 60 * CLIP_FPS / CLIP_FRAMES))

        redis.start()
        pg_proxy = TcpProxy(("127.0.0.1", 5432))
        broker_proxy = TcpProxy(("127.0.0.1", 5672))
        proxies += [pg_proxy, broker_proxy]
        env = {
            **os.environ,
            "DATABASE_URL": f"postgres://peoplecount@127.0.0.1:{pg_proxy.port}/{db_name}",
            "REDIS_URL": redis.url(0), "CACHE_URL": redis.url(1),
            "CHANNELS_REDIS_URL": redis.url(2), "CELERY_RESULT_BACKEND": redis.url(3),
            "CELERY_BROKER_URL": f"amqp://guest:guest@127.0.0.1:{broker_proxy.port}//",
            "COUNTING_STREAMS_QUEUE": f"soak-streams-{suffix}",
            "COUNTING_SHORT_QUEUE": f"soak-short-{suffix}",
            "COUNTING_TORCH_THREADS": "1", "LOG_LEVEL": "INFO", "PYTHONUNBUFFERED": "1",
        }
        celery = [sys.executable, "-m", "celery", "-A", "config"]
        ports = [free_port() for _ in range(cameras)]
        for index, port in enumerate(ports):
            services.append(start_service(f"simulator {index + 1}", [
                sys.executable, "scripts/camera_simulator.py", "--video", str(segment),
                "--port", str(port), "--loops", str(passes), "--start-on-connect",
                "--quality", "95"], env, workdir))
        stream_worker = start_service("stream worker", celery + [
            "worker", "-Q", env["COUNTING_STREAMS_QUEUE"], "-n", f"soak-streams-{suffix}@%h",
            "--concurrency", str(cameras), "--prefetch-multiplier", "1", "--without-gossip",
            "--without-mingle", "-l", "INFO"], env, workdir)
        short_worker = start_service("short worker", celery + [
            "worker", "-Q", env["COUNTING_SHORT_QUEUE"], "-n", f"soak-short-{suffix}@%h",
            "--concurrency", "1", "--without-gossip", "--without-mingle", "-l", "INFO"],
            env, workdir)
        beat = start_service("beat", celery + [
            "beat", "-l", "INFO", "-s", str(workdir / "celerybeat-schedule")], env, workdir)
        services += [stream_worker, short_worker, beat]
        wait_s = 5.0
        time.sleep(wait_s)
        camera_ids = make_cameras(tenant, [f"http://127.0.0.1:{p}/video.mjpg" for p in ports],
                                  detect_fps)
        log(f"{cameras} cameras, {passes} passes of {CLIP_FRAMES / CLIP_FPS:.0f} s each "
            f"({passes * CLIP_FRAMES / CLIP_FPS / 60:.1f} min); waiting for every stream")
        deadline = time.monotonic() + 180
        while not all(simulator_status(p).get("position", -1) >= 0 for p in ports):
            if time.monotonic() > deadline:
                raise RuntimeError("the streams did not start within 3 minutes")
            time.sleep(1)
        started = time.monotonic()
        # wall time of each simulator's frame 0 (the clock starts when the runner connects)
        clip_t0 = {camera_id: time.time() - simulator_status(port)["position"] / CLIP_FPS
                   for camera_id, port in zip(camera_ids, ports, strict=True)}
        time.sleep(10)  # every child has loaded its detector
        pids = {"soak (this process)": os.getpid(), "redis-server": redis.process.pid}
        for service in services:
            pids.update(service.pids())
        memory_start = memory_snapshot(pids)

        play_s = passes * CLIP_FRAMES / CLIP_FPS
        faults = Faults(redis=redis, pg_proxy=pg_proxy, broker_proxy=broker_proxy,
                        schema=tenant.schema_name, camera_ids=camera_ids,
                        stream_worker=stream_worker, only=only)
        stop = threading.Event()
        injector = threading.Thread(target=faults.run, args=(started + play_s - 60, calm_s,
                                                             stop), daemon=True)
        injector.start()
        while not all(simulator_status(p).get("finished") for p in ports):
            if time.monotonic() - started > play_s + 300:
                log("the simulators did not finish in time; ending the soak")
                break
            time.sleep(5)
        stop.set()
        injector.join()
        time.sleep(5)  # the last batches flushed, health reported
        now_pids = {"soak (this process)": os.getpid(), "redis-server": redis.process.pid}
        for service in services:
            now_pids.update(service.pids())
        memory_end = memory_snapshot(now_pids)
        stop_s = stream_worker.stop()
        elapsed = time.monotonic() - started
        results = {camera_id: outcome(tenant, camera_id) for camera_id in camera_ids}
        expected = expected_counts(first, following, passes)
        report(minutes=elapsed / 60, passes=passes, expected=expected, results=results,
               faults=faults.records, started=started, memory_start=memory_start,
               memory_end=memory_end, stop_s=stop_s)
        report_passes(tenant=tenant, clip_t0=clip_t0, passes=passes, first=first,
                      following=following, faults=faults.records, results=results)
        return 0
    finally:
        for service in services:
            service.stop()
        for proxy in proxies:
            proxy.close()
        redis.close()
        queues_delete([f"soak-streams-{suffix}", f"soak-short-{suffix}"])
        from django.db import connections

        connections.close_all()
        if keep:
            log(f"database {db_name} kept for a look (DATABASE_URL=postgres://peoplecount@"
                f"127.0.0.1:5432/{db_name}); drop it with: psql -h 127.0.0.1 -U postgres -c "
                f"'DROP DATABASE \"{db_name}\" WITH (FORCE)'")
        else:
            database_drop(db_name)
        log(f"logs kept in {workdir}")


def report(*, minutes: float, passes: int, expected: Counts, results: dict[int, Any],
           faults: list[FaultRecord], started: float, memory_start: dict[str, Any],
           memory_end: dict[str, Any], stop_s: float) -> None:
    play_s = passes * CLIP_FRAMES / CLIP_FPS
    print(f"\nsoak: {minutes:.1f} min, {len(results)} cameras, {passes} passes of the "
          f"{CLIP_FRAMES}-frame PETS segment each, {len(faults)} faults")
    print("\nfaults (seconds from the start)")
    for record in faults:
        print(f"  {record.started - started:7.0f} .. {record.ended - started:7.0f}  "
              f"{record.name:<28} {record.note}")
    print("\ncounts per camera (reference: count_video on the frames played)")
    header = (f"  {'camera':>6} {'expected':>8} {'stored':>7} {'missing':>7} {'extra':>6} "
              f"{'lost*':>6} {'stall s':>7} {'overl s':>7} {'unan s':>7} {'in gaps':>7} "
              f"{'unexpl.':>7} {'dropped':>8} {'gen':>4}  state")
    print(header)
    totals = {"expected": 0, "stored": 0, "missing": 0, "extra": 0, "lost": 0,
              "stall": 0.0, "overload": 0.0, "unanalysed": 0.0, "in_gaps": 0.0}
    for camera_id, result in results.items():
        missing = extra = 0
        for name, directions in expected.items():
            for direction, want in directions.items():
                got = result["stored"].get(name, {}).get(direction, 0)
                missing += max(0, want - got)
                extra += max(0, got - want)
        want_total = sum(sum(d.values()) for d in expected.values())
        got_total = sum(sum(d.values()) for d in result["stored"].values())
        stall_s = sum(g[1] for g in result["gaps"] if g[0] != "overload")
        overload_s = sum(g[1] for g in result["gaps"] if g[0] == "overload")
        unanalysed_s = sum(g[2] for g in result["gaps"])
        # what the system reported, in crossings: the lost ones, and the reference's rate
        # times the seconds it said were not analysed (an estimate: which crossings fell in
        # them cannot be known)
        in_gaps = want_total / play_s * unanalysed_s if play_s else 0.0
        unexplained = missing - result["lost"] - in_gaps
        print(f"  {camera_id:>6} {want_total:>8} {got_total:>7} {missing:>7} {extra:>6} "
              f"{result['lost']:>6} {stall_s:>7.0f} {overload_s:>7.0f} {unanalysed_s:>7.0f} "
              f"{in_gaps:>7.0f} {unexplained:>7.0f} {result['dropped']:>8} "
              f"{result['generation']:>4}  {result['state']}")
        for key, value in (("expected", want_total), ("stored", got_total),
                           ("missing", missing), ("extra", extra), ("lost", result["lost"]),
                           ("stall", stall_s), ("overload", overload_s),
                           ("unanalysed", unanalysed_s), ("in_gaps", in_gaps)):
            totals[key] += value
    share = totals["missing"] / totals["expected"] if totals["expected"] else 0.0
    print(f"  {'all':>6} {totals['expected']:>8} {totals['stored']:>7} {totals['missing']:>7} "
          f"{totals['extra']:>6} {totals['lost']:>6} {totals['stall']:>7.0f} "
          f"{totals['overload']:>7.0f} {totals['unanalysed']:>7.0f} {totals['in_gaps']:>7.0f} "
          f"{totals['missing'] - totals['lost'] - totals['in_gaps']:>7.0f}")
    print(f"  missing {share:.1%} of the reference. *lost = events the system reported lost "
          "(health.events_lost); stall s = seconds in gaps with nothing analysed (source, loop, "
          "runner); overl s = seconds in overload gaps (analysed in part); unan s = seconds "
          "not analysed as reported (stall gaps whole, overload gaps x (1 - analysed share)); "
          "in gaps = reference crossings per second x unan s (estimate); unexpl. = missing - "
          "lost - in gaps (positive: lost without being reported)")
    for camera_id, result in results.items():
        if result["gaps"]:
            counted: dict[str, list[float]] = {}
            for cause, seconds, unanalysed, _, _ in result["gaps"]:
                entry = counted.setdefault(cause, [0, 0.0, 0.0])
                entry[0] += 1
                entry[1] += seconds
                entry[2] += unanalysed
            listed = ", ".join(f"{cause} x{int(n)} {seconds:.0f}s ({unanalysed:.0f}s unanalysed)"
                               for cause, (n, seconds, unanalysed) in counted.items())
            print(f"  gaps of camera {camera_id}: {listed}")
    print("\nmemory (RSS, MB) at the start and the end")
    roles = list(dict.fromkeys([*memory_start, *memory_end]))
    for role in roles:
        pid0, rss0 = memory_start.get(role, (None, None))
        pid1, rss1 = memory_end.get(role, (None, None))
        note = "" if pid0 == pid1 else f"  (pid {pid0} -> {pid1})"
        fmt = (lambda v: f"{v:8.1f}" if v is not None else "       -")  # noqa: E731
        print(f"  {role:<24} {fmt(rss0)} {fmt(rss1)}{note}")
    print(f"\nstream worker stopped {stop_s:.1f} s after SIGTERM at the end")


RECOVERY_S = 25.0  # a pass this long after a fault still counts as touched by it


def report_passes(*, tenant: Any, clip_t0: dict[int, float], passes: int, first: Counts,
                  following: Counts, faults: list[FaultRecord],
                  results: dict[int, Any]) -> None:
    """Stored crossings per pass of the clip (by the frame time of each event), split into
    passes a fault touched, passes the camera's runner was reported overloaded in (a tenth of
    the pass or more in overload gaps) and clean passes: what faults and load cost apart."""
    from django_tenants.utils import tenant_context

    from counting.models import CountEvent

    per_pass_first = sum(sum(d.values()) for d in first.values())
    per_pass_next = sum(sum(d.values()) for d in following.values())
    pass_s = CLIP_FRAMES / CLIP_FPS
    sums = {kind: [0, 0, 0, 0.0] for kind in ("fault", "overload", "clean")}
    with tenant_context(tenant):
        for camera_id, t0 in clip_t0.items():
            times = [event.timestamp() for event in CountEvent.objects.filter(
                camera_id=camera_id).values_list("occurred_at", flat=True)]
            gaps = results[camera_id]["gaps"]
            for index in range(passes):
                start, end = t0 + index * pass_s, t0 + (index + 1) * pass_s
                touched = any(f.wall_started < end and f.wall_ended + RECOVERY_S > start
                              for f in faults)
                overloaded_s = sum(max(0.0, min(end, g[4]) - max(start, g[3]))
                                   for g in gaps if g[0] == "overload")
                unanalysed_s = sum(max(0.0, min(end, g[4]) - max(start, g[3])) * g[2]
                                   / max(g[1], 1e-9) for g in gaps)
                kind = ("fault" if touched else "overload" if overloaded_s >= pass_s / 10
                        else "clean")
                bucket = sums[kind]
                bucket[0] += 1
                bucket[1] += per_pass_first if index == 0 else per_pass_next
                bucket[2] += sum(1 for t in times if start <= t < end)
                bucket[3] += unanalysed_s
    print("\npasses of the clip (events by frame time; a pass is touched by a fault that "
          f"overlaps it or ended less than {RECOVERY_S:.0f} s before it; overload: a tenth of "
          "the pass or more in reported overload gaps; unan s: seconds reported not analysed)")
    for kind, (count, want, got, unanalysed) in sums.items():
        share = (want - got) / want if want else 0.0
        reported = unanalysed / (count * pass_s) if count else 0.0
        print(f"  {kind:<8} passes {count:>4}  expected {want:>6}  stored {got:>6}  "
              f"missing {share:6.1%}  time reported not analysed {reported:6.1%}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30.0, help="playback length")
    parser.add_argument("--cameras", type=int, default=3)
    parser.add_argument("--calm", type=float, default=60.0, help="seconds between faults")
    parser.add_argument("--detect-fps", type=float, default=4.0,
                        help="the cameras' detect fps (the clip plays at 7)")
    parser.add_argument("--faults", nargs="*", choices=FAULT_KEYS, default=[],
                        help="these faults only, in this order (default: all)")
    parser.add_argument("--keep", action="store_true",
                        help="keep the soak's database at the end (ledger, health, gaps) to "
                             "look into; the command to drop it is printed")
    args = parser.parse_args()
    sys.exit(soak(args.minutes, args.cameras, args.calm, args.faults, args.detect_fps,
                  args.keep))


if __name__ == "__main__":
    main()
