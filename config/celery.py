"""The Celery app. Every task carries its tenant's schema in a header (tenant-schemas-celery).

A task that arrives without a tenant refuses to run, unless it is declared platform-wide
(``base=PlatformTask``), like the supervisor that walks every tenant.
"""

from __future__ import annotations

import os
from typing import Any

from kombu import Queue
from tenant_schemas_celery.app import CeleryApp
from tenant_schemas_celery.task import TenantTask

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
# Before torch is imported anywhere in a worker: spinning OpenMP threads collapse when another
# process wants the core (2 threads went from ~45 ms to 300+ ms per frame in docs/pipeline.md).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


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


app = CeleryApp("peoplecount", task_cls=RequireTenantTask)
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.task_queues = (Queue("default"), Queue("streams"), Queue("short"))
app.conf.task_default_queue = "default"
app.autodiscover_tasks()
