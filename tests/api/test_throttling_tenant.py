"""Throttles per tenant as a whole: many users (or tokens) of one tenant share its budget, its
series have a smaller one, another tenant is not affected, and a cache outage degrades
explicitly instead of failing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.test import override_settings

RATES = {"user": "100/min", "token": "100/min", "anon": "100/min", "tenant": "5/min",
         "tenant_series": "2/min"}


def _rates(**rates: str) -> Any:
    from django.conf import settings

    return override_settings(REST_FRAMEWORK={**settings.REST_FRAMEWORK,
                                             "DEFAULT_THROTTLE_RATES": {**RATES, **rates}})


@pytest.fixture(scope="module")
def _redis(tmp_path_factory: Any) -> Iterator[Any]:
    """A redis-server of this module: counters no other test run can flush."""
    from tests.chaos.faults import redis_process

    with redis_process(tmp_path_factory.mktemp("redis")) as server:
        yield server


@pytest.fixture(autouse=True)
def _own_cache(_redis: Any, settings: Any) -> Iterator[None]:
    """The throttle cache on the module's Redis (emptied), and a healthy outage memory."""
    import redis

    from tenants.rest.throttling import cache_outage

    redis.Redis.from_url(_redis.url(1)).flushdb()
    settings.CACHES = {"default": {**settings.CACHES["default"], "LOCATION": _redis.url(1)}}
    cache_outage.recovered()
    yield
    cache_outage.recovered()


def test_the_users_and_tokens_of_a_tenant_share_its_budget(
        world_a: Any, tenant_b: Any, in_tenant: Any, owner_of: Any, api_client: Any) -> None:
    # given a tenant budget of 5 requests a minute, an Owner, a Manager and a token of tenant A
    with in_tenant(tenant_b):
        owner_b = owner_of("b")
    clients = [api_client("a", world_a.owner), api_client("a", world_a.manager),
               api_client("a", token=world_a.owner_token_plaintext)]

    with _rates():
        # when they take turns, two requests each (each far below its own rate)
        codes = [client.get("/api/v1/me/").status_code for _ in range(2) for client in clients]
        refused = clients[0].get("/api/v1/me/")
        other_tenant = api_client("b", owner_b).get("/api/v1/me/")

    # then the sixth request of the tenant is refused, whoever makes it, with a Retry-After
    assert codes == [200, 200, 200, 200, 200, 429]
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "throttled"
    assert int(refused["Retry-After"]) > 0
    # and tenant B has its own budget
    assert other_tenant.status_code == 200


def test_series_have_a_smaller_budget_per_tenant(world_a: Any, api_client: Any) -> None:
    # given a series budget of 2 a minute for the tenant, and two of its users
    owner, manager = api_client("a", world_a.owner), api_client("a", world_a.manager)
    query = {"line": world_a.line.pk, "from": "2026-03-01T00:00:00Z",
             "to": "2026-03-02T00:00:00Z"}

    with _rates(tenant="100/min"):
        # when each asks for counts, then the owner asks for occupancy, then for its profile
        first = owner.get("/api/v1/counts/", query)
        second = manager.get("/api/v1/counts/", query)
        third = owner.get("/api/v1/occupancy/", {"zone": world_a.zone.pk,
                                                 "from": query["from"], "to": query["to"]})
        cheap = owner.get("/api/v1/me/")

    # then the third series of the tenant is refused, and cheap requests go on
    assert [first.status_code, second.status_code, third.status_code] == [200, 200, 429]
    assert cheap.status_code == 200


def test_a_cache_outage_lets_tenant_requests_through_marked_degraded(
        world_a: Any, api_client: Any, settings: Any) -> None:
    # given the throttle cache on a port where nothing listens
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.CACHES = {"default": {**settings.CACHES["default"],
                                   "LOCATION": f"redis://127.0.0.1:{port}/0"}}
    client = api_client("a", world_a.owner)

    with _rates(tenant="1/min", tenant_series="1/min"):
        # when the tenant makes more requests than its budget
        answers = [client.get("/api/v1/counts/", {
            "camera": world_a.camera.pk, "from": "2026-03-01", "to": "2026-03-02"})
            for _ in range(3)]

    # then they are answered, each saying that throttling is degraded
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert [a["X-Throttle-Degraded"] for a in answers] == ["cache unavailable"] * 3
