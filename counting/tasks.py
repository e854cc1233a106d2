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

import redis
from celery import shared_task
from django.conf import settings
from django.utils.dateparse import parse_datetime
from django_tenants.utils import tenant_context
from kombu.exceptions import OperationalError

from counting.leases import cameras_needing_runner
from counting.signals import health_swept, send_robust
from tenants.db import current_schema
from tenants.redis_keys import redis_client, tenant_key
from tenants.tasks import PlatformTask

logger = logging.getLogger(__name__)


@shared_task(name="counting.stream_run", acks_late=False, ignore_result=True)
def stream_run(camera_id: int) -> str:
    """Process one camera of the task's tenant until it is disabled, stopped or taken over."""
    from counting.runner import run_camera_stream
    from tenants.models import Tenant

    schema = current_schema()
    if not Tenant.objects.filter(schema_name=schema, is_active=True).exists():
        logger.info("camera %s: tenant %s is suspended or deleted; stream not started",
                    camera_id, schema)
        return "tenant-inactive"
    return run_camera_stream(camera_id=camera_id, schema=schema)


def dispatch_key(schema: str, camera_id: int) -> str:
    """Redis marker of a stream task sent but maybe not started yet (avoids piling up
    duplicates in the queue while workers are busy or starting)."""
    return tenant_key(schema, "camera", camera_id, "stream-dispatched")


class BrokerUnavailableError(RuntimeError):
    """A stream task could not be published (RabbitMQ down or restarting) after the brief
    retries of ``CELERY_TASK_PUBLISH_RETRY_POLICY``; the supervisor tries again next tick."""


class DispatchMarkers:
    """The Redis markers of one supervisor tick, degrading to "no markers" when Redis fails.

    Redis down or frozen must not stop streams from being restarted: without a marker a camera
    may get a second task in the queue while the first waits for a worker, which is harmless
    (a task finding the lease held returns at once, and queued tasks expire). After the first
    Redis error the tick stops asking Redis, so a frozen Redis costs one socket timeout per
    tick, not one per camera.
    """

    def __init__(self, schema: str, ttl_s: float) -> None:
        self.schema = schema
        self.ttl_s = max(1, int(ttl_s))
        self.client: redis.Redis | None = redis_client()
        self.degraded = False

    def claim(self, camera_id: int) -> bool:
        """True if a task may be sent for the camera (no marker yet, or Redis unavailable)."""
        if self.client is None:
            return True
        try:
            return bool(self.client.set(dispatch_key(self.schema, camera_id), "1", nx=True,
                                        ex=self.ttl_s))
        except redis.RedisError as exc:
            self._degrade(exc)
            return True

    def release(self, camera_id: int) -> None:
        """Remove the marker of a task that was not sent, so the next tick sends it."""
        if self.client is None:
            return
        try:
            self.client.delete(dispatch_key(self.schema, camera_id))
        except redis.RedisError as exc:
            self._degrade(exc)

    def _degrade(self, exc: Exception) -> None:
        logger.warning("supervisor: Redis unavailable (%s); dispatching %s's streams without "
                       "markers this tick", exc, self.schema)
        self.client = None
        self.degraded = True


def streams_dispatch_for_current_tenant() -> list[int]:
    """Send a stream task for each enabled camera of the current tenant without a live lease;
    returns the camera ids dispatched.

    Raises :class:`BrokerUnavailableError` when RabbitMQ refuses a publish (the camera's marker
    is removed first, so the next tick sends it again).
    """
    schema = current_schema()
    ttl = settings.COUNTING_LEASE_TTL_S
    markers = DispatchMarkers(schema, ttl)
    sent: list[int] = []
    for camera_id in cameras_needing_runner(ttl_s=ttl):
        if not markers.claim(camera_id):
            continue
        try:
            stream_run.apply_async(args=[camera_id], queue=settings.COUNTING_STREAMS_QUEUE,
                                   expires=max(30.0, 3 * settings.COUNTING_SUPERVISOR_INTERVAL_S))
        except (OperationalError, OSError) as exc:
            markers.release(camera_id)
            raise BrokerUnavailableError(
                f"stream task of camera {camera_id} not sent ({exc}); sent before it: {sent}"
            ) from exc
        sent.append(camera_id)
    return sent


@shared_task(name="counting.streams_supervise", base=PlatformTask, ignore_result=True)
def streams_supervise() -> dict[str, list[int]]:
    """Beat: for every active tenant, dispatch the streams that have no live owner.

    Suspended tenants (``is_active`` False) are skipped: their streams stop (the runners check
    the tenant) and are not restarted until the tenant is reactivated. When the broker refuses
    a publish the tick ends there (every further publish would wait as long, in vain); the
    next tick, once RabbitMQ is back, dispatches whatever is still without an owner.
    """
    from tenants.models import Tenant

    dispatched: dict[str, list[int]] = {}
    for tenant in Tenant.objects.exclude(schema_name="public").filter(is_active=True):
        try:
            with tenant_context(tenant):
                sent = streams_dispatch_for_current_tenant()
        except BrokerUnavailableError as exc:
            logger.warning("supervisor: RabbitMQ unavailable, tick ended at tenant %s: %s; "
                           "the next tick catches up", tenant.schema_name, exc)
            break
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
            send_robust(health_swept, schema=tenant.schema_name)  # alerts on camera health
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


@shared_task(name="counting.retention_enforce", base=PlatformTask, ignore_result=True)
def retention_enforce_task() -> int:
    """Beat (short queue, daily): remove every tenant's rows past their retention
    (counting/retention.py); returns the rows removed. Safe to run twice: a second run finds
    nothing more to remove."""
    from counting.retention import retention_enforce_all

    return sum(report.total for report in retention_enforce_all())
