"""Refuses every request to a suspended tenant's domain (``Tenant.is_active`` is False)."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse


class SuspendedTenantMiddleware:
    """Answers 403 with an explanation on a suspended tenant's domain (health stays open)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        tenant = getattr(request, "tenant", None)
        if tenant is not None and not getattr(tenant, "is_active", True) and (
            request.path != "/healthz"
        ):
            return JsonResponse(
                {"error": {"code": "tenant_suspended",
                           "message": "This organisation's account is suspended. Contact your "
                                      "platform administrator to reactivate it."}},
                status=403)
        return self.get_response(request)
