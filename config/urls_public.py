"""URLs of the public domain: platform admin and health."""

from django.urls import path

from tenants.admin_sites import platform_admin_site
from tenants.health import healthz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/", platform_admin_site.urls),
]
