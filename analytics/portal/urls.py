"""Portal URLs of the dashboard and the site page (included by config/urls_tenant.py)."""

from django.urls import path

from analytics.portal import privacy, views

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("dashboard/health/", views.dashboard_health, name="dashboard-health"),
    path("sites/<int:site_id>/", views.site_detail, name="site-detail"),
    path("settings/privacy/", privacy.privacy_settings, name="privacy-settings"),
]
