"""Carries the request's actor, client IP and request id to services and logs."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from audit.client_ip import client_ip
from audit.context import audit_context

__all__ = ["AuditContextMiddleware", "client_ip", "request_id_of"]

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def request_id_of(request: HttpRequest) -> str:
    incoming = request.headers.get("X-Request-ID", "")
    return incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex


class AuditContextMiddleware:
    """Sets the audit context for the request and echoes ``X-Request-ID`` in the response."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = request_id_of(request)
        request.request_id = request_id  # type: ignore[attr-defined]
        user = getattr(request, "user", None)
        actor = user if user is not None and user.is_authenticated else None
        with audit_context(actor=actor, ip=client_ip(request), request_id=request_id):
            response = self.get_response(request)
        response["X-Request-ID"] = request_id
        return response
