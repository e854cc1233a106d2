"""A tenant suspended or deleted while its camera streams live: the stream stops within 10 s,
flushing what it counted and releasing its lease, and nothing starts it again."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.chaos.stack import Clip, live_camera, pets_clip, settle  # noqa: F401 - fixture
from tests.conftest import PASSWORD
from tests.streams.conftest import (
    camera_simulator,
    dispatch,
    health_of,
    lease_of,
    line_counts,
    make_camera,
    stream_worker,
    wait_for,
    worker_log,
)

pytestmark = pytest.mark.slow

STOP_BOUND_S = 10.0


@pytest.fixture(scope="module")
def worker(stream_tenant: Any, streams_queue: str) -> Iterator[Any]:
    with stream_worker(streams_queue, concurrency=1) as process:
        yield process


def _total(counts: dict[str, dict[str, int]]) -> int:
    return sum(sum(directions.values()) for directions in counts.values())


def test_a_suspended_tenants_stream_stops_within_10s_and_is_not_restarted(
        pets_clip: Clip, worker: Any, stream_tenant: Any, streams_queue: str,  # noqa: F811
        settings: Any, allow_loopback: None) -> None:
    from django_tenants.utils import tenant_context

    from cameras.models import Camera
    from counting.tasks import stream_run, streams_supervise
    from tenants.platform.services import tenant_reactivate, tenant_suspend

    settings.COUNTING_STREAMS_QUEUE = streams_queue
    with live_camera(stream_tenant, pets_clip.path, pets_clip.frames) as camera:
        # given the tenant's camera counting live, crossings already stored
        assert dispatch(stream_tenant, streams_queue, settings) == [camera.pk]
        wait_for(lambda: _total(line_counts(stream_tenant, camera.pk)) > 0, 90,
                 message="the first stored crossing")
        try:
            # when the tenant is suspended (platform admin, billing)
            tenant_suspend(tenant=stream_tenant, reason="test")
            suspended_at = time.monotonic()
            # then its stream releases the lease within 10 s
            wait_for(lambda: lease_of(stream_tenant, camera.pk)["owner"] == "",
                     STOP_BOUND_S + 2, interval=0.1, message="the lease to be released")
            elapsed = time.monotonic() - suspended_at
            assert elapsed <= STOP_BOUND_S
            print(f"suspended tenant: stream stopped {elapsed:.1f} s after the suspension")
            settle(1.0)
            stored = line_counts(stream_tenant, camera.pk)
            assert "stream ended" in worker_log(streams_queue)
            assert health_of(stream_tenant, camera.pk).state == "offline"
            # and neither the supervisor nor a stream task sent before starts it again
            assert stream_tenant.schema_name not in streams_supervise.apply().get()
            with tenant_context(stream_tenant):
                stream_run.apply_async(args=[camera.pk], queue=streams_queue)
            time.sleep(4.0)
            assert lease_of(stream_tenant, camera.pk)["owner"] == ""
            assert line_counts(stream_tenant, camera.pk) == stored
            assert (f"tenant {stream_tenant.schema_name} is suspended or deleted"
                    in worker_log(streams_queue))
        finally:
            tenant_reactivate(tenant=stream_tenant)
            with tenant_context(stream_tenant):
                Camera.objects.filter(pk=camera.pk).update(enabled=False)


def test_deleting_a_tenant_stops_its_live_stream_before_the_schema_is_dropped(
        worker: Any, streams_queue: str, pets_clip: Clip, settings: Any,  # noqa: F811
        allow_loopback: None) -> None:
    from django.db import connection

    from tenants.platform.services import tenant_create, tenant_delete

    # given a tenant of its own whose camera streams live on the worker
    connection.set_schema_to_public()
    slug = f"d_{uuid.uuid4().hex[:10]}"
    tenant = tenant_create(name=slug, slug=slug, domain=f"{slug.replace('_', '-')}.localhost",
                           owner_email=f"owner@{slug.replace('_', '-')}.test",
                           owner_password=PASSWORD).tenant
    with camera_simulator(pets_clip.path) as url:
        camera = make_camera(tenant, url, detect_fps=2.0)
        assert dispatch(tenant, streams_queue, settings) == [camera.pk]
        wait_for(lambda: getattr(health_of(tenant, camera.pk), "state", "") == "online", 90,
                 message="the camera online")
        # when the tenant is deleted
        started = time.monotonic()
        connection.set_schema_to_public()
        tenant_delete(slug=slug)
        elapsed = time.monotonic() - started
    # then the deletion waited for the stream to stop (not for its lease to expire) and the
    # runner ended cleanly: nothing wrote into the dropped schema
    print(f"tenant deleted with a live stream in {elapsed:.1f} s")
    assert elapsed <= STOP_BOUND_S
    log = worker_log(streams_queue)
    assert f"camera {camera.pk}: stream ended (" in log, log[-3000:]
    assert "does not exist" not in log, log[-3000:]
    assert worker.poll() is None
