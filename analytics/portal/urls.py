"""Portal URLs of the dashboard and the site page (included by config/urls_tenant.py)."""

from django.urls import path

from analytics.portal import privacy, views

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("dashboard/health/", views.dashboard_health, name="dashboard-health"),
    path("sites/<int:site_id>/", views.site_detail, name="site-detail"),
    path("sites/<int:site_id>/occupancy/reset/", views.site_occupancy_reset_view,
         name="site-occupancy-reset"),
    path("settings/privacy/", privacy.privacy_settings, name="privacy-settings"),
]
