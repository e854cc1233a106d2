"""The alert API: permissions (a Viewer reads, cannot change rules), isolation between tenants,
validation with clear errors, acknowledging, the address policy on webhook endpoints."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import timezone

from tests.api.conftest import api_client, world_a, world_build  # noqa: F401 - fixtures

V = "/api/v1"


@pytest.fixture
def world_b(tenant_b: Any, in_tenant: Any) -> Any:
    return world_build(tenant_b, "b", in_tenant)


def _alert(world: Any, in_tenant: Any, **fields: Any) -> Any:
    from analytics.alerts.models import Alert
    from analytics.alerts.services import alert_rule_create

    with in_tenant(world.tenant):
        rule = alert_rule_create(actor=None, name=f"{world.key} full", kind="occupancy_above",
                                 scope="zone", zone=world.zone, threshold=3)
        now = timezone.now()
        return Alert.objects.create(
            rule=rule, rule_name=rule.name, kind=rule.kind, severity="warning",
            scope_key=f"zone:{world.zone.pk}", scope_label="zone", site=world.site,
            camera=world.camera, message=f"{world.key}: 5 people present, above 3",
            threshold=3, value=5, condition_since=now, opened_at=now, updated_at=now,
            **fields)


def _rule_body(world: Any) -> dict[str, Any]:
    return {"name": "Too many people", "kind": "occupancy_above", "scope": "zone",
            "zone": world.zone.pk, "threshold": 10, "duration_s": 60,
            "emails": ["Ops@Example.test"], "phones": ["+44 7700 900123"]}


def _rules(tenant: Any, in_tenant: Any) -> list[str]:
    from analytics.alerts.models import AlertRule

    with in_tenant(tenant):
        return list(AlertRule.objects.values_list("name", flat=True))


def _audit(tenant: Any, in_tenant: Any, action: str) -> int:
    from audit.models import AuditEvent

    with in_tenant(tenant):
        return AuditEvent.objects.filter(action=action).count()


@pytest.mark.parametrize("role", ["viewer", "viewer_granted"])
def test_a_viewer_cannot_create_change_or_delete_rules(role: str, world_a: Any,  # noqa: F811
                                                       api_client: Any,  # noqa: F811
                                                       in_tenant: Any) -> None:
    # given a rule made by the owner
    alert = _alert(world_a, in_tenant)
    client = api_client("a", user=world_a.users[role])
    audits = _audit(world_a.tenant, in_tenant, "alert_rule.create")
    # when a Viewer tries to create, change and delete rules
    created = client.post(f"{V}/alert-rules/", _rule_body(world_a), format="json")
    path = f"{V}/alert-rules/{alert.rule_id}/"
    changed = client.patch(path, {"threshold": 1}, format="json")
    deleted = client.delete(path)
    # then each is refused with the error shape, and nothing changed
    assert created.status_code == 403
    assert created.json()["error"] == {"code": "permission_denied", "fields": {},
                                       "message": "Only Owners and Managers may create alert "
                                                  "rules."}
    expected = 403 if role == "viewer_granted" else 404  # a rule it cannot see is a 404
    assert (changed.status_code, deleted.status_code) == (expected, expected)
    assert _rules(world_a.tenant, in_tenant) == ["a full"]
    assert _audit(world_a.tenant, in_tenant, "alert_rule.create") == audits


def test_a_manager_creates_a_rule_normalised_and_audited(world_a: Any, api_client: Any,  # noqa: F811
                                                         in_tenant: Any) -> None:
    client = api_client("a", user=world_a.manager)
    response = client.post(f"{V}/alert-rules/", _rule_body(world_a), format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["scope"], body["zone"], body["camera"], body["site"]) == (
        "zone", world_a.zone.pk, world_a.camera.pk, world_a.site.pk)
    assert (body["emails"], body["phones"]) == (["ops@example.test"], ["+447700900123"])
    assert _audit(world_a.tenant, in_tenant, "alert_rule.create") == 1


@pytest.mark.parametrize(("change", "field", "message"), [
    ({"threshold": None, "kind": "occupancy_below"}, "threshold",
     "Enter the value this rule compares with."),
    ({"phones": ["07700 900123"]}, "phones", "is not a phone number in international form"),
    ({"emails": ["not-an-address"]}, "emails", "'not-an-address' is not an e-mail address."),
    ({"kind": "camera_offline"}, "scope", "A camera_offline rule applies to camera, site"),
    ({"kind": "footfall_below"}, "period_start", "Enter the period's local start and end"),
    ({"zone": 987654}, "zone", "Zone 987654 does not exist."),
])
def test_bad_rules_are_refused_field_by_field(change: dict[str, Any], field: str, message: str,
                                              world_a: Any, api_client: Any,  # noqa: F811
                                              in_tenant: Any) -> None:
    client = api_client("a", user=world_a.owner)
    body = {k: v for k, v in {**_rule_body(world_a), **change}.items() if v is not None}
    response = client.post(f"{V}/alert-rules/", body, format="json")
    assert response.status_code == 400
    assert any(message in m for m in response.json()["error"]["fields"][field]), response.json()
    assert _rules(world_a.tenant, in_tenant) == []


def test_tenant_b_never_sees_tenant_as_alerts(world_a: Any, world_b: Any,  # noqa: F811
                                              api_client: Any, in_tenant: Any) -> None:  # noqa: F811
    # given an alert in each tenant
    mine = _alert(world_a, in_tenant)
    theirs = _alert(world_b, in_tenant)
    b_owner = api_client("b", user=world_b.owner)
    # when B's owner lists, reads and acknowledges (by A's id)
    listed = b_owner.get(f"{V}/alerts/").json()["results"]
    read = b_owner.get(f"{V}/alerts/{mine.pk}/")
    ack = b_owner.post(f"{V}/alerts/{mine.pk}/acknowledge/")
    rules = b_owner.get(f"{V}/alert-rules/").json()["results"]
    # then only B's own alert and rule are there; A's are 404 and unchanged
    assert [a["id"] for a in listed] == [theirs.pk]
    assert [a["message"] for a in listed] == ["b: 5 people present, above 3"]
    assert [r["name"] for r in rules] == ["b full"]
    if mine.pk != theirs.pk:
        assert (read.status_code, ack.status_code) == (404, 404)
    from analytics.alerts.models import Alert

    with in_tenant(world_a.tenant):
        assert Alert.objects.get(pk=mine.pk).acknowledged_at is None


def test_viewers_see_alerts_of_what_they_may_view_and_acknowledge_them(
        world_a: Any, api_client: Any, in_tenant: Any) -> None:  # noqa: F811
    alert = _alert(world_a, in_tenant)
    # a Viewer without object permissions sees none; one with view on the site sees it
    assert api_client("a", user=world_a.viewer).get(f"{V}/alerts/").json()["results"] == []
    granted = api_client("a", user=world_a.viewer_granted)
    assert [a["id"] for a in granted.get(f"{V}/alerts/?state=open").json()["results"]] == [
        alert.pk]
    # acknowledging records who and when, once; a second time is a conflict
    first = granted.post(f"{V}/alerts/{alert.pk}/acknowledge/")
    assert first.status_code == 200
    assert first.json()["acknowledged_by"] == world_a.viewer_granted.get_username()
    again = granted.post(f"{V}/alerts/{alert.pk}/acknowledge/")
    assert again.status_code == 409
    assert "already acknowledged by granted@tenant-a.test" in again.json()["error"]["message"]
    assert _audit(world_a.tenant, in_tenant, "alert.acknowledge") == 1
    # the delivery log and endpoints are for Owners and Managers only
    assert granted.get(f"{V}/alert-deliveries/").json()["results"] == []
    assert granted.post(f"{V}/webhook-endpoints/", {"name": "x", "url": "https://example.com/"},
                        format="json").status_code == 403


@pytest.mark.parametrize(("url", "message"), [
    ("http://169.254.169.254/latest/meta-data", "a cloud metadata address"),
    ("http://127.0.0.1:8080/hook", "a loopback address"),
    ("http://[::1]/hook", "a loopback address"),
    ("ftp://example.com/hook", "must start with https://"),
    ("https://user:pw@example.com/hook", "Do not put credentials in the URL"),
])
def test_a_webhook_on_a_refused_address_is_rejected_when_saved(
        url: str, message: str, world_a: Any, api_client: Any,  # noqa: F811
        in_tenant: Any, settings: Any) -> None:
    from analytics.alerts.models import WebhookEndpoint

    settings.ALERTS_WEBHOOK_ALLOW_LOOPBACK = False
    response = api_client("a", user=world_a.owner).post(
        f"{V}/webhook-endpoints/", {"name": "Ops", "url": url}, format="json")
    assert response.status_code == 400
    assert message in response.json()["error"]["fields"]["url"][0]
    with in_tenant(world_a.tenant):
        assert WebhookEndpoint.objects.count() == 0


def test_a_webhook_endpoint_shows_its_secret_once(world_a: Any, api_client: Any,  # noqa: F811
                                                  in_tenant: Any) -> None:
    client = api_client("a", user=world_a.owner)
    created = client.post(f"{V}/webhook-endpoints/",
                          {"name": "Ops", "url": "https://10.20.30.40/hook"}, format="json")
    assert created.status_code == 201, created.content
    assert created.json()["secret"].startswith("whsec_")
    shown = client.get(f"{V}/webhook-endpoints/{created.json()['id']}/").json()
    assert "secret" not in shown


def test_the_openapi_schema_documents_the_alert_endpoints(world_a: Any,  # noqa: F811
                                                          api_client: Any) -> None:  # noqa: F811
    paths = api_client("a").get("/api/schema/?format=json").json()["paths"]
    for path in ("/api/v1/alert-rules/", "/api/v1/alerts/", "/api/v1/alerts/{id}/acknowledge/",
                 "/api/v1/webhook-endpoints/", "/api/v1/alert-deliveries/"):
        assert path in paths, path
    assert paths["/api/v1/alerts/{id}/acknowledge/"]["post"]["summary"] == (
        "Acknowledge an alert (anyone who may view it)")


def test_over_the_rule_rate_limit_notifications_wait_and_leave_as_one_digest(
        world_a: Any, in_tenant: Any, settings: Any) -> None:  # noqa: F811
    from datetime import timedelta

    from analytics.alerts.delivery import delivery_claim
    from analytics.alerts.models import Delivery, Notification

    settings.ALERTS_RATE_PER_RULE_PER_HOUR = 2
    alert = _alert(world_a, in_tenant)
    with in_tenant(world_a.tenant):
        now = timezone.now()
        # given two messages of the rule sent in the last hour (20 and 10 minutes ago)
        for minutes in (20, 10):
            sent = Delivery.objects.create(channel="email", recipient="ops@example.test",
                                           status="sent", give_up_at=now)
            Delivery.objects.filter(pk=sent.pk).update(
                created_at=now - timedelta(minutes=minutes))
            Notification.objects.create(alert=alert, rule_id=alert.rule_id, event="opened",
                                        channel="email", recipient="ops@example.test",
                                        key=f"old-{minutes}", status="sent", delivery=sent,
                                        created_at=now, not_before=now)
        waiting = [Notification.objects.create(
            alert=alert, rule_id=alert.rule_id, event=event, channel="email",
            recipient="ops@example.test", key=f"new-{event}", created_at=now, not_before=now)
            for event in ("opened", "resolved")]
        # when a delivery task claims them
        delivery, wait = delivery_claim(channel="email", recipient="ops@example.test", now=now)
        # then nothing is sent now; they wait until the older message leaves the hour
        assert delivery is None
        assert 39 * 60 < wait <= 40 * 60
        assert {n.not_before for n in Notification.objects.filter(
            pk__in=[w.pk for w in waiting])} == {now + timedelta(seconds=wait)}
        # and then both leave as one digest
        later = now + timedelta(seconds=wait + 1)
        delivery, wait = delivery_claim(channel="email", recipient="ops@example.test",
                                        now=later)
        assert delivery is not None and delivery.digest and wait == 0
        assert delivery.notifications.count() == 2
