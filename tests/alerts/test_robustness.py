"""Never twice, never zero: camera health across sweeps, the evaluating worker killed with
``kill -9`` at the moment of firing, a dispatch lost after the commit, two evaluators at once."""

from __future__ import annotations

import os
import signal
import threading
import time
import uuid
from typing import Any

import psycopg
from django.db import connection
from django.utils import timezone
from django_tenants.utils import tenant_context

from tests.alerts.conftest import AlertWorld, wait_for, worker_ready


def _rule(world: AlertWorld, **fields: Any) -> Any:
    from analytics.alerts.services import alert_rule_create

    values = {"name": f"rule {uuid.uuid4().hex[:6]}", "cooldown_s": 0, **fields}
    with tenant_context(world.tenant):
        return alert_rule_create(actor=None, **values)


def _counts(world: AlertWorld, rule: Any) -> tuple[list[str], int]:
    from analytics.alerts.models import Alert, Notification

    with tenant_context(world.tenant):
        states = list(Alert.objects.filter(rule_id=rule.pk).order_by("id")
                      .values_list("state", flat=True))
        return states, Notification.objects.filter(alert__rule_id=rule.pk).count()


def _health(world: AlertWorld, camera_id: int, state: str) -> None:
    from counting.health import HealthSnapshot, health_report

    with tenant_context(world.tenant):
        health_report(camera_id=camera_id, snapshot=HealthSnapshot(
            state=state, reason=f"test: {state}", fps_analysed=5.0 if state == "online" else 0))


def _sweep() -> None:
    """One beat of the real health sweep (every tenant, as the short worker runs it)."""
    from counting.tasks import health_sweep

    connection.set_schema_to_public()
    health_sweep()


def test_a_frozen_camera_raises_one_alert_across_sweeps_and_resolves_itself(
        world: AlertWorld, place: Any) -> None:
    # given a camera whose picture froze, and a rule "frozen for 2 s" on its site
    spot = place()
    address = f"cctv-{uuid.uuid4().hex[:6]}@store.test"
    rule = _rule(world, kind="camera_frozen", scope="site", site=spot.site, duration_s=2,
                 emails=[address])
    _health(world, spot.camera.pk, "frozen")
    # when the health sweep runs five times over 4 s
    for _ in range(5):
        _sweep()
        time.sleep(1.0)
    # then one alert is open and one e-mail says so
    wait_for(lambda: world.smtp.to(address), 20, message="the frozen e-mail")
    assert _counts(world, rule)[0] == ["open"]
    assert "the picture is frozen for 2 s" in world.smtp.to(address)[0].subject
    # when the stream returns
    _health(world, spot.camera.pk, "online")
    _sweep()
    _sweep()
    # then the alert resolves by itself, with one resolution e-mail
    wait_for(lambda: len(world.smtp.to(address)) == 2, 20, message="the resolution e-mail")
    time.sleep(1.0)
    assert _counts(world, rule) == (["resolved"], 2)
    assert len(world.smtp.to(address)) == 2


def test_a_stopped_camera_raises_one_alert_and_resolves_when_it_streams_again(
        world: AlertWorld, place: Any) -> None:
    spot = place()
    address = f"ops-{uuid.uuid4().hex[:6]}@store.test"
    rule = _rule(world, kind="camera_offline", scope="camera", camera=spot.camera,
                 duration_s=1, emails=[address])
    _health(world, spot.camera.pk, "offline")
    for _ in range(4):
        _sweep()
        time.sleep(0.6)
    wait_for(lambda: world.smtp.to(address), 20, message="the offline e-mail")
    assert _counts(world, rule)[0] == ["open"]
    _health(world, spot.camera.pk, "online")
    _sweep()
    wait_for(lambda: len(world.smtp.to(address)) == 2, 20, message="the resolution e-mail")
    assert _counts(world, rule) == (["resolved"], 2)


def _backend_blocked_on_alert_insert(dsn: str, schema: str) -> bool:
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
            "AND query LIKE %s", ['INSERT INTO "analytics_alert"%']).fetchone()
    return bool(row and row[0])


def test_kill_9_of_the_evaluating_worker_at_the_moment_of_firing_sends_exactly_one(
        world: AlertWorld, place: Any, settings: Any) -> None:
    from tests.celery_worker import celery_worker, test_database_url
    from tests.streams.conftest import queue_delete

    # given an evaluation queue served by a worker of its own (deliveries stay on the other)
    spot = place(capacity=2)
    address = f"kill-{uuid.uuid4().hex[:6]}@store.test"
    rule = _rule(world, name="Full", kind="occupancy_above", scope="zone", zone=spot.zone,
                 duration_s=0, emails=[address])
    evaluation_queue = f"test-eval-{uuid.uuid4().hex[:8]}"
    settings.ALERTS_EVALUATION_QUEUE = evaluation_queue
    env = {**world.env, "ALERTS_EVALUATION_QUEUE": evaluation_queue}
    dsn = test_database_url().replace("postgres://", "postgresql://")
    schema = world.tenant.schema_name
    try:
        with celery_worker(evaluation_queue, concurrency=1, extra_env=env) as (_, worker):
            worker_ready(evaluation_queue)
            # and a lock that holds the worker inside its firing transaction
            with psycopg.connect(dsn) as blocker:
                blocker.execute(f'LOCK TABLE "{schema}"."analytics_alert" IN EXCLUSIVE MODE')
                # when the zone goes over capacity and the worker is about to open the alert
                spot.batch(occupancy=5)
                wait_for(lambda: _backend_blocked_on_alert_insert(dsn, schema), 30,
                         message="the evaluator blocked inside its firing transaction")
                # it is killed with SIGKILL, then the lock is released
                os.killpg(worker.pid, signal.SIGKILL)
                worker.wait(timeout=10)
                blocker.rollback()
            time.sleep(1.0)
            # then nothing was opened or sent by the dead worker
            assert _counts(world, rule) == ([], 0)
        # when the worker restarts and the next batch arrives (the condition still holds)
        with celery_worker(evaluation_queue, concurrency=1, extra_env=env):
            worker_ready(evaluation_queue)
            for _ in range(3):
                spot.batch(occupancy=5)
                time.sleep(0.5)
            # then exactly one alert and one e-mail: not zero, not two
            wait_for(lambda: world.smtp.to(address), 20, message="the e-mail")
            time.sleep(2.0)
    finally:
        queue_delete(evaluation_queue)
    assert _counts(world, rule) == (["open"], 1)
    assert len(world.smtp.to(address)) == 1


def test_a_dispatch_lost_after_the_commit_is_sent_once_by_the_sweep(
        world: AlertWorld, place: Any, settings: Any) -> None:
    from analytics.alerts.tasks import sweep_current_tenant
    from analytics.alerts.triggers import on_batch

    spot = place(capacity=2)
    address = f"lost-{uuid.uuid4().hex[:6]}@store.test"
    rule = _rule(world, kind="occupancy_above", scope="zone", zone=spot.zone, duration_s=0,
                 emails=[address])
    # given an evaluation whose process died right after its commit: the delivery task went
    # to a queue nobody serves (as if never sent)
    settings.ALERTS_QUEUE = f"test-void-{uuid.uuid4().hex[:8]}"
    with tenant_context(world.tenant):
        on_batch(camera_id=spot.camera.pk, occupancy={spot.zone.pk: 5.0},
                 now=timezone.now() - timezone.timedelta(seconds=30))
    settings.ALERTS_QUEUE = world.queue
    assert _counts(world, rule) == (["open"], 1)
    time.sleep(1.0)
    assert world.smtp.to(address) == []
    # when the sweep runs, twice
    with tenant_context(world.tenant):
        first = sweep_current_tenant()
        second = sweep_current_tenant()
    # then the pending notification is dispatched and delivered exactly once
    wait_for(lambda: world.smtp.to(address), 20, message="the e-mail")
    time.sleep(1.5)
    assert first["redispatched"] == 1
    assert second["redispatched"] in (0, 1)  # maybe not claimed yet: the claim decides
    assert len(world.smtp.to(address)) == 1


def test_two_evaluators_at_once_open_one_alert(world: AlertWorld, place: Any) -> None:
    from analytics.alerts.triggers import on_batch

    spot = place(capacity=2)
    address = f"race-{uuid.uuid4().hex[:6]}@store.test"
    rule = _rule(world, kind="occupancy_above", scope="zone", zone=spot.zone, duration_s=0,
                 emails=[address])
    barrier = threading.Barrier(4)
    opened: list[int] = []
    now = timezone.now()

    def evaluator() -> None:
        from django.db import connections

        try:
            with tenant_context(world.tenant):
                barrier.wait()
                opened.append(on_batch(camera_id=spot.camera.pk,
                                       occupancy={spot.zone.pk: 5.0}, now=now).opened)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=evaluator) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(opened) == [0, 0, 0, 1]
    wait_for(lambda: world.smtp.to(address), 20, message="the e-mail")
    time.sleep(1.5)
    assert _counts(world, rule) == (["open"], 1)
    assert len(world.smtp.to(address)) == 1


def test_subscribers_of_the_site_and_the_camera_get_the_alert_live(world: AlertWorld,
                                                                    place: Any) -> None:
    import asyncio

    from asgiref.sync import sync_to_async
    from channels.testing import WebsocketCommunicator
    from django.contrib.auth import get_user_model
    from django.test import Client

    from analytics.alerts.triggers import on_batch

    spot = place(capacity=2)
    rule = _rule(world, kind="occupancy_above", scope="zone", zone=spot.zone, duration_s=0)
    domain = world.tenant.get_primary_domain().domain
    client = Client(HTTP_HOST=domain)
    with tenant_context(world.tenant):
        client.force_login(get_user_model().objects.get(username__startswith="owner@"))
    cookie = client.cookies["sessionid"].value

    def socket(path: str) -> WebsocketCommunicator:
        from config.asgi import application

        return WebsocketCommunicator(application, path, headers=[
            (b"host", domain.encode()), (b"origin", f"http://{domain}".encode()),
            (b"cookie", f"sessionid={cookie}".encode())])

    def fire() -> None:
        with tenant_context(world.tenant):
            on_batch(camera_id=spot.camera.pk, occupancy={spot.zone.pk: 4.0},
                     now=timezone.now())

    async def scenario() -> list[dict[str, Any]]:
        sockets = [socket(f"/ws/sites/{spot.site.pk}/"),
                   socket(f"/ws/cameras/{spot.camera.pk}/")]
        for ws in sockets:
            assert (await ws.connect(timeout=10))[0]
            assert (await ws.receive_json_from(timeout=10))["type"] == "snapshot"
        await sync_to_async(fire)()
        got = [await ws.receive_json_from(timeout=10) for ws in sockets]
        for ws in sockets:
            await ws.disconnect()
        return got

    messages = asyncio.run(scenario())
    for message in messages:
        assert (message["type"], message["event"]) == ("alert", "opened")
        assert isinstance(message["seq"], int)
        [alert] = message["alerts"]
        assert alert["rule_id"] == rule.pk
        assert (alert["site_id"], alert["camera_id"]) == (spot.site.pk, spot.camera.pk)
        assert "4 people present, above 2" in alert["message"]
