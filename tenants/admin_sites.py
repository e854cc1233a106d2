"""Two admin sites: the platform's (public domain) and each tenant's (tenant domains), and the
base of the admin pages that only show rows."""

from typing import Any

from django.contrib.admin import AdminSite, ModelAdmin
from django.http import HttpRequest


class ReadOnlyModelAdmin(ModelAdmin):  # type: ignore[type-arg]
    """Rows written by the system (runners, alerts, audit) are shown here, never added,
    changed or deleted by hand."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class PlatformAdminSite(AdminSite):
    """Platform staff manage tenants, domains and plans on the public domain."""

    site_header = "People counting platform"
    site_title = "Platform admin"
    index_title = "Tenants and plans"


class TenantAdminSite(AdminSite):
    """A tenant's owners and managers manage sites, cameras, users and permissions."""

    site_header = "People counting"
    site_title = "Admin"
    index_title = "Sites, cameras and people"


platform_admin_site = PlatformAdminSite(name="platform_admin")
tenant_admin_site = TenantAdminSite(name="tenant_admin")
