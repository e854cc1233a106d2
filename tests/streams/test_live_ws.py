"""Live counts over WebSockets against the real ASGI application and Redis channel layer."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client
from django_tenants.utils import tenant_context

from tests.conftest import PASSWORD

WS_TIMEOUT = 5


@pytest.fixture(scope="module")
def two_tenants(live_db: None) -> Any:
    """Two committed tenants, each with site 1 and camera 1 with one line."""
    import uuid

    from django.db import connection

    from cameras.services import camera_create, site_create
    from counting.services import counting_line_create
    from tenants.platform.services import tenant_create, tenant_delete

    made = []
    for _ in range(2):
        slug = f"w_{uuid.uuid4().hex[:10]}"
        domain = f"{slug.replace('_', '-')}.localhost"
        tenant = tenant_create(name=slug, slug=slug, domain=domain,
                               owner_email=f"owner@{domain}", owner_password=PASSWORD).tenant
        with tenant_context(tenant):
            site = site_create(actor=None, name="Mall", timezone="Europe/Paris")
            camera = camera_create(actor=None, site=site, name="Door",
                                   stream_url="rtsp://10.0.0.1/")
            line = counting_line_create(actor=None, camera=camera, name="Door", x1=0.5, y1=0,
                                        x2=0.5, y2=1, in_label="enter", out_label="exit")
        made.append({"tenant": tenant, "domain": domain, "camera": camera, "site": site,
                     "line": line, "owner": f"owner@{domain}"})
    assert [m["camera"].pk for m in made] == [1, 1]  # the same primary key in both tenants
    yield made
    connection.set_schema_to_public()
    for m in made:
        tenant_delete(slug=m["tenant"].schema_name)


def session_cookie(entry: dict[str, Any], username: str | None = None) -> str:
    from django.contrib.auth import get_user_model

    client = Client(HTTP_HOST=entry["domain"])
    with tenant_context(entry["tenant"]):
        user = get_user_model().objects.get(username=username or entry["owner"])
        client.force_login(user)
    return client.cookies["sessionid"].value


def communicator(entry: dict[str, Any], path: str, cookie: str | None,
                 origin: str | None = None) -> WebsocketCommunicator:
    headers = [(b"host", entry["domain"].encode()),
               (b"origin", (origin or f"http://{entry['domain']}").encode())]
    if cookie:
        headers.append((b"cookie", f"sessionid={cookie}".encode()))
    from config.asgi import application

    return WebsocketCommunicator(application, path, headers=headers)


def write_crossing(entry: dict[str, Any], track_id: int) -> float:
    """Commit one crossing through the ledger (publishing on commit); returns commit time."""
    from counting.leases import lease_acquire
    from counting.ledger import LedgerBatch, LedgerEvent, ledger_write
    from counting.live.publish import publish_camera_counts
    from counting.models import CameraLease

    camera = entry["camera"]
    with tenant_context(entry["tenant"]):
        lease = CameraLease.objects.filter(camera_id=camera.pk).first()
        if lease is None or not lease.owner:
            lease_acquire(camera_id=camera.pk, owner="test", ttl_s=3600)
            lease = CameraLease.objects.get(camera_id=camera.pk)
        batch = LedgerBatch(camera_id=camera.pk, generation=lease.generation,
                            seq=lease.last_batch_seq + 1, events=(LedgerEvent(
                                line_id=entry["line"].pk, direction="in", track_id=track_id,
                                occurred_at=datetime.now(tz=UTC), frame_index=track_id),))

        def publish(result: Any) -> None:
            publish_camera_counts(schema=entry["tenant"].schema_name, camera_id=camera.pk,
                                  site_id=entry["site"].pk, site_tz="Europe/Paris",
                                  events=result.inserted)

        ledger_write(batch, on_commit=publish)
    return time.monotonic()


def test_an_authorised_client_gets_totals_then_each_change_within_1s(two_tenants: Any) -> None:
    a = two_tenants[0]
    cookie = session_cookie(a)
    path = f"/ws/cameras/{a['camera'].pk}/"

    async def scenario() -> None:
        ws = communicator(a, path, cookie)
        connected, _ = await ws.connect(timeout=WS_TIMEOUT)
        assert connected
        # given the snapshot of today's totals read from the database
        snapshot = await ws.receive_json_from(timeout=WS_TIMEOUT)
        assert snapshot["type"] == "snapshot"
        line = snapshot["cameras"]["1"]["lines"][str(a["line"].pk)]
        before = line["in"]
        # when a crossing is committed
        committed = await sync_to_async(write_crossing)(a, 1001)
        # then the change arrives within a second of the commit, with the next sequence number
        message = await ws.receive_json_from(timeout=WS_TIMEOUT)
        latency = time.monotonic() - committed
        assert latency < 1.0
        assert message["type"] == "counts" and message["seq"] == snapshot["seq"] + 1
        assert message["lines"][str(a["line"].pk)]["in"] == before + 1
        assert [e["direction"] for e in message["events"]] == ["in"]
        # and a resync request returns a snapshot with the new totals and sequence
        await ws.send_json_to({"type": "resync"})
        again = await ws.receive_json_from(timeout=WS_TIMEOUT)
        assert again["seq"] == message["seq"]
        assert again["cameras"]["1"]["lines"][str(a["line"].pk)]["in"] == before + 1
        await ws.disconnect()

    asyncio.run(scenario())


def test_the_site_endpoint_receives_its_cameras_changes(two_tenants: Any) -> None:
    a = two_tenants[0]
    cookie = session_cookie(a)

    async def scenario() -> None:
        ws = communicator(a, f"/ws/sites/{a['site'].pk}/", cookie)
        assert (await ws.connect(timeout=WS_TIMEOUT))[0]
        snapshot = await ws.receive_json_from(timeout=WS_TIMEOUT)
        assert list(snapshot["cameras"]) == ["1"]
        await sync_to_async(write_crossing)(a, 2002)
        message = await ws.receive_json_from(timeout=WS_TIMEOUT)
        assert (message["camera_id"], message["seq"]) == (1, snapshot["seq"] + 1)
        await ws.disconnect()

    asyncio.run(scenario())


def _refused(entry: dict[str, Any], path: str, cookie: str | None,
             origin: str | None = None) -> bool:
    async def scenario() -> bool:
        ws = communicator(entry, path, cookie, origin)
        connected, _ = await ws.connect(timeout=WS_TIMEOUT)
        await ws.disconnect()
        return not connected

    return asyncio.run(scenario())


def test_clients_without_permission_other_tenant_session_or_foreign_origin_are_refused(
        two_tenants: Any) -> None:
    from django.contrib.auth import get_user_model

    a, b = two_tenants
    with tenant_context(a["tenant"]):
        get_user_model().objects.get_or_create(username="viewer-none@x.test")
        user = get_user_model().objects.get(username="viewer-none@x.test")
        user.set_password(PASSWORD)
        user.save()
    path = f"/ws/cameras/{a['camera'].pk}/"
    # a user of tenant A without any permission on the camera
    assert _refused(a, path, session_cookie(a, "viewer-none@x.test"))
    # tenant B's owner session presented on tenant A's host
    assert _refused(a, path, session_cookie(b))
    # tenant A's owner from a foreign page (Origin of another site)
    assert _refused(a, path, session_cookie(a), origin="http://evil.example.com")
    # no session at all, and a camera that does not exist
    assert _refused(a, path, None)
    assert _refused(a, "/ws/cameras/999/", session_cookie(a))
    # while the same owner with the right Origin is accepted
    assert not _refused(a, path, session_cookie(a))


def test_two_tenants_camera_1_never_see_each_others_messages(two_tenants: Any) -> None:
    a, b = two_tenants
    cookie_a, cookie_b = session_cookie(a), session_cookie(b)

    async def scenario() -> None:
        ws_a = communicator(a, "/ws/cameras/1/", cookie_a)
        ws_b = communicator(b, "/ws/cameras/1/", cookie_b)
        assert (await ws_a.connect(timeout=WS_TIMEOUT))[0]
        assert (await ws_b.connect(timeout=WS_TIMEOUT))[0]
        await ws_a.receive_json_from(timeout=WS_TIMEOUT)
        await ws_b.receive_json_from(timeout=WS_TIMEOUT)
        # when tenant A's camera 1 counts
        await sync_to_async(write_crossing)(a, 3003)
        # then A's client gets it and B's client gets nothing
        message = await ws_a.receive_json_from(timeout=WS_TIMEOUT)
        assert message["camera_id"] == 1
        assert await ws_b.receive_nothing(timeout=1.0)
        # and the other way round
        await sync_to_async(write_crossing)(b, 3004)
        message_b = await ws_b.receive_json_from(timeout=WS_TIMEOUT)
        assert message_b["lines"][str(b["line"].pk)]["in"] == 1
        assert await ws_a.receive_nothing(timeout=1.0)
        await ws_a.disconnect()
        await ws_b.disconnect()

    asyncio.run(scenario())


def test_an_open_socket_is_closed_once_its_permission_is_revoked(two_tenants: Any,
                                                                 settings: Any) -> None:
    from django.contrib.auth import get_user_model

    from cameras.permissions import object_permission_grant, object_permission_revoke

    settings.LIVE_PERMISSION_RECHECK_S = 0  # re-check on every message
    a = two_tenants[0]
    with tenant_context(a["tenant"]):
        viewer, _ = get_user_model().objects.get_or_create(username="viewer-revoked@x.test")
        object_permission_grant(actor=None, grantee=viewer, action="view", obj=a["camera"])
    path = f"/ws/cameras/{a['camera'].pk}/"
    cookie = session_cookie(a, "viewer-revoked@x.test")

    async def scenario() -> None:
        ws = communicator(a, path, cookie)
        connected, _ = await ws.connect(timeout=WS_TIMEOUT)
        assert connected
        assert (await ws.receive_json_from(timeout=WS_TIMEOUT))["type"] == "snapshot"
        # given the grant is revoked while the socket is open
        await sync_to_async(_revoke)()
        # when the next change is published, then the socket is closed instead of served
        await sync_to_async(write_crossing)(a, 2001)
        closed = await ws.receive_output(timeout=WS_TIMEOUT)
        assert closed == {"type": "websocket.close", "code": 4403}

    def _revoke() -> None:
        with tenant_context(a["tenant"]):
            object_permission_revoke(actor=None, grantee=viewer, action="view", obj=a["camera"])

    asyncio.run(scenario())
