"""Bugs found in the tenant and platform admin, trying it as a new user would."""

from __future__ import annotations

from typing import Any

from audit.models import AuditEvent
from cameras.models import Camera
from cameras.services import camera_create, site_create
from tests.conftest import PASSWORD


def _camera_post(camera: Any, **changes: Any) -> dict[str, Any]:
    data = {"site": camera.site_id, "name": camera.name, "stream_url": camera.stream_url,
            "username": camera.username, "password": "", "detect_fps": camera.detect_fps,
            "enabled": "on" if camera.enabled else ""}
    data.update(changes)
    return data


def test_saving_a_camera_unchanged_in_the_admin_works(
        tenant_a: Any, in_tenant: Any, owner_of: Any, logged_in: Any) -> None:
    with in_tenant(tenant_a):
        owner = owner_of("a")
        site = site_create(actor=owner, name="Admin bug site")
        camera = camera_create(actor=owner, site=site, name="Admin bug cam",
                               stream_url="rtsp://10.0.0.10/")
    client = logged_in("a", owner)
    page = client.get(f"/admin/cameras/camera/{camera.pk}/change/")
    assert page.status_code == 200
    response = client.post(f"/admin/cameras/camera/{camera.pk}/change/", _camera_post(camera))
    assert response.status_code == 302, response.content[:3000]
    with in_tenant(tenant_a):
        camera.refresh_from_db()
        # unchanged: no audit event, nothing written
        assert not AuditEvent.objects.filter(action__startswith="camera.",
                                             target_id=str(camera.pk)).exclude(
            action="camera.create").exists()


def test_changing_and_adding_a_camera_in_the_admin_goes_through_the_service(
        tenant_a: Any, in_tenant: Any, owner_of: Any, logged_in: Any) -> None:
    with in_tenant(tenant_a):
        owner = owner_of("a")
        site = site_create(actor=owner, name="Admin add site")
        camera = camera_create(actor=owner, site=site, name="Admin edit cam",
                               stream_url="rtsp://10.0.0.11/")
    client = logged_in("a", owner)
    response = client.post(f"/admin/cameras/camera/{camera.pk}/change/",
                           _camera_post(camera, name="Renamed in admin"))
    assert response.status_code == 302
    page = client.get("/admin/cameras/camera/add/")
    assert page.status_code == 200
    response = client.post("/admin/cameras/camera/add/", {
        "site": site.pk, "name": "Added in admin", "stream_url": "rtsp://10.0.0.12/",
        "username": "", "password": "s3cret", "detect_fps": 5, "enabled": "on"})
    assert response.status_code == 302, response.content[:3000]
    with in_tenant(tenant_a):
        added = Camera.objects.get(name="Added in admin")
        assert added.password == "s3cret" and added.site_id == site.pk
        actions = list(AuditEvent.objects.filter(
            target_type="cameras.camera", target_id__in=[str(camera.pk), str(added.pk)])
            .order_by("pk").values_list("action", "target_id"))
        assert actions == [("camera.create", str(camera.pk)), ("camera.update", str(camera.pk)),
                           ("camera.create", str(added.pk))]


def test_long_names_are_shortened_in_the_admin_list_and_the_site_drop_down(
        tenant_a: Any, in_tenant: Any, owner_of: Any, logged_in: Any) -> None:
    long_site = "S" * 199 + "!"
    long_camera = "C" * 199 + "?"
    with in_tenant(tenant_a):
        owner = owner_of("a")
        site = site_create(actor=owner, name=long_site)
        camera_create(actor=owner, site=site, name=long_camera, stream_url="rtsp://10.0.0.13/")
    client = logged_in("a", owner)
    listing = client.get("/admin/cameras/camera/").content.decode()
    # the cells show at most 60 characters; the full name stays in the title for hovering
    assert "C" * 59 + "…" in listing and f'title="{long_camera}"' in listing
    assert f">{long_camera}<" not in listing
    assert f">{long_site}<" not in listing and "S" * 59 + "…" in listing
    form = client.get("/admin/cameras/camera/add/").content.decode()
    assert long_site not in form.replace(f'title="{long_site}"', "")
    assert "S" * 79 + "… (UTC)" in form
    sites = client.get("/admin/cameras/site/").content.decode()
    assert f">{long_site}<" not in sites and "S" * 59 + "…" in sites


def test_a_user_given_the_manager_group_in_the_admin_can_enter_it(
        tenant_a: Any, in_tenant: Any, owner_of: Any, logged_in: Any) -> None:
    from django.contrib.auth.models import Group

    from tenants.accounts.users import user_create
    from tenants.constants import Role

    with in_tenant(tenant_a):
        owner = owner_of("a")
        user = user_create(actor=owner, email="staffless@a.test", password=PASSWORD)
        assert not user.is_staff
        manager = Group.objects.get(name=Role.MANAGER)
        owner.is_superuser = True  # the stock user form needs the full permission set
        owner.save()
    client = logged_in("a", owner)
    response = client.post(f"/admin/auth/user/{user.pk}/change/", {
        "username": user.username, "email": user.email, "is_active": "on",
        "groups": [manager.pk], "date_joined_0": "2026-01-01", "date_joined_1": "00:00:00",
    })
    assert response.status_code == 302
    with in_tenant(tenant_a):
        user.refresh_from_db()
        assert user.is_staff
    manager_client = logged_in("a", user)
    assert manager_client.get("/admin/").status_code == 200
    # and back to Viewer: no admin any more
    with in_tenant(tenant_a):
        viewer_group = Group.objects.get(name=Role.VIEWER)
    client.post(f"/admin/auth/user/{user.pk}/change/", {
        "username": user.username, "email": user.email, "is_active": "on",
        "groups": [viewer_group.pk], "date_joined_0": "2026-01-01", "date_joined_1": "00:00:00",
    })
    with in_tenant(tenant_a):
        user.refresh_from_db()
        assert not user.is_staff


def test_the_tenant_form_does_not_quote_empty_values(db: Any) -> None:
    from django.contrib.auth import get_user_model
    from django.test import Client

    staff = get_user_model().objects.create_superuser(
        username="platform-b", password=PASSWORD, email="platform-b@localhost")
    client = Client(HTTP_HOST="localhost")
    client.force_login(staff)
    response = client.post("/admin/tenants/tenant/add/", {
        "name": "", "slug": "", "camera_quota": 3, "domain": "", "owner_email": "",
        "owner_password": ""})
    assert response.status_code == 200
    text = response.content.decode()
    assert "''" not in text and "&#x27;&#x27;" not in text
    assert text.count("This field is required.") >= 4
