"""The database connection as django-tenants extends it (schema_name, set_tenant...), typed."""

from typing import Any

from django.db import connection as _connection

connection: Any = _connection


def current_schema() -> str:
    """The schema the current connection points at ("public" outside any tenant)."""
    return str(connection.schema_name)
