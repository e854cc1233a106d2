"""Celery tasks of reports, on the short-task queue (``analytics.*`` is routed there): thin and
safe to run twice. The due check walks every tenant (platform-wide, run by beat every
``REPORTS_DUE_CHECK_S``); sends and exports carry their tenant."""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task
from django_tenants.utils import tenant_context

from tenants.tasks import PlatformTask

logger = logging.getLogger(__name__)


@shared_task(name="analytics.reports_due", base=PlatformTask, ignore_result=True)
def reports_due() -> dict[str, int]:
    """Beat: claim the due periods of every active tenant's schedules (one broken tenant does
    not stop the others); each claimed period is sent by its own task. Expired export files
    are deleted on the way."""
    from analytics.reports.exports import exports_expire
    from analytics.reports.sending import reports_due_run
    from tenants.models import Tenant

    done: dict[str, int] = {}
    for tenant in Tenant.objects.exclude(schema_name="public").filter(is_active=True):
        try:
            with tenant_context(tenant):
                done[tenant.schema_name] = len(reports_due_run())
                exports_expire()
        except Exception:
            logger.exception("reports due check: tenant %s skipped", tenant.schema_name)
    return done


@shared_task(name="analytics.reports_send", ignore_result=True)
def reports_send(send_id: int) -> str:
    """Make and e-mail the report of one claimed period."""
    from analytics.reports.sending import report_send

    return report_send(send_id=send_id)


@shared_task(name="analytics.reports_export", ignore_result=True)
def reports_export(export_id: str) -> Any:
    """Make one export's file, recording progress."""
    from analytics.reports.exports import export_run

    return export_run(export_id=export_id)
