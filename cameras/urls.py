"""Portal URLs of the cameras app (included by config/urls_tenant.py)."""

from django.urls import path

from cameras.views import dashboard

urlpatterns = [
    path("", dashboard, name="dashboard"),
]
