"""The platform admin on the public domain: tenants, domains and plans, for platform staff."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.test import Client
from django_tenants.utils import schema_exists

from tenants.models import Tenant
from tests.conftest import PASSWORD


def _staff_client() -> Client:
    staff = get_user_model().objects.create_superuser(username="platform", password=PASSWORD,
                                                      email="platform@localhost")
    client = Client(HTTP_HOST="localhost")
    client.force_login(staff)
    return client


def test_platform_staff_list_tenants(db: Any) -> None:
    page = _staff_client().get("/admin/tenants/tenant/")
    assert page.status_code == 200
    assert b"Tenant A" in page.content and b"Tenant B" in page.content


def test_adding_a_tenant_in_the_admin_provisions_it(db: Any) -> None:
    client = _staff_client()
    response = client.post("/admin/tenants/tenant/add/", {
        "name": "Admin Made", "slug": "adminmade", "camera_quota": 3,
        "domain": "adminmade.localhost", "owner_email": "o@adminmade.test",
        "owner_password": PASSWORD,
    })
    assert response.status_code == 302
    tenant = Tenant.objects.get(slug="adminmade")
    assert schema_exists("adminmade") and tenant.camera_quota == 3


def test_the_add_form_shows_what_is_wrong_and_makes_nothing(db: Any) -> None:
    client = _staff_client()
    before = Tenant.objects.count()
    response = client.post("/admin/tenants/tenant/add/", {
        "name": "Dup", "slug": "tenant_a", "camera_quota": 3,
        "domain": "tenant-b.localhost", "owner_email": "o@dup.test", "owner_password": "short",
    })
    assert response.status_code == 200
    text = response.content.decode()
    assert "already taken" in text and "too short" in text
    assert Tenant.objects.count() == before


def test_a_tenant_owner_cannot_use_the_platform_admin(db: Any) -> None:
    client = Client(HTTP_HOST="localhost")
    response = client.post("/admin/login/", {"username": "owner@tenant-a.localhost",
                                             "password": PASSWORD})
    assert response.status_code == 200  # the owner does not exist in the public schema
    assert client.get("/admin/tenants/tenant/").status_code == 302
