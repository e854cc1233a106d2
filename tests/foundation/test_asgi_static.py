"""make run serves the admin's static files through daphne (DEBUG only)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest


async def _get(app: Any, path: str) -> int:
    sent: list[dict[str, Any]] = []
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": "GET", "scheme": "http", "path": path, "raw_path": path.encode(),
             "query_string": b"", "root_path": "", "headers": [(b"host", b"localhost")],
             "server": ("localhost", 8000), "client": ("127.0.0.1", 5000)}

    requested = False

    async def receive() -> dict[str, Any]:
        nonlocal requested
        if not requested:
            requested = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await asyncio.Event().wait()  # the client never disconnects; Django cancels this
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return int(next(m["status"] for m in sent if m["type"] == "http.response.start"))


@pytest.mark.django_db
def test_admin_css_is_served_with_debug_only(settings: Any) -> None:
    from config.asgi import http_application

    settings.DEBUG = True  # the static view refuses to serve otherwise
    assert asyncio.run(_get(http_application(True), "/static/admin/css/base.css")) == 200
    settings.DEBUG = False
    assert asyncio.run(_get(http_application(False), "/static/admin/css/base.css")) == 404
