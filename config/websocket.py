"""The WebSocket application: origin check, tenant from Host and user from session, routes."""

from typing import Any

from channels.routing import URLRouter
from channels.security.websocket import AllowedHostsOriginValidator

from tenants.asgi import TenantAuthMiddleware

websocket_urlpatterns: list[Any] = []
try:
    from counting.live.routing import websocket_urlpatterns  # type: ignore[no-redef]
except ImportError:  # live counting not installed yet
    pass

websocket_application = AllowedHostsOriginValidator(
    TenantAuthMiddleware(URLRouter(websocket_urlpatterns))
)
