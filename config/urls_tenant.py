"""URLs of a tenant's domain: portal, admin, API, health."""

from django.contrib.auth import views as auth_views
from django.urls import include, path

from tenants.admin_sites import tenant_admin_site
from tenants.health import healthz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("api/", include("config.api_urls")),
    path("admin/", tenant_admin_site.urls),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    # Portal pages live with the app whose data they show.
    path("", include("analytics.portal.urls")),
    path("", include("tenants.accounts.portal.urls")),
    path("", include("cameras.portal.urls")),
    path("", include("audit.portal")),
    path("", include("analytics.history.urls")),
    path("alerts/", include("analytics.alerts.portal.urls")),
    path("reports/", include("analytics.reports.portal.urls")),
    path("", include("counting.urls")),
    path("", include("cameras.urls")),
]

# Friendly 403/404 pages rendered against the request's tenant (tenants/error_pages.py says why).
handler403 = "tenants.error_pages.permission_denied"
handler404 = "tenants.error_pages.page_not_found"
