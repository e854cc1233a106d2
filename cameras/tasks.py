"""Diagnostic tasks: which tenant does a task run in?"""

from __future__ import annotations

from celery import shared_task

from cameras.models import Camera
from tenants.db import current_schema


@shared_task(name="cameras.tenant_ping")
def tenant_ping() -> dict[str, object]:
    """Report the schema this task ran in and how many cameras that tenant has."""
    return {"schema": current_schema(), "cameras": Camera.objects.count()}
