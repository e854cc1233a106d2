"""Admission of snapshot requests before anything touches the database.

Every request uses a database connection for a moment (the tenant's domain, the token, the
permission check). Hundreds of snapshot requests at once, on a busy machine, each hold one
for that moment, and PostgreSQL refuses connections beyond ``max_connections``: for every
tenant. So snapshot requests are admitted first, by the Host they are sent to (one tenant) and
per process, with counting semaphores and no waiting; beyond the bounds the answer is
immediate (429 per Host, 503 per process, with Retry-After) and costs no connection.

The bounds (``API_SNAPSHOT_INFLIGHT_PER_HOST``, ``API_SNAPSHOT_INFLIGHT``) count requests in
flight, so the database connections snapshot requests can hold at once are at most
``API_SNAPSHOT_INFLIGHT`` per web process. The finer limits (grabs per tenant and per process,
the cache) are :mod:`cameras.api.snapshot_gate`'s.

Two doors, one count: :class:`SnapshotAdmission` wraps the ASGI application (daphne), where a
refusal costs no thread (Django runs every synchronous request in a thread of its own), and
:class:`SnapshotAdmissionMiddleware` does the same inside Django for requests that did not come
through it (WSGI, the test client); a request admitted by the first is not counted again.
"""

from __future__ import annotations

import json
import math
import re
import threading
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse

_SNAPSHOT_PATH = re.compile(r"^/api/v1/cameras/[^/]+/snapshot/?$")
_ADMITTED = "peoplecount.snapshot_admitted"


class _Counters:
    """In-flight counts per Host and for the process."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.total = 0
        self.per_host: dict[str, int] = {}

    def enter(self, host: str, per_host: int, total: int) -> str | None:
        """Count the request in, or return the scope ("host", "process") that is full."""
        with self.lock:
            if self.per_host.get(host, 0) >= per_host:
                return "host"
            if self.total >= total:
                return "process"
            self.per_host[host] = self.per_host.get(host, 0) + 1
            self.total += 1
            return None

    def leave(self, host: str) -> None:
        with self.lock:
            self.total -= 1
            left = self.per_host.get(host, 1) - 1
            if left:
                self.per_host[host] = left
            else:
                self.per_host.pop(host, None)


_counters = _Counters()


def _refusal(full: str) -> tuple[int, bytes, str]:
    """Status, JSON body (the API's error shape) and Retry-After of a refused request."""
    if full == "host":
        status, code = 429, "snapshot_busy"
        message = "Too many snapshot requests for this account at once: retry in a few seconds."
    else:
        status, code = 503, "snapshot_unavailable"
        message = "The service answers many snapshot requests right now: retry in a few seconds."
    body = json.dumps({"error": {"code": code, "message": message, "fields": {}}}).encode()
    # A slot frees when an admitted request ends, at the latest after one grab's deadline: a
    # client that honours Retry-After comes back then, not every second (at 150 clients, one
    # second meant ~100 refusals a second, the load measured in benchmarks/bench_snapshots.py).
    return status, body, str(max(1, math.ceil(settings.API_SNAPSHOT_TIMEOUT_S)))


def _enter(host: str) -> str | None:
    return _counters.enter(host.lower(), settings.API_SNAPSHOT_INFLIGHT_PER_HOST,
                           settings.API_SNAPSHOT_INFLIGHT)


Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


class SnapshotAdmission:
    """ASGI wrapper: admits snapshot requests before Django (and its thread) sees them."""

    def __init__(self, app: Any) -> None:  # an ASGI application
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("type") != "http" or not _SNAPSHOT_PATH.match(scope.get("path", "")):
            await self.app(scope, receive, send)
            return
        host = ""
        for name, value in scope.get("headers", []):
            if name == b"host":
                host = value.decode("latin-1")
                break
        full = _enter(host)
        if full is not None:
            status, body, retry_after = _refusal(full)
            await send({"type": "http.response.start", "status": status, "headers": [
                (b"content-type", b"application/json"), (b"retry-after", retry_after.encode()),
                (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})
            return
        try:
            await self.app({**scope, _ADMITTED: True}, receive, send)
        finally:
            _counters.leave(host.lower())


class SnapshotAdmissionMiddleware:
    """Bounds snapshot requests in flight per Host and per process, before the tenant lookup
    (put it before the tenant middleware)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if (not _SNAPSHOT_PATH.match(request.path_info)
                or getattr(request, "scope", {}).get(_ADMITTED)):
            return self.get_response(request)
        host = request.META.get("HTTP_HOST", "")
        full = _enter(host)
        if full is not None:
            status, body, retry_after = _refusal(full)
            response = HttpResponse(body, status=status, content_type="application/json")
            response["Retry-After"] = retry_after
            return response
        try:
            return self.get_response(request)
        finally:
            _counters.leave(host.lower())
