"""Tenant admin of alerts: alerts (acknowledge), rules (enable/disable), endpoints and the
delivery log with its attempts.

Rules are edited in the portal's rule editor or the API, which validate recipients and scopes
and record the audit trail; here they are listed, filtered and switched on or off (through the
same services). Nothing of the history (alerts, deliveries, attempts) is editable.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from analytics.alerts import services
from analytics.alerts.models import Alert, AlertRule, Delivery, DeliveryAttempt, WebhookEndpoint
from analytics.alerts.selectors import alert_list_visible_to
from tenants.admin_sites import ReadOnlyModelAdmin, tenant_admin_site


class _ReadOnlyAdmin(ReadOnlyModelAdmin):
    """History and configuration shown, never edited here."""


@admin.register(Alert, site=tenant_admin_site)
class AlertAdmin(_ReadOnlyAdmin):
    list_display = ["opened_at", "severity", "state", "message", "acknowledged_by",
                    "resolved_at"]
    list_filter = ["state", "severity", "kind"]
    search_fields = ["message", "rule_name", "scope_label"]
    date_hierarchy = "opened_at"
    actions = ["acknowledge"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Alert]:
        return alert_list_visible_to(user=request.user)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_active and request.user.is_staff)

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        # Acknowledging is not a change of the alert's data: offered to whoever sees it.
        return {"acknowledge": (AlertAdmin.acknowledge, "acknowledge",
                                "Acknowledge the selected alerts")}

    @admin.action(description="Acknowledge the selected alerts")
    def acknowledge(self, request: HttpRequest, queryset: QuerySet[Alert]) -> None:
        done = 0
        for alert in queryset.filter(acknowledged_at__isnull=True):
            services.alert_acknowledge(actor=request.user, alert=alert)
            done += 1
        self.message_user(request, f"{done} alerts acknowledged.", messages.SUCCESS)


@admin.register(AlertRule, site=tenant_admin_site)
class AlertRuleAdmin(_ReadOnlyAdmin):
    list_display = ["name", "kind", "scope", "threshold", "duration_s", "severity", "enabled",
                    "editor"]
    list_filter = ["kind", "scope", "severity", "enabled"]
    search_fields = ["name"]
    actions = ["enable", "disable"]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return obj is None and bool(request.user.has_perm("analytics.change_alertrule"))

    @admin.display(description="Edit")
    def editor(self, rule: AlertRule) -> str:
        return format_html('<a href="/alerts/rules/{}/">rule editor</a>', rule.pk)

    def _set(self, request: HttpRequest, queryset: QuerySet[AlertRule], enabled: bool) -> None:
        for rule in queryset:
            try:
                services.alert_rule_update(actor=request.user, rule=rule, enabled=enabled)
            except ValidationError as exc:
                self.message_user(request, f"{rule.name}: {' '.join(exc.messages)}",
                                  messages.ERROR)
        self.message_user(request, f"{queryset.count()} rules "
                          f"{'enabled' if enabled else 'disabled'}.", messages.SUCCESS)

    @admin.action(description="Enable the selected rules", permissions=["change"])
    def enable(self, request: HttpRequest, queryset: QuerySet[AlertRule]) -> None:
        self._set(request, queryset, True)

    @admin.action(description="Disable the selected rules (resolves their open alerts)",
                  permissions=["change"])
    def disable(self, request: HttpRequest, queryset: QuerySet[AlertRule]) -> None:
        self._set(request, queryset, False)


@admin.register(WebhookEndpoint, site=tenant_admin_site)
class WebhookEndpointAdmin(_ReadOnlyAdmin):
    list_display = ["name", "url", "enabled", "created_at"]
    exclude = ["secret_encrypted"]


ATTEMPT_FIELDS = ("number", "started_at", "duration_ms", "ok", "status_code", "error")


class DeliveryAttemptInline(admin.TabularInline):
    model = DeliveryAttempt
    extra = 0
    can_delete = False
    fields = ATTEMPT_FIELDS
    readonly_fields = ATTEMPT_FIELDS

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Delivery, site=tenant_admin_site)
class DeliveryAdmin(_ReadOnlyAdmin):
    list_display = ["created_at", "channel", "recipient", "status", "digest", "attempts",
                    "sent_at"]
    list_filter = ["channel", "status", "digest"]
    search_fields = ["recipient"]
    inlines = [DeliveryAttemptInline]

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # the log goes with the rules' recipients: whoever may view rules (Owner, Manager)
        return bool(request.user.has_perm("analytics.view_alertrule"))

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self.has_view_permission(request)
