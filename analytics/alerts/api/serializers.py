"""Input and output shapes of alert rules, alerts, webhook endpoints and the delivery log."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from analytics.alerts.constants import RuleKind, Schedule, Scope, Severity
from analytics.alerts.models import (
    Alert,
    AlertRule,
    Delivery,
    DeliveryAttempt,
    WebhookEndpoint,
)
from tenants.rest.json_fields import (
    StrictBooleanField,
    StrictCharField,
    StrictFloatField,
    StrictIntegerField,
)
from tenants.rest.mixins import ID_MAX


class AlertRuleOutputSerializer(serializers.ModelSerializer):
    """A rule as shown."""

    users = serializers.PrimaryKeyRelatedField(  # type: ignore[var-annotated]
        source="recipient_users", many=True, read_only=True)
    webhooks = serializers.PrimaryKeyRelatedField(  # type: ignore[var-annotated]
        many=True, read_only=True)
    weekdays = serializers.ListField(child=serializers.IntegerField(), read_only=True)
    emails = serializers.ListField(child=serializers.CharField(), read_only=True)
    phones = serializers.ListField(child=serializers.CharField(), read_only=True)

    class Meta:
        model = AlertRule
        fields = ["id", "name", "kind", "scope", "site", "camera", "line", "zone", "threshold",
                  "duration_s", "period_start", "period_end", "severity", "schedule",
                  "weekdays", "cooldown_s", "enabled", "users", "emails", "phones", "webhooks",
                  "created_at", "updated_at"]
        read_only_fields = fields


class AlertRuleInputSerializer(serializers.Serializer):
    """A rule as written. The scope object is given by the field named like the scope
    (``"scope": "zone", "zone": 7``); the service checks the combination."""

    name = StrictCharField(max_length=200)
    kind = serializers.ChoiceField(choices=RuleKind.choices)
    scope = serializers.ChoiceField(choices=Scope.choices)
    site = StrictIntegerField(min_value=1, max_value=ID_MAX, required=False, allow_null=True)
    camera = StrictIntegerField(min_value=1, max_value=ID_MAX, required=False, allow_null=True)
    line = StrictIntegerField(min_value=1, max_value=ID_MAX, required=False, allow_null=True)
    zone = StrictIntegerField(min_value=1, max_value=ID_MAX, required=False, allow_null=True)
    threshold = StrictFloatField(required=False, allow_null=True, min_value=0, help_text=(
        "People (occupancy), entries (footfall), minimum percent complete (data), or fps "
        "(low fps; default: the camera's detect fps x ALERTS_LOW_FPS_RATIO). Occupancy above "
        "defaults to the zone's capacity."))
    duration_s = StrictIntegerField(required=False, min_value=0, max_value=7 * 24 * 3600,
                                    help_text="How long the condition must hold (seconds).")
    period_start = serializers.TimeField(required=False, allow_null=True,
                                         help_text="Footfall and data rules: local start.")
    period_end = serializers.TimeField(required=False, allow_null=True,
                                       help_text="Footfall and data rules: local end.")
    severity = serializers.ChoiceField(choices=Severity.choices, required=False)
    schedule = serializers.ChoiceField(choices=Schedule.choices, required=False)
    weekdays = serializers.ListField(child=StrictIntegerField(min_value=0, max_value=6),
                                     required=False, min_length=1, max_length=7,
                                     help_text="0 = Monday ... 6 = Sunday.")
    cooldown_s = StrictIntegerField(required=False, min_value=0, max_value=7 * 24 * 3600)
    enabled = StrictBooleanField(required=False)
    users = serializers.ListField(child=StrictIntegerField(min_value=1, max_value=ID_MAX),
                                  required=False, max_length=50)
    emails = serializers.ListField(child=StrictCharField(max_length=254), required=False,
                                   max_length=50)
    phones = serializers.ListField(child=StrictCharField(max_length=32), required=False,
                                   max_length=50, help_text="International form: +447700900123.")
    webhooks = serializers.ListField(child=StrictIntegerField(min_value=1, max_value=ID_MAX),
                                     required=False, max_length=50)


class AlertOutputSerializer(serializers.ModelSerializer):
    """An alert (incident) as shown."""

    acknowledged_by = serializers.SerializerMethodField()

    class Meta:
        model = Alert
        fields = ["id", "rule", "rule_name", "kind", "severity", "state", "message",
                  "scope_key", "scope_label", "site", "camera", "threshold", "value",
                  "peak_value", "details", "condition_since", "opened_at", "updated_at",
                  "acknowledged_at", "acknowledged_by", "resolved_at", "resolution"]
        read_only_fields = fields

    def get_acknowledged_by(self, alert: Alert) -> str | None:
        user = alert.acknowledged_by
        return user.get_username() if user is not None else None


class WebhookEndpointOutputSerializer(serializers.ModelSerializer):
    """An endpoint as shown; its secret never (only once, when created or rotated)."""

    class Meta:
        model = WebhookEndpoint
        fields = ["id", "name", "url", "enabled", "created_at", "updated_at"]
        read_only_fields = fields


class WebhookEndpointCreatedSerializer(WebhookEndpointOutputSerializer):
    """An endpoint just created or whose secret was rotated: the secret, this once."""

    secret = serializers.CharField(read_only=True)

    class Meta(WebhookEndpointOutputSerializer.Meta):
        fields = [*WebhookEndpointOutputSerializer.Meta.fields, "secret"]
        read_only_fields = fields


class WebhookEndpointInputSerializer(serializers.Serializer):
    """An endpoint as written; the URL must pass the address policy."""

    name = StrictCharField(max_length=100)
    url = StrictCharField(max_length=2000)
    enabled = StrictBooleanField(required=False)
    rotate_secret = StrictBooleanField(required=False, help_text="Issue a new secret.")


class DeliveryAttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = DeliveryAttempt
        fields = ["number", "started_at", "duration_ms", "ok", "status_code", "error"]
        read_only_fields = fields


class DeliveryAlertSerializer(serializers.Serializer):
    """Which alert a delivery told about, and whether it opened or resolved."""

    alert = serializers.IntegerField()
    event = serializers.CharField()


class DeliveryOutputSerializer(serializers.ModelSerializer):
    """One message to one recipient with every attempt."""

    log = DeliveryAttemptSerializer(many=True, read_only=True)
    alerts = serializers.SerializerMethodField()

    class Meta:
        model = Delivery
        fields = ["id", "channel", "recipient", "status", "digest", "attempts", "created_at",
                  "next_attempt_at", "give_up_at", "sent_at", "last_error", "alerts", "log"]
        read_only_fields = fields

    @extend_schema_field(DeliveryAlertSerializer(many=True))
    def get_alerts(self, delivery: Delivery) -> list[dict[str, object]]:
        return [{"alert": n.alert_id, "event": n.event} for n in delivery.notifications.all()]
