"""Two admin sites: the platform's (public domain) and each tenant's (tenant domains)."""

from django.contrib.admin import AdminSite


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
