"""Fixtures of the alert tests: a committed tenant, a real SMTP server, HTTP receivers (webhooks
and Twilio's API) and a real Celery worker on a private short queue, shared by a module."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.alerts.servers import (
    HttpRecorder,
    SmtpRecorder,
    free_port,
    http_recorder_start,
    twilio_message_body,
)
from tests.conftest import PASSWORD

TWILIO_SID = "AC" + "1" * 32
TWILIO_TOKEN = "test-auth-token"
TWILIO_FROM = "+15005550006"
# Short timings so a test sees firing, retries and digests within seconds.
TIMINGS = {"ALERTS_DIGEST_WINDOW_S": "0.3", "ALERTS_RETRY_BASE_S": "0.5",
           "ALERTS_RETRY_MAX_DELAY_S": "2", "ALERTS_CLAIM_TIMEOUT_S": "5"}


def wait_for(predicate: Callable[[], Any], timeout: float, interval: float = 0.1,
             message: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}")
        time.sleep(interval)


def worker_ready(queue: str, timeout: float = 60) -> None:
    """Wait until the worker of ``queue`` consumes (its log says "ready")."""
    from tests.celery_worker import REPO_ROOT

    log = REPO_ROOT / "var" / f"worker-{queue}.log"
    wait_for(lambda: log.exists() and " ready." in log.read_text(errors="replace"), timeout,
             message=f"the worker of {queue}")


@pytest.fixture(scope="module")
def live_db(django_db_setup: Any, django_db_blocker: Any) -> Iterator[None]:
    """Autocommit database access for the module: workers see what the test writes."""
    with django_db_blocker.unblock():
        yield


@pytest.fixture(scope="module")
def alert_tenant(live_db: None) -> Iterator[Any]:
    from django.db import connection

    from tenants.platform.services import tenant_create, tenant_delete

    connection.set_schema_to_public()
    slug = f"al_{uuid.uuid4().hex[:10]}"
    made = tenant_create(name="Alerts Ltd", slug=slug,
                         domain=f"{slug.replace('_', '-')}.localhost",
                         owner_email=f"owner@{slug.replace('_', '-')}.test",
                         owner_password=PASSWORD)
    yield made.tenant
    connection.set_schema_to_public()
    tenant_delete(slug=slug)


@pytest.fixture(scope="module")
def smtp() -> Iterator[tuple[SmtpRecorder, int]]:
    from aiosmtpd.controller import Controller

    recorder = SmtpRecorder()
    port = free_port()
    controller = Controller(recorder, hostname="127.0.0.1", port=port)
    controller.start()
    yield recorder, port
    controller.stop()


@pytest.fixture(scope="module")
def http() -> Iterator[HttpRecorder]:
    recorder, server = http_recorder_start()
    recorder.bodies[f"/2010-04-01/Accounts/{TWILIO_SID}/Messages.json"] = twilio_message_body
    yield recorder
    server.shutdown()


@dataclass
class AlertWorld:
    """What the module's tests share."""

    tenant: Any
    queue: str
    smtp: SmtpRecorder
    http: HttpRecorder
    env: dict[str, str]


def worker_env(queue: str, smtp_port: int, http: HttpRecorder) -> dict[str, str]:
    return {"ALERTS_QUEUE": queue, "ALERTS_EVALUATION_QUEUE": queue, "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": str(smtp_port),
            "ALERTS_WEBHOOK_ALLOW_LOOPBACK": "1", "TWILIO_ACCOUNT_SID": TWILIO_SID,
            "TWILIO_AUTH_TOKEN": TWILIO_TOKEN, "TWILIO_FROM_NUMBER": TWILIO_FROM,
            "TWILIO_API_BASE_URL": http.url(""), "LOG_LEVEL": "INFO", **TIMINGS}


@pytest.fixture(scope="module")
def world(alert_tenant: Any, smtp: tuple[SmtpRecorder, int], http: HttpRecorder,
          ) -> Iterator[AlertWorld]:
    """A worker consuming a private short queue, and this process's settings pointing at the
    same queue and servers."""
    from django.conf import settings

    from tests.celery_worker import celery_worker
    from tests.streams.conftest import queue_delete

    queue = f"test-alerts-{uuid.uuid4().hex[:8]}"
    env = worker_env(queue, smtp[1], http)
    overrides = {"ALERTS_QUEUE": queue, "ALERTS_EVALUATION_QUEUE": queue,
                 "EMAIL_HOST": "127.0.0.1", "EMAIL_PORT": smtp[1],
                 "ALERTS_WEBHOOK_ALLOW_LOOPBACK": True, "ALERTS_TWILIO_ACCOUNT_SID": TWILIO_SID,
                 "ALERTS_TWILIO_AUTH_TOKEN": TWILIO_TOKEN, "ALERTS_TWILIO_FROM": TWILIO_FROM,
                 "ALERTS_TWILIO_API_BASE_URL": http.url(""),
                 **{k: float(v) for k, v in TIMINGS.items()}}
    saved = {k: getattr(settings, k) for k in overrides}
    for key, value in overrides.items():
        setattr(settings, key, value)
    try:
        with celery_worker(queue, concurrency=2, extra_env=env):
            worker_ready(queue)
            yield AlertWorld(tenant=alert_tenant, queue=queue, smtp=smtp[0], http=http, env=env)
    finally:
        for key, value in saved.items():
            setattr(settings, key, value)
        queue_delete(queue)


@dataclass
class Place:
    """A committed site, camera (with a lease to write batches), line and zone."""

    tenant: Any
    site: Any
    camera: Any
    line: Any
    zone: Any
    generation: int
    seq: int = 0

    def batch(self, *, occupancy: int | None = None, entries: int = 0,
              at: datetime | None = None) -> Any:
        """Write one ledger batch (as the stream runner does): ``entries`` crossings in and
        one zone sample of ``occupancy`` people."""
        from django_tenants.utils import tenant_context

        from counting.ledger import LedgerBatch, LedgerEvent, ledger_write
        from counting.rollups import ZoneMinute, minute_of

        at = at or datetime.now(tz=UTC)
        self.seq += 1
        events = tuple(LedgerEvent(line_id=self.line.pk, direction="in",
                                   track_id=self.seq * 1000 + i,
                                   occurred_at=at + timedelta(microseconds=i),
                                   frame_index=self.seq) for i in range(entries))
        zones = () if occupancy is None else (ZoneMinute(
            zone_id=self.zone.pk, minute=minute_of(at), samples=1, occupancy_sum=occupancy,
            max_occupancy=occupancy),)
        with tenant_context(self.tenant):
            return ledger_write(LedgerBatch(camera_id=self.camera.pk,
                                            generation=self.generation, seq=self.seq,
                                            events=events, zones=zones))


def place_make(tenant: Any, *, capacity: int | None = 3, site_name: str | None = None) -> Place:
    from django_tenants.utils import tenant_context

    from cameras.models import Site
    from cameras.services import camera_create, site_create
    from counting.leases import lease_acquire
    from counting.services import counting_line_create, zone_create

    label = uuid.uuid4().hex[:6]
    with tenant_context(tenant):
        site = (Site.objects.filter(name=site_name).first() if site_name else None) or \
            site_create(actor=None, name=site_name or f"Store {label}", timezone="Europe/Paris")
        camera = camera_create(actor=None, site=site, name=f"Entrance {label}",
                               stream_url="rtsp://10.0.0.7/stream1")
        line = counting_line_create(actor=None, camera=camera, name="Door", x1=0.5, y1=0,
                                    x2=0.5, y2=1)
        zone = zone_create(actor=None, camera=camera, name="Fitting rooms", capacity=capacity,
                           points=[[0, 0], [1, 0], [1, 1], [0, 1]])
        lease = lease_acquire(camera_id=camera.pk, owner="test-runner", ttl_s=600)
        assert lease is not None
        return Place(tenant=tenant, site=site, camera=camera, line=line, zone=zone,
                     generation=lease.generation)


@pytest.fixture
def place(world: AlertWorld) -> Callable[..., Place]:
    def make(**kwargs: Any) -> Place:
        return place_make(world.tenant, **kwargs)

    return make
