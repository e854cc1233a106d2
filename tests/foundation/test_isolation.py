"""Two tenants with objects of equal primary key: each sees only its own everywhere."""

from __future__ import annotations

from typing import Any

from django.core.cache import cache

from cameras.models import Camera, Site
from cameras.selectors import camera_list_visible_to, site_list_visible_to
from tests.conftest import PASSWORD, owner_email

SAME_PK = 4242


def _make_objects(label: str) -> Camera:
    site = Site.objects.create(pk=SAME_PK, name=f"{label} site", timezone="UTC")
    return Camera.objects.create(pk=SAME_PK, site=site, name=f"{label} camera",
                                 stream_url="rtsp://10.0.0.1/")


def test_selectors_admin_and_cache_are_per_tenant(tenant_a: Any, tenant_b: Any, in_tenant: Any,
                                                  owner_of: Any, logged_in: Any) -> None:
    # given both tenants have a site and a camera with the same primary key
    with in_tenant(tenant_a):
        _make_objects("Alpha")
        cache.set("greeting", "from A")
        owner_a = owner_of("a")
        # then tenant A's owner sees only A's objects through every selector
        assert [c.name for c in camera_list_visible_to(user=owner_a)] == ["Alpha camera"]
        assert [s.name for s in site_list_visible_to(user=owner_a)] == ["Alpha site"]
    with in_tenant(tenant_b):
        _make_objects("Beta")
        assert cache.get("greeting") is None  # cache keys carry the schema
        cache.set("greeting", "from B")
        owner_b = owner_of("b")
        assert [c.name for c in camera_list_visible_to(user=owner_b)] == ["Beta camera"]
    with in_tenant(tenant_a):
        assert cache.get("greeting") == "from A"

    # and the admin on A's domain shows A's object for that primary key
    client = logged_in("a", owner_a)
    page = client.get(f"/admin/cameras/camera/{SAME_PK}/change/")
    assert page.status_code == 200
    assert b"Alpha camera" in page.content and b"Beta camera" not in page.content
    listing = client.get("/admin/cameras/camera/")
    assert b"Alpha camera" in listing.content and b"Beta camera" not in listing.content
    cache.delete("greeting")


def test_a_session_from_one_tenant_is_not_valid_on_another(tenant_a: Any, tenant_b: Any,
                                                          client_for: Any) -> None:
    client_a = client_for("a")
    response = client_a.post("/accounts/login/",
                             {"username": owner_email("a"), "password": PASSWORD})
    assert response.status_code == 302
    assert client_a.get("/").status_code == 200
    session_cookie = client_a.cookies["sessionid"].value

    client_b = client_for("b")
    client_b.cookies["sessionid"] = session_cookie
    # the same cookie on B's domain is not a session there: redirected to log in
    response = client_b.get("/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    assert client_b.get("/admin/").status_code == 302


def test_a_viewer_sees_only_granted_objects(tenant_a: Any, in_tenant: Any, owner_of: Any) -> None:
    from cameras.permissions import object_permission_grant
    from cameras.services import camera_create, site_create
    from tenants.accounts.users import user_create

    with in_tenant(tenant_a):
        owner = owner_of("a")
        site = site_create(actor=owner, name="Mall")
        other_site = site_create(actor=owner, name="Office")
        door = camera_create(actor=owner, site=site, name="Door", stream_url="rtsp://10.0.0.2/")
        camera_create(actor=owner, site=site, name="Till", stream_url="rtsp://10.0.0.3/")
        lobby = camera_create(actor=owner, site=other_site, name="Lobby",
                              stream_url="rtsp://10.0.0.4/")
        viewer = user_create(actor=owner, email="viewer@a.test", password=PASSWORD)
        assert list(camera_list_visible_to(user=viewer)) == []

        object_permission_grant(actor=owner, grantee=viewer, action="view", obj=door)
        assert [c.name for c in camera_list_visible_to(user=viewer)] == ["Door"]

        object_permission_grant(actor=owner, grantee=viewer, action="view", obj=other_site)
        assert sorted(c.name for c in camera_list_visible_to(user=viewer)) == ["Door", "Lobby"]
        assert [s.name for s in site_list_visible_to(user=viewer)] == ["Office"]
        assert lobby.pk in {c.pk for c in camera_list_visible_to(user=viewer)}
        assert list(camera_list_visible_to(user=viewer, perm="change")) == []


def test_a_suspended_tenant_is_refused_with_an_explanation(tenant_b: Any, client_for: Any) -> None:
    tenant_b.is_active = False
    tenant_b.save()
    response = client_for("b").get("/accounts/login/")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "tenant_suspended"
    assert client_for("b").get("/healthz").status_code == 200
    assert client_for("a").get("/accounts/login/").status_code == 200
