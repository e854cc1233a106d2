"""ASGI entry point: HTTP through Django, WebSockets through Channels with the tenant resolved
from the Host header before anything else (see counting/live/).

Static files (the admin's, the portal's and the vendored libraries in static/vendor/) are served
by WhiteNoise, the first middleware, in every environment: daphne alone is enough to run the
portal (docs/portal.md).
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter  # noqa: E402

from cameras.api.admission import SnapshotAdmission  # noqa: E402
from config.websocket import websocket_application  # noqa: E402

# Snapshot requests are admitted (or refused at once) before Django gives them a thread.
application = ProtocolTypeRouter({"http": SnapshotAdmission(django_asgi_app),
                                  "websocket": websocket_application})
