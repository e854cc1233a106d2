"""Every platform-admin change is written to the public schema's audit trail; the public tenant
cannot be deleted from the admin."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.test import Client
from django_tenants.utils import schema_exists

from audit.models import AuditEvent
from tenants.models import Domain, Tenant
from tests.conftest import PASSWORD


def _staff() -> tuple[Any, Client]:
    staff = get_user_model().objects.create_superuser(username="platform-audit",
                                                      password=PASSWORD,
                                                      email="platform-audit@localhost")
    client = Client(HTTP_HOST="localhost")
    client.force_login(staff)
    return staff, client


def _mark() -> int:
    last = AuditEvent.objects.order_by("-pk").first()
    return last.pk if last else 0


def test_suspension_and_quota_changes_are_audited(db: Any) -> None:
    staff, client = _staff()
    tenant = Tenant.objects.get(slug="tenant_a")
    mark = _mark()
    # when a platform admin suspends tenant A and lowers its camera quota
    response = client.post(f"/admin/tenants/tenant/{tenant.pk}/change/", {
        "name": tenant.name, "plan": "", "camera_quota": 2})  # is_active unticked
    assert response.status_code == 302, response.content[:2000]
    # then the public trail says who changed what: the quota by the admin's own event, the
    # suspension by its service's (once each)
    events = list(AuditEvent.objects.filter(pk__gt=mark).exclude(action__startswith="auth.")
                  .order_by("pk"))
    assert [(e.action, e.target_id, e.actor_id) for e in events] == [
        ("tenant.suspend", str(tenant.pk), staff.pk), ("tenant.update", str(tenant.pk), staff.pk)]
    assert (events[1].before["camera_quota"], events[1].after["camera_quota"]) == (
        tenant.camera_quota, 2)
    assert "is_active" not in events[1].after


def test_a_domain_moved_to_another_tenant_is_audited(db: Any) -> None:
    staff, client = _staff()
    tenant_a, tenant_b = Tenant.objects.get(slug="tenant_a"), Tenant.objects.get(slug="tenant_b")
    domain = Domain.objects.create(domain="extra-a.localhost", tenant=tenant_a, is_primary=False)
    mark = _mark()
    response = client.post(f"/admin/tenants/domain/{domain.pk}/change/", {
        "domain": "extra-a.localhost", "tenant": tenant_b.pk})
    assert response.status_code == 302, response.content[:2000]
    event = AuditEvent.objects.get(pk__gt=mark, action="domain.update")
    assert (event.before["tenant"], event.after["tenant"]) == (tenant_a.pk, tenant_b.pk)
    assert event.actor_name == "platform-audit"


def test_platform_users_their_privileges_and_passwords_are_audited(db: Any) -> None:
    _staff_user, client = _staff()
    mark = _mark()
    # when a platform user is added, made superuser, and given a new password
    response = client.post("/admin/auth/user/add/", {
        "username": "ops", "password1": PASSWORD, "password2": PASSWORD,
        "usable_password": "true"})
    assert response.status_code == 302, response.content[:2000]
    ops = get_user_model().objects.get(username="ops")
    response = client.post(f"/admin/auth/user/{ops.pk}/change/", {
        "username": "ops", "is_active": "on", "is_staff": "on", "is_superuser": "on",
        "date_joined_0": "2026-01-01", "date_joined_1": "00:00:00"})
    assert response.status_code == 302, response.content[:2000]
    response = client.post(f"/admin/auth/user/{ops.pk}/password/", {
        "password1": "Another-Passw0rd-Here", "password2": "Another-Passw0rd-Here"})
    assert response.status_code == 302, response.content[:2000]
    # then the public trail holds the three, without any password hash
    events = list(AuditEvent.objects.filter(pk__gt=mark, target_id=str(ops.pk)).order_by("pk"))
    assert [e.action for e in events] == ["user.create", "user.update", "user.password_change"]
    assert (events[1].before["is_superuser"], events[1].after["is_superuser"]) == (False, True)
    assert events[0].after["password_set"] is True and "password" not in events[0].after
    ops.refresh_from_db()
    assert all(ops.password not in str([e.before, e.after]) for e in events)


def test_deleting_the_public_tenant_is_refused_with_a_message(db: Any) -> None:
    _staff_user, client = _staff()
    public = Tenant.objects.get(schema_name="public")
    # one by one
    page = client.post(f"/admin/tenants/tenant/{public.pk}/delete/", {"post": "yes"},
                       follow=True)
    assert page.status_code == 200
    assert "The public tenant is the platform itself" in page.content.decode()
    # and in bulk
    page = client.post("/admin/tenants/tenant/", {
        "action": "delete_selected", "_selected_action": [public.pk], "post": "yes"},
        follow=True)
    assert page.status_code == 200
    assert "The public tenant is the platform itself" in page.content.decode()
    assert Tenant.objects.filter(schema_name="public").exists() and schema_exists("public")
