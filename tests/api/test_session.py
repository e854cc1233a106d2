"""Session authentication for the browser: CSRF on writes, the browsable API renders."""

from __future__ import annotations

from typing import Any

from rest_framework.test import APIClient

from tests.conftest import PASSWORD, TENANTS


def test_session_writes_need_the_csrf_token(world_a: Any, state_of: Any) -> None:
    # given a browser that logged in through the portal's login page
    client = APIClient(HTTP_HOST=TENANTS["a"]["domain"], enforce_csrf_checks=True)
    client.get("/accounts/login/")
    login = client.post("/accounts/login/", {
        "username": world_a.manager.username, "password": PASSWORD,
        "csrfmiddlewaretoken": client.cookies["csrftoken"].value}, format="multipart")
    assert login.status_code == 302
    before = state_of(world_a.tenant)

    # when it writes without the CSRF header
    refused = client.post("/api/v1/sites/", {"name": "No CSRF"}, format="json")

    # then the write is refused and nothing changed
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "permission_denied"
    assert "CSRF" in refused.json()["error"]["message"]
    assert state_of(world_a.tenant) == before

    # when it sends the CSRF token
    accepted = client.post("/api/v1/sites/", {"name": "With CSRF"}, format="json",
                           HTTP_X_CSRFTOKEN=client.cookies["csrftoken"].value)
    # then the site is created
    assert accepted.status_code == 201


def test_the_browsable_api_renders_for_a_browser(world_a: Any, api_client: Any) -> None:
    client = api_client("a", world_a.owner)
    for path in ("/api/v1/cameras/", f"/api/v1/cameras/{world_a.camera.pk}/",
                 "/api/v1/lines/", "/api/v1/tokens/", "/api/v1/users/"):
        response = client.get(path, HTTP_ACCEPT="text/html")
        assert response.status_code == 200, path
        assert response["Content-Type"].startswith("text/html")
