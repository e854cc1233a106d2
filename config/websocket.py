"""The WebSocket application: origin check, tenant from Host and user from session, routes."""

from channels.routing import URLRouter
from channels.security.websocket import AllowedHostsOriginValidator

from counting.live.routing import websocket_urlpatterns
from tenants.asgi import TenantAuthMiddleware

websocket_application = AllowedHostsOriginValidator(
    TenantAuthMiddleware(URLRouter(websocket_urlpatterns))
)
