"""The audit trail in both admins: read-only, no add, change or delete."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from audit.models import AuditEvent
from tenants.admin_sites import platform_admin_site, tenant_admin_site


class AuditEventAdmin(admin.ModelAdmin):
    """Lists and shows audit events; nothing can be added, changed or deleted."""

    list_display = ("occurred_at", "actor_name", "action", "target_type", "target_id", "ip")
    list_filter = ("action", "target_type")
    search_fields = ("actor_name", "target_id", "target_repr", "request_id")
    date_hierarchy = "occurred_at"
    actions = None

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return [field.name for field in AuditEvent._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


tenant_admin_site.register(AuditEvent, AuditEventAdmin)
platform_admin_site.register(AuditEvent, AuditEventAdmin)
