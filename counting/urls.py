"""Portal URLs of the counting app (included by config/urls_tenant.py)."""

from django.urls import path

from counting.views import camera_live

urlpatterns = [
    path("cameras/<int:camera_id>/", camera_live, name="camera-live"),
]
