"""Query filters of alerts, rules and the delivery log."""

from __future__ import annotations

import django_filters

from analytics.alerts.constants import (
    AlertState,
    Channel,
    DeliveryStatus,
    RuleKind,
    Scope,
    Severity,
)
from analytics.alerts.models import Alert, AlertRule, Delivery
from tenants.rest.mixins import IdFilter


class AlertFilter(django_filters.FilterSet):
    """Alerts by state, severity, kind, rule, site, camera, acknowledged, opened after/before."""

    state = django_filters.ChoiceFilter(choices=AlertState.choices)
    severity = django_filters.ChoiceFilter(choices=Severity.choices)
    kind = django_filters.ChoiceFilter(choices=RuleKind.choices)
    rule = IdFilter(field_name="rule_id")
    site = IdFilter(field_name="site_id")
    camera = IdFilter(field_name="camera_id")
    acknowledged = django_filters.BooleanFilter(field_name="acknowledged_at",
                                                lookup_expr="isnull", exclude=True)
    opened_after = django_filters.IsoDateTimeFilter(field_name="opened_at", lookup_expr="gte")
    opened_before = django_filters.IsoDateTimeFilter(field_name="opened_at", lookup_expr="lt")

    class Meta:
        model = Alert
        fields = ["state", "severity", "kind", "rule", "site", "camera", "acknowledged",
                  "opened_after", "opened_before"]


class AlertRuleFilter(django_filters.FilterSet):
    """Rules by kind, scope, site, camera, enabled."""

    kind = django_filters.ChoiceFilter(choices=RuleKind.choices)
    scope = django_filters.ChoiceFilter(choices=Scope.choices)
    site = IdFilter(field_name="site_id")
    camera = IdFilter(field_name="camera_id")
    enabled = django_filters.BooleanFilter()

    class Meta:
        model = AlertRule
        fields = ["kind", "scope", "site", "camera", "enabled"]


class DeliveryFilter(django_filters.FilterSet):
    """Deliveries by channel, status and alert."""

    channel = django_filters.ChoiceFilter(choices=Channel.choices)
    status = django_filters.ChoiceFilter(choices=DeliveryStatus.choices)
    alert = IdFilter(field_name="notifications__alert_id", distinct=True)

    class Meta:
        model = Delivery
        fields = ["channel", "status", "alert"]
