"""WebSocket routes of live counts (mounted by config/websocket.py)."""

from __future__ import annotations

from typing import Any

from django.urls import path

from counting.live.consumers import CameraCountsConsumer, SiteCountsConsumer

websocket_urlpatterns: list[Any] = [
    path("ws/cameras/<int:pk>/", CameraCountsConsumer.as_asgi()),
    path("ws/sites/<int:pk>/", SiteCountsConsumer.as_asgi()),
]
