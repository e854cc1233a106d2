"""Reads of rules, alerts and deliveries that already apply the user's permissions.

A user sees an alert of a camera it may view, or of a site it may view; rules likewise by
their scope's site or camera. Owners and Managers (model permission to view cameras) see all.
Endpoints and the delivery log hold recipients' addresses: Owners and Managers only.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from analytics.alerts.constants import AlertState
from analytics.alerts.models import Alert, AlertRule, Delivery, WebhookEndpoint
from cameras.selectors import camera_list_visible_to, site_list_visible_to


def _active(user: Any) -> bool:
    return bool(user and user.is_authenticated and user.is_active)


def _sees_everything(user: Any) -> bool:
    return bool(user.has_perm("cameras.view_camera") and user.has_perm("cameras.view_site"))


def alert_list_visible_to(*, user: Any) -> QuerySet[Alert]:
    """Alerts of the cameras and sites ``user`` may view, newest first."""
    if not _active(user):
        return Alert.objects.none()
    alerts = Alert.objects.select_related("acknowledged_by").order_by("-opened_at", "-id")
    if _sees_everything(user):
        return alerts
    cameras = camera_list_visible_to(user=user).values("pk")
    sites = site_list_visible_to(user=user).values("pk")
    return alerts.filter(Q(camera_id__in=cameras) | Q(camera__isnull=True, site_id__in=sites))


def alert_get_visible_to(*, user: Any, alert_id: int) -> Alert | None:
    return alert_list_visible_to(user=user).filter(pk=alert_id).first()


def alert_open_count_for(*, user: Any) -> int:
    """Open alerts the user may see (the count in the portal's navigation)."""
    return alert_list_visible_to(user=user).filter(state=AlertState.OPEN).count()


def alert_rule_list_visible_to(*, user: Any) -> QuerySet[AlertRule]:
    """Rules whose scope the user may view (read-only for Viewers)."""
    if not _active(user):
        return AlertRule.objects.none()
    rules = (AlertRule.objects.select_related("site", "camera", "line", "zone")
             .prefetch_related("recipient_users", "webhooks").order_by("name", "id"))
    if _sees_everything(user):
        return rules
    cameras = camera_list_visible_to(user=user).values("pk")
    sites = site_list_visible_to(user=user).values("pk")
    return rules.filter(Q(camera_id__in=cameras) | Q(camera__isnull=True, site_id__in=sites))


def can_change_rules(user: Any) -> bool:
    return _active(user) and bool(user.has_perm("analytics.change_alertrule"))


def webhook_endpoint_list_for(*, user: Any) -> QuerySet[WebhookEndpoint]:
    if not _active(user) or not user.has_perm("analytics.view_webhookendpoint"):
        return WebhookEndpoint.objects.none()
    return WebhookEndpoint.objects.order_by("name", "id")


def delivery_list_for(*, user: Any) -> QuerySet[Delivery]:
    """The delivery log (recipients' addresses): for users who may view rules' recipients."""
    if not _active(user) or not user.has_perm("analytics.view_alertrule") \
            or not _sees_everything(user):
        return Delivery.objects.none()
    return Delivery.objects.prefetch_related("log", "notifications").order_by("-created_at",
                                                                               "-id")
