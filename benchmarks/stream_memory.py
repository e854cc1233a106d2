"""Memory of one stream runner over time: leak (grows without end) or warm-up (plateau)?
Numbers to read, not a test:

    SHARED_DIR=../shared .venv/bin/python -m benchmarks.stream_memory --minutes 20 \
        --detect-fps 3 [--tracemalloc]    (DJANGO_DEBUG=1 to run with Django's query log)

A database of its own (cloned from ``peoplecount_template``, dropped at the end), one tenant,
one camera with the two PETS lines, a camera simulator looping the whole PETS clip, and one
child process running ``StreamRunner`` for the camera (as a stream worker's child does, minus
Celery). Every ``--every`` seconds the child's RSS (anonymous and file-backed) is sampled;
with ``--tracemalloc`` the child also records Python's traced memory and keeps snapshots, and
the report lists the biggest growths between the snapshot after warm-up (``--warmup``
minutes) and the last one. The verdict compares the growth of the first and the second half
of the run after warm-up: a leak grows in both, a warm-up only in the first.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import tracemalloc
import uuid
from pathlib import Path

from benchmarks.soak_faults import (
    database_create,
    database_drop,
    database_tenant,
    log,
    make_cameras,
    start_service,
)

REPO = Path(__file__).resolve().parent.parent


def proc_kb(pid: int, key: str) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key):
                return int(line.split()[1])
    except OSError:
        return None
    return None


# -- the child: one runner, sampled from inside -------------------------------------------------
def child(camera_id: int, schema: str, seconds: float, every: float, outdir: Path,
          trace: bool) -> None:
    import threading

    import django

    if trace:
        tracemalloc.start(5)
    django.setup()
    from django_tenants.utils import schema_context

    from counting.runner.runner import StreamRunner

    runner = StreamRunner(camera_id=camera_id, schema=schema)
    samples = outdir / "child.jsonl"

    def sample() -> None:
        started = time.monotonic()
        index = 0
        while not runner.stop_event.wait(every if index else 5.0):
            elapsed = time.monotonic() - started
            row = {"t": round(elapsed), "threads": threading.active_count()}
            if trace:
                row["traced_mb"] = round(tracemalloc.get_traced_memory()[0] / 2**20, 2)
                tracemalloc.take_snapshot().dump(str(outdir / f"snap-{index:04d}.pickle"))
            with samples.open("a") as out:
                out.write(json.dumps(row) + "\n")
            index += 1
            if elapsed >= seconds:
                runner.stop_event.set()

    threading.Thread(target=sample, daemon=True).start()
    with schema_context(schema):
        outcome = runner.run()
    print(f"runner ended: {outcome}", flush=True)


# -- the parent ---------------------------------------------------------------------------------
def probe(minutes: float, detect_fps: float, every: float, warmup_min: float,
          trace: bool) -> int:
    from tests.chaos.faults import free_port

    shared = Path(os.environ.get("SHARED_DIR", REPO.parent / "shared"))
    source = shared / "video" / "PETS09-S2L1" / "PETS09-S2L1.mp4"
    workdir = Path(tempfile.mkdtemp(prefix="stream-memory-"))
    db_name = f"memprobe_{uuid.uuid4().hex[:8]}"
    os.environ.setdefault("DJANGO_DEBUG", "0")  # as in production; DJANGO_DEBUG=1 to compare
    os.environ.update({
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DATABASE_URL": f"postgres://peoplecount@127.0.0.1:5432/{db_name}",
        "AUDIT_EXPORT_DIR": str(workdir / "audit"), "CAMERA_URL_ALLOW_LOOPBACK": "1",
        "LOG_LEVEL": "WARNING", "COUNTING_TORCH_THREADS": "1", "PYTHONUNBUFFERED": "1",
    })
    log(f"workdir {workdir}, database {db_name}")
    database_create(db_name)
    services = []
    try:
        tenant = database_tenant("mem", "Mem")
        port = free_port()
        env = dict(os.environ)
        services.append(start_service("simulator", [
            sys.executable, "scripts/camera_simulator.py", "--video", str(source), "--port",
            str(port), "--quality", "95"], env, workdir))
        [camera_id] = make_cameras(tenant, [f"http://127.0.0.1:{port}/video.mjpg"], detect_fps)
        args = [sys.executable, "-m", "benchmarks.stream_memory", "--child", str(camera_id),
                tenant.schema_name, "--minutes", str(minutes), "--every", str(every),
                "--workdir", str(workdir)] + (["--tracemalloc"] if trace else [])
        runner = start_service("runner", args, env, workdir)
        services.append(runner)
        pid = runner.process.pid
        rows: list[tuple[float, float, float, float]] = []
        started = time.monotonic()
        log(f"runner pid {pid}: sampling RSS every {every:.0f} s for {minutes:.0f} min")
        while runner.process.poll() is None:
            elapsed = time.monotonic() - started
            rss, anon, file_ = (proc_kb(pid, k) for k in ("VmRSS:", "RssAnon:", "RssFile:"))
            if rss is not None:
                rows.append((elapsed, rss / 1024, (anon or 0) / 1024, (file_ or 0) / 1024))
                log(f"t={elapsed:5.0f} s  RSS {rss / 1024:6.1f} MB (anon "
                    f"{(anon or 0) / 1024:6.1f}, file {(file_ or 0) / 1024:5.1f})")
            if elapsed > minutes * 60 + 120:
                log("the runner did not stop in time; stopping it")
                runner.stop()
                break
            time.sleep(every)
        report(rows, workdir, warmup_min * 60, trace)
        return 0
    finally:
        for service in services:
            service.stop()
        from django.db import connections

        connections.close_all()
        database_drop(db_name)
        log(f"logs kept in {workdir}")


def report(rows: list[tuple[float, float, float, float]], workdir: Path, warmup_s: float,
           trace: bool) -> None:
    print("\nRSS of the runner process (MB)")
    for elapsed, rss, anon, file_ in rows[:: max(1, len(rows) // 20)] + rows[-1:]:
        print(f"  {elapsed / 60:5.1f} min  RSS {rss:6.1f}  anon {anon:6.1f}  file {file_:5.1f}")
    after = [r for r in rows if r[0] >= warmup_s]
    if len(after) >= 4:
        mid = after[len(after) // 2]
        first, last = after[0], after[-1]
        growth1 = mid[1] - first[1]
        growth2 = last[1] - mid[1]
        span1 = (mid[0] - first[0]) / 60
        span2 = (last[0] - mid[0]) / 60
        print(f"\nafter warm-up ({warmup_s / 60:.0f} min): first half +{growth1:.1f} MB in "
              f"{span1:.1f} min, second half +{growth2:.1f} MB in {span2:.1f} min")
        if rows:
            print(f"whole run: {rows[0][1]:.1f} -> {rows[-1][1]:.1f} MB; peak "
                  f"{max(r[1] for r in rows):.1f} MB")
        verdict = ("plateau (warm-up)" if growth2 <= max(2.0, 0.25 * abs(growth1))
                   else "still growing (leak?)")
        print(f"verdict: {verdict}")
    samples = workdir / "child.jsonl"
    if samples.exists():
        lines = [json.loads(line) for line in samples.read_text().splitlines()]
        print("\ninside the runner: " + ", ".join(
            f"{row['t'] / 60:.0f} min: {row.get('traced_mb', '-')} MB traced, "
            f"{row['threads']} threads" for row in lines[:: max(1, len(lines) // 8)]))
    if trace:
        snaps = sorted(workdir.glob("snap-*.pickle"))
        if len(snaps) >= 2:
            rows_t = [json.loads(line) for line in samples.read_text().splitlines()]
            base_index = next((i for i, row in enumerate(rows_t) if row["t"] >= warmup_s),
                              0)
            base = tracemalloc.Snapshot.load(str(snaps[min(base_index, len(snaps) - 2)]))
            end = tracemalloc.Snapshot.load(str(snaps[-1]))
            print("\nbiggest growths of Python memory from warm-up to the end (tracemalloc)")
            for stat in end.compare_to(base, "lineno")[:15]:
                print(f"  {stat.size_diff / 1024:+9.1f} KiB {stat.count_diff:+7d} blocks  "
                      f"{stat.traceback[0]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=20.0)
    parser.add_argument("--detect-fps", type=float, default=3.0)
    parser.add_argument("--every", type=float, default=30.0, help="seconds between samples")
    parser.add_argument("--warmup", type=float, default=3.0, help="minutes of warm-up")
    parser.add_argument("--tracemalloc", action="store_true")
    parser.add_argument("--child", nargs=2, metavar=("CAMERA_ID", "SCHEMA"),
                        help=argparse.SUPPRESS)
    parser.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(int(args.child[0]), args.child[1], args.minutes * 60, args.every, args.workdir,
              args.tracemalloc)
        return
    sys.exit(probe(args.minutes, args.detect_fps, args.every, args.warmup, args.tracemalloc))


if __name__ == "__main__":
    main()
