"""Fair shares of live counts, and the sockets of a closed tenant (issues 16 and 17).

- a tenant has at most its plan's ``websocket_quota`` live sockets: one more is closed with
  4429 and a reason saying what to do; closing one frees its slot;
- ``resync`` (a database snapshot) is throttled per socket: too soon is ``resync_throttled``;
- a suspended or deleted tenant's open sockets close with 4410 within 10 s, through the
  suspension signal or, for a change made with ``update()``, the sockets' own check.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django_tenants.utils import tenant_context

from tests.conftest import PASSWORD
from tests.streams.test_live_ws import WS_TIMEOUT, communicator, session_cookie

CLOSE_WITHIN_S = 10.0


@pytest.fixture(scope="module")
def live_db(django_db_setup: Any, django_db_blocker: Any) -> Iterator[None]:
    """Autocommit database access: the signals fire on commit, as in production."""
    with django_db_blocker.unblock():
        yield


def _make_tenant() -> dict[str, Any]:
    from cameras.services import camera_create, site_create
    from tenants.platform.services import tenant_create

    slug = f"lq_{uuid.uuid4().hex[:10]}"
    domain = f"{slug.replace('_', '-')}.localhost"
    tenant = tenant_create(name=slug, slug=slug, domain=domain, owner_email=f"owner@{domain}",
                           owner_password=PASSWORD).tenant
    with tenant_context(tenant):
        site = site_create(actor=None, name="Mall", timezone="Europe/Paris")
        camera = camera_create(actor=None, site=site, name="Door",
                               stream_url="rtsp://10.0.0.1/")
    return {"tenant": tenant, "domain": domain, "camera": camera, "site": site,
            "owner": f"owner@{domain}"}


@pytest.fixture(scope="module")
def live_tenant(live_db: None) -> Iterator[dict[str, Any]]:
    from django.db import connection

    from tenants.platform.services import tenant_delete

    entry = _make_tenant()
    yield entry
    connection.set_schema_to_public()
    tenant_delete(slug=entry["tenant"].schema_name)


@pytest.fixture
def active(live_tenant: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The module's tenant, active with a quota of 2 live sockets; restored afterwards."""
    from tenants.models import Tenant

    Tenant.objects.filter(pk=live_tenant["tenant"].pk).update(is_active=True, websocket_quota=2)
    yield live_tenant
    Tenant.objects.filter(pk=live_tenant["tenant"].pk).update(is_active=True,
                                                               websocket_quota=None)


async def _open(entry: dict[str, Any], cookie: str) -> Any:
    ws = communicator(entry, f"/ws/cameras/{entry['camera'].pk}/", cookie)
    connected, _ = await ws.connect(timeout=WS_TIMEOUT)
    assert connected
    return ws


def test_a_tenant_has_at_most_its_quota_of_live_sockets(active: dict[str, Any]) -> None:
    from counting.live.slots import slots_held

    cookie = session_cookie(active)
    schema = active["tenant"].schema_name

    async def scenario() -> None:
        # given two open sockets, the tenant's quota
        first, second = await _open(active, cookie), await _open(active, cookie)
        for ws in (first, second):
            assert (await ws.receive_json_from(timeout=WS_TIMEOUT))["type"] == "snapshot"
        assert await sync_to_async(slots_held)(schema) == 2

        # when a third one opens
        third = await _open(active, cookie)
        refused = await third.receive_output(timeout=WS_TIMEOUT)

        # then it is closed with 4429 and a reason saying what to do, holding no slot
        assert refused["type"] == "websocket.close" and refused["code"] == 4429
        assert refused["reason"] == (
            "Your organisation's plan allows 2 live connections at once and all are in use: "
            "close another live page (or tab) and reload, or upgrade.")
        assert await sync_to_async(slots_held)(schema) == 2
        # and once one socket closes, a new one gets its place
        await first.disconnect()
        fourth = await _open(active, cookie)
        assert (await fourth.receive_json_from(timeout=WS_TIMEOUT))["type"] == "snapshot"
        await second.disconnect()
        await fourth.disconnect()
        assert await sync_to_async(slots_held)(schema) == 0

    asyncio.run(scenario())


def test_resync_is_throttled_per_socket(active: dict[str, Any], settings: Any) -> None:
    settings.LIVE_RESYNC_MIN_INTERVAL_S = 30
    cookie = session_cookie(active)

    async def scenario() -> None:
        ws = await _open(active, cookie)
        await ws.receive_json_from(timeout=WS_TIMEOUT)
        # when the client asks for two resyncs in a row
        await ws.send_json_to({"type": "resync"})
        first = await ws.receive_json_from(timeout=WS_TIMEOUT)
        await ws.send_json_to({"type": "resync"})
        second = await ws.receive_json_from(timeout=WS_TIMEOUT)
        # then the first gets a snapshot and the second is told when to ask again
        assert first["type"] == "snapshot"
        assert second["type"] == "resync_throttled"
        assert 25 < second["retry_after"] <= 30
        await ws.disconnect()

    asyncio.run(scenario())


def _closed_reason(message: dict[str, Any]) -> tuple[str, int]:
    return message["type"], message["code"]


@pytest.mark.parametrize("how", ["service", "update"])
def test_a_suspended_tenants_sockets_close_within_10_s(active: dict[str, Any], how: str) -> None:
    from tenants.models import Tenant
    from tenants.platform.services import tenant_reactivate, tenant_suspend

    cookie = session_cookie(active)
    tenant = Tenant.objects.get(pk=active["tenant"].pk)

    def suspend() -> None:
        if how == "service":  # the platform admin's path: tenant_suspended on commit
            tenant_suspend(tenant=tenant, reason="tests")
        else:  # a path no signal sees: only the sockets' own check can notice
            Tenant.objects.filter(pk=tenant.pk).update(is_active=False)

    async def scenario() -> None:
        # given an open socket of the tenant
        ws = await _open(active, cookie)
        await ws.receive_json_from(timeout=WS_TIMEOUT)
        # when the tenant is suspended
        await sync_to_async(suspend)()
        # then the socket is closed with 4410 and a reason within 10 s
        closed = await ws.receive_output(timeout=CLOSE_WITHIN_S)
        assert _closed_reason(closed) == ("websocket.close", 4410)
        assert "suspended or deleted" in closed["reason"]

    try:
        asyncio.run(scenario())
    finally:
        tenant_reactivate(tenant=Tenant.objects.get(pk=tenant.pk))


def test_a_deleted_tenants_sockets_close(live_db: None) -> None:
    from django.db import connection

    from tenants.platform.services import tenant_delete

    entry = _make_tenant()
    cookie = session_cookie(entry)

    async def scenario() -> None:
        ws = await _open(entry, cookie)
        await ws.receive_json_from(timeout=WS_TIMEOUT)
        # when the tenant is deleted
        connection.set_schema_to_public()
        await sync_to_async(tenant_delete)(slug=entry["tenant"].schema_name)
        # then its socket is closed with 4410
        closed = await ws.receive_output(timeout=CLOSE_WITHIN_S)
        assert _closed_reason(closed) == ("websocket.close", 4410)

    asyncio.run(scenario())
