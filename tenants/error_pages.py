"""The 403 and 404 handlers of both URL confs, run against the request's tenant schema.

Under ASGI Django renders the response for an exception in a worker thread of its own
(``sync_to_async(response_for_exception, thread_sensitive=False)``), whose database connection
is still on the public schema: the page's layout then reads the signed-in user's permissions
from the wrong schema and the 403 or 404 becomes a 500. These handlers put that connection on
the request's tenant while the page renders and put it back afterwards. The 500 page needs no
database (templates/500.html is standalone) and keeps Django's handler.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.views import defaults

from tenants.db import connection


@contextmanager
def _on_request_tenant(request: HttpRequest) -> Iterator[None]:
    tenant = getattr(request, "tenant", None)
    previous = getattr(connection, "tenant", None)
    if tenant is None or getattr(previous, "schema_name", None) == tenant.schema_name:
        yield
        return
    connection.set_tenant(tenant)
    try:
        yield
    finally:
        if previous is not None:
            connection.set_tenant(previous)
        else:
            connection.set_schema_to_public()


def _handler(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    def handle(request: HttpRequest, exception: Any = None) -> HttpResponse:
        with _on_request_tenant(request):
            response = view(request, exception)
            # Rendered here, inside the tenant's schema (TemplateResponse would render later).
            if hasattr(response, "render"):
                response.render()
            return response

    handle.__name__ = view.__name__
    handle.__doc__ = f"Django's {view.__name__} on the request's tenant schema."
    return handle


page_not_found = _handler(defaults.page_not_found)
permission_denied = _handler(defaults.permission_denied)
