"""The permission matrix: every endpoint for anonymous, Viewer without and with object
permissions, Manager and Owner; a denied or refused request changes nothing."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.endpoints import ENDPOINTS, ROLES, Endpoint


def _call(client: Any, endpoint: Endpoint, world: Any) -> Any:
    body = endpoint.body(world) if endpoint.body else None
    return getattr(client, endpoint.method)(endpoint.path(world), body, format="json")


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: e.name)
def test_permission_matrix(endpoint: Endpoint, role: str, world_a: Any, api_client: Any,
                           state_of: Any) -> None:
    # given a populated tenant and a caller with this role
    user = None if role == "anon" else world_a.users[role]
    client = api_client("a", user)
    before = state_of(world_a.tenant)

    # when the caller uses the endpoint
    response = _call(client, endpoint, world_a)

    # then the status is the expected one
    expected = endpoint.status_for(role)
    assert response.status_code == expected, response.content[:500]
    # and a refusal has the documented error shape and leaves everything unchanged
    if expected >= 400:
        error = response.json()["error"]
        assert set(error) == {"code", "message", "fields"}
        assert error["message"]
        assert state_of(world_a.tenant) == before
    if expected == 401:
        assert response["WWW-Authenticate"] == 'Bearer realm="api"'


@pytest.mark.parametrize("role", ["viewer", "viewer_granted", "manager"])
def test_lists_show_only_what_the_user_may_view(role: str, world_a: Any,
                                                api_client: Any) -> None:
    # given a Viewer without grants, a Viewer granted one site, and a Manager
    client = api_client("a", world_a.users[role])

    # when they list sites, cameras, lines, zones and ledger events
    names = {kind: sorted(item["name"] for item in client.get(f"/api/v1/{kind}/").json()
                          ["results"]) for kind in ("sites", "cameras", "lines", "zones")}
    events = client.get("/api/v1/events/").json()["results"]

    # then each sees exactly its objects
    expected = {
        "viewer": {"sites": [], "cameras": [], "lines": [], "zones": []},
        "viewer_granted": {
            "sites": ["tenant-a empty site", "tenant-a site"],
            "cameras": ["tenant-a camera"],
            "lines": ["tenant-a line", "tenant-a spare line"],
            "zones": ["tenant-a spare zone", "tenant-a zone"],
        },
        "manager": {
            "sites": ["tenant-a empty site", "tenant-a other site", "tenant-a site"],
            "cameras": ["tenant-a camera", "tenant-a other camera"],
            "lines": ["tenant-a line", "tenant-a spare line"],
            "zones": ["tenant-a spare zone", "tenant-a zone"],
        },
    }[role]
    assert names == expected
    assert [e["id"] for e in events] == ([] if role == "viewer" else [world_a.event.pk])
