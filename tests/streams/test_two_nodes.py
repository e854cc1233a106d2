"""Two stream worker nodes on this machine: a camera nobody answers at gives its slot back and
waits for its next attempt; cameras spread over both nodes, and move to the other node when one
is stopped (SIGTERM)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from tests.celery_worker import stop_process_group
from tests.streams.conftest import (
    camera_simulator,
    dispatch,
    free_port,
    health_of,
    lease_of,
    make_camera,
    stream_worker,
    wait_for,
    worker_log,
)

NODE_ENV = {"COUNTING_NODE_HEARTBEAT_S": "1",
            # a camera that refuses 2 opens in a row over 1 s gives up its run, and is not
            # tried again for 10 minutes (longer than the test)
            "COUNTING_UNREACHABLE_ATTEMPTS": "2", "COUNTING_UNREACHABLE_AFTER_S": "1",
            "COUNTING_UNREACHABLE_BACKOFF_S": "600", "COUNTING_UNREACHABLE_BACKOFF_MAX_S": "600"}


def _nodes(queue: str) -> dict[str, set[int]]:
    """Live nodes of ``queue`` and the cameras each says it runs."""
    from tenants.platform.nodes import stream_nodes_live

    return {node.name: {int(c["camera_id"]) for c in node.cameras}
            for node in stream_nodes_live(queue=queue)}


def _owned(tenant: Any, camera_ids: list[int]) -> bool:
    """Every camera's lease is held by a runner (it starts before the detector loads, which
    takes 10-30 s on this loaded machine and is not what this test is about)."""
    return all((lease_of(tenant, pk) or {}).get("owner") for pk in camera_ids)


def test_cameras_spread_over_two_nodes_and_move_when_one_stops(
        pets_video: Path, stream_tenant: Any, streams_queue: str, settings: Any,
        allow_loopback: None) -> None:
    with camera_simulator(pets_video) as url, \
            stream_worker(streams_queue, concurrency=2, extra_env=NODE_ENV) as first, \
            stream_worker(streams_queue, concurrency=2, extra_env=NODE_ENV) as second:
        # given two nodes of 2 slots advertising themselves on the queue
        began = time.monotonic()
        wait_for(lambda: len(_nodes(streams_queue)) == 2, 90, message="two live nodes")
        live_at = time.monotonic()
        # and a camera whose address nobody answers at (a closed loopback port)
        dead = make_camera(stream_tenant, f"http://127.0.0.1:{free_port()}/video.mjpg",
                           detect_fps=1.0, lines=False).pk
        assert dispatch(stream_tenant, streams_queue, settings) == [dead]
        # then its run gives up after the attempts, says when it tries again and frees its slot
        health = wait_for(lambda: _unreachable(stream_tenant, dead), 120,
                          message="the camera to give up as unreachable")
        assert health.state == "offline", health.reason
        wait_for(lambda: (lease_of(stream_tenant, dead) or {}).get("owner") == "", 10,
                 message="the lease to be released")
        _assert_backing_off(stream_tenant, dead)
        wait_for(lambda: not set().union(*_nodes(streams_queue).values()), 10,
                 message="the slot to be free")
        # and the supervisor does not send it again before its next attempt
        assert dispatch(stream_tenant, streams_queue, settings, slot_wait_s=0) == []
        unreachable_at = time.monotonic()
        # when 2 cameras at a low detect rate are added
        cameras = [make_camera(stream_tenant, url, detect_fps=1.0, lines=False).pk
                   for _ in range(2)]

        def tick_until(done: Any, timeout: float, message: str) -> Any:
            """A supervisor tick for the tenant every 2 s until ``done()`` holds."""
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                dispatch(stream_tenant, streams_queue, settings)
                tick_end = time.monotonic() + 2.0
                while time.monotonic() < tick_end:
                    value = done()
                    if value:
                        return value
                    time.sleep(0.2)
            raise AssertionError(f"timed out waiting for {message}: {_nodes(streams_queue)}\n"
                                 + worker_log(streams_queue)[-3000:])

        # when the supervisor ticks
        def spread() -> dict[str, set[int]] | None:
            nodes = _nodes(streams_queue)
            running = set().union(*nodes.values()) if nodes else set()
            if running == set(cameras) and all(nodes.values()) and _owned(stream_tenant,
                                                                           cameras):
                return nodes
            return None

        nodes_at = time.monotonic()
        nodes = tick_until(spread, 90, "the cameras running on both nodes")
        spread_at = time.monotonic()
        # then every camera runs, one on each node
        assert sorted(len(ids) for ids in nodes.values()) == [1, 1]
        # when one node is stopped with SIGTERM
        busy = min(nodes)
        survivor = next(name for name in nodes if name != busy)
        victim = first if busy.startswith(_node_prefix(first) + "@") else second
        stop_process_group(victim)
        stopped_at = time.monotonic()

        # then its node is gone and both cameras run on the other node
        def moved() -> bool:
            now = _nodes(streams_queue)
            return (busy not in now and now.get(survivor) == set(cameras)
                    and _owned(stream_tenant, cameras))

        tick_until(moved, 60, "the cameras to move to the other node")
        took = time.monotonic() - stopped_at
        # and the unreachable camera stayed out of both nodes all along
        assert dead not in set().union(*_nodes(streams_queue).values())
        print(f"nodes live after {live_at - began:.1f} s, unreachable camera out "  # noqa: T201
              f"{unreachable_at - live_at:.1f} s later, cameras spread after "
              f"{spread_at - nodes_at:.1f} s, node stopped in {stopped_at - spread_at:.1f} s, "
              f"cameras moved {took:.1f} s after it exited")
        # (leaving the block stops the survivor: its runners release their leases or, while
        # still loading the detector, exit after the shutdown grace; the tenant is dropped)


def _node_prefix(process: Any) -> str:
    """The node name prefix of a worker started by tests.celery_worker (from its command)."""
    args = Path(f"/proc/{process.pid}/cmdline").read_bytes().split(b"\0")
    return args[args.index(b"-n") + 1].decode().split("@")[0]



def _unreachable(tenant: Any, camera_id: int) -> Any:
    health = health_of(tenant, camera_id)
    reason = getattr(health, "reason", "") or ""
    return health if "unreachable, next try at" in reason else None


def _assert_backing_off(tenant: Any, camera_id: int) -> None:
    """The camera's lease is released and holds its next attempt, 10 minutes ahead."""
    from django.utils import timezone
    from django_tenants.utils import tenant_context

    from counting.models import CameraLease

    with tenant_context(tenant):
        lease = CameraLease.objects.get(camera_id=camera_id)
    assert lease.owner == "" and lease.connect_failures == 1
    assert lease.next_attempt_at is not None
    assert 500 < (lease.next_attempt_at - timezone.now()).total_seconds() <= 600
