"""The one error shape of the API and the exception handler producing it.

Every error answers ``{"error": {"code": ..., "message": ..., "fields": {...}}}``: ``code`` is
a stable machine word (``invalid``, ``not_found``, ``permission_denied``...), ``message`` a
sentence for people, ``fields`` the messages per input field (empty when not about fields).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import ProtectedError, RestrictedError
from django.http import Http404, HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response


# --- Errors -------------------------------------------------------------------------------------
class ErrorDetailSerializer(serializers.Serializer):
    """The body of an error."""

    code = serializers.CharField(help_text="A stable machine-readable code, e.g. 'invalid'.")
    message = serializers.CharField(help_text="What went wrong, for people.")
    fields = serializers.DictField(  # type: ignore[assignment]
        child=serializers.ListField(child=serializers.CharField()),
        help_text="Messages per input field or query parameter; empty when not field-related.")


class ErrorSerializer(serializers.Serializer):
    """Every 4xx/5xx answer of the API has this shape."""

    error = ErrorDetailSerializer()


def _flatten(detail: Any) -> list[str]:
    if isinstance(detail, dict):
        return [m for value in detail.values() for m in _flatten(value)]
    if isinstance(detail, list):
        return [m for value in detail for m in _flatten(value)]
    return [str(detail)]


def _field_messages(detail: Any) -> dict[str, list[str]]:
    if isinstance(detail, dict):
        return {str(key): _flatten(value) for key, value in detail.items()}
    return {}


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler with Django's ValidationError as 400 and one error shape for everything."""
    if isinstance(exc, DjangoValidationError) and getattr(exc, "code", None) == "conflict":
        exc = ConflictError(" ".join(exc.messages))
    elif isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(
            detail=exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors":
                                                                         exc.messages})
    elif isinstance(exc, ProtectedError | RestrictedError):
        exc = ConflictError(
            "Other records still refer to this object (for example counted events): "
            "disable it instead of deleting it.")
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    from rest_framework.views import exception_handler  # here: views import our settings

    response = exception_handler(exc, context)
    if response is None or not isinstance(exc, exceptions.APIException):
        return response
    detail = exc.detail
    if isinstance(exc, exceptions.ValidationError):
        fields = _field_messages(detail)
        messages = _flatten(detail)
        if fields:
            message = messages[0] if len(messages) == 1 else "The input is not valid: see fields."
        else:
            message = messages[0] if messages else "The input is not valid."
        code = "invalid"
    else:
        fields = {}
        message = " ".join(_flatten(detail))
        code = exc.default_code if isinstance(exc.default_code, str) else "error"
        codes = exc.get_codes()
        if isinstance(codes, str):
            code = codes
    response.data = {"error": {"code": code, "message": message, "fields": fields}}
    return response


class LockedOutError(exceptions.APIException):
    """Too many wrong passwords: the account is locked for a while (django-axes)."""

    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    default_detail = "Too many failed attempts: this account is locked for a while."
    default_code = "locked_out"


class ConflictError(exceptions.APIException):
    """The object cannot be deleted or changed this way while other records refer to it."""

    status_code = status.HTTP_409_CONFLICT
    default_detail = "The object is in use."
    default_code = "conflict"


@csrf_exempt
def api_not_found(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
    """A JSON 404 for URLs under /api/ that match no endpoint."""
    return JsonResponse({"error": {"code": "not_found", "message": "No such API endpoint.",
                                   "fields": {}}}, status=404)
