"""ASGI entry point: HTTP through Django, WebSockets through Channels with the tenant resolved
from the Host header before anything else (see counting/live/).

Static files (the admin's, the portal's and the vendored libraries in static/vendor/) are served
by WhiteNoise, the first middleware, in every environment: daphne alone is enough to run the
portal (docs/portal.md).
"""

import os
import sys

from django.conf import settings
from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
django_asgi_app = get_asgi_application()
# Shorter waits for the interpreter lock between the event loop and the request threads
# (settings.WEB_SWITCH_INTERVAL_S says why).
sys.setswitchinterval(settings.WEB_SWITCH_INTERVAL_S)

from channels.routing import ProtocolTypeRouter  # noqa: E402

from cameras.api.admission import SnapshotAdmission  # noqa: E402
from config.websocket import websocket_application  # noqa: E402

# Snapshot requests are admitted (or refused at once) before Django gives them a thread.
application = ProtocolTypeRouter({"http": SnapshotAdmission(django_asgi_app),
                                  "websocket": websocket_application})
