"""150 concurrent snapshot requests to a silent camera: does another tenant's API notice?

    .venv/bin/python -m benchmarks.bench_snapshots [--concurrency 150] [--requests 200]

Everything runs for real, on loopback, in a database of its own (created from the project's
template by scripts/db_create.sh and dropped afterwards):

* the ASGI server (daphne) of the project, settings ``config.settings.local``;
* tenant A (the bystander) with 10 cameras, asked ``GET /api/v1/cameras/`` with a token,
  one request at a time, ``--requests`` times: first alone (the baseline), then while
* tenant B's ``--concurrency`` clients each keep one snapshot request of B's camera in flight:
  when answered, a client sends the next one after ``--pause`` seconds (default 1: a page that
  refreshes its snapshot every second), or after Retry-After when the answer carries one
  (``--pause 0 --ignore-retry-after`` is a flood). The camera is a TCP server that accepts and
  never answers (connect succeeds, no byte ever comes).

It prints A's p50/p95 alone and under load and their ratio, the answers B got (200/429/502/
503), how many connections the silent camera received, and the most database connections
the server held at once (PostgreSQL's pg_stat_activity, sampled every 50 ms), against
max_connections. Throttles are lifted so that only the snapshot limits act.
Numbers depend on the machine; compare rows of the same run.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
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
def daphne(env: dict[str, str]) -> Iterator[int]:
    port = _free_port()
    (REPO / "var").mkdir(exist_ok=True)
    with open(REPO / "var" / f"bench-snapshots-daphne-{port}.log", "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port),
             "config.asgi:application"], cwd=REPO, env=env, stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True)
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                    break
                except OSError:
                    if process.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(f"daphne did not start; see {log.name}") from None
                    time.sleep(0.2)
            yield port
        finally:
            os.killpg(process.pid, 15)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, 9)


def _get(port: int, host: str, path: str, token: str, timeout: float = 30.0,
         retry_after: list[float] | None = None) -> tuple[int, float]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    started = time.perf_counter()
    try:
        conn.request("GET", path, headers={"Host": host, "Authorization": f"Bearer {token}"})
        response = conn.getresponse()
        response.read()
        if retry_after is not None:
            retry_after[:] = [float(response.getheader("Retry-After") or 0)]
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


def _db_connections(url: str, stop: threading.Event, peak: list[int]) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    with psycopg.connect("host=127.0.0.1 user=postgres dbname=postgres",
                         autocommit=True) as conn:
        while not stop.wait(0.05):
            (count,) = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s",
                                    [name]).fetchone() or (0,)
            peak[0] = max(peak[0], int(count))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--concurrency", type=int, default=150)
    parser.add_argument("--requests", type=int, default=200,
                        help="requests of tenant A's camera list, alone and under load")
    parser.add_argument("--pause", type=float, default=1.0,
                        help="seconds a snapshot client waits between its requests")
    parser.add_argument("--ignore-retry-after", action="store_true")
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
            with daphne(env) as port:
                _run(args, port, hosts, tokens, camera_b, silent, url)
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


def _run(args: Any, port: int, hosts: dict[str, str], tokens: dict[str, str], camera_b: int,
         silent: SilentCamera, url: str) -> None:
    _latencies(port, hosts["a"], tokens["a"], 20)  # warm up
    alone = _latencies(port, hosts["a"], tokens["a"], args.requests)
    stop, peak = threading.Event(), [0]
    watcher = threading.Thread(target=_db_connections, args=(url, stop, peak), daemon=True)
    watcher.start()
    answers: Counter[int] = Counter()
    lock = threading.Lock()

    def attacker() -> None:
        retry_after = [0.0]
        while not stop.is_set():
            status, _ = _get(port, hosts["b"], f"/api/v1/cameras/{camera_b}/snapshot/",
                             tokens["b"], retry_after=retry_after)
            with lock:
                answers[status] += 1
            wait = args.pause if args.ignore_retry_after else max(args.pause, retry_after[0])
            stop.wait(wait)

    attackers = [threading.Thread(target=attacker, daemon=True) for _ in range(args.concurrency)]
    for thread in attackers:
        thread.start()
    time.sleep(3.0)  # let the load settle: every client has a request in flight
    failures: Counter[int] = Counter()
    load_started = time.monotonic()
    loaded = _latencies(port, hosts["a"], tokens["a"], args.requests, failures)
    load_s = time.monotonic() - load_started + 3.0
    stop.set()
    for thread in attackers:
        thread.join(30)
    watcher.join(5)
    import psycopg

    with psycopg.connect("host=127.0.0.1 user=postgres dbname=postgres") as conn:
        (max_connections,) = conn.execute("SHOW max_connections").fetchone() or ("?",)
    print(f"tenant A GET /api/v1/cameras/ ({args.requests} requests, one at a time)")
    print(f"{'':28} {'p50 ms':>8} {'p95 ms':>8} {'mean ms':>8}")
    for label, values in (("alone", alone), (f"beside {args.concurrency} snapshots", loaded)):
        print(f"{label:28} {_p(values, 0.5):>8.1f} {_p(values, 0.95):>8.1f} "
              f"{statistics.mean(values) * 1000:>8.1f}")
    print(f"p95 ratio (under load / alone): {_p(loaded, 0.95) / _p(alone, 0.95):.2f}")
    print(f"tenant A answers other than 200 under load: {dict(failures) or 'none'}")
    print(f"tenant B snapshot answers in {load_s:.0f} s: {dict(sorted(answers.items()))} "
          f"(0 = connection failed; pause {args.pause:g} s"
          f"{', Retry-After ignored' if args.ignore_retry_after else ', Retry-After honoured'})")
    print(f"connections the silent camera received: {silent.accepted}")
    print(f"most database connections at once: {peak[0]} (max_connections {max_connections})")


if __name__ == "__main__":
    main()
