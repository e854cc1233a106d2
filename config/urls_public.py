"""URLs of the public domain: platform admin and health."""

from django.urls import path

from tenants.admin_sites import platform_admin_site
from tenants.health import healthz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/", platform_admin_site.urls),
]

# Friendly 403/404 pages rendered against the request's tenant (tenants/error_pages.py says why).
handler403 = "tenants.error_pages.permission_denied"
handler404 = "tenants.error_pages.page_not_found"
