"""ASGI entry point: HTTP through Django, WebSockets through Channels with the tenant resolved
from the Host header before anything else (see counting/live/).

With DEBUG (``make run``'s local settings) the HTTP side also serves static files (the admin's
CSS and JavaScript) from the apps, as ``runserver`` does; daphne alone does not. Production
serves ``collectstatic``'s output from the web server in front.
"""

import os
from typing import Any

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter  # noqa: E402
from django.conf import settings  # noqa: E402
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler  # noqa: E402

from config.websocket import websocket_application  # noqa: E402


def http_application(debug: bool) -> Any:
    """Django's ASGI app, serving static files too when ``debug``."""
    return ASGIStaticFilesHandler(django_asgi_app) if debug else django_asgi_app


application = ProtocolTypeRouter(
    {"http": http_application(settings.DEBUG), "websocket": websocket_application}
)
