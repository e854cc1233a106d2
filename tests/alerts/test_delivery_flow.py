"""End to end on real services: committed batches -> evaluation on the short queue (a real
Celery worker) -> e-mail to a real SMTP server, signed webhooks and SMS to local receivers."""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any

from django_tenants.utils import tenant_context

from tests.alerts.conftest import TWILIO_FROM, TWILIO_SID, TWILIO_TOKEN, AlertWorld, wait_for


def _endpoint(world: AlertWorld, path: str) -> tuple[Any, str]:
    from analytics.alerts.services import webhook_endpoint_create

    with tenant_context(world.tenant):
        return webhook_endpoint_create(actor=None, name=f"hook {path}", url=world.http.url(path))


def _rule(world: AlertWorld, place: Any, **fields: Any) -> Any:
    from analytics.alerts.services import alert_rule_create

    values = {"name": "Fitting rooms full", "kind": "occupancy_above", "scope": "zone",
              "zone": place.zone, "duration_s": 2, "cooldown_s": 0, **fields}
    with tenant_context(world.tenant):
        return alert_rule_create(actor=None, **values)


def _verify(secret: str, request: Any) -> bool:
    """What a receiver does (docs/alerts.md): HMAC-SHA256 over "<timestamp>.<raw body>"."""
    timestamp = request.headers["x-alert-timestamp"]
    expected = "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + request.body,
                                    hashlib.sha256).hexdigest()
    fresh = abs(time.time() - int(timestamp)) < 300
    return fresh and hmac.compare_digest(expected, request.headers["x-alert-signature"])


def _alerts(world: AlertWorld, rule: Any) -> list[tuple[str, str]]:
    from analytics.alerts.models import Alert

    with tenant_context(world.tenant):
        return list(Alert.objects.filter(rule_id=rule.pk).order_by("id")
                    .values_list("state", "message"))


def test_zone_held_above_its_capacity_mails_once_signs_one_webhook_and_resolves_once(
        world: AlertWorld, place: Any) -> None:
    # given a zone of capacity 3, a rule "above capacity for 2 s" with an e-mail address and a
    # webhook endpoint
    spot = place(capacity=3)
    endpoint, secret = _endpoint(world, "/hooks/full")
    rule = _rule(world, spot, emails=["ops@store.test"], webhooks=[endpoint])
    # when 5 people stay in the zone for 4 s of batches (one every 0.4 s)
    for _ in range(10):
        spot.batch(occupancy=5)
        time.sleep(0.4)
    # then exactly one e-mail arrives at the SMTP server, with text and HTML parts
    mails = wait_for(lambda: world.smtp.to("ops@store.test"), 20, message="the e-mail")
    hooks = wait_for(lambda: world.http.on("/hooks/full"), 10, message="the webhook")
    time.sleep(1.5)  # more batches were committed meanwhile: nothing else may arrive
    spot.batch(occupancy=5)
    time.sleep(1.0)
    assert len(world.smtp.to("ops@store.test")) == 1
    mail = mails[0]
    assert "5 people present, above 3 for 2 s" in mail.subject
    assert "Fitting rooms" in mail.part("text/plain")
    assert "<h2>Warning alert</h2>" in mail.part("text/html")
    # and exactly one webhook, whose signature verifies
    assert len(world.http.on("/hooks/full")) == 1
    hook = hooks[0]
    assert _verify(secret, hook)
    assert not _verify("whsec_wrong", hook)
    body = hook.json()
    assert [(e["event"], e["kind"], e["value"], e["threshold"]) for e in body["events"]] == [
        ("opened", "occupancy_above", 5.0, 3.0)]
    assert _alerts(world, rule)[0][0] == "open"
    # when the zone empties below the threshold
    spot.batch(occupancy=1)
    # then the alert resolves and the resolution is sent once on each channel
    wait_for(lambda: len(world.smtp.to("ops@store.test")) == 2, 20, message="resolution mail")
    wait_for(lambda: len(world.http.on("/hooks/full")) == 2, 10, message="resolution hook")
    for _ in range(3):
        spot.batch(occupancy=0)
        time.sleep(0.4)
    time.sleep(1.0)
    assert len(world.smtp.to("ops@store.test")) == 2
    assert world.smtp.to("ops@store.test")[1].subject.startswith("[Alerts Ltd] Resolved: ")
    resolved = world.http.on("/hooks/full")[1]
    assert _verify(secret, resolved)
    assert [e["event"] for e in resolved.json()["events"]] == ["resolved"]
    assert [state for state, _ in _alerts(world, rule)] == ["resolved"]


def test_webhook_answering_500_twice_is_delivered_on_the_third_try_and_logged(
        world: AlertWorld, place: Any) -> None:
    from analytics.alerts.models import Delivery

    # given an endpoint that answers 500, 500, then 200
    spot = place(capacity=2)
    world.http.script("/hooks/flaky", [500, 500])
    endpoint, secret = _endpoint(world, "/hooks/flaky")
    _rule(world, spot, duration_s=0, webhooks=[endpoint])
    # when the zone goes above its capacity
    spot.batch(occupancy=4)
    # then the third call succeeds, with the same delivery id on all three
    calls = wait_for(lambda: (lambda c: c if len(c) >= 3 else None)(
        world.http.on("/hooks/flaky")), 30, message="three webhook calls")
    time.sleep(1.5)
    calls = world.http.on("/hooks/flaky")
    assert [c.status for c in calls] == [500, 500, 200]
    assert len({c.headers["x-alert-delivery"] for c in calls}) == 1
    assert all(_verify(secret, c) for c in calls)
    # and the delivery log shows the three attempts with their statuses
    with tenant_context(world.tenant):
        delivery = Delivery.objects.get(pk=int(calls[0].headers["x-alert-delivery"]))
        log = list(delivery.log.values_list("number", "ok", "status_code"))
    assert (delivery.status, delivery.attempts) == ("sent", 3)
    assert log == [(1, False, 500), (2, False, 500), (3, True, 200)]
    # and the retries backed off exponentially (0.5 s then 1 s)
    assert calls[1].at - calls[0].at >= 0.45
    assert calls[2].at - calls[1].at >= 0.95


def test_sms_goes_through_twilios_client_to_the_configured_api(world: AlertWorld,
                                                               place: Any) -> None:
    from base64 import b64decode
    from urllib.parse import parse_qs

    # given a rule that texts a phone number
    spot = place(capacity=1)
    _rule(world, spot, name="Queue too long", duration_s=0, phones=["+44 7700 900123"],
          severity="critical")
    # when it fires
    spot.batch(occupancy=3)
    # then Twilio's Messages API (a local server here) receives one authenticated request
    path = f"/2010-04-01/Accounts/{TWILIO_SID}/Messages.json"
    requests = wait_for(lambda: world.http.on(path), 20, message="the SMS request")
    time.sleep(1.0)
    assert len(world.http.on(path)) == 1
    form = {k: v[0] for k, v in parse_qs(requests[0].body.decode()).items()}
    assert (form["To"], form["From"]) == ("+447700900123", TWILIO_FROM)
    assert form["Body"].startswith("CRITICAL: ")
    assert "3 people present, above 1" in form["Body"]
    user, _, password = b64decode(requests[0].headers["authorization"].split()[1]).decode(
    ).partition(":")
    assert (user, password) == (TWILIO_SID, TWILIO_TOKEN)


def test_alerts_firing_together_reach_a_recipient_as_one_digest(world: AlertWorld, place: Any,
                                                                settings: Any) -> None:
    from django.utils import timezone

    from analytics.alerts.triggers import on_batch

    # given three rules on one zone telling the same person (a 2 s digest window)
    spot = place(capacity=None)
    for threshold in (1, 2, 3):
        _rule(world, spot, name=f"over {threshold}", threshold=threshold, duration_s=0,
              emails=["digest@store.test"])
    settings.ALERTS_DIGEST_WINDOW_S = 2.0
    # when one batch makes all three fire
    with tenant_context(world.tenant):
        result = on_batch(camera_id=spot.camera.pk, occupancy={spot.zone.pk: 5.0},
                          now=timezone.now())
    assert result.opened == 3
    # then one e-mail lists the three
    mails = wait_for(lambda: world.smtp.to("digest@store.test"), 20, message="the digest")
    time.sleep(2.5)
    assert len(world.smtp.to("digest@store.test")) == 1
    assert mails[0].subject == "[Alerts Ltd] 3 alerts: 3 opened"
    text = mails[0].part("text/plain")
    assert all(f"above {n}" in text for n in (1, 2, 3))
