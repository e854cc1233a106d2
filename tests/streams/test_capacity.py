"""Stream slots: fair dispatch within the live nodes' free slots, "waiting" with its reason,
the backoff of unreachable cameras, and nodes advertising themselves (counting/capacity.py,
counting/tasks.py, counting/leases.py, counting/nodes.py, tenants/platform/nodes.py)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from cameras.constants import CameraStatus
from cameras.models import Camera
from cameras.services import camera_create, site_create
from counting.capacity import Capacity, fair_share
from counting.health_text import health_text
from counting.leases import (
    cameras_due_for_runner,
    lease_acquire,
    lease_backoff_set,
    lease_unlock,
)
from counting.models import CameraHealth, CameraHealthEvent, CameraLease
from counting.nodes import NodeAdvertiser, running_streams
from tenants.platform.models import StreamNode
from tenants.platform.nodes import stream_nodes_live
from tests.chaos.faults import redis_process
from tests.chaos.stack import queue_depth
from tests.streams.conftest import free_port


# -- fair shares (no database) -------------------------------------------------------------------
@pytest.mark.parametrize(("waiting", "running", "free", "expected"), [
    # more slots than cameras: everyone starts
    ({"a": [1, 2], "b": [7]}, {}, 5, {"a": [1, 2], "b": [7]}),
    # no slot free: nobody starts
    ({"a": [1, 2], "b": [7]}, {}, 0, {"a": [], "b": []}),
    # round robin: a's many cameras do not starve b's one (ties by tenant name)
    ({"a": [1, 2, 3], "b": [7, 8]}, {}, 3, {"a": [1, 2], "b": [7]}),
    # a tenant already running cameras comes after one running none
    ({"a": [1, 2], "b": [7, 8]}, {"a": 2}, 2, {"a": [], "b": [7, 8]}),
    ({"a": [1, 2], "b": [7, 8]}, {"a": 1}, 3, {"a": [1], "b": [7, 8]}),
    # a tenant with nothing waiting is still a key of the answer
    ({"a": [], "b": [7]}, {}, 1, {"a": [], "b": [7]}),
])
def test_fair_share_goes_round_robin_across_tenants(
        waiting: dict[str, list[int]], running: dict[str, int], free: int,
        expected: dict[str, list[int]]) -> None:
    assert fair_share(waiting=waiting, running=running, free=free) == expected


def test_capacity_counts_pending_tasks_and_says_why_a_camera_waits() -> None:
    capacity = Capacity(nodes=2, slots=4, in_use=3, pending=1)
    assert capacity.free == 0
    assert capacity.waiting_reason() == (
        "waiting for a stream slot: all 4 slots on 2 nodes are busy; add stream slots or "
        "nodes to run more cameras at once")
    assert Capacity(nodes=1, slots=1, in_use=1).waiting_reason().startswith(
        "waiting for a stream slot: all 1 slot on 1 node are busy;")
    assert Capacity(nodes=1, slots=2, in_use=5).free == 0


def test_the_portal_explains_waiting_and_unreachable_cameras() -> None:
    waiting = health_text(state=CameraStatus.WAITING, reason=Capacity(
        nodes=2, slots=4, in_use=4).waiting_reason())
    assert (waiting.headline, waiting.severity) == ("Waiting for a slot", "warning")
    assert waiting.detail.startswith("All stream slots of the counting service are in use "
                                     "(4 slots on 2 nodes); the camera starts by itself")
    unreachable = health_text(state=CameraStatus.OFFLINE,
                              reason="unreachable, next try at 10:05:30 GMT")
    assert unreachable.headline == "Offline"
    assert "the next try is at 10:05:30 GMT" in unreachable.detail


# -- the supervisor within the free slots ----------------------------------------------------------
@pytest.fixture
def private_redis(tmp_path: Any, settings: Any) -> Iterator[None]:
    """Dispatch markers in a Redis of this test (camera ids repeat across test processes)."""
    with redis_process(tmp_path) as server:
        settings.REDIS_URL = server.url(0)
        yield


@pytest.fixture
def private_queue(settings: Any) -> Iterator[str]:
    from tests.streams.conftest import queue_delete

    queue = f"test-slots-{timezone.now():%H%M%S%f}"
    settings.COUNTING_STREAMS_QUEUE = queue
    yield queue
    queue_delete(queue)


def _node(name: str, queue: str, slots: int, in_use: int, age_s: float = 0.0) -> StreamNode:
    beat = timezone.now() - timedelta(seconds=age_s)
    return StreamNode.objects.create(
        name=name, host="h", queue=queue, slots=slots, slots_in_use=in_use, heartbeat_s=3.0,
        cameras=[{"schema": "x", "tenant": "X", "camera_id": i} for i in range(in_use)],
        started_at=beat, heartbeat_at=beat)


def _cameras(tenant: Any, n: int) -> list[int]:
    from django_tenants.utils import tenant_context

    with tenant_context(tenant):
        site = site_create(actor=None, name="Slots")
        return [camera_create(actor=None, site=site, name=f"slot cam {i}",
                              stream_url=f"rtsp://10.9.9.{i + 1}/").pk for i in range(n)]


def test_the_supervisor_fills_the_free_slots_fairly_and_tells_the_rest_why_they_wait(
        tenant_a: Any, tenant_b: Any, private_redis: None, private_queue: str) -> None:
    from django_tenants.utils import tenant_context

    from counting.tasks import streams_dispatch

    # given two live nodes with 4 slots, 1 in use (3 free), and a gone node with 10
    _node("streams-a@h", private_queue, 2, 1)
    _node("streams-b@h", private_queue, 2, 0)
    _node("streams-c@h", private_queue, 10, 0, age_s=60)
    _node("other@h", "another-queue", 10, 0)
    assert [n.name for n in stream_nodes_live(queue=private_queue)] == ["streams-a@h",
                                                                       "streams-b@h"]
    # and 3 cameras of tenant a, 2 of tenant b, none running
    a, b = _cameras(tenant_a, 3), _cameras(tenant_b, 2)
    # when the supervisor ticks
    sent = streams_dispatch([tenant_a, tenant_b])
    # then 3 tasks went out, round robin: a's first, b's first, a's second
    assert sent == {tenant_a.schema_name: a[:2], tenant_b.schema_name: b[:1]}
    assert queue_depth(private_queue) == 3
    # and the cameras left out say why, on the camera and in its health
    reason = Capacity(nodes=2, slots=4, in_use=1).waiting_reason()
    assert reason.startswith("waiting for a stream slot: all 4 slots on 2 nodes are busy")
    for tenant, camera_id in ((tenant_a, a[2]), (tenant_b, b[1])):
        with tenant_context(tenant):
            camera = Camera.objects.get(pk=camera_id)
            assert (camera.status, camera.status_reason) == (CameraStatus.WAITING, reason)
            assert CameraHealth.objects.get(camera_id=camera_id).reason == reason
    # when the next tick comes before the tasks started (their markers count as slots)
    assert streams_dispatch([tenant_a, tenant_b]) == {}
    # then nothing more is sent and the waiting cameras keep their one health event
    assert queue_depth(private_queue) == 3
    with tenant_context(tenant_a):
        assert CameraHealthEvent.objects.filter(camera_id=a[2]).count() == 1
        assert CameraHealth.objects.get(camera_id=a[2]).reason == reason


def test_without_any_live_node_every_camera_is_dispatched_as_before(
        tenant_a: Any, private_redis: None, private_queue: str) -> None:
    from counting.tasks import streams_dispatch

    # given only a gone node
    _node("streams-gone@h", private_queue, 10, 0, age_s=60)
    a = _cameras(tenant_a, 2)
    # then the supervisor cannot know the capacity and sends every camera (the tasks wait)
    assert streams_dispatch([tenant_a]) == {tenant_a.schema_name: a}


# -- unreachable cameras back off without holding a slot -------------------------------------------
def test_an_unreachable_camera_is_not_dispatched_before_its_next_attempt(
        tenant_a: Any, in_tenant: Any) -> None:
    with in_tenant(tenant_a):
        site = site_create(actor=None, name="Backoff")
        camera = camera_create(actor=None, site=site, name="far", stream_url="rtsp://10.9.9.9/")
        # given a run that owns the camera's lease
        taken = lease_acquire(camera_id=camera.pk, owner="w1", ttl_s=10)
        assert taken is not None

        def backoff(connected: bool = False, max_s: float = 300.0) -> float:
            until = lease_backoff_set(camera_id=camera.pk, owner="w1",
                                      generation=taken.generation, connected=connected,
                                      base_s=30.0, max_s=max_s)
            assert until is not None
            return (until - _db_now()).total_seconds()

        # when its runs fail to connect one after another, the wait doubles up to the cap
        assert backoff() == pytest.approx(30, abs=1)
        assert backoff() == pytest.approx(60, abs=1)
        assert backoff(max_s=100) == pytest.approx(100, abs=1)
        # and a run that had connected before failing starts again at the base
        assert backoff(connected=True) == pytest.approx(30, abs=1)
        assert CameraLease.objects.get(camera_id=camera.pk).connect_failures == 1
        # when the run ends (lease released) the camera is not due before its next attempt
        # (the run began after the camera's last edit; in a test's transaction now() is its
        # start, so the times are set from this clock)
        CameraLease.objects.filter(camera_id=camera.pk).update(
            owner="", heartbeat_at=None, acquired_at=timezone.now())
        lease_unlock(camera_id=camera.pk)
        assert camera.pk not in cameras_due_for_runner(ttl_s=10)
        # when the time has come it is due again
        CameraLease.objects.filter(camera_id=camera.pk).update(
            next_attempt_at=timezone.now() - timedelta(seconds=1))
        assert camera.pk in cameras_due_for_runner(ttl_s=10)
        # and a camera edited since its failed run (a corrected address) is due at once
        CameraLease.objects.filter(camera_id=camera.pk).update(
            next_attempt_at=timezone.now() + timedelta(minutes=5), acquired_at=timezone.now())
        assert camera.pk not in cameras_due_for_runner(ttl_s=10)
        Camera.objects.filter(pk=camera.pk).update(
            updated_at=timezone.now() + timedelta(seconds=1))
        assert camera.pk in cameras_due_for_runner(ttl_s=10)
        # and a stale lease of someone else's run does not need the backoff to be due
        assert lease_backoff_set(camera_id=camera.pk, owner="other", generation=99,
                                 connected=False, base_s=30, max_s=300) is None


def _db_now() -> datetime:
    with connection.cursor() as cursor:
        cursor.execute("SELECT now()")
        return cursor.fetchone()[0]  # type: ignore[no-any-return]


# -- nodes advertise themselves ------------------------------------------------------------------
@dataclass
class _Request:
    """What the node reads of a Celery request in its main process."""

    name: str
    args: list[Any]
    request_dict: dict[str, Any] = field(default_factory=dict)


def test_a_node_advertises_its_slots_cameras_and_load_and_survives_a_database_outage(
        tenant_a: Any) -> None:
    requests = [_Request("counting.stream_run", [12], {"_schema_name": "tenant_a"}),
                _Request("counting.stream_run", [3], {"_schema_name": "tenant_b"}),
                _Request("counting.health_sweep", [], {})]
    assert running_streams(requests) == [("tenant_a", 12), ("tenant_b", 3)]
    node = NodeAdvertiser(name="streams-x@h", queue="q-adv", slots=4, interval_s=3.0,
                          requests=lambda: requests)
    # when it beats
    assert node.beat() is True
    # then its row shows the slots, the cameras with their tenant, the load and a heartbeat
    row = StreamNode.objects.get(name="streams-x@h")
    assert (row.slots, row.slots_in_use, row.queue) == (4, 2, "q-adv")
    assert row.cameras[0] == {"schema": "tenant_a", "tenant": tenant_a.name, "camera_id": 12}
    assert row.load_1m >= 0 and row.cpu_count >= 1
    assert [n.name for n in stream_nodes_live(queue="q-adv")] == ["streams-x@h"]
    # and the operator's command prints the same
    out = StringIO()
    call_command("stream_nodes", stdout=out)
    line = next(text for text in out.getvalue().splitlines() if "streams-x@h" in text)
    assert " live " in line and "2/4" in line and f"{tenant_a.name}/camera 12" in line
    # when the database refuses its connections (a thread whose connection points at a
    # closed port), the beat fails without raising, and the next one gets through
    port = free_port()
    outcome: list[bool] = []

    def beat_with_database_down() -> None:
        from django.db import connections

        wrapper = connections["default"]
        wrapper.settings_dict = {**wrapper.settings_dict, "PORT": str(port)}
        try:
            outcome.append(node.beat())
        finally:
            wrapper.close()

    thread = threading.Thread(target=beat_with_database_down)
    thread.start()
    thread.join(30)
    assert outcome == [False] and node.failures == 1
    assert node.beat() is True and node.beats == 2
    # and a row silent for more than three heartbeats is gone
    StreamNode.objects.filter(name="streams-x@h").update(
        heartbeat_at=datetime.now(tz=UTC) - timedelta(seconds=10))
    assert stream_nodes_live(queue="q-adv") == []
    out = StringIO()
    call_command("stream_nodes", stdout=out)
    assert " gone " in next(t for t in out.getvalue().splitlines() if "streams-x@h" in t)
