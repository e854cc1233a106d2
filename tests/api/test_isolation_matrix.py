"""The isolation matrix: tenant A's session or token never reaches tenant B, and tenant B's
objects (by their own or by a shared primary key) are never shown or changed from A."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import world_build
from tests.api.endpoints import ENDPOINTS, Endpoint

PK_A = 4000
PK_B_ONLY = 7000


def _call(client: Any, endpoint: Endpoint, world: Any) -> Any:
    body = endpoint.body(world) if endpoint.body else None
    return getattr(client, endpoint.method)(endpoint.path(world), body, format="json")


@pytest.mark.parametrize("same_pk", [True, False], ids=["same-pk", "b-only-pk"])
@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: e.name)
def test_isolation_matrix(endpoint: Endpoint, same_pk: bool, tenant_a: Any, tenant_b: Any,
                          in_tenant: Any, api_client: Any, token_for: Any,
                          state_of: Any) -> None:
    # given both tenants populated, B with the same primary keys as A or with its own
    world_a = world_build(tenant_a, "a", in_tenant, pk_base=PK_A)
    world_b = world_build(tenant_b, "b", in_tenant, pk_base=PK_A if same_pk else PK_B_ONLY)
    token_a = token_for(tenant_a, world_a.owner)
    b_before = state_of(tenant_b)
    public = endpoint.path(world_b).startswith(("/api/schema/", "/api/docs/"))

    # when A's Owner calls B's domain with A's session, then with A's token
    client_b = api_client("b")
    client_b.cookies = api_client("a", world_a.owner).cookies  # A's session cookie on B
    on_b_with_session = _call(client_b, endpoint, world_b)
    on_b_with_token = _call(api_client("b", token=token_a), endpoint, world_b)

    # then B does not know them: 401 (the schema and docs are public and tenant-free)
    for response in (on_b_with_session, on_b_with_token):
        assert response.status_code == (200 if public else 401), response.content[:300]
        assert b"tenant-b" not in response.content

    # when A's Owner names B's objects on A's own domain
    on_a_for_b = _call(api_client("a", token=token_a), endpoint, world_b)

    # then B's objects are not found (or A's own object with that key is shown), never B's
    assert on_a_for_b.status_code < 500 or (
        same_pk and on_a_for_b.status_code == endpoint.status_for("owner"))  # A's own camera
    assert b"tenant-b" not in on_a_for_b.content
    if endpoint.b_ids is not None and not same_pk:
        assert on_a_for_b.status_code == endpoint.b_ids, on_a_for_b.content[:300]
    # and nothing changed in tenant B
    assert state_of(tenant_b) == b_before


def test_same_primary_key_reads_the_own_tenants_object(tenant_a: Any, tenant_b: Any,
                                                      in_tenant: Any, api_client: Any) -> None:
    # given a site and camera with the same primary keys in both tenants
    world_a = world_build(tenant_a, "a", in_tenant, pk_base=PK_A)
    world_b = world_build(tenant_b, "b", in_tenant, pk_base=PK_A)

    # when each Owner reads that camera on their own domain
    camera_a = api_client("a", world_a.owner).get(f"/api/v1/cameras/{PK_A}/").json()
    camera_b = api_client("b", world_b.owner).get(f"/api/v1/cameras/{PK_A}/").json()

    # then each gets their own tenant's camera
    assert camera_a["name"] == "tenant-a camera"
    assert camera_b["name"] == "tenant-b camera"
