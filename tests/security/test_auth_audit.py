"""Password, privilege, group and permission changes are audited on every path, once each;
admin bulk deletes are audited; Managers cannot use the object-permission pages."""

from __future__ import annotations

import json
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission

from audit.context import audit_context
from audit.models import AuditEvent
from cameras.services import camera_create, site_create
from tenants.accounts.users import user_create, user_update
from tenants.constants import Role
from tests.conftest import PASSWORD


def _mark() -> int:
    last = AuditEvent.objects.order_by("-pk").first()
    return last.pk if last else 0


def _since(mark: int) -> list[tuple[str, str, Any, Any]]:
    """(action, target id, before, after) of the events after ``mark``, without logins."""
    return list(AuditEvent.objects.filter(pk__gt=mark).exclude(action__startswith="auth.")
                .order_by("pk").values_list("action", "target_id", "before", "after"))


def test_a_password_changed_outside_any_service_is_audited_without_the_hash(
        tenant_a: Any, in_tenant: Any, owner_of: Any) -> None:
    with in_tenant(tenant_a):
        # given a user
        owner = owner_of("a")
        user = user_create(actor=owner, email="pw@a.test", password=PASSWORD)
        mark = _mark()
        # when their password is changed from code (the shell, a script, changepassword)
        with audit_context(actor=user):
            user.set_password("Another-Long-Passw0rd")
            user.save()
        # then one event says so, by the user themself, and never holds the hash
        events = _since(mark)
        assert events == [("user.password_change", str(user.pk), None,
                           {"by": "self", "usable": True})]
        stored = AuditEvent.objects.get(pk__gt=mark, action="user.password_change")
        assert user.password not in json.dumps([stored.before, stored.after])
        # and saving the user again without a change records nothing
        mark = _mark()
        user.save()
        user.save(update_fields=["last_login"])
        assert _since(mark) == []


def test_the_admin_password_page_is_audited(tenant_a: Any, in_tenant: Any, owner_of: Any,
                                            logged_in: Any) -> None:
    with in_tenant(tenant_a):
        owner = owner_of("a")
        user = user_create(actor=owner, email="adminpw@a.test", password=PASSWORD)
        mark = _mark()
    client = logged_in("a", owner)
    response = client.post(f"/admin/auth/user/{user.pk}/password/", {
        "password1": "Brand-New-Passw0rd!", "password2": "Brand-New-Passw0rd!"})
    assert response.status_code == 302, response.content[:1000]
    with in_tenant(tenant_a):
        events = AuditEvent.objects.filter(pk__gt=mark, action="user.password_change")
        assert [(e.target_id, e.actor_id, e.after) for e in events] == [
            (str(user.pk), owner.pk, {"by": "another user or the system", "usable": True})]
        # the admin's own change record adds nothing: the profile did not change
        assert _since(mark) == [("user.password_change", str(user.pk), None,
                                 {"by": "another user or the system", "usable": True})]


def test_superuser_staff_groups_and_permissions_changed_from_code_are_audited(
        tenant_a: Any, in_tenant: Any, owner_of: Any) -> None:
    with in_tenant(tenant_a):
        owner = owner_of("a")
        user = user_create(actor=owner, email="priv@a.test", password=PASSWORD)
        manager_group = Group.objects.get(name=Role.MANAGER)
        perm = Permission.objects.get(content_type__app_label="cameras", codename="delete_camera")
        mark = _mark()
        # when privileges are changed directly (not through a service)
        user.is_superuser = True
        user.is_staff = True
        user.save()
        user.user_permissions.add(perm)
        manager_group.user_set.add(user)      # from the group's side
        user.groups.clear()
        # then each change is one event with what changed
        assert _since(mark) == [
            ("user.privileges_change", str(user.pk),
             {"is_superuser": False, "is_staff": False, "is_active": True},
             {"is_superuser": True, "is_staff": True, "is_active": True}),
            ("user.permissions_change", str(user.pk), None, {"added": ["cameras.delete_camera"]}),
            ("group.members_change", str(manager_group.pk), None, {"added": ["priv@a.test"]}),
            ("user.groups_change", str(user.pk), None,
             {"removed": sorted([Role.MANAGER, Role.VIEWER])}),
        ]
        # and a group's own permissions too
        mark = _mark()
        manager_group.permissions.remove(perm)
        assert _since(mark) == [("group.permissions_change", str(manager_group.pk), None,
                                 {"removed": ["cameras.delete_camera"]})]
        manager_group.permissions.add(perm)


def test_services_record_one_complete_event_not_one_per_signal(
        tenant_a: Any, in_tenant: Any, owner_of: Any) -> None:
    with in_tenant(tenant_a):
        owner = owner_of("a")
        mark = _mark()
        user = user_create(actor=owner, email="svc@a.test", password=PASSWORD)
        user_update(actor=owner, user=user, role=Role.MANAGER)
        events = _since(mark)
        assert [e[0] for e in events] == ["user.create", "user.update"]
        before, after = events[1][2], events[1][3]
        assert (before["role"], before["is_staff"], before["groups"]) == (
            Role.VIEWER, False, [Role.VIEWER])
        assert (after["role"], after["is_staff"], after["groups"]) == (
            Role.MANAGER, True, [Role.MANAGER])


def test_an_admin_bulk_delete_deletes_one_by_one_and_is_audited(
        tenant_a: Any, in_tenant: Any, owner_of: Any, logged_in: Any) -> None:
    with in_tenant(tenant_a):
        owner = owner_of("a")
        doomed = [user_create(actor=owner, email=f"bulk{i}@a.test", password=PASSWORD)
                  for i in range(2)]
        mark = _mark()
    client = logged_in("a", owner)
    response = client.post("/admin/auth/user/", {
        "action": "delete_selected", "_selected_action": [u.pk for u in doomed], "post": "yes"})
    assert response.status_code == 302
    with in_tenant(tenant_a):
        assert not get_user_model().objects.filter(pk__in=[u.pk for u in doomed]).exists()
        events = _since(mark)
        assert [(e[0], e[1]) for e in events] == [
            ("user.delete", str(doomed[0].pk)), ("user.delete", str(doomed[1].pk)),
            ("admin.bulk_delete", "")]
        assert events[0][2]["username"] == "bulk0@a.test"
        assert events[2][3] == {"count": 2, "objects": [
            {"id": doomed[0].pk, "repr": "bulk0@a.test"},
            {"id": doomed[1].pk, "repr": "bulk1@a.test"}]}


def test_a_manager_cannot_use_the_object_permission_pages(
        tenant_a: Any, in_tenant: Any, owner_of: Any, logged_in: Any) -> None:
    from guardian.models import UserObjectPermission

    with in_tenant(tenant_a):
        owner = owner_of("a")
        site = site_create(actor=owner, name="Guarded site")
        camera = camera_create(actor=owner, site=site, name="Guarded cam",
                               stream_url="rtsp://10.0.0.11/")
        manager = user_create(actor=owner, email="mgr-perms@a.test", password=PASSWORD,
                              role=Role.MANAGER)
        viewer = user_create(actor=owner, email="viewer-perms@a.test", password=PASSWORD)
        mark = _mark()
        grants = UserObjectPermission.objects.count()
    client = logged_in("a", manager)
    base = f"/admin/cameras/camera/{camera.pk}"
    # the manager may edit the camera ...
    assert client.get(f"{base}/change/").status_code == 200
    # ... but the permission pages refuse, saying why, and a grant posted anyway does nothing
    for url in (f"{base}/permissions/", f"{base}/permissions/user-manage/{viewer.pk}/"):
        page = client.get(url, follow=True)
        assert page.redirect_chain == [(f"{base}/change/", 302)]
        assert "Only an Owner can grant or revoke per-object permissions" in page.content.decode()
    response = client.post(f"{base}/permissions/user-manage/{viewer.pk}/",
                           {"permissions": ["view_camera"]})
    assert response.status_code == 302 and response["Location"] == f"{base}/change/"
    response = client.post(f"{base}/permissions/", {"user": viewer.username,
                                                   "submit_manage_user": "1"})
    assert response.status_code == 302 and response["Location"] == f"{base}/change/"
    with in_tenant(tenant_a):
        assert UserObjectPermission.objects.count() == grants
        assert not viewer.has_perm("cameras.view_camera", camera)
        assert _since(mark) == []


def test_a_bulk_delete_of_cameras_goes_through_the_camera_service(
        tenant_a: Any, in_tenant: Any, owner_of: Any, logged_in: Any) -> None:
    from cameras.models import Camera

    with in_tenant(tenant_a):
        owner = owner_of("a")
        site = site_create(actor=owner, name="Bulk site")
        cams = [camera_create(actor=owner, site=site, name=f"Bulk cam {i}",
                              stream_url=f"rtsp://10.0.0.{20 + i}/") for i in range(2)]
        mark = _mark()
    client = logged_in("a", owner)
    response = client.post("/admin/cameras/camera/", {
        "action": "delete_selected", "_selected_action": [c.pk for c in cams], "post": "yes"})
    assert response.status_code == 302
    with in_tenant(tenant_a):
        assert not Camera.objects.filter(pk__in=[c.pk for c in cams]).exists()
        events = _since(mark)
        # the service's own events (with the camera's values), then the bulk record
        assert [(e[0], e[1]) for e in events] == [
            ("camera.delete", str(cams[0].pk)), ("camera.delete", str(cams[1].pk)),
            ("admin.bulk_delete", "")]
        assert events[0][2]["name"] == "Bulk cam 0"
        assert events[2][3]["count"] == 2
