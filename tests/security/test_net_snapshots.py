"""Snapshots cannot starve the platform: a bounded number of grabs per tenant and per process
(the rest answered 429/503 with Retry-After after a short wait), one grab per camera at a time,
answers cached, only for those who may change the camera, and a picture above the pixel limit
refused from its header, before anything is decoded."""

from __future__ import annotations

import json
import threading
from collections import Counter
from typing import Any

import cv2
import numpy as np
import pytest

from cameras.api import snapshot as snapshot_module
from cameras.api.image_headers import ImageHeaderError, image_size
from cameras.api.snapshot_gate import SnapshotAnswer, SnapshotBusy, SnapshotLimits, snapshot_answer
from cameras.models import Camera
from cameras.streams import STREAM_UNAVAILABLE
from tests.security.net_fixtures import CameraServer, SilentServer, forged_jpeg, jpeg


def _camera_at(world: Any, in_tenant: Any, url: str) -> Any:
    with in_tenant(world.tenant):
        Camera.objects.filter(pk=world.camera.pk).update(stream_url=url)
        return Camera.objects.get(pk=world.camera.pk)


@pytest.fixture
def decodes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the packets the snapshot decodes (its one decoding function, wrapped)."""
    calls: list[int] = []
    original = snapshot_module._decode_packet

    def counting(packet: Any) -> list[Any]:
        calls.append(packet.size)
        return original(packet)

    monkeypatch.setattr(snapshot_module, "_decode_packet", counting)
    return calls


def test_a_16000_by_16000_jpeg_is_refused_before_decoding(
        world_a: Any, in_tenant: Any, api_client: Any, camera_server: CameraServer,
        settings: Any, decodes: list[int]) -> None:
    # given a camera whose frames announce 16000 x 16000 pixels (a few hundred bytes each)
    settings.CAMERA_URL_ALLOW_LOOPBACK = True
    camera_server.frame = forged_jpeg(16000, 16000)
    camera = _camera_at(world_a, in_tenant, f"http://127.0.0.1:{camera_server.port}/bomb.mjpg")
    # when a snapshot is asked for
    response = api_client("a", world_a.owner).get(f"/api/v1/cameras/{camera.pk}/snapshot/")
    # then it is refused with the reason, and no packet was decoded
    assert response.status_code == 502
    error = response.json()["error"]
    assert error["code"] == "camera_image_too_large"
    assert "16000 x 16000" in error["message"]
    assert decodes == []


def test_a_normal_frame_is_decoded_once(world_a: Any, in_tenant: Any, api_client: Any,
                                        camera_server: CameraServer, settings: Any,
                                        decodes: list[int]) -> None:
    # given a camera with ordinary 64 x 48 frames (the counter above sees real decoding)
    settings.CAMERA_URL_ALLOW_LOOPBACK = True
    camera = _camera_at(world_a, in_tenant, f"http://127.0.0.1:{camera_server.port}/ok.mjpg")
    response = api_client("a", world_a.owner).get(f"/api/v1/cameras/{camera.pk}/snapshot/")
    assert response.status_code == 200
    assert len(decodes) == 1
    image = cv2.imdecode(np.frombuffer(response.content, np.uint8), cv2.IMREAD_COLOR)
    assert image.shape == (48, 64, 3)


@pytest.mark.parametrize(("data", "size"), [
    (forged_jpeg(16000, 16000), (16000, 16000)),  # the bomb's header
    (jpeg(640, 360), (640, 360)),  # an ordinary JPEG
    (cv2.imencode(".png", np.zeros((5, 7, 3), np.uint8))[1].tobytes(), (7, 5)),  # a PNG
])
def test_image_sizes_come_from_headers(data: bytes, size: tuple[int, int]) -> None:
    assert image_size(data) == size


@pytest.mark.parametrize("data", [
    b"",  # nothing
    b"GIF89a....",  # another format
    b"\xff\xd8\xff\xda\x00\x08scan-before-frame",  # picture data before any frame header
])
def test_unreadable_headers_are_refused(data: bytes) -> None:
    with pytest.raises(ImageHeaderError):
        image_size(data)


def test_a_viewer_who_may_not_change_the_camera_gets_no_snapshot(
        world_a: Any, in_tenant: Any, api_client: Any, camera_server: CameraServer,
        settings: Any) -> None:
    # given a Viewer who may view the camera's site but not change the camera
    settings.CAMERA_URL_ALLOW_LOOPBACK = True
    camera = _camera_at(world_a, in_tenant, f"http://127.0.0.1:{camera_server.port}/v.mjpg")
    from guardian.shortcuts import assign_perm

    with in_tenant(world_a.tenant):
        assign_perm("view_site", world_a.viewer, world_a.site)
    # when the Viewer asks for a snapshot
    response = api_client("a", world_a.viewer).get(f"/api/v1/cameras/{camera.pk}/snapshot/")
    # then it is refused and the camera was never contacted
    assert response.status_code == 403
    assert camera_server.requests == []


def _silent_camera(pk: int, port: int) -> Camera:
    """A camera row as read from the database (the gate needs no database)."""
    return Camera(pk=pk, site_id=1, name=f"silent {pk}",
                  stream_url=f"http://127.0.0.1:{port}/video.mjpg")


def _concurrently(calls: list[tuple[Camera, str]], limits: SnapshotLimits) -> list[Any]:
    """Run the snapshot requests at once; each result is an answer or the SnapshotBusy."""
    results: list[Any] = [None] * len(calls)
    start = threading.Barrier(len(calls))

    def run(index: int, camera: Camera, schema: str) -> None:
        start.wait()
        try:
            results[index] = snapshot_answer(camera=camera, schema=schema, limits=limits)
        except SnapshotBusy as busy:
            results[index] = busy

    threads = [threading.Thread(target=run, args=(i, cam, schema))
               for i, (cam, schema) in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return results


def _kinds(results: list[Any]) -> Counter[str]:
    return Counter(
        f"busy-{r.scope}" if isinstance(r, SnapshotBusy)
        else ("picture" if r.snapshot is not None else r.error_code) for r in results)


def test_150_requests_to_a_silent_camera_make_one_connection_and_leave_other_tenants_a_slot(
        silent_server: SilentServer, camera_server: CameraServer, settings: Any) -> None:
    # given a silent camera of tenant X and a working camera of tenant Y
    settings.CAMERA_URL_ALLOW_LOOPBACK = True
    limits = SnapshotLimits(per_tenant=2, per_process=8, wait_s=0.3, timeout_s=2.0,
                            cache_s=30.0)
    silent = _silent_camera(910_001, silent_server.port)
    working = Camera(pk=910_002, site_id=1, name="working",
                     stream_url=f"http://127.0.0.1:{camera_server.port}/video.mjpg")
    # when 150 requests ask for the silent camera while one asks for the working one
    calls = [(silent, "net_tenant_x")] * 150 + [(working, "net_tenant_y")]
    results = _concurrently(calls, limits)
    # then the silent camera was connected to once; its requests got its answer or a 429
    # with Retry-After (none waited longer than the short wait for a slot) ...
    kinds = _kinds(results[:150])
    assert silent_server.accepted == 1
    assert set(kinds) <= {"camera_unreachable", "busy-tenant"}
    assert kinds["camera_unreachable"] >= 1
    assert all(r.retry_after_s == 2 for r in results[:150] if isinstance(r, SnapshotBusy))
    # ... and the other tenant got its picture
    assert isinstance(results[150], SnapshotAnswer) and results[150].snapshot is not None
    # and the silent camera's failure is reused: the next request connects to nothing
    again = snapshot_answer(camera=silent, schema="net_tenant_x", limits=limits)
    assert (again.error_message, silent_server.accepted) == (STREAM_UNAVAILABLE, 1)


def test_grabs_are_bounded_per_tenant_and_per_process(silent_server: SilentServer,
                                                      settings: Any) -> None:
    # given a process allowing 3 grabs at once and each tenant 2
    settings.CAMERA_URL_ALLOW_LOOPBACK = True
    limits = SnapshotLimits(per_tenant=2, per_process=3, wait_s=0.3, timeout_s=1.5,
                            cache_s=0.0)
    # when tenant X asks for 5 different silent cameras at once, and, while X's grabs hang,
    # tenant Y asks for 2 (in that order, so which request gets which slot is not a race)
    calls_x = [(_silent_camera(920_000 + i, silent_server.port), "net_tenant_x") for i in range(5)]
    calls_y = [(_silent_camera(930_000 + i, silent_server.port), "net_tenant_y") for i in range(2)]
    results_x: list[Any] = []
    first = threading.Thread(target=lambda: results_x.extend(_concurrently(calls_x, limits)))
    first.start()
    while silent_server.accepted < 2:
        threading.Event().wait(0.01)
    results_y = _concurrently(calls_y, limits)
    first.join(30)
    # then X grabbed 2 and was told to retry (429) for the rest ...
    assert _kinds(results_x) == Counter({"busy-tenant": 3, "camera_unreachable": 2})
    # ... and Y, not limited by X's tenant bound, got the process's third slot and a 503
    assert _kinds(results_y) == Counter({"camera_unreachable": 1, "busy-process": 1})
    assert silent_server.accepted == 3


def _hold_slot(camera: Camera, schema: str, server: SilentServer) -> threading.Thread:
    """A snapshot of a silent camera in the background, holding its slots until it times out."""
    seen = server.accepted
    holder = threading.Thread(target=snapshot_answer, kwargs={"camera": camera, "schema": schema})
    holder.start()
    while server.accepted == seen:
        threading.Event().wait(0.05)
    return holder


def test_busy_answers_are_429_and_503_with_retry_after(world_a: Any, in_tenant: Any,
                                                       api_client: Any,
                                                       silent_server: SilentServer,
                                                       settings: Any) -> None:
    settings.CAMERA_URL_ALLOW_LOOPBACK = True
    settings.API_SNAPSHOT_WAIT_S = 0.2
    settings.API_SNAPSHOT_TIMEOUT_S = 4.0
    camera = _camera_at(world_a, in_tenant, f"http://127.0.0.1:{silent_server.port}/other.mjpg")
    client = api_client("a", world_a.owner)
    holders = []
    try:
        # given a tenant whose only snapshot slot is taken by a silent camera
        settings.API_SNAPSHOT_PER_TENANT = 1
        holders.append(_hold_slot(_silent_camera(940_001, silent_server.port),
                                  world_a.tenant.schema_name, silent_server))
        # when another snapshot of the same tenant is asked for
        response = client.get(f"/api/v1/cameras/{camera.pk}/snapshot/")
        # then it is a 429 with Retry-After, without a connection
        assert response.status_code == 429
        assert response["Retry-After"] == "4"
        assert response.json()["error"]["code"] == "snapshot_busy"
        assert silent_server.accepted == 1

        # given the process's only slot taken by another tenant's silent camera
        settings.API_SNAPSHOT_PER_TENANT = 2
        settings.API_SNAPSHOT_PER_PROCESS = 1
        holders.append(_hold_slot(_silent_camera(940_002, silent_server.port), "net_other",
                                  silent_server))
        # when this tenant asks again, then it is a 503 with Retry-After, without a connection
        busy = client.get(f"/api/v1/cameras/{camera.pk}/snapshot/")
        assert busy.status_code == 503
        assert busy["Retry-After"] == "4"
        assert busy.json()["error"]["code"] == "snapshot_unavailable"
        assert silent_server.accepted == 2
    finally:
        for holder in holders:
            holder.join(10)


@pytest.mark.parametrize(("per_host", "total", "status", "code"), [
    (0, 24, 429, "snapshot_busy"),  # this Host's requests in flight are at the bound
    (6, 0, 503, "snapshot_unavailable"),  # the process's are
])
def test_snapshot_requests_beyond_the_bounds_are_answered_without_the_database(
        world_a: Any, api_client: Any, settings: Any,
        django_assert_num_queries: Any, per_host: int, total: int, status: int,
        code: str) -> None:
    # given a deployment whose bound of snapshot requests in flight is reached
    client = api_client("a", world_a.owner)
    settings.API_SNAPSHOT_INFLIGHT_PER_HOST = per_host
    settings.API_SNAPSHOT_INFLIGHT = total
    settings.API_SNAPSHOT_TIMEOUT_S = 2.5
    # when one more arrives, then it is answered at once, before any database query
    with django_assert_num_queries(0):
        response = client.get(f"/api/v1/cameras/{world_a.camera.pk}/snapshot/")
    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    # come back when a slot has surely freed: after one grab's deadline (rounded up)
    assert response["Retry-After"] == "3"
    # and other endpoints are not concerned
    assert client.get(f"/api/v1/cameras/{world_a.camera.pk}/").status_code == 200


def test_the_asgi_door_refuses_beyond_the_bound_without_calling_django(settings: Any) -> None:
    import asyncio

    from cameras.api.admission import SnapshotAdmission

    settings.API_SNAPSHOT_INFLIGHT_PER_HOST = 1
    settings.API_SNAPSHOT_INFLIGHT = 10
    settings.API_SNAPSHOT_TIMEOUT_S = 4.0
    release = asyncio.Event()
    reached: list[bool] = []

    async def django_app(scope: Any, receive: Any, send: Any) -> None:
        # stands for Django: it sees the request admitted and holds it until released
        reached.append(bool(scope.get("peoplecount.snapshot_admitted")))
        await release.wait()

    door = SnapshotAdmission(django_app)

    async def request(path: str) -> list[dict[str, Any]]:
        sent: list[dict[str, Any]] = []

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        scope = {"type": "http", "path": path, "headers": [(b"host", b"Tenant-A.localhost")]}
        await door(scope, None, send)
        return sent

    async def scenario() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        first = asyncio.create_task(request("/api/v1/cameras/7/snapshot/"))
        while not reached:
            await asyncio.sleep(0.01)
        # when a second snapshot request of the same host arrives while the first is in flight
        refused = await request("/api/v1/cameras/8/snapshot/")
        # (and any other path goes through)
        other = asyncio.create_task(request("/api/v1/cameras/"))
        await asyncio.sleep(0.05)
        release.set()
        await first
        await other
        return refused, await request("/api/v1/cameras/8/snapshot/")

    refused, later = asyncio.run(scenario())
    # then it is refused by the door itself, the inner app never called for it
    assert refused[0]["status"] == 429
    assert (b"retry-after", b"4") in refused[0]["headers"]
    assert json.loads(refused[1]["body"])["error"]["code"] == "snapshot_busy"
    assert reached == [True, False, True]  # first, the other path, and the one after release
    assert later == []  # admitted (the stand-in app sends nothing)
