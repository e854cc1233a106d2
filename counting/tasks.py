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
from typing import Any

import redis
from celery import shared_task
from django.conf import settings
from django.db import connection
from django.utils.dateparse import parse_datetime
from django_tenants.utils import tenant_context
from kombu.exceptions import OperationalError

from counting.capacity import Capacity, fair_share
from counting.leases import cameras_due_for_runner, cameras_needing_runner, cameras_running_count
from counting.signals import health_swept, send_robust
from tenants.db import current_schema
from tenants.platform.nodes import stream_nodes_live
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
    retries of ``CELERY_TASK_PUBLISH_RETRY_POLICY``; the supervisor tries again next tick.
    ``dispatched`` holds what the tick sent before (tenant schema -> camera ids)."""

    dispatched: dict[str, list[int]] = {}  # noqa: RUF012 - replaced per instance when raised


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

    def pending(self, camera_ids: list[int]) -> set[int]:
        """The cameras among ``camera_ids`` whose task was sent recently (marker still set)."""
        if self.client is None or not camera_ids:
            return set()
        try:
            values = self.client.mget([dispatch_key(self.schema, pk) for pk in camera_ids])
        except redis.RedisError as exc:
            self._degrade(exc)
            return set()
        return {pk for pk, value in zip(camera_ids, values, strict=True) if value is not None}

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


class _TenantTick:
    """One tenant's part of a supervisor tick: its cameras due for a runner, those already
    dispatched (marker set, no runner yet) and how many it has running."""

    def __init__(self, tenant: Any, ttl_s: float) -> None:
        self.tenant = tenant
        self.schema = tenant.schema_name
        self.markers = DispatchMarkers(self.schema, ttl_s)
        self.due = cameras_due_for_runner(ttl_s=ttl_s)
        self.pending = self.markers.pending(self.due)
        self.running = cameras_running_count(ttl_s=ttl_s)

    @property
    def candidates(self) -> list[int]:
        return [camera_id for camera_id in self.due if camera_id not in self.pending]

    def dispatch(self, camera_ids: list[int]) -> list[int]:
        """Send a stream task for each camera (in the tenant's context); the ids sent.

        Raises :class:`BrokerUnavailableError` when RabbitMQ refuses a publish (the camera's
        marker is removed first, so the next tick sends it again).
        """
        sent: list[int] = []
        for camera_id in camera_ids:
            if not self.markers.claim(camera_id):
                continue
            try:
                stream_run.apply_async(
                    args=[camera_id], queue=settings.COUNTING_STREAMS_QUEUE,
                    expires=max(30.0, 3 * settings.COUNTING_SUPERVISOR_INTERVAL_S))
            except (OperationalError, OSError) as exc:
                self.markers.release(camera_id)
                raise BrokerUnavailableError(
                    f"stream task of camera {camera_id} not sent ({exc}); sent before it: "
                    f"{sent}") from exc
            sent.append(camera_id)
        return sent


def _waiting_mark(camera_ids: list[int], reason: str) -> None:
    """Tell each camera left without a slot why, in its health (state "waiting"); a camera
    already saying so is not written again."""
    from cameras.constants import CameraStatus
    from counting.health import HealthSnapshot, health_report
    from counting.models import CameraHealth

    known = {row.camera_id: row for row in CameraHealth.objects.filter(camera_id__in=camera_ids)}
    for camera_id in camera_ids:
        health = known.get(camera_id)
        if health is not None and (health.state, health.reason) == (CameraStatus.WAITING,
                                                                    reason):
            continue
        health_report(camera_id=camera_id, snapshot=HealthSnapshot(
            state=CameraStatus.WAITING, reason=reason,
            last_frame_at=health.last_frame_at if health is not None else None))


def streams_dispatch(tenants: list[Any]) -> dict[str, list[int]]:
    """One supervisor tick over ``tenants``: dispatch the cameras without a runner that the
    live nodes have slots for, fairly across tenants, and mark the others waiting.

    Without any live node on the streams queue (workers of an older version, or none yet)
    every camera is dispatched as before: the tasks wait in the queue until they expire.
    Raises :class:`BrokerUnavailableError` (with ``dispatched``: what was sent before) when
    RabbitMQ refuses a publish.
    """
    ttl = settings.COUNTING_LEASE_TTL_S
    ticks: list[_TenantTick] = []
    for tenant in tenants:
        try:
            with tenant_context(tenant):
                ticks.append(_TenantTick(tenant, ttl))
        except Exception:  # one broken tenant must not stop the others' streams
            logger.exception("supervisor: tenant %s skipped", tenant.schema_name)
    nodes = stream_nodes_live(queue=settings.COUNTING_STREAMS_QUEUE)
    capacity: Capacity | None = None
    if nodes:
        capacity = Capacity(nodes=len(nodes), slots=sum(node.slots for node in nodes),
                            in_use=sum(node.slots_in_use for node in nodes),
                            pending=sum(len(tick.pending) for tick in ticks))
        chosen = fair_share(waiting={tick.schema: tick.candidates for tick in ticks},
                            running={tick.schema: tick.running for tick in ticks},
                            free=capacity.free)
    else:
        chosen = {tick.schema: tick.candidates for tick in ticks}
    dispatched: dict[str, list[int]] = {}
    for tick in ticks:
        try:
            with tenant_context(tick.tenant):
                sent = tick.dispatch(chosen[tick.schema])
                left = [pk for pk in tick.candidates if pk not in chosen[tick.schema]]
                if capacity is not None and left:
                    _waiting_mark(left, capacity.waiting_reason())
        except BrokerUnavailableError as exc:
            exc.dispatched = dispatched
            raise
        except Exception:
            logger.exception("supervisor: tenant %s skipped", tick.schema)
            continue
        if sent:
            dispatched[tick.schema] = sent
    if capacity is not None and capacity.free < sum(len(tick.candidates) for tick in ticks):
        logger.info("supervisor: %d of %d slots free on %d nodes; %d cameras wait",
                    capacity.free, capacity.slots, capacity.nodes,
                    sum(len(tick.candidates) for tick in ticks) - capacity.free)
    return dispatched


def streams_dispatch_for_current_tenant() -> list[int]:
    """A supervisor tick for the current tenant alone; returns the camera ids dispatched.

    Raises :class:`BrokerUnavailableError` when RabbitMQ refuses a publish.
    """
    tenant = getattr(connection, "tenant")  # noqa: B009 - set by django-tenants, not typed
    return streams_dispatch([tenant]).get(current_schema(), [])


@shared_task(name="counting.streams_supervise", base=PlatformTask, ignore_result=True)
def streams_supervise() -> dict[str, list[int]]:
    """Beat: dispatch the streams of every active tenant that have no live owner, within the
    free stream slots of the live nodes (counting/capacity.py).

    Suspended tenants (``is_active`` False) are skipped: their streams stop (the runners check
    the tenant) and are not restarted until the tenant is reactivated. When the broker refuses
    a publish the tick ends there (every further publish would wait as long, in vain); the
    next tick, once RabbitMQ is back, dispatches whatever is still without an owner.
    """
    from tenants.models import Tenant

    tenants = list(Tenant.objects.exclude(schema_name="public").filter(is_active=True))
    try:
        dispatched = streams_dispatch(tenants)
    except BrokerUnavailableError as exc:
        logger.warning("supervisor: RabbitMQ unavailable, tick ended: %s; the next tick "
                       "catches up", exc)
        dispatched = exc.dispatched
    for schema, sent in dispatched.items():
        logger.info("supervisor: %s dispatched cameras %s", schema, sent)
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


def partitions_maintain_all(slugs: list[str] | None = None) -> dict[str, dict[str, int]]:
    """Partition maintenance in every tenant schema (or the given slugs): rows moved out of
    the default partitions per schema and table (tenants/partitions.py)."""
    from tenants.models import Tenant
    from tenants.partitions import partitions_maintain

    tenants = Tenant.objects.exclude(schema_name="public")
    if slugs:
        tenants = tenants.filter(slug__in=slugs)
    return {tenant.schema_name: partitions_maintain(tenant.schema_name)
            for tenant in tenants.order_by("schema_name")}


@shared_task(name="counting.partitions_maintain", base=PlatformTask, ignore_result=True)
def partitions_maintain_task() -> int:
    """Beat (short queue, daily): pg_partman's maintenance of every tenant's partitioned
    tables (months made ahead; rows of the default partitions moved into their month);
    returns the rows moved. Safe to run twice."""
    return sum(sum(moved.values()) for moved in partitions_maintain_all().values())
