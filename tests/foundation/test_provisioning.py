"""Tenant provisioning and deletion, including every failure leaving nothing half made."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.db import connection
from django_tenants.utils import schema_exists, tenant_context

from tenants.constants import Role
from tenants.models import Domain, Tenant
from tenants.platform import services
from tenants.redis_keys import redis_client, tenant_key, tenant_redis_keys_delete
from tests.conftest import PASSWORD


def _state() -> tuple[int, int, list[str]]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT nspname FROM pg_namespace ORDER BY 1")
        schemas = [row[0] for row in cursor.fetchall()]
    return Tenant.objects.count(), Domain.objects.count(), schemas


def _create(**overrides: Any) -> services.ProvisionedTenant:
    args = {"name": "Acme", "slug": "acme", "domain": "acme.localhost",
            "owner_email": "boss@acme.test", "owner_password": PASSWORD}
    args.update(overrides)
    return services.tenant_create(**args)


def test_create_makes_schema_domain_roles_and_owner(db: Any) -> None:
    # when a tenant is provisioned
    result = _create()
    # then its schema, domain and owner exist, and the owner has the Owner role
    assert schema_exists("acme")
    assert result.domain.domain == "acme.localhost" and result.domain.is_primary
    with tenant_context(result.tenant):
        owner = get_user_model().objects.get(pk=result.owner_id)
        assert owner.username == "boss@acme.test"
        assert owner.is_staff and not owner.is_superuser
        assert list(owner.groups.values_list("name", flat=True)) == [Role.OWNER]
        assert owner.has_perm("cameras.add_camera")
        assert owner.check_password(PASSWORD)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"slug": "tenant_a", "domain": "new.localhost"}, "slug"),  # slug taken
        ({"domain": "tenant-a.localhost"}, "domain"),  # domain taken
        ({"slug": "Bad Slug!"}, "slug"),  # invalid slug
        ({"slug": "public"}, "slug"),  # reserved
        ({"slug": "pg_catalog2"}, "slug"),  # PostgreSQL's prefix
        ({"domain": "not a host"}, "domain"),  # invalid domain
        ({"owner_password": "password"}, "owner_password"),  # weak (common, short)
        ({"owner_password": "12345678901"}, "owner_password"),  # weak (numeric)
        ({"owner_email": "not-an-email"}, "owner_email"),  # invalid e-mail
    ],
)
def test_create_refuses_bad_input_and_makes_nothing(db: Any, overrides: dict[str, str],
                                                    field: str) -> None:
    before = _state()
    with pytest.raises(ValidationError) as excinfo:
        _create(**overrides)
    assert field in excinfo.value.message_dict
    assert _state() == before


def test_a_failure_after_the_schema_is_made_removes_everything(db: Any, monkeypatch: Any) -> None:
    # given owner creation fails after the schema was created and migrated
    def boom(**kwargs: Any) -> int:
        raise RuntimeError("disk full")

    monkeypatch.setattr(services, "_create_owner", boom)
    before = _state()
    # when provisioning, then the error surfaces and nothing is left behind
    with pytest.raises(RuntimeError, match="disk full"):
        _create()
    assert _state() == before
    assert not schema_exists("acme")


def test_delete_drops_schema_domain_and_redis_keys(db: Any) -> None:
    result = _create()
    with tenant_context(result.tenant):
        cache.set("dashboard", "cached")
    client = redis_client()
    client.set(tenant_key("acme", "live", "camera", 1, "seq"), 7)
    client.set(tenant_key("acme2", "other"), 1)  # a prefix-alike tenant keeps its keys
    try:
        services.tenant_delete(slug="acme")
        assert not schema_exists("acme")
        assert not Tenant.objects.filter(slug="acme").exists()
        assert not Domain.objects.filter(domain="acme.localhost").exists()
        cache_client = redis_client(cache._cache._servers[0])  # type: ignore[attr-defined]
        assert list(cache_client.scan_iter(match="acme:*")) == []
        assert list(client.scan_iter(match="acme:*")) == []
        assert client.get("acme2:other") == b"1"
    finally:
        client.delete("acme2:other")
        tenant_redis_keys_delete(schema_name="acme")


def test_commands_create_and_delete(db: Any, capsys: Any) -> None:
    call_command("create_tenant", name="Cmd", slug="cmdco", domain="cmd.localhost",
                 owner_email="o@cmd.test", owner_password=PASSWORD)
    assert "ready at http://cmd.localhost/" in capsys.readouterr().out
    with pytest.raises(CommandError, match="already taken"):
        call_command("create_tenant", name="Cmd", slug="cmdco", domain="cmd2.localhost",
                     owner_email="o@cmd.test", owner_password=PASSWORD)
    with pytest.raises(CommandError, match="confirmation"):
        call_command("delete_tenant", "cmdco")  # no terminal and no --yes
    assert schema_exists("cmdco")
    call_command("delete_tenant", "cmdco", yes=True)
    assert not schema_exists("cmdco")
    with pytest.raises(CommandError, match="No tenant"):
        call_command("delete_tenant", "cmdco", yes=True)
