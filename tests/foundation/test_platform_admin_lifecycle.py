"""Suspending, reactivating and deleting tenants in the platform admin goes through the services:
audited, streams stopped, the schema dropped by ``tenant_delete`` (never a bare row DELETE)."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django_tenants.utils import schema_exists

from audit.models import AuditEvent
from tenants.models import Domain, Tenant
from tenants.platform.services import tenant_create, tenant_reactivate, tenant_suspend
from tests.conftest import PASSWORD


@pytest.fixture
def staff_client(db: Any) -> Client:
    staff = get_user_model().objects.create_superuser(username="platform", password=PASSWORD,
                                                      email="platform@localhost")
    client = Client(HTTP_HOST="localhost")
    client.force_login(staff)
    return client


def _new_tenant(slug: str) -> Tenant:
    made = tenant_create(name=slug.title(), slug=slug, domain=f"{slug}.localhost",
                         owner_email=f"owner@{slug}.test", owner_password=PASSWORD)
    return made.tenant


def _actions(tenant: Tenant) -> list[str]:
    return list(AuditEvent.objects.filter(target_type="tenants.tenant", target_id=str(tenant.pk))
                .order_by("pk").values_list("action", flat=True))


def test_bulk_delete_selected_goes_through_the_delete_service(staff_client: Client) -> None:
    # given two tenants made through provisioning
    first, second = _new_tenant("bulkone"), _new_tenant("bulktwo")
    # when platform staff confirm "delete selected tenants" for both
    response = staff_client.post("/admin/tenants/tenant/", {
        "action": "delete_selected", "_selected_action": [first.pk, second.pk], "post": "yes"})
    # then both are gone with their schemas and domains, and each deletion is audited
    assert response.status_code == 302
    assert not Tenant.objects.filter(pk__in=[first.pk, second.pk]).exists()
    assert not schema_exists("bulkone") and not schema_exists("bulktwo")
    assert not Domain.objects.filter(domain__in=["bulkone.localhost", "bulktwo.localhost"]
                                     ).exists()
    assert set(AuditEvent.objects.filter(
        action="tenant.delete", target_id__in=[str(first.pk), str(second.pk)]
    ).values_list("target_id", flat=True)) == {str(first.pk), str(second.pk)}


def test_suspend_and_reactivate_actions_use_the_services(staff_client: Client) -> None:
    tenant = _new_tenant("actioned")
    # when the "suspend selected" action runs on it
    response = staff_client.post("/admin/tenants/tenant/", {
        "action": "suspend_selected", "_selected_action": [tenant.pk]}, follow=True)
    # then it is suspended, said so, and audited
    tenant.refresh_from_db()
    assert tenant.is_active is False
    assert "Suspended: Actioned." in response.content.decode()
    # when it runs again, nothing changes and the page says why
    response = staff_client.post("/admin/tenants/tenant/", {
        "action": "suspend_selected", "_selected_action": [tenant.pk]}, follow=True)
    assert "already suspended" in response.content.decode()
    # when reactivated
    staff_client.post("/admin/tenants/tenant/", {
        "action": "reactivate_selected", "_selected_action": [tenant.pk]})
    tenant.refresh_from_db()
    assert tenant.is_active is True
    assert _actions(tenant) == ["tenant.create", "tenant.suspend", "tenant.reactivate"]


def test_unticking_active_in_the_change_form_suspends_through_the_service(
        staff_client: Client) -> None:
    tenant = _new_tenant("unticked")
    # when the change form is saved with "active" unticked and a new quota
    response = staff_client.post(f"/admin/tenants/tenant/{tenant.pk}/change/", {
        "name": "Unticked", "camera_quota": 7})
    # then the quota is saved and the tenant suspended, with the suspension audited by its
    # service and the quota by the audited admin (issue 17)
    assert response.status_code == 302
    tenant.refresh_from_db()
    assert (tenant.is_active, tenant.camera_quota) == (False, 7)
    assert _actions(tenant) == ["tenant.create", "tenant.suspend", "tenant.update"]


def test_the_services_refuse_the_public_tenant_and_are_idempotent(db: Any) -> None:
    from django.core.exceptions import ValidationError

    public = Tenant.objects.get(schema_name="public")
    with pytest.raises(ValidationError):
        tenant_suspend(tenant=public)
    assert Tenant.objects.get(schema_name="public").is_active is True
    tenant = Tenant.objects.get(slug="tenant_a")
    assert tenant_reactivate(tenant=tenant) is False  # already active: nothing audited
    assert tenant_suspend(tenant=tenant, reason="unpaid") is True
    assert tenant_suspend(tenant=tenant) is False
    assert tenant_reactivate(tenant=tenant) is True
    assert _actions(tenant)[-2:] == ["tenant.suspend", "tenant.reactivate"]
