"""Portal URLs of the dashboard and the site page (included by config/urls_tenant.py)."""

from django.urls import path

from analytics.portal import views

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("dashboard/health/", views.dashboard_health, name="dashboard-health"),
    path("sites/<int:site_id>/", views.site_detail, name="site-detail"),
]
