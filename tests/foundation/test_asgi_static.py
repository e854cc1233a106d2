"""daphne serves the admin's and the portal's static files itself (WhiteNoise), DEBUG or not."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest


async def _get(app: Any, path: str) -> tuple[int, dict[bytes, bytes]]:
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
    start = next(m for m in sent if m["type"] == "http.response.start")
    return int(start["status"]), {k.lower(): v for k, v in start.get("headers", [])}


@pytest.mark.django_db
@pytest.mark.parametrize(("path", "content_type"), [
    ("/static/admin/css/base.css", b"text/css"),
    ("/static/vendor/htmx.min.js", b"text/javascript"),
    ("/static/vendor/chart.umd.min.js", b"text/javascript"),
])
def test_static_files_are_served_by_the_asgi_app(path: str, content_type: bytes) -> None:
    from config.asgi import application

    status, headers = asyncio.run(_get(application, path))
    assert status == 200
    assert headers[b"content-type"].split(b";")[0] == content_type


@pytest.mark.django_db
def test_a_missing_static_file_is_a_404() -> None:
    from config.asgi import application

    status, _ = asyncio.run(_get(application, "/static/vendor/no-such-file.js"))
    assert status == 404
