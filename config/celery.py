"""The Celery app. Every task carries its tenant's schema in a header (tenant-schemas-celery).

A task that arrives without a tenant refuses to run, unless it is declared platform-wide
(``base=PlatformTask``), like the supervisor that walks every tenant: the base task classes live
in ``tenants.tasks`` so that apps use them without importing ``config``.
"""

from __future__ import annotations

import os

from kombu import Queue
from tenant_schemas_celery.app import CeleryApp

from tenants.tasks import RequireTenantTask

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
# Before torch is imported anywhere in a worker: spinning OpenMP threads collapse when another
# process wants the core (2 threads went from ~45 ms to 300+ ms per frame in docs/pipeline.md).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


app = CeleryApp("peoplecount", task_cls=RequireTenantTask)
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.task_queues = (Queue("default"), Queue("streams"), Queue("short"))
app.conf.task_default_queue = "default"
app.autodiscover_tasks()
