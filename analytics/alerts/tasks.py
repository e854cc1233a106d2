"""Celery tasks of alerting, all on the short-task queue (``ALERTS_QUEUE``); thin and safe to
run twice: they take ids, call the services, and the database decides what is left to do."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from celery import shared_task
from django.conf import settings
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django_tenants.utils import tenant_context

from tenants.tasks import PlatformTask

logger = logging.getLogger(__name__)

# An evaluation message older than this describes a past state: it is evaluated as of now.
STALE_AFTER = timedelta(seconds=60)


@shared_task(name="analytics.alerts_evaluate_batch", ignore_result=True)
def alerts_evaluate_batch(camera_id: int, occupancy: dict[str, float],
                          committed_at: str | None = None) -> dict[str, int]:
    """Evaluate a camera's occupancy and footfall rules after a committed ledger batch."""
    from analytics.alerts.triggers import on_batch

    now = timezone.now()
    at = parse_datetime(committed_at) if committed_at else None
    # The batch's commit time: a queue that held the task does not stretch a duration.
    observed = at if at is not None and now - at < STALE_AFTER else now
    result = on_batch(camera_id=camera_id, now=observed,
                      occupancy={int(k): float(v) for k, v in occupancy.items()})
    return {"opened": result.opened, "resolved": result.resolved}


@shared_task(name="analytics.alerts_deliver", ignore_result=True)
def alerts_deliver(channel: str, recipient: str) -> str | None:
    """Claim what waits for one recipient and send it (one message, or a digest)."""
    from analytics.alerts.delivery import delivery_attempt, delivery_claim
    from analytics.alerts.outbox import dispatch
    from tenants.db import current_schema

    delivery, wait = delivery_claim(channel=channel, recipient=recipient)
    if wait > 0:
        dispatch(current_schema(), [(channel, recipient)], countdown=wait)
    if delivery is None:
        return None
    return delivery_attempt(delivery_id=delivery.pk)


@shared_task(name="analytics.alerts_attempt", ignore_result=True)
def alerts_attempt(delivery_id: int) -> str | None:
    """Try (again) one delivery if it is due."""
    from analytics.alerts.delivery import delivery_attempt

    return delivery_attempt(delivery_id=delivery_id)


def sweep_current_tenant() -> dict[str, Any]:
    """One sweep of the current tenant: clock-driven rules, lost dispatches, due retries."""
    from analytics.alerts.delivery import deliveries_due, delivery_retry_schedule
    from analytics.alerts.outbox import dispatch, pending_pairs
    from analytics.alerts.triggers import on_sweep
    from tenants.db import current_schema

    now = timezone.now()
    schema = current_schema()
    result = on_sweep(now=now)
    lost = pending_pairs(now=now, older_than_s=max(10.0, 2 * settings.ALERTS_DIGEST_WINDOW_S))
    if lost:
        dispatch(schema, lost, countdown=0)
    due = deliveries_due(now=now)
    for delivery_id in due:
        delivery_retry_schedule(schema, delivery_id, 0)
    return {"opened": result.opened, "resolved": result.resolved, "redispatched": len(lost),
            "retried": len(due)}


@shared_task(name="analytics.alerts_sweep", base=PlatformTask, ignore_result=True)
def alerts_sweep() -> dict[str, dict[str, Any]]:
    """Beat: sweep every active tenant (one broken tenant does not stop the others)."""
    from tenants.models import Tenant

    done: dict[str, dict[str, Any]] = {}
    for tenant in Tenant.objects.exclude(schema_name="public").filter(is_active=True):
        try:
            with tenant_context(tenant):
                done[tenant.schema_name] = sweep_current_tenant()
        except Exception:
            logger.exception("alerts sweep: tenant %s skipped", tenant.schema_name)
    return done
