"""A suspended or deleted tenant's streams stop (receivers of :mod:`tenants.signals`).

Three things keep a suspended tenant's cameras from being counted, each enough on its own
within seconds: the supervisor dispatches nothing for an inactive tenant
(:func:`counting.tasks.streams_supervise`), a stream task of an inactive tenant refuses to
start (:func:`counting.tasks.stream_run`), and running streams are asked to stop here through
their Redis stop flag (honoured within ``COUNTING_STOP_POLL_S``); the runners also read the
tenant's ``is_active`` themselves, which covers a Redis outage.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from typing import Any

import redis
from django.conf import settings
from django.db.models import DateTimeField, ExpressionWrapper, F, Value
from django.db.models.functions import Now
from django.dispatch import receiver
from django_tenants.utils import tenant_context

from counting.models import CameraLease
from counting.runner.stop import stream_stop_request
from tenants.signals import tenant_deleting, tenant_suspended

logger = logging.getLogger(__name__)

POLL_S = 0.2


def streams_running() -> list[int]:
    """Cameras of the current tenant whose lease is held by a live runner (database time)."""
    cutoff = ExpressionWrapper(Now() - Value(timedelta(seconds=settings.COUNTING_LEASE_TTL_S)),
                               output_field=DateTimeField())
    return list(CameraLease.objects.exclude(owner="").annotate(cutoff=cutoff)
                .filter(heartbeat_at__gte=F("cutoff")).values_list("camera_id", flat=True))


def tenant_streams_stop(*, tenant: Any, wait_s: float = 0.0) -> list[int]:
    """Ask every running stream of ``tenant`` to stop, and wait up to ``wait_s`` seconds for
    their leases to be released (flushed and stopped); returns the cameras still running."""
    with tenant_context(tenant):
        running = streams_running()
        for camera_id in running:
            try:
                stream_stop_request(schema=tenant.schema_name, camera_id=camera_id)
            except redis.RedisError as exc:  # the runners also read the tenant's is_active
                logger.warning("tenant %s: stop flag of camera %s not set (%s); its runner "
                               "stops on seeing the tenant inactive", tenant.schema_name,
                               camera_id, exc)
        deadline = time.monotonic() + wait_s
        while running and time.monotonic() < deadline:
            time.sleep(POLL_S)
            running = streams_running()
    if running and wait_s > 0:
        logger.warning("tenant %s: streams of cameras %s still running after %.0f s",
                       tenant.schema_name, running, wait_s)
    return running


@receiver(tenant_suspended, dispatch_uid="counting-streams-stop-on-suspend")
def _on_tenant_suspended(sender: Any, tenant: Any, **kwargs: Any) -> None:
    tenant_streams_stop(tenant=tenant)


@receiver(tenant_deleting, dispatch_uid="counting-streams-stop-on-delete")
def _on_tenant_deleting(sender: Any, tenant: Any, wait_s: float = 0.0, **kwargs: Any) -> None:
    tenant_streams_stop(tenant=tenant, wait_s=wait_s)
