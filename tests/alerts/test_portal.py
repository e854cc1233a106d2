"""Portal pages of alerts: the inbox with its count in the navigation, acknowledging, the rule
editor (Owners and Managers only), refused webhook addresses, the delivery log, the admin."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import timezone

from tests.api.conftest import world_a  # noqa: F401 - fixture


def _alert(world: Any, in_tenant: Any, message: str = "Fitting rooms: 5 people present") -> Any:
    from analytics.alerts.models import Alert
    from analytics.alerts.services import alert_rule_create

    with in_tenant(world.tenant):
        rule = alert_rule_create(actor=None, name="Full", kind="occupancy_above",
                                 scope="zone", zone=world.zone, threshold=3)
        now = timezone.now()
        return Alert.objects.create(
            rule=rule, rule_name=rule.name, kind=rule.kind, severity="critical",
            scope_key=f"zone:{world.zone.pk}", scope_label="zone", site=world.site,
            camera=world.camera, message=message, threshold=3, value=5, condition_since=now,
            opened_at=now, updated_at=now)


def test_the_inbox_lists_open_alerts_counts_them_in_the_nav_and_acknowledges(
        world_a: Any, logged_in: Any, in_tenant: Any) -> None:  # noqa: F811
    alert = _alert(world_a, in_tenant)
    client = logged_in("a", world_a.viewer_granted)
    page = client.get("/alerts/").content.decode()
    assert "Fitting rooms: 5 people present" in page
    assert 'aria-label="1 open">(1)</span>' in page
    response = client.post(f"/alerts/{alert.pk}/acknowledge/", {"next": "/alerts/"})
    assert response.status_code == 302
    page = client.get("/alerts/").content.decode()
    assert "Acknowledged by granted@tenant-a.test" in page
    # a Viewer without permissions sees no alert, no count, and cannot acknowledge
    other = logged_in("a", world_a.viewer)
    page = other.get("/alerts/").content.decode()
    assert "Fitting rooms" not in page and "(1)</span>" not in page
    assert other.post(f"/alerts/{alert.pk}/acknowledge/").status_code == 404


def test_a_viewer_cannot_open_the_rule_editor(world_a: Any, logged_in: Any) -> None:  # noqa: F811
    client = logged_in("a", world_a.viewer_granted)
    assert "New rule" not in client.get("/alerts/rules/").content.decode()
    assert client.get("/alerts/rules/new/").status_code == 403
    assert client.post("/alerts/rules/new/", {"name": "x"}).status_code == 403


def test_the_rule_editor_creates_a_rule_and_shows_service_errors_on_fields(
        world_a: Any, logged_in: Any, in_tenant: Any) -> None:  # noqa: F811
    from analytics.alerts.models import AlertRule

    client = logged_in("a", world_a.manager)
    form = {"name": "Queue", "kind": "occupancy_above", "watch": f"zone:{world_a.zone.pk}",
            "threshold": "", "duration_s": "30", "severity": "warning", "schedule": "always",
            "weekdays": ["0", "1", "2", "3", "4"], "cooldown_s": "600",
            "emails": "ops@example.test\nboss@example.test", "phones": "", "enabled": "on"}
    # a zone without capacity and no threshold: the error is on the threshold field
    bad = client.post("/alerts/rules/new/", form)
    assert bad.status_code == 400
    assert "Enter the occupancy threshold" in bad.content.decode()
    good = client.post("/alerts/rules/new/", {**form, "threshold": "12"})
    assert good.status_code == 302
    with in_tenant(world_a.tenant):
        rule = AlertRule.objects.get(name="Queue")
        assert (rule.scope, rule.zone_id, rule.threshold, rule.weekdays, rule.emails) == (
            "zone", world_a.zone.pk, 12.0, [0, 1, 2, 3, 4],
            ["boss@example.test", "ops@example.test"])
    page = client.get(f"/alerts/rules/{rule.pk}/").content.decode()
    assert 'value="Queue"' in page


@pytest.mark.parametrize("url", ["http://169.254.169.254/", "http://127.0.0.1:9000/hook"])
def test_the_endpoint_form_refuses_forbidden_addresses(url: str, world_a: Any,  # noqa: F811
                                                       logged_in: Any, in_tenant: Any,
                                                       settings: Any) -> None:
    from analytics.alerts.models import WebhookEndpoint

    settings.ALERTS_WEBHOOK_ALLOW_LOOPBACK = False
    response = logged_in("a", world_a.owner).post("/alerts/endpoints/",
                                                  {"name": "Ops", "url": url})
    assert response.status_code == 400
    assert "which webhooks may not use" in response.content.decode()
    with in_tenant(world_a.tenant):
        assert WebhookEndpoint.objects.count() == 0


def test_the_delivery_log_and_admin_pages_render(world_a: Any, logged_in: Any,  # noqa: F811
                                                 in_tenant: Any) -> None:
    from analytics.alerts.models import Delivery, DeliveryAttempt

    _alert(world_a, in_tenant)
    with in_tenant(world_a.tenant):
        now = timezone.now()
        delivery = Delivery.objects.create(channel="webhook", recipient="webhook:1",
                                           status="retrying", attempts=1, give_up_at=now)
        DeliveryAttempt.objects.create(delivery=delivery, number=1, started_at=now, ok=False,
                                       status_code=500, error="HTTP 500: boom")
    client = logged_in("a", world_a.owner)
    log = client.get("/alerts/deliveries/").content.decode()
    assert "Failed (500)" in log and "HTTP 500: boom" in log
    assert logged_in("a", world_a.viewer).get("/alerts/deliveries/").status_code == 403
    for path in ("/admin/analytics/alert/", "/admin/analytics/alertrule/",
                 "/admin/analytics/delivery/", f"/admin/analytics/delivery/{delivery.pk}/change/",
                 "/admin/analytics/webhookendpoint/"):
        assert client.get(path).status_code == 200, path
