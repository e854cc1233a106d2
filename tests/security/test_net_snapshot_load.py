"""150 concurrent snapshot requests to a silent camera, against the real ASGI server (daphne, as
`make run` serves): the excess is refused before Django (no thread, no database connection)
with a Retry-After that outlasts a grab, the server's database connections and threads stay
within the admission bounds, and another tenant's request is answered while the admitted
snapshot requests are still pending. Loopback only; no timing is asserted."""

from __future__ import annotations

import asyncio
import http.client
import math
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import TENANTS, owner_email
from tests.live_server import asgi_server_process

SNAPSHOTS = 150


@pytest.fixture
def silent_camera() -> Iterator[int]:
    """A TCP port that accepts and never answers (sockets held until the end)."""
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(256)
    listener.settimeout(0.2)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield int(listener.getsockname()[1])
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    listener.close()


def _threads(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Threads:"):
            return int(line.split()[1])
    raise LookupError(pid)


async def _snapshot(port: int, host: str, path: str, token: str) -> tuple[int, bool, int]:
    """One snapshot request: (status, refused before Django, Retry-After seconds)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n"
                 "Connection: close\r\n\r\n".encode())
    raw = await asyncio.wait_for(reader.read(), 60)
    writer.close()
    lines = raw.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in lines[1:])}
    # Django's middleware adds X-Frame-Options to every answer it gives; the door does not.
    return (int(lines[0].split()[1]), "x-frame-options" not in headers,
            int(headers.get("retry-after") or 0))


def _camera_list(port: int, host: str, token: str) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("GET", "/api/v1/cameras/", headers={"Host": host,
                                                          "Authorization": f"Bearer {token}"})
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


@pytest.fixture
def two_tenants(django_db_setup: Any, django_db_blocker: Any,
                silent_camera: int) -> Iterator[dict[str, Any]]:
    """Tokens of both owners, and tenant B's camera on the silent port (committed: the server
    is another process)."""
    from django.contrib.auth import get_user_model
    from django_tenants.utils import tenant_context

    from cameras.models import Camera, Site
    from tenants.accounts.tokens import token_create
    from tenants.models import Tenant

    made: dict[str, Any] = {}
    with django_db_blocker.unblock():
        for key in ("a", "b"):
            tenant = Tenant.objects.get(slug=TENANTS[key]["slug"])
            with tenant_context(tenant):
                owner = get_user_model().objects.get(username=owner_email(key))
                made[key] = token_create(actor=owner, user=owner, name="snapshot load").plaintext
                if key == "b":
                    site = Site.objects.create(name=f"Silent {uuid.uuid4().hex[:6]}")
                    made["camera"] = Camera.objects.create(
                        site=site, name="Silent", stream_url=f"http://127.0.0.1:{silent_camera}/v")
        yield made
        with tenant_context(Tenant.objects.get(slug=TENANTS["b"]["slug"])):
            made["camera"].delete()
            Site.objects.filter(pk=made["camera"].site_id).delete()


@pytest.mark.slow
def test_150_snapshots_of_a_silent_camera_hold_few_connections_and_threads(
        two_tenants: dict[str, Any], django_db_blocker: Any, settings: Any) -> None:
    import psycopg

    from tests.celery_worker import test_database_url

    per_host, per_tenant = (settings.API_SNAPSHOT_INFLIGHT_PER_HOST,
                            settings.API_SNAPSHOT_PER_TENANT)
    app_name = f"snapload{uuid.uuid4().hex[:8]}"  # the server's connections carry this name
    env = {"CAMERA_URL_ALLOW_LOOPBACK": "1", "PGAPPNAME": app_name,
           **{f"API_THROTTLE_{s}": "100000000/min" for s in ("USER", "TOKEN", "ANON")}}
    host_a, host_b = TENANTS["a"]["domain"], TENANTS["b"]["domain"]
    path = f"/api/v1/cameras/{two_tenants['camera'].pk}/snapshot/"
    with django_db_blocker.unblock(), asgi_server_process(env) as (port, server), \
            psycopg.connect(test_database_url(), autocommit=True) as watcher:
        # given a server that has answered once (its lazy imports done)
        assert _camera_list(port, host_a, two_tenants["a"]) == 200
        threads_before = _threads(server.pid)
        peak = {"connections": 0, "threads": 0}

        def sample() -> None:
            (count,) = watcher.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
                [app_name]).fetchone() or (0,)
            peak["connections"] = max(peak["connections"], int(count))
            peak["threads"] = max(peak["threads"], _threads(server.pid))

        async def scenario() -> tuple[list[tuple[int, bool, int]], int, int]:
            # when 150 clients ask tenant B's silent camera for a snapshot at once
            tasks = [asyncio.create_task(_snapshot(port, host_b, path, two_tenants["b"]))
                     for _ in range(SNAPSHOTS)]
            while sum(t.done() for t in tasks) < SNAPSHOTS - per_host:  # the door answered
                await asyncio.to_thread(sample)
                await asyncio.sleep(0.02)
            # and tenant A asks for its camera list while the admitted ones are pending
            status_a = await asyncio.to_thread(_camera_list, port, host_a, two_tenants["a"])
            pending_when_a_answered = sum(not t.done() for t in tasks)
            while not all(t.done() for t in tasks):
                await asyncio.to_thread(sample)
                await asyncio.sleep(0.05)
            return [t.result() for t in tasks], status_a, pending_when_a_answered

        answers, status_a, pending = asyncio.run(scenario())

    # then tenant A was answered while snapshot requests were still pending
    assert status_a == 200
    assert pending >= 1
    # every snapshot request got an answer: refusals (429) or the camera's failure (502)
    statuses = Counter(status for status, _, _ in answers)
    assert set(statuses) <= {429, 502}, statuses
    # most were refused before Django (a slot frees when an admitted one is answered, so a few
    # more than the bound get in), telling to come back after a grab's deadline
    door = [(status, retry) for status, at_door, retry in answers if at_door]
    assert len(door) > SNAPSHOTS // 2
    assert {status for status, _ in door} == {429}
    assert min(retry for _, retry in door) >= math.ceil(settings.API_SNAPSHOT_TIMEOUT_S)
    # and the server never held more database connections or threads than the bounds allow:
    # the admitted requests, tenant A's request, and the grabs of the tenant (the thread of an
    # answered request ends a moment later: twice the admitted ones), never one per request
    assert peak["connections"] <= per_host + 1
    assert peak["threads"] <= threads_before + 2 * per_host + per_tenant + 2
