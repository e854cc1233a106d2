"""The supervisor while Redis or RabbitMQ misbehave: it never blocks for long, never loses a
camera (its dispatch marker is cleared when the publish failed), and catches up as soon as the
broker is back. Suspended tenants get no stream task.

Redis is a redis-server of the test's own; the broker is the shared RabbitMQ behind a proxy of
the test's own, so cutting it disturbs no other test. Nothing consumes the private queue: the
tasks the supervisor sent are counted in RabbitMQ.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from tests.chaos.faults import RedisProcess, TcpProxy
from tests.chaos.stack import broker_url_through, publisher_broker, queue_depth, rabbitmq_proxy
from tests.streams.conftest import make_camera, wait_for

SLACK_S = 2.0  # a loaded CI machine; the point is "one timeout", not "one per camera"
UNREACHABLE = "http://127.0.0.1:9/video.mjpg"  # nothing consumes the queue: never opened


@pytest.fixture
def cameras(stream_tenant: Any, allow_loopback: None) -> Iterator[list[int]]:
    """Four enabled cameras of the stream tenant, removed afterwards (the plan's quota)."""
    from django_tenants.utils import tenant_context

    from cameras.models import Camera

    made = [make_camera(stream_tenant, UNREACHABLE, lines=False).pk for _ in range(4)]
    yield made
    with tenant_context(stream_tenant):
        Camera.objects.filter(pk__in=made).delete()


@pytest.fixture
def supervisor_redis(private_redis: RedisProcess, settings: Any) -> RedisProcess:
    settings.REDIS_URL = private_redis.url(0)
    settings.REDIS_SOCKET_TIMEOUT_S = 1.0
    settings.REDIS_CONNECT_TIMEOUT_S = 1.0
    return private_redis


@pytest.fixture
def broker_proxy(live_db: None) -> Iterator[TcpProxy]:
    """This process publishes through a proxy of its own in front of RabbitMQ."""
    with rabbitmq_proxy() as proxy, publisher_broker(broker_url_through(proxy)):
        yield proxy


def _dispatch(tenant: Any, queue: str, settings: Any) -> tuple[list[int], float]:
    from django_tenants.utils import tenant_context

    from counting.tasks import streams_dispatch_for_current_tenant

    settings.COUNTING_STREAMS_QUEUE = queue
    started = time.monotonic()
    with tenant_context(tenant):
        sent = streams_dispatch_for_current_tenant()
    return sent, time.monotonic() - started


def _markers(server: RedisProcess, tenant: Any, camera_ids: list[int]) -> list[bool]:
    from counting.tasks import dispatch_key

    client = redis.Redis.from_url(server.url(0))
    try:
        return [bool(client.exists(dispatch_key(tenant.schema_name, pk))) for pk in camera_ids]
    finally:
        client.close()


@pytest.mark.parametrize("fault", ["stopped", "frozen"])
def test_redis_unavailable_the_supervisor_still_dispatches_every_camera_within_one_timeout(
        fault: str, supervisor_redis: RedisProcess, cameras: list[int], stream_tenant: Any,
        streams_queue: str, settings: Any) -> None:
    # given Redis stopped (connections refused) or frozen (nothing answers)
    if fault == "stopped":
        supervisor_redis.stop()
    else:
        supervisor_redis.freeze()
    depth = queue_depth(streams_queue)
    # when the supervisor's tick for the tenant runs
    sent, elapsed = _dispatch(stream_tenant, streams_queue, settings)
    # then every camera without a runner got its stream task, without markers
    assert set(cameras) <= set(sent)
    wait_for(lambda: queue_depth(streams_queue) - depth >= len(sent), 10,
             message="the tasks in RabbitMQ")
    # and Redis cost one timeout for the tick, not one per camera
    assert elapsed < settings.REDIS_SOCKET_TIMEOUT_S + SLACK_S


def test_with_redis_up_a_camera_is_dispatched_once_until_its_marker_expires(
        supervisor_redis: RedisProcess, cameras: list[int], stream_tenant: Any,
        streams_queue: str, settings: Any) -> None:
    # given a tick that sent every camera's task (nobody has started them yet)
    first, _ = _dispatch(stream_tenant, streams_queue, settings)
    assert set(cameras) <= set(first)
    assert _markers(supervisor_redis, stream_tenant, cameras) == [True] * 4
    # when the next tick runs while the tasks still wait in the queue
    second, _ = _dispatch(stream_tenant, streams_queue, settings)
    # then nothing is sent twice
    assert set(second) & set(cameras) == set()


def test_broker_down_the_tick_fails_fast_clears_its_marker_and_the_next_tick_catches_up(
        supervisor_redis: RedisProcess, broker_proxy: TcpProxy, cameras: list[int],
        stream_tenant: Any, streams_queue: str, settings: Any) -> None:
    from counting.tasks import BrokerUnavailableError, streams_supervise

    settings.CELERY_BROKER_CONNECTION_TIMEOUT = 2.0
    # given RabbitMQ unreachable for this process (its connections cut, the port closed)
    broker_proxy.refuse()
    # when the supervisor's tick runs
    started = time.monotonic()
    with pytest.raises(BrokerUnavailableError):
        _dispatch(stream_tenant, streams_queue, settings)
    elapsed = time.monotonic() - started
    # then it gave up after the brief publish retries instead of waiting for the broker
    assert elapsed < 10.0, elapsed
    # and no camera is left marked as dispatched (the next tick must send them)
    assert _markers(supervisor_redis, stream_tenant, cameras) == [False] * 4
    # and the beat task itself ends normally (the tick stops at the first refused publish)
    assert stream_tenant.schema_name not in streams_supervise.apply().get()
    assert _markers(supervisor_redis, stream_tenant, cameras) == [False] * 4
    # when RabbitMQ is reachable again
    broker_proxy.forward()
    depth = queue_depth(streams_queue)
    dispatched = streams_supervise.apply().get()
    # then the next tick sends every camera's task
    assert set(cameras) <= set(dispatched[stream_tenant.schema_name])
    wait_for(lambda: queue_depth(streams_queue) - depth >= len(cameras), 10,
             message="the tasks in RabbitMQ")
    assert _markers(supervisor_redis, stream_tenant, cameras) == [True] * 4


def test_a_suspended_tenant_gets_no_stream_task(
        supervisor_redis: RedisProcess, cameras: list[int], stream_tenant: Any,
        streams_queue: str, settings: Any) -> None:
    from counting.tasks import streams_supervise
    from tenants.models import Tenant

    settings.COUNTING_STREAMS_QUEUE = streams_queue
    # given the tenant suspended
    Tenant.objects.filter(pk=stream_tenant.pk).update(is_active=False)
    try:
        # when the supervisor ticks
        dispatched = streams_supervise.apply().get()
        # then none of its cameras is dispatched
        assert stream_tenant.schema_name not in dispatched
        assert _markers(supervisor_redis, stream_tenant, cameras) == [False] * 4
    finally:
        Tenant.objects.filter(pk=stream_tenant.pk).update(is_active=True)
    # and once reactivated, they are
    assert set(cameras) <= set(streams_supervise.apply().get()[stream_tenant.schema_name])
