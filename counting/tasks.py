"""Celery tasks of stream processing: the per-camera stream task and the beat supervisor.

``counting.stream_run`` runs on the "streams" queue, one task per camera for as long as the
camera streams; its message is acknowledged on receipt (``acks_late=False``): if the worker
dies, recovery comes from the lease expiring and the supervisor dispatching again, never from
broker redelivery. ``counting.streams_supervise`` (beat, every ~10 s, platform-wide) walks the
tenants and dispatches a stream task for every enabled camera without a live lease.
``counting.line_rollups_rebuild`` (short queue, on demand) repairs a range of line rollups.
"""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings
from django.utils.dateparse import parse_datetime
from django_tenants.utils import tenant_context

from counting.leases import cameras_needing_runner
from tenants.db import current_schema
from tenants.redis_keys import redis_client, tenant_key
from tenants.tasks import PlatformTask

logger = logging.getLogger(__name__)


@shared_task(name="counting.stream_run", acks_late=False, ignore_result=True)
def stream_run(camera_id: int) -> str:
    """Process one camera of the task's tenant until it is disabled, stopped or taken over."""
    from counting.runner import run_camera_stream

    return run_camera_stream(camera_id=camera_id, schema=current_schema())


def dispatch_key(schema: str, camera_id: int) -> str:
    """Redis marker of a stream task sent but maybe not started yet (avoids piling up
    duplicates in the queue while workers are busy or starting)."""
    return tenant_key(schema, "camera", camera_id, "stream-dispatched")


def streams_dispatch_for_current_tenant() -> list[int]:
    """Send a stream task for each enabled camera of the current tenant without a live lease;
    returns the camera ids dispatched."""
    schema = current_schema()
    ttl = settings.COUNTING_LEASE_TTL_S
    client = redis_client()
    sent: list[int] = []
    for camera_id in cameras_needing_runner(ttl_s=ttl):
        if not client.set(dispatch_key(schema, camera_id), "1", nx=True, ex=max(1, int(ttl))):
            continue
        stream_run.apply_async(args=[camera_id], queue=settings.COUNTING_STREAMS_QUEUE,
                               expires=max(30.0, 3 * settings.COUNTING_SUPERVISOR_INTERVAL_S))
        sent.append(camera_id)
    return sent


@shared_task(name="counting.streams_supervise", base=PlatformTask, ignore_result=True)
def streams_supervise() -> dict[str, list[int]]:
    """Beat: for every active tenant, dispatch the streams that have no live owner."""
    from tenants.models import Tenant

    dispatched: dict[str, list[int]] = {}
    for tenant in Tenant.objects.exclude(schema_name="public").filter(is_active=True):
        try:
            with tenant_context(tenant):
                sent = streams_dispatch_for_current_tenant()
        except Exception:  # one broken tenant must not stop the others' streams
            logger.exception("supervisor: tenant %s skipped", tenant.schema_name)
            continue
        if sent:
            dispatched[tenant.schema_name] = sent
            logger.info("supervisor: %s dispatched cameras %s", tenant.schema_name, sent)
    return dispatched


@shared_task(name="counting.health_sweep", base=PlatformTask, ignore_result=True)
def health_sweep() -> int:
    """Beat (short queue): cameras shown online whose lease expired (their worker died and
    nobody took over yet) are marked offline, so health never claims a dead stream is live."""
    from cameras.constants import CameraStatus
    from cameras.models import Camera
    from counting.health import HealthSnapshot, health_report
    from counting.models import CameraHealth
    from tenants.models import Tenant

    marked = 0
    ttl = settings.COUNTING_LEASE_TTL_S
    for tenant in Tenant.objects.exclude(schema_name="public").filter(is_active=True):
        with tenant_context(tenant):
            orphans = set(cameras_needing_runner(ttl_s=ttl))
            enabled = set(Camera.objects.filter(enabled=True).values_list("pk", flat=True))
            live_states = (CameraStatus.ONLINE, CameraStatus.FROZEN, CameraStatus.STARTING)
            for health in CameraHealth.objects.filter(camera_id__in=orphans & enabled,
                                                      state__in=live_states):
                health_report(camera_id=health.camera_id, snapshot=HealthSnapshot(
                    state=CameraStatus.OFFLINE, reason="no stream worker owns this camera "
                    "(its lease expired); waiting for the supervisor to restart it",
                    last_frame_at=health.last_frame_at))
                marked += 1
    return marked


@shared_task(name="counting.line_rollups_rebuild", ignore_result=False)
def line_rollups_rebuild_task(camera_id: int, start: str, end: str) -> int:
    """Short queue, in the task's tenant: recompute a camera's line rollups of [start, end)
    (ISO 8601, aware) from its events (repair after restoring events, e.g. from a backup)."""
    from counting.rollups import line_rollups_rebuild  # models: loaded once Django is set up

    start_at, end_at = parse_datetime(start), parse_datetime(end)
    if start_at is None or end_at is None:
        raise ValueError("start and end must be ISO 8601 datetimes with a UTC offset")
    return line_rollups_rebuild(camera_id=camera_id, start=start_at, end=end_at)
