"""Fixtures of the stream tests: committed tenants, real workers, camera simulators, servers.

Stream tests share data with other processes (Celery workers, servers), so they work in
autocommit mode (``live_db``) on tenants made for the module and dropped afterwards.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import PASSWORD, REPO_ROOT

PETS = Path("video") / "PETS09-S2L1" / "PETS09-S2L1.mp4"

# Worker timings for tests: short timeouts so failures show within seconds.
WORKER_ENV = {
    "CAMERA_URL_ALLOW_LOOPBACK": "1",
    "COUNTING_TORCH_THREADS": "1",
    "COUNTING_OPEN_TIMEOUT_S": "3",
    "COUNTING_READ_TIMEOUT_S": "3",
    "COUNTING_RECONNECT_MAX_S": "2",
    "COUNTING_FROZEN_AFTER_S": "4",
    "LOG_LEVEL": "INFO",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(predicate: Callable[[], Any], timeout: float, interval: float = 0.2,
             message: str = "condition") -> Any:
    """Poll ``predicate`` until it returns a truthy value; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}")
        time.sleep(interval)


@pytest.fixture(scope="module")
def live_db(django_db_setup: Any, django_db_blocker: Any) -> Iterator[None]:
    """Database access in autocommit mode for the whole module (other processes see it)."""
    with django_db_blocker.unblock():
        yield


@pytest.fixture(scope="module")
def stream_tenant(live_db: None) -> Iterator[Any]:
    """A committed tenant of its own for this module (dropped afterwards)."""
    from django.db import connection

    from tenants.platform.services import tenant_create, tenant_delete

    connection.set_schema_to_public()
    slug = f"s_{uuid.uuid4().hex[:10]}"
    made = tenant_create(name=slug, slug=slug, domain=f"{slug.replace('_', '-')}.localhost",
                         owner_email=f"owner@{slug.replace('_', '-')}.test",
                         owner_password=PASSWORD)
    yield made.tenant
    connection.set_schema_to_public()
    tenant_delete(slug=slug)


@pytest.fixture(scope="module")
def streams_queue() -> Iterator[str]:
    """A private streams queue: never the shared "streams" queue of a running demo. Deleted
    from RabbitMQ afterwards (with any stream task still waiting in it)."""
    queue = f"test-streams-{uuid.uuid4().hex[:8]}"
    yield queue
    queue_delete(queue)


def queue_delete(queue: str) -> None:
    """Remove a test queue from RabbitMQ (with any message still waiting in it)."""
    from config.celery import app

    with app.connection_for_write() as conn:
        try:
            conn.default_channel.queue_delete(queue)
        except Exception:  # noqa: S110 - never declared: nothing to delete
            pass


@contextmanager
def stream_worker(queue: str, concurrency: int = 1,
                  extra_env: dict[str, str] | None = None) -> Iterator[Any]:
    """A real Celery worker process consuming ``queue`` with the stream test settings."""
    from tests.celery_worker import celery_worker

    env = {**WORKER_ENV, "COUNTING_STREAMS_QUEUE": queue, **(extra_env or {})}
    with celery_worker(queue, concurrency=concurrency, extra_env=env) as (_, process):
        yield process


@contextmanager
def camera_simulator(video: Path, **options: Any) -> Iterator[str]:
    """Run scripts/camera_simulator.py on a free port; yields the stream URL."""
    port = free_port()
    args = [sys.executable, str(REPO_ROOT / "scripts" / "camera_simulator.py"), "--video",
            str(video), "--port", str(port)]
    for key, value in options.items():
        flag = "--" + key.replace("_", "-")
        args += [flag] if value is True else [flag, str(value)]
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: simulator_status(base) is not None, 60, message="the simulator")
        yield f"{base}/video.mjpg"
    finally:
        process.terminate()
        process.wait(timeout=10)


def simulator_status(base_or_url: str) -> dict[str, Any] | None:
    base = base_or_url.removesuffix("/video.mjpg")
    try:
        with urllib.request.urlopen(f"{base}/status", timeout=2) as response:
            return json.loads(response.read())  # type: ignore[no-any-return]
    except OSError:
        return None


@pytest.fixture
def allow_loopback(settings: Any) -> None:
    settings.CAMERA_URL_ALLOW_LOOPBACK = True


def make_camera(tenant: Any, url: str, name: str | None = None, detect_fps: float = 5.0,
                lines: bool = True) -> Any:
    """A committed site + camera (+ the demo's two lines and a zone) in ``tenant``."""
    from django_tenants.utils import tenant_context

    from cameras.models import Site
    from cameras.services import camera_create, site_create
    from counting.services import counting_line_create, zone_create

    with tenant_context(tenant):
        site = Site.objects.first() or site_create(actor=None, name="Plaza",
                                                   timezone="Europe/London")
        camera = camera_create(actor=None, site=site, name=name or f"cam-{uuid.uuid4().hex[:6]}",
                               stream_url=url, detect_fps=detect_fps)
        if lines:
            counting_line_create(actor=None, camera=camera, name="east-west", x1=0.5, y1=0.0,
                                 x2=0.5, y2=1.0, in_label="east", out_label="west")
            counting_line_create(actor=None, camera=camera, name="north-south", x1=0.0,
                                 y1=200 / 360, x2=1.0, y2=200 / 360, in_label="north",
                                 out_label="south")
            zone_create(actor=None, camera=camera, name="centre",
                        points=[[0.3, 0.3], [0.7, 0.3], [0.7, 0.8], [0.3, 0.8]])
        return camera


def dispatch(tenant: Any, queue: str, settings: Any, slot_wait_s: float = 15.0) -> list[int]:
    """What the supervisor's ticks do for ``tenant``, sent to the test's private queue.

    A slot freed by the previous test's runner shows in its node's row at the next heartbeat
    (3 s), so while every camera due is only waiting for a slot (health "waiting"), ticks are
    repeated for up to ``slot_wait_s``, as the supervisor's beat would.
    """
    from django_tenants.utils import tenant_context

    from cameras.constants import CameraStatus
    from counting.models import CameraHealth
    from counting.tasks import streams_dispatch_for_current_tenant

    settings.COUNTING_STREAMS_QUEUE = queue
    deadline = time.monotonic() + slot_wait_s
    with tenant_context(tenant):
        while True:
            sent = streams_dispatch_for_current_tenant()
            waiting = CameraHealth.objects.filter(state=CameraStatus.WAITING,
                                                  camera__enabled=True).exists()
            if sent or not waiting or time.monotonic() > deadline:
                return sent
            time.sleep(0.5)


def lease_of(tenant: Any, camera_id: int) -> dict[str, Any] | None:
    from django_tenants.utils import tenant_context

    from counting.models import CameraLease

    with tenant_context(tenant):
        return CameraLease.objects.filter(camera_id=camera_id).values(
            "owner", "generation", "heartbeat_at").first()


def health_of(tenant: Any, camera_id: int) -> Any:
    from django_tenants.utils import tenant_context

    from counting.models import CameraHealth

    with tenant_context(tenant):
        return CameraHealth.objects.filter(camera_id=camera_id).first()


def stored_model_versions(tenant: Any, camera_id: int) -> set[str]:
    """The distinct ``model_version`` values of a camera's stored events."""
    from django_tenants.utils import tenant_context

    from counting.models import CountEvent

    with tenant_context(tenant):
        return set(CountEvent.objects.filter(camera_id=camera_id)
                   .values_list("model_version", flat=True).distinct())


def line_counts(tenant: Any, camera_id: int) -> dict[str, dict[str, int]]:
    """Stored events per line name and direction."""
    from django.db.models import Count
    from django_tenants.utils import tenant_context

    from counting.models import CountEvent

    with tenant_context(tenant):
        rows = (CountEvent.objects.filter(camera_id=camera_id)
                .values("line__name", "direction").annotate(n=Count("id")))
        result: dict[str, dict[str, int]] = {}
        for row in rows:
            result.setdefault(row["line__name"], {"in": 0, "out": 0})[row["direction"]] = row["n"]
        return result


@pytest.fixture
def pets_video(shared_dir: Path) -> Path:
    path = shared_dir / PETS
    if not path.exists():
        pytest.skip(f"PETS video not found at {path}")
    return path


def worker_log(queue: str) -> str:
    path = REPO_ROOT / "var" / f"worker-{queue}.log"
    return path.read_text(errors="replace") if path.exists() else ""



def cameras_stop_all(tenant: Any, timeout: float = 15.0,
                     camera_ids: list[int] | None = None) -> None:
    """Disable every camera of ``tenant`` and wait until no lease is held (test clean-up).

    With ``camera_ids`` only those cameras' leases are waited for: a lease another test left
    held on a camera no worker runs would otherwise keep this wait going until its TTL.
    """
    from django_tenants.utils import tenant_context

    from cameras.models import Camera
    from counting.models import CameraLease

    with tenant_context(tenant):
        Camera.objects.update(enabled=False)

    def released() -> bool:
        with tenant_context(tenant):
            held = CameraLease.objects.exclude(owner="")
            if camera_ids is not None:
                held = held.filter(camera_id__in=camera_ids)
            return not held.exists()

    wait_for(released, timeout, message="every lease to be released")


def postgres_connections(pid: int, port: int = 5432) -> int:
    """Established TCP connections of process ``pid`` to PostgreSQL's ``port`` (from /proc:
    the process's socket inodes matched in its network namespace's TCP tables)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:["):-1])
    count = 0
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            remote_port = int(fields[2].rsplit(":", 1)[1], 16)
            if remote_port == port and fields[3] == "01" and fields[9] in inodes:
                count += 1
    return count


def pool_children(pid: int) -> list[int]:
    """The direct children of ``pid`` (a Celery worker's pool processes)."""
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []
