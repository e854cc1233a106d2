"""The database connection as django-tenants extends it (schema_name, set_tenant...), typed."""

from typing import Any

from django.db import connection as _connection

connection: Any = _connection


def current_schema() -> str:
    """The schema the current connection points at ("public" outside any tenant)."""
    return str(connection.schema_name)


def tenant_quota(name: str, schema: str | None = None) -> int | None:
    """The effective quota ``name`` (see ``tenants.models.QUOTA_FIELDS``) of the tenant whose
    schema the connection points at (or of ``schema``), read fresh from the database so a
    platform admin's change applies at once; None outside a tenant."""
    from tenants.models import Tenant

    schema = schema or current_schema()
    if schema == "public":
        return None
    tenant = Tenant.objects.select_related("plan").filter(schema_name=schema).first()
    return tenant.quota(name) if tenant is not None else None
