"""A throw-away tenant for benchmarks that need the database: created in the configured
database, dropped afterwards (with its audit export) whatever the benchmark did."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

BENCH_PASSWORD = "Bench-Password-123"  # noqa: S105


@contextmanager
def throwaway_tenant() -> Iterator[Any]:
    """Yield a new tenant (Django must be set up); delete it on the way out."""
    from django.conf import settings
    from django.db import connection

    from tenants.platform.services import public_tenant_ensure, tenant_create, tenant_delete

    public_tenant_ensure(domain=settings.PUBLIC_DOMAIN)
    slug = f"bench_{uuid.uuid4().hex[:8]}"
    domain = f"{slug.replace('_', '-')}.localhost"
    tenant = tenant_create(name=slug, slug=slug, domain=domain,
                           owner_email=f"o@{slug.replace('_', '-')}.test",
                           owner_password=BENCH_PASSWORD).tenant
    try:
        yield tenant
    finally:
        connection.set_schema_to_public()
        tenant_delete(slug=slug)
