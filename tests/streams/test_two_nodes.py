"""Two stream worker nodes on this machine: cameras spread over both, and move to the other
node when one is stopped (SIGTERM)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from tests.celery_worker import stop_process_group
from tests.streams.conftest import (
    camera_simulator,
    dispatch,
    lease_of,
    make_camera,
    stream_worker,
    wait_for,
    worker_log,
)

NODE_ENV = {"COUNTING_NODE_HEARTBEAT_S": "1"}


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
        # and 2 cameras at a low detect rate
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
        print(f"nodes live after {nodes_at - began:.1f} s, cameras spread after "  # noqa: T201
              f"{spread_at - nodes_at:.1f} s, node stopped in {stopped_at - spread_at:.1f} s, "
              f"cameras moved {took:.1f} s after it exited")
        # (leaving the block stops the survivor: its runners release their leases or, while
        # still loading the detector, exit after the shutdown grace; the tenant is dropped)


def _node_prefix(process: Any) -> str:
    """The node name prefix of a worker started by tests.celery_worker (from its command)."""
    args = Path(f"/proc/{process.pid}/cmdline").read_bytes().split(b"\0")
    return args[args.index(b"-n") + 1].decode().split("@")[0]

