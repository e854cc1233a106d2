"""Base classes of every Celery task: each task carries its tenant's schema in a header
(tenant-schemas-celery), and one that arrives without a tenant refuses to run, unless it is
declared platform-wide (``base=PlatformTask``), like the supervisor that walks every tenant.

``config.celery`` makes ``RequireTenantTask`` the app's default task class; the classes live
here so that apps can name ``PlatformTask`` without importing ``config``. This module is
imported while the settings load (``config/__init__`` imports the Celery app), so it must not
import models.
"""

from __future__ import annotations

from typing import Any

from tenant_schemas_celery.task import TenantTask


class MissingTenantError(RuntimeError):
    """Raised when a tenant task is received without the tenant schema it must run in."""


class RequireTenantTask(TenantTask):
    """Base task: refuses to run unless a tenant schema other than public came with it."""

    abstract = True
    platform_wide = False

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if not self.platform_wide:
            headers = self.request.headers or {}
            schema = headers.get("_schema_name") or self.request.get("_schema_name")
            if not schema or schema == "public":
                raise MissingTenantError(
                    f"Task {self.name} arrived without a tenant schema and refuses to run. "
                    "Send it from inside a tenant context (a tenant request or "
                    "django_tenants.utils.tenant_context)."
                )
        return super().__call__(*args, **kwargs)


class PlatformTask(RequireTenantTask):
    """Base for tasks that deliberately run in the public schema (they iterate tenants)."""

    abstract = True
    platform_wide = True
