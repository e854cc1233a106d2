"""Endpoints of alerting: ``/alert-rules/``, ``/alerts/`` (+ acknowledge), ``/webhook-endpoints/``
and ``/alert-deliveries/`` (the delivery log). Reads go through the permission-aware selectors,
writes through the services (validated, audited).

Viewers read the alerts and rules of what they may see and acknowledge those alerts; only
Owners and Managers (model permissions on ``analytics.alertrule``) change rules.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import exceptions, mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from analytics.alerts.api.filters import AlertFilter, AlertRuleFilter, DeliveryFilter
from analytics.alerts.api.serializers import (
    AlertOutputSerializer,
    AlertRuleInputSerializer,
    AlertRuleOutputSerializer,
    DeliveryOutputSerializer,
    WebhookEndpointCreatedSerializer,
    WebhookEndpointInputSerializer,
    WebhookEndpointOutputSerializer,
)
from analytics.alerts.models import Alert, AlertRule, Delivery, WebhookEndpoint
from analytics.alerts.selectors import (
    alert_list_visible_to,
    alert_rule_list_visible_to,
    delivery_list_for,
    webhook_endpoint_list_for,
)
from analytics.alerts.services import (
    alert_acknowledge,
    alert_rule_create,
    alert_rule_delete,
    alert_rule_update,
    scope_objects,
    users_by_ids,
    webhook_endpoint_create,
    webhook_endpoint_delete,
    webhook_endpoint_update,
)
from cameras.selectors import user_can
from tenants.rest.errors import ErrorSerializer
from tenants.rest.mixins import StrictQueryParamsMixin

DENIED = OpenApiResponse(ErrorSerializer, description="Not allowed for your role.")


def _require(user: Any, perm: str, message: str) -> None:
    if not user.has_perm(perm):
        raise exceptions.PermissionDenied(message)


def _rule_values(user: Any, data: dict[str, Any]) -> dict[str, Any]:
    """Input ids -> objects the user may see (unknown or invisible: an error on the field)."""
    values = dict(data)
    ids = {f: values.pop(f) for f in ("site", "camera", "line", "zone") if f in values}
    objects = scope_objects(**{k: v for k, v in ids.items() if v is not None})
    for field, obj in objects.items():
        target = obj if field in ("site", "camera") else obj.camera
        if not user_can(user=user, perm="view", obj=target):
            raise exceptions.ValidationError({field: [f"{field.capitalize()} {obj.pk} does "
                                                      "not exist."]})
    values.update({k: objects.get(k) for k in ids})
    if "users" in values:
        values["users"] = users_by_ids(values["users"])
    if "webhooks" in values:
        wanted = set(values["webhooks"])
        found = list(WebhookEndpoint.objects.filter(pk__in=wanted))
        missing = wanted - {w.pk for w in found}
        if missing:
            raise exceptions.ValidationError(
                {"webhooks": [f"No webhook endpoint with id {sorted(missing)}."]})
        values["webhooks"] = found
    return values


@extend_schema_view(
    list=extend_schema(summary="Alert rules of what you may view"),
    retrieve=extend_schema(summary="One alert rule"),
    create=extend_schema(summary="Create an alert rule (Owner, Manager)",
                         request=AlertRuleInputSerializer,
                         responses={201: AlertRuleOutputSerializer, 403: DENIED}),
    update=extend_schema(summary="Replace an alert rule (Owner, Manager)",
                         request=AlertRuleInputSerializer,
                         responses={200: AlertRuleOutputSerializer, 403: DENIED}),
    partial_update=extend_schema(summary="Change an alert rule (Owner, Manager)",
                                 request=AlertRuleInputSerializer,
                                 responses={200: AlertRuleOutputSerializer, 403: DENIED}),
    destroy=extend_schema(summary="Delete an alert rule; its alerts stay as history "
                                  "(Owner, Manager)", responses={204: None, 403: DENIED}),
)
class AlertRuleViewSet(StrictQueryParamsMixin, viewsets.ModelViewSet):
    """Rules: what to watch (occupancy, footfall, camera health, completeness), when, and whom
    to tell (users, e-mail addresses, phone numbers, webhook endpoints)."""

    serializer_class = AlertRuleOutputSerializer
    filterset_class = AlertRuleFilter
    ordering_fields = ["name", "created_at", "id", "severity"]
    ordering = ["name", "id"]
    queryset = AlertRule.objects.none()

    def get_queryset(self) -> QuerySet[AlertRule]:
        return alert_rule_list_visible_to(user=self.request.user)

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        _require(request.user, "analytics.add_alertrule",
                 "Only Owners and Managers may create alert rules.")
        data = AlertRuleInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        rule = alert_rule_create(actor=request.user, **_rule_values(request.user,
                                                                     data.validated_data))
        return Response(AlertRuleOutputSerializer(rule).data, status=status.HTTP_201_CREATED)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        rule = self.get_object()
        _require(request.user, "analytics.change_alertrule",
                 "Only Owners and Managers may change alert rules.")
        data = AlertRuleInputSerializer(data=request.data, partial=kwargs.get("partial", False))
        data.is_valid(raise_exception=True)
        rule = alert_rule_update(actor=request.user, rule=rule,
                                 **_rule_values(request.user, data.validated_data))
        return Response(AlertRuleOutputSerializer(rule).data)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        rule = self.get_object()
        _require(request.user, "analytics.delete_alertrule",
                 "Only Owners and Managers may delete alert rules.")
        alert_rule_delete(actor=request.user, rule=rule)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema_view(
    list=extend_schema(summary="Alerts of what you may view, newest first"),
    retrieve=extend_schema(summary="One alert"),
)
class AlertViewSet(StrictQueryParamsMixin, viewsets.ReadOnlyModelViewSet):
    """Alerts (incidents): opened with the values that triggered them, updated while the
    condition lasts, resolved when it clears. Kept as history."""

    serializer_class = AlertOutputSerializer
    filterset_class = AlertFilter
    ordering_fields = ["opened_at", "severity", "id", "resolved_at"]
    ordering = ["-opened_at", "-id"]
    queryset = Alert.objects.none()

    def get_queryset(self) -> QuerySet[Alert]:
        return alert_list_visible_to(user=self.request.user)

    @extend_schema(summary="Acknowledge an alert (anyone who may view it)", request=None,
                   responses={200: AlertOutputSerializer,
                              409: OpenApiResponse(ErrorSerializer,
                                                   description="Already acknowledged.")})
    @action(detail=True, methods=["post"])
    def acknowledge(self, request: Request, pk: str | None = None) -> Response:
        alert = alert_acknowledge(actor=request.user, alert=self.get_object())
        return Response(AlertOutputSerializer(alert).data)


@extend_schema_view(
    list=extend_schema(summary="Webhook endpoints (Owner, Manager)"),
    retrieve=extend_schema(summary="One webhook endpoint (Owner, Manager)"),
    create=extend_schema(summary="Add a webhook endpoint; the answer holds its signing secret, "
                                 "shown only this once (Owner, Manager)",
                         request=WebhookEndpointInputSerializer,
                         responses={201: WebhookEndpointCreatedSerializer, 403: DENIED}),
    update=extend_schema(summary="Replace an endpoint (Owner, Manager)",
                         request=WebhookEndpointInputSerializer,
                         responses={200: WebhookEndpointCreatedSerializer}),
    partial_update=extend_schema(summary="Change an endpoint or rotate its secret "
                                         "(Owner, Manager)",
                                 request=WebhookEndpointInputSerializer,
                                 responses={200: WebhookEndpointCreatedSerializer}),
    destroy=extend_schema(summary="Delete an endpoint (Owner, Manager)"),
)
class WebhookEndpointViewSet(StrictQueryParamsMixin, viewsets.ModelViewSet):
    """Endpoints receiving alerts as JSON signed with HMAC-SHA256 (see docs/alerts.md). Their
    URLs pass the same address policy as camera URLs."""

    serializer_class = WebhookEndpointOutputSerializer
    ordering_fields = ["name", "id", "created_at"]
    ordering = ["name", "id"]
    queryset = WebhookEndpoint.objects.none()

    def get_queryset(self) -> QuerySet[WebhookEndpoint]:
        return webhook_endpoint_list_for(user=self.request.user)

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        _require(request.user, "analytics.add_webhookendpoint",
                 "Only Owners and Managers may add webhook endpoints.")
        data = WebhookEndpointInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        values.pop("rotate_secret", None)
        endpoint, secret = webhook_endpoint_create(actor=request.user, **values)
        body = {**WebhookEndpointOutputSerializer(endpoint).data, "secret": secret}
        return Response(body, status=status.HTTP_201_CREATED)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        endpoint = self.get_object()
        _require(request.user, "analytics.change_webhookendpoint",
                 "Only Owners and Managers may change webhook endpoints.")
        data = WebhookEndpointInputSerializer(data=request.data,
                                              partial=kwargs.get("partial", False))
        data.is_valid(raise_exception=True)
        endpoint, secret = webhook_endpoint_update(actor=request.user, endpoint=endpoint,
                                                   **data.validated_data)
        return Response({**WebhookEndpointOutputSerializer(endpoint).data, "secret": secret})

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        endpoint = self.get_object()
        _require(request.user, "analytics.delete_webhookendpoint",
                 "Only Owners and Managers may delete webhook endpoints.")
        webhook_endpoint_delete(actor=request.user, endpoint=endpoint)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema_view(
    list=extend_schema(summary="The delivery log: every message and attempt (Owner, Manager)"),
    retrieve=extend_schema(summary="One delivery with its attempts (Owner, Manager)"),
)
class DeliveryViewSet(StrictQueryParamsMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                      viewsets.GenericViewSet):
    """Each message sent (or tried) to one recipient, one alert or a digest, with every
    attempt's outcome."""

    serializer_class = DeliveryOutputSerializer
    filterset_class = DeliveryFilter
    ordering_fields = ["created_at", "id"]
    ordering = ["-created_at", "-id"]
    queryset = Delivery.objects.none()

    def get_queryset(self) -> QuerySet[Delivery]:
        return delivery_list_for(user=self.request.user)
