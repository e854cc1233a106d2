"""150 concurrent snapshot requests to a silent camera: does another tenant's API notice?

    .venv/bin/python -m benchmarks.bench_snapshots [--concurrency 150] [--requests 300]
        [--pause 1] [--ignore-retry-after] [--rounds 1] [--server daphne|gunicorn]
        [--workers 2] [--profile DIR]

Everything runs for real, on loopback, in a database of its own (created from the project's
template by scripts/db_create.sh and dropped afterwards), with the server `make run` uses
(daphne serving ``config.asgi:application``) or, with ``--server gunicorn``, the one
`make serve` uses (gunicorn with ``--workers`` uvicorn workers, config/gunicorn.py, the
connection pool on); settings ``config.settings.local``.

Tenant A (the bystander, 10 cameras) asks ``GET /api/v1/cameras/`` with a token, one request
at a time, ``--requests`` times in each of three phases of the same run:

1. control: nothing else happens;
2. load: tenant B's ``--concurrency`` clients each keep one snapshot request of B's camera in
   flight; when answered, a client sends the next one after ``--pause`` seconds (default 1: a
   page that refreshes its snapshot every second), or after Retry-After when the answer
   carries one (``--pause 0 --ignore-retry-after`` is a flood). The camera is a TCP server
   that accepts and never answers. The clients run in a process of their own (asyncio), so
   their work does not share the measuring client's interpreter lock;
3. control again: the load stopped; its difference from phase 1 is the run-to-run noise.

``--rounds N`` alternates N load and control-again phases (a shared machine's drift then falls
on both sides) and also prints the ratio of all load phases against all control phases.

Per phase it prints A's p50/p95/p99, the p95 ratio to the first control, the bench database's
connections (most and mean, and most running a query: PostgreSQL's pg_stat_activity, sampled
every 100 ms), the server's most threads, the server's CPU (CPU seconds per second) and the
load average; then the answers B got (429/503 split into refused by the admission door before
Django, and answered by Django), the connections the silent camera received and the CPU the
clients used. ``--profile DIR`` records what holds the server's interpreter lock in each phase
with py-spy (collapsed stacks; py-spy is not a dependency of the project: pip install py-spy).
Throttles are lifted so that only the snapshot limits act. Numbers depend on the machine and
on what else runs on it; compare rows of the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import multiprocessing
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
PASSWORD = "Bench-Password-123"  # noqa: S105


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class SilentCamera:
    """Accepts TCP connections and never answers; counts them."""

    def __init__(self) -> None:
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(1024)
        self.listener.settimeout(0.2)
        self.port = int(self.listener.getsockname()[1])
        self.accepted = 0
        self._held: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                self._held.append(self.listener.accept()[0])
                self.accepted += 1
            except OSError:
                continue

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        for conn in self._held:
            conn.close()
        self.listener.close()


@contextmanager
def bench_database(env: dict[str, str]) -> Iterator[str]:
    """A database of its own, migrated; dropped on the way out."""
    name = f"bench_snapshots_{uuid.uuid4().hex[:8]}"
    subprocess.run(["bash", "scripts/db_create.sh", name], cwd=REPO, check=True,
                   stdout=subprocess.DEVNULL)
    url = f"postgres://peoplecount@127.0.0.1:5432/{name}"
    try:
        subprocess.run([sys.executable, "manage.py", "migrate_schemas", "--shared", "-v", "0"],
                       cwd=REPO, check=True, env={**env, "DATABASE_URL": url})
        yield url
    finally:
        subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-qXc",
                        f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'], check=False)


@contextmanager
def web_server(env: dict[str, str], kind: str, workers: int) -> Iterator[tuple[int, int]]:
    """daphne as `make run` starts it, or gunicorn with uvicorn workers as scripts/serve.sh
    does (config/gunicorn.py, DATABASE_POOL on); yields the port and the server's pid."""
    port = _free_port()
    (REPO / "var").mkdir(exist_ok=True)
    if kind == "daphne":
        command = [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port),
                   "config.asgi:application"]
    else:
        metrics = REPO / "var" / f"bench-snapshots-metrics-{port}"
        metrics.mkdir(exist_ok=True)
        env = {**env, "WEB_BIND": f"127.0.0.1:{port}", "WEB_CONCURRENCY": str(workers),
               "DATABASE_POOL": "true", "PROMETHEUS_MULTIPROC_DIR": str(metrics)}
        command = [str(Path(sys.executable).parent / "gunicorn"), "-c", "config/gunicorn.py",
                   "config.asgi:application"]
    with open(REPO / "var" / f"bench-snapshots-{kind}-{port}.log", "wb") as log:
        process = subprocess.Popen(command, cwd=REPO, env=env, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                    break
                except OSError:
                    if process.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(f"{kind} did not start; see {log.name}") from None
                    time.sleep(0.2)
            yield port, process.pid
        finally:
            os.killpg(process.pid, 15)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, 9)


def _get(port: int, host: str, path: str, token: str, timeout: float = 30.0) -> tuple[int, float]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    started = time.perf_counter()
    try:
        conn.request("GET", path, headers={"Host": host, "Authorization": f"Bearer {token}"})
        response = conn.getresponse()
        response.read()
        return response.status, time.perf_counter() - started
    except OSError:
        return 0, time.perf_counter() - started
    finally:
        conn.close()


def _latencies(port: int, host: str, token: str, n: int,
               failures: Counter[int] | None = None) -> list[float]:
    times = []
    for _ in range(n):
        status, seconds = _get(port, host, "/api/v1/cameras/", token)
        if status != 200 and failures is not None:
            failures[status] += 1
        times.append(seconds)
    return sorted(times)


def _p(values: list[float], q: float) -> float:
    return values[max(0, int(len(values) * q) - 1)] * 1000


# -- the snapshot clients: a process of their own, so that their work does not slow the
# -- measuring client (one Python process's threads share one interpreter lock)

async def _snapshot_client(port: int, host: str, path: str, token: str, pause: float,
                           honour_retry_after: bool, answers: Counter[str],
                           stop: asyncio.Event) -> None:
    request = (f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n"
               "Connection: close\r\n\r\n").encode()
    while not stop.is_set():
        status, retry_after, where = 0, 0.0, "door"
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            try:
                writer.write(request)
                raw = await asyncio.wait_for(reader.read(), 60)
            finally:
                writer.close()
            head = raw.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
            status = int(head[0].split()[1])
            for line in head[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "retry-after":
                    retry_after = float(value.strip() or 0)
                elif name.strip().lower() == "x-frame-options":  # Django's middleware ran
                    where = "django"
        except (OSError, ValueError, IndexError, TimeoutError):
            status = 0
        answers[f"{status} {where}" if status in (429, 503) else str(status)] += 1
        wait = max(pause, retry_after) if honour_retry_after else pause
        try:
            await asyncio.wait_for(stop.wait(), wait)
        except TimeoutError:
            pass


def _load_process(port: int, host: str, path: str, token: str, concurrency: int,
                  pause: float, honour_retry_after: bool, stop: Any, out: Any) -> None:
    """Entry point of the load process: ``concurrency`` clients until ``stop`` is set; puts
    the count of answers per status on ``out``."""
    async def run() -> Counter[str]:
        answers: Counter[str] = Counter()
        done = asyncio.Event()
        clients = [asyncio.create_task(_snapshot_client(
            port, host, path, token, pause, honour_retry_after, answers, done))
            for _ in range(concurrency)]
        while not stop.is_set():
            await asyncio.sleep(0.1)
        done.set()
        # requests still in flight are not counted: the load phase is over
        await asyncio.wait(clients, timeout=5)
        for client in clients:
            client.cancel()
        return answers

    started = time.monotonic()
    answers = dict(asyncio.run(run()))
    out.put((answers, time.process_time() / (time.monotonic() - started)))


# -- what the server holds: database connections, threads, CPU

class Sampler:
    """Every 100 ms: the bench database's connections (all, and those running a query), the
    server's threads; and the server's CPU time, per phase."""

    def __init__(self, url: str, pid: int) -> None:
        self.database = url.rsplit("/", 1)[1]
        self.pid = pid
        self.phase = ""
        self.samples: dict[str, list[tuple[int, int, int]]] = {}
        self.cpu: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _server_pids(self) -> list[int]:
        pids = [self.pid]
        children = Path(f"/proc/{self.pid}/task/{self.pid}/children")
        if children.exists():
            pids += [int(x) for x in children.read_text().split()]
        return pids

    def _threads_and_cpu(self) -> tuple[int, float]:
        threads, ticks = 0, 0
        for pid in self._server_pids():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
            threads += int(fields[17])
        return threads, ticks / os.sysconf("SC_CLK_TCK")

    def start(self) -> None:
        self._thread.start()

    def enter(self, phase: str) -> None:
        self.phase = phase
        self.samples.setdefault(phase, [])
        self.cpu[phase] = -self._threads_and_cpu()[1]
        self._started = time.monotonic()

    def leave(self) -> None:
        seconds = time.monotonic() - self._started
        self.cpu[self.phase] = (self.cpu[self.phase] + self._threads_and_cpu()[1]) / seconds
        self.phase = ""

    def _run(self) -> None:
        import psycopg

        with psycopg.connect("host=127.0.0.1 user=postgres dbname=postgres",
                             autocommit=True) as conn:
            while not self._stop.wait(0.1):
                phase = self.phase
                if not phase:
                    continue
                row = conn.execute(
                    "SELECT count(*), count(*) FILTER (WHERE state = 'active') "
                    "FROM pg_stat_activity WHERE datname = %s", [self.database]).fetchone()
                threads, _ = self._threads_and_cpu()
                total, active = row or (0, 0)
                self.samples[phase].append((int(total), int(active), threads))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--concurrency", type=int, default=150)
    parser.add_argument("--requests", type=int, default=300,
                        help="requests of tenant A's camera list in each phase")
    parser.add_argument("--pause", type=float, default=1.0,
                        help="seconds a snapshot client waits between its requests")
    parser.add_argument("--ignore-retry-after", action="store_true")
    parser.add_argument("--server", choices=("daphne", "gunicorn"), default="daphne",
                        help="daphne (make run) or gunicorn + uvicorn workers (make serve)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn's workers")
    parser.add_argument("--rounds", type=int, default=1,
                        help="load and control-again phases, alternated (more: drift of a "
                             "shared machine falls on both sides)")
    parser.add_argument("--profile", metavar="DIR",
                        help="record what holds the server's interpreter lock in each phase "
                             "with py-spy (pip install py-spy), as collapsed stacks in DIR")
    args = parser.parse_args()
    silent = SilentCamera()
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.local",
           "CAMERA_URL_ALLOW_LOOPBACK": "1", "PYTHONUNBUFFERED": "1", "LOG_LEVEL": "WARNING",
           "BENCH_SILENT_PORT": str(silent.port),
           **{f"API_THROTTLE_{s}": "100000000/min" for s in ("USER", "TOKEN", "ANON")}}
    try:
        with bench_database(env) as url:
            env["DATABASE_URL"] = url
            hosts, tokens, camera_b = _provision(env)
            with web_server(env, args.server, args.workers) as (port, pid):
                _run(args, port, pid, hosts, tokens, camera_b, silent, url)
    finally:
        silent.close()


def _provision(env: dict[str, str]) -> tuple[dict[str, str], dict[str, str], int]:
    """Two tenants (in a child process: Django is configured for the bench database there)."""
    code = r"""
import json, django
django.setup()
from django.conf import settings
from django_tenants.utils import tenant_context
from cameras.models import Camera, Site
from tenants.accounts.tokens import token_create
from tenants.platform.services import public_tenant_ensure, tenant_create
public_tenant_ensure(domain=settings.PUBLIC_DOMAIN)
out = {"hosts": {}, "tokens": {}}
for key in ("a", "b"):
    host = f"bench-snap-{key}.localhost"
    made = tenant_create(name=key, slug=f"bench_snap_{key}", domain=host,
                         owner_email=f"o@{host}", owner_password=%(pw)r)
    with tenant_context(made.tenant):
        from django.contrib.auth import get_user_model
        owner = get_user_model().objects.get(username=f"o@{host}")
        site = Site.objects.create(name="Site")
        cams = [Camera.objects.create(site=site, name=f"Cam {i}",
                                      stream_url=f"http://127.0.0.1:%(port)d/video.mjpg")
                for i in range(10 if key == "a" else 1)]
        out["tokens"][key] = token_create(actor=owner, user=owner, name="bench").plaintext
        out["camera_" + key] = cams[0].pk
    out["hosts"][key] = host
print(json.dumps(out))
"""
    silent_port = int(env.get("BENCH_SILENT_PORT", "9"))
    result = subprocess.run(
        [sys.executable, "-c", code % {"pw": PASSWORD, "port": silent_port}], cwd=REPO,
        env=env, check=True, capture_output=True, text=True)
    data = json.loads(result.stdout.strip().splitlines()[-1])
    return data["hosts"], data["tokens"], int(data["camera_b"])


@contextmanager
def _profiled(directory: str | None, pid: int, phase: str) -> Iterator[None]:
    if not directory:
        yield
        return
    Path(directory).mkdir(parents=True, exist_ok=True)
    out = Path(directory) / f"snapshots-{phase.replace(' ', '-')}.txt"
    spy = subprocess.Popen([str(Path(sys.executable).parent / "py-spy"), "record", "-p",
                            str(pid), "--gil", "--threads", "-r", "100", "-f", "raw",
                            "-o", str(out)], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    try:
        yield
    finally:
        spy.send_signal(signal.SIGINT)
        spy.wait(30)


def _run(args: Any, port: int, pid: int, hosts: dict[str, str], tokens: dict[str, str],
         camera_b: int, silent: SilentCamera, url: str) -> None:
    _latencies(port, hosts["a"], tokens["a"], 20)  # warm up
    sampler = Sampler(url, pid)
    sampler.start()
    results: dict[str, list[float]] = {}
    failures: dict[str, Counter[int]] = {}
    loadavg: dict[str, float] = {}

    def measure(phase: str) -> None:
        failures[phase] = Counter()
        sampler.enter(phase)
        with _profiled(args.profile, pid, phase):
            results[phase] = _latencies(port, hosts["a"], tokens["a"], args.requests,
                                        failures[phase])
        sampler.leave()
        loadavg[phase] = os.getloadavg()[0]

    measure("control")
    context = multiprocessing.get_context("spawn")
    answers: Counter[str] = Counter()
    load_s, load_cpu_s = 0.0, 0.0
    for n in range(1, args.rounds + 1):
        suffix = f" {n}" if args.rounds > 1 else ""
        stop, out = context.Event(), context.Queue()
        load = context.Process(target=_load_process, args=(
            port, hosts["b"], f"/api/v1/cameras/{camera_b}/snapshot/", tokens["b"],
            args.concurrency, args.pause, not args.ignore_retry_after, stop, out), daemon=True)
        load_started = time.monotonic()
        load.start()
        time.sleep(3.0)  # let the load settle: every client has had a request in flight
        measure("load" + suffix)
        stop.set()
        got, cpu = out.get(timeout=120)
        answers.update(got)
        seconds = time.monotonic() - load_started
        load_s, load_cpu_s = load_s + seconds, load_cpu_s + cpu * seconds
        load.join(10)
        time.sleep(2.0)  # pending snapshot requests drain
        measure("control again" + suffix)
    load_cpu = load_cpu_s / load_s
    sampler.stop()

    import psycopg

    with psycopg.connect("host=127.0.0.1 user=postgres dbname=postgres") as conn:
        (max_connections,) = conn.execute("SHOW max_connections").fetchone() or ("?",)
    base = results["control"]
    print(f"tenant A GET /api/v1/cameras/ ({args.requests} requests per phase, one at a time; "
          f"{os.cpu_count()} CPUs)")
    print(f"{'phase':28} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'p95/ctl':>7} "
          f"{'db conn max/mean':>16} {'active max':>10} {'threads max':>11} {'srv CPU':>7} "
          f"{'load1':>5}")
    labels = {"control": "control (no snapshots)"}
    for phase in results:
        if phase.startswith("load"):
            labels[phase] = f"beside {args.concurrency} clients{phase[4:]}"
        elif phase != "control":
            labels[phase] = phase
    for phase, label in labels.items():
        values, samples = results[phase], sampler.samples.get(phase) or [(0, 0, 0)]
        totals = [s[0] for s in samples]
        print(f"{label:28} {_p(values, 0.5):>7.1f} {_p(values, 0.95):>7.1f} "
              f"{_p(values, 0.99):>7.1f} {_p(values, 0.95) / _p(base, 0.95):>7.2f} "
              f"{max(totals):>9} / {statistics.mean(totals):<4.1f} "
              f"{max(s[1] for s in samples):>10} {max(s[2] for s in samples):>11} "
              f"{sampler.cpu[phase] * 100:>6.0f}% {loadavg[phase]:>5.2f}")
    controls = sorted(v for k, vs in results.items() if not k.startswith("load") for v in vs)
    loads = sorted(v for k, vs in results.items() if k.startswith("load") for v in vs)
    noise = [_p(vs, 0.95) / _p(base, 0.95) for k, vs in results.items()
             if k.startswith("control again")]
    print(f"p95 ratio under load: {_p(loads, 0.95) / _p(controls, 0.95):.2f} (all load phases "
          f"against all control phases; p50 {_p(loads, 0.5) / _p(controls, 0.5):.2f}, "
          f"p99 {_p(loads, 0.99) / _p(controls, 0.99):.2f}); run-to-run noise (each control "
          f"again / control): {', '.join(f'{x:.2f}' for x in noise)}")
    # Each load phase against the two control phases around it: a disturbance of the shared
    # machine during one round shows as one outlier, not as a shift of the pooled percentile.
    order = list(results)
    rounds = [_p(results[k], 0.95) / statistics.mean(
        [_p(results[order[i - 1]], 0.95), _p(results[order[i + 1]], 0.95)])
        for i, k in enumerate(order) if k.startswith("load")]
    print(f"p95 ratio per round (load / mean of the controls around it): "
          f"{', '.join(f'{x:.2f}' for x in rounds)}; median {statistics.median(rounds):.2f}")
    print(f"tenant A answers other than 200: "
          f"{ {k: dict(v) for k, v in failures.items() if v} or 'none'}")
    print(f"tenant B snapshot answers in {load_s:.0f} s: {dict(sorted(answers.items()))} "
          f"(0 = connection failed; door = refused before Django; pause {args.pause:g} s"
          f"{', Retry-After ignored' if args.ignore_retry_after else ', Retry-After honoured'})")
    print(f"connections the silent camera received: {silent.accepted}; CPU of the snapshot "
          f"clients' process: {load_cpu * 100:.0f}% of one CPU")
    server = args.server if args.server == "daphne" else f"gunicorn, {args.workers} workers"
    print(f"server: {server}; database connections: max_connections {max_connections}; server "
          "CPU = CPU seconds of the server's processes per second of the phase")


if __name__ == "__main__":
    main()
