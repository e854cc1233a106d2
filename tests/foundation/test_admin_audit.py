"""Changes made in the tenant admin go through the services and are audited once each."""

from __future__ import annotations

from typing import Any

from audit.models import AuditEvent
from cameras.services import camera_create, site_create
from tenants.accounts.users import user_create
from tenants.constants import Role
from tests.conftest import PASSWORD


def _new_events(mark: int) -> Any:
    """Audit events after ``mark``, without the login that the test client made."""
    return AuditEvent.objects.filter(pk__gt=mark).exclude(action__startswith="auth.")


def test_object_permission_page_grants_through_the_audited_service(
        tenant_a: Any, in_tenant: Any, owner_of: Any, logged_in: Any) -> None:
    with in_tenant(tenant_a):
        owner = owner_of("a")
        site = site_create(actor=owner, name="Admin site")
        camera = camera_create(actor=owner, site=site, name="Admin cam",
                               stream_url="rtsp://10.0.0.10/")
        viewer = user_create(actor=owner, email="adminviewer@a.test", password=PASSWORD)
        mark = AuditEvent.objects.order_by("-pk").first().pk
    client = logged_in("a", owner)
    url = f"/admin/cameras/camera/{camera.pk}/permissions/user-manage/{viewer.pk}/"
    page = client.get(url)
    assert page.status_code == 200
    assert b"add_camera" not in page.content  # only view/change are offered per object
    response = client.post(url, {"permissions": ["view_camera"]})
    assert response.status_code == 302
    with in_tenant(tenant_a):
        events = list(_new_events(mark).values_list("action", "actor_id", "after"))
        assert events == [("permission.grant", owner.pk,
                           {"user": viewer.username, "user_id": viewer.pk,
                            "perms": ["view_camera"]})]
        assert viewer.has_perm("cameras.view_camera", camera)


def test_a_role_change_in_the_admin_is_audited_with_the_new_role(
        tenant_a: Any, in_tenant: Any, owner_of: Any, logged_in: Any) -> None:
    from django.contrib.auth.models import Group

    with in_tenant(tenant_a):
        owner = owner_of("a")
        user = user_create(actor=owner, email="promote@a.test", password=PASSWORD)
        manager = Group.objects.get(name=Role.MANAGER)
        mark = AuditEvent.objects.order_by("-pk").first().pk
    client = logged_in("a", owner)
    owner.is_superuser = True  # the stock user form needs the full permission set
    with in_tenant(tenant_a):
        owner.save()
    response = client.post(f"/admin/auth/user/{user.pk}/change/", {
        "username": user.username, "email": user.email, "is_active": "on",
        "groups": [manager.pk], "date_joined_0": "2026-01-01", "date_joined_1": "00:00:00",
    })
    assert response.status_code == 302, response.content[:2000]
    with in_tenant(tenant_a):
        # making the owner a superuser above is audited on its own (issue 17)
        assert list(_new_events(mark).filter(target_id=str(owner.pk)).values_list(
            "action", flat=True)) == ["user.privileges_change"]
        events = list(_new_events(mark).filter(target_id=str(user.pk)).values_list(
            "action", "before", "after"))
        assert len(events) == 1
        action, before, after = events[0]
        assert action == "user.update"
        assert (before["role"], after["role"]) == (Role.VIEWER, Role.MANAGER)
