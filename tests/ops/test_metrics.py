"""The Prometheus endpoint: refused without the bearer token; with it, the request, database
and cache metrics and the per-camera series read from the runners' health reports."""

from __future__ import annotations

import io
import json
import logging
import logging.config
import re
from typing import Any

import pytest
from django.test import Client

from counting.health import HealthSnapshot, health_report, health_takeover_count

TOKEN = "metrics-test-token-0123456789abcdef"


@pytest.fixture
def metrics_on(settings: Any) -> None:
    settings.METRICS_TOKEN = TOKEN


def scrape(host: str = "tenant-a.localhost", token: str | None = TOKEN) -> Any:
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token is not None else {}
    return Client(HTTP_HOST=host).get("/metrics", **headers)


def sample(text: str, name: str, **labels: str) -> float | None:
    """The value of the sample ``name`` whose labels include ``labels`` (None if absent)."""
    for line in text.splitlines():
        m = re.match(r"^([a-zA-Z_:][\w:]*)(\{(.*)\})? (\S+)$", line)
        if not m or m.group(1) != name:
            continue
        have = dict(re.findall(r'(\w+)="([^"]*)"', m.group(3) or ""))
        if all(have.get(k) == v for k, v in labels.items()):
            return float(m.group(4))
    return None


@pytest.mark.django_db
def test_anonymous_or_wrong_token_is_refused(metrics_on: None) -> None:
    # when the endpoint is asked without a token, with a wrong one, or with another scheme
    anonymous = scrape(token=None)
    wrong = scrape(token="nope")
    basic = Client(HTTP_HOST="tenant-a.localhost").get("/metrics",
                                                        HTTP_AUTHORIZATION=f"Basic {TOKEN}")
    # then each is a 401 that says what is needed, and no metric is shown
    for response in (anonymous, wrong, basic):
        assert response.status_code == 401
        assert response["WWW-Authenticate"] == 'Bearer realm="metrics"'
        assert response.content.decode() == ("Metrics need 'Authorization: Bearer "
                                             "<METRICS_TOKEN>'; the token was missing or wrong.\n")


@pytest.mark.django_db
def test_without_a_configured_token_everyone_is_refused(settings: Any) -> None:
    settings.METRICS_TOKEN = ""
    response = scrape(token="")
    assert response.status_code == 403
    assert b"set METRICS_TOKEN" in response.content


@pytest.mark.django_db
def test_the_per_camera_series_come_from_the_health_reports(
        metrics_on: None, tenant_a: Any, in_tenant: Any) -> None:
    from cameras.services import camera_create, site_create
    from counting.models import CameraHealth

    with in_tenant(tenant_a):
        site = site_create(actor=None, name="Metrics site")
        cam = camera_create(actor=None, site=site, name="Metrics cam",
                            stream_url="rtsp://10.9.9.9/")
        # given two reports of a runner (totals add up, rates and queues are the latest)
        health_report(camera_id=cam.pk, snapshot=HealthSnapshot(
            state="online", fps_received=12.5, fps_analysed=5.0, frame_age_s=0.25,
            reconnects=2, events_written=3, ledger_writes=2, ledger_write_seconds=0.03,
            ledger_write_max_s=0.02, buffered_events=4, publish_queue=1, frames_skipped=5))
        health_report(camera_id=cam.pk, snapshot=HealthSnapshot(
            state="online", fps_received=12.0, fps_analysed=4.5, frame_age_s=0.5,
            reconnects=3, events_written=2, ledger_writes=1, ledger_write_seconds=0.01,
            ledger_write_max_s=0.01, buffered_events=0, publish_queue=0, frames_skipped=4))
        health_takeover_count(camera_id=cam.pk)
        CameraHealth.objects.filter(camera_id=cam.pk).update(events_lost=7)
    # and a request served by the application
    assert Client(HTTP_HOST="tenant-a.localhost").get("/api/v1/cameras/").status_code == 401
    # when the endpoint is scraped (on any host: a tenant's here)
    response = scrape()
    # then it answers and shows the camera's numbers, labelled by tenant and camera id
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    text = response.content.decode()
    labels = {"tenant": "tenant_a", "camera": str(cam.pk)}
    assert sample(text, "peoplecount_camera_received_fps", **labels) == 12.0
    assert sample(text, "peoplecount_camera_analysed_fps", **labels) == 4.5
    assert sample(text, "peoplecount_camera_frame_age_seconds", **labels) == 0.5
    assert sample(text, "peoplecount_camera_events_written_total", **labels) == 5.0
    assert sample(text, "peoplecount_camera_events_lost_total", **labels) == 7.0
    assert sample(text, "peoplecount_camera_reconnects_total", **labels) == 3.0
    assert sample(text, "peoplecount_camera_lease_takeovers_total", **labels) == 1.0
    assert sample(text, "peoplecount_camera_frames_skipped_total", **labels) == 9.0
    assert sample(text, "peoplecount_camera_ledger_write_seconds_count", **labels) == 3.0
    assert sample(text, "peoplecount_camera_ledger_write_seconds_sum", **labels) == \
        pytest.approx(0.04)
    assert sample(text, "peoplecount_camera_ledger_write_max_seconds", **labels) == 0.01
    assert sample(text, "peoplecount_camera_ledger_buffer_events", **labels) == 0.0
    assert sample(text, "peoplecount_camera_state", **labels, state="online") == 1.0
    assert sample(text, "peoplecount_camera_state", **labels, state="offline") == 0.0
    # and the queue depths from RabbitMQ, the request, database and cache metrics
    assert sample(text, "peoplecount_broker_up") == 1.0
    assert sample(text, "peoplecount_queue_messages", queue="streams") is not None
    assert (sample(text, "django_http_requests_total_by_method_total", method="GET") or 0) >= 1
    assert (sample(text, "django_http_responses_total_by_status_total", status="401") or 0) >= 1
    assert (sample(text, "django_db_execute_total", vendor="postgresql") or 0) >= 1
    assert "django_cache_get_total" in text
    assert "peoplecount_websocket_connections" in text


def test_json_logs_carry_tenant_camera_and_request_id(settings: Any) -> None:
    from audit.context import audit_context
    from audit.logging import log_camera_set

    # given the JSON formatter of the settings on a stream of our own
    stream = io.StringIO()
    config = json.loads(json.dumps(settings.LOGGING))
    config["handlers"]["console"].update(formatter="json", stream=stream)
    config["handlers"]["console"]["class"] = "logging.StreamHandler"
    config["root"]["level"] = "INFO"
    logging.config.dictConfig(config)
    try:
        # when a stream runner's thread logs inside a request context
        log_camera_set(42)
        with audit_context(ip="127.0.0.1", request_id="req-json-1"):
            logging.getLogger("counting.runner").info("camera %s: reconnecting", 42)
    finally:
        log_camera_set(None)
        logging.config.dictConfig(settings.LOGGING)
    record = json.loads(stream.getvalue().splitlines()[-1])
    # then one JSON object names all of them
    assert {k: record[k] for k in ("level", "logger", "message", "request_id", "tenant",
                                   "camera")} == {
        "level": "INFO", "logger": "counting.runner", "message": "camera 42: reconnecting",
        "request_id": "req-json-1", "tenant": "public", "camera": 42}
    assert "time" in record


def test_a_guessable_metrics_token_fails_the_deploy_check(settings: Any) -> None:
    from tenants.security_checks import check_metrics_token

    settings.METRICS_TOKEN = "secret"
    assert [e.id for e in check_metrics_token()] == ["tenants.E107"]
    settings.METRICS_TOKEN = TOKEN  # 35 characters
    assert check_metrics_token() == []
    settings.METRICS_TOKEN = ""  # the endpoint is off
    assert check_metrics_token() == []
