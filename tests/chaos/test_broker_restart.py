"""RabbitMQ restarting while a PETS stream runs: the stream goes on (its task was acknowledged
on receipt; the worker's consumer reconnects beside the pool), the worker is back on the broker
within seconds of it, the supervisor catches up on what it could not send, and the stored
counts equal ``count_video``'s.

The "restart" is a proxy of the test's own between the worker (and the supervisor's publisher)
and the shared RabbitMQ: ``refuse()`` cuts every connection and closes the port, ``forward()``
opens it again. No other test's broker connection is touched.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.chaos.reference import assert_counts_explained
from tests.chaos.stack import (  # noqa: F401 - pets_clip is a fixture
    Clip,
    broker_url_through,
    live_camera,
    pets_clip,
    publisher_broker,
    rabbitmq_proxy,
    settle,
)
from tests.streams.conftest import (
    dispatch,
    lease_of,
    line_counts,
    make_camera,
    stream_worker,
    wait_for,
    worker_log,
)

pytestmark = pytest.mark.slow

OUTAGE_S = 20.0
UNREACHABLE = "http://127.0.0.1:9/video.mjpg"


def _connected(queue: str) -> int:
    """How many times the worker has (re)connected to the broker, from its log."""
    return worker_log(queue).count("Connected to amqp://")


def test_a_broker_restart_leaves_the_stream_counting_and_the_supervisor_catches_up(
        pets_clip: Clip, stream_tenant: Any, streams_queue: str, settings: Any,  # noqa: F811
        allow_loopback: None) -> None:
    from cameras.models import Camera
    from counting.tasks import streams_supervise

    settings.COUNTING_STREAMS_QUEUE = streams_queue
    with rabbitmq_proxy() as proxy, \
            live_camera(stream_tenant, pets_clip.path, pets_clip.frames) as camera, \
            stream_worker(streams_queue, concurrency=2,
                          extra_env={"CELERY_BROKER_URL": broker_url_through(proxy),
                                     "CELERY_BROKER_RECONNECT_MAX_S": "2"}) as worker:
        # given a worker on the broker through the proxy, counting the clip live
        assert dispatch(stream_tenant, streams_queue, settings) == [camera.pk]
        wait_for(lambda: _connected(streams_queue) >= 1, 60, message="the worker on the broker")
        camera.wait_position(40)
        owner = camera.lease()["owner"]
        # when RabbitMQ goes away for 20 s
        proxy.refuse()
        at_cut = sum(sum(d.values()) for d in line_counts(stream_tenant, camera.pk).values())
        late = make_camera(stream_tenant, UNREACHABLE, lines=False)  # added during the outage
        try:
            # then the supervisor's tick, publishing through the same broker, fails fast
            # and leaves the new camera for later
            with publisher_broker(broker_url_through(proxy)):
                started = time.monotonic()
                assert stream_tenant.schema_name not in streams_supervise.apply().get()
                assert time.monotonic() - started < 15.0
            time.sleep(max(0.0, OUTAGE_S - (time.monotonic() - started)))
            # and the running stream kept counting and kept its lease meanwhile
            during = sum(sum(d.values())
                         for d in line_counts(stream_tenant, camera.pk).values())
            assert during > at_cut, (at_cut, during)
            assert camera.lease()["owner"] == owner
            assert worker.poll() is None
            # when RabbitMQ is back
            proxy.forward()
            # then the worker reconnects within seconds (capped backoff), and the next
            # supervisor tick dispatches the camera it missed, which the worker starts
            wait_for(lambda: _connected(streams_queue) >= 2, 15,
                     message=f"the worker to reconnect:\n{worker_log(streams_queue)[-2000:]}")
            with publisher_broker(broker_url_through(proxy)):
                dispatched = streams_supervise.apply().get()
            assert late.pk in dispatched[stream_tenant.schema_name]
            wait_for(lambda: (lease_of(stream_tenant, late.pk) or {}).get("owner"), 30,
                     message="the missed camera to be started")
            # and the stream that ran through the outage was never restarted
            camera.wait_finished()
            settle()
            assert camera.lease()["owner"] == owner
        finally:
            from django_tenants.utils import tenant_context

            with tenant_context(stream_tenant):
                Camera.objects.filter(pk__in=[late.pk, camera.pk]).update(enabled=False)
            wait_for(lambda: not (lease_of(stream_tenant, late.pk) or {}).get("owner"), 15,
                     message="the missed camera to stop")
    log = worker_log(streams_queue)
    # and its counts are count_video's on the same frames: nothing lost to the outage
    comparison = camera.comparison(pets_clip.reference)
    print(f"broker restart: {comparison}")
    assert_counts_explained(comparison, log[-3000:])
    assert comparison.reported_lost == 0
