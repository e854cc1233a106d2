"""OpenAPI generation: every operation documents the error shape for every error status."""

from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema

from tenants.rest.errors import ErrorSerializer

ERROR_RESPONSES = {
    "400": "Invalid input, unknown query parameter or malformed JSON.",
    "401": "Not authenticated, or an invalid/expired/revoked token.",
    "403": "Authenticated but not allowed to do this.",
    "404": "Not found, or not visible to you.",
    "405": "Method not allowed.",
    "406": "Not acceptable.",
    "409": "Conflict: the object is still referred to (e.g. by counted events).",
    "415": "Unsupported media type.",
    "429": "Too many requests: slow down (see Retry-After).",
}


class ApiAutoSchema(AutoSchema):
    """Adds the documented error shape for every error status to every operation."""

    extra_error_responses: dict[str, str] = {}

    def _get_response_bodies(self, direction: Any = "response") -> dict[str, Any]:
        responses = super()._get_response_bodies(direction)
        view_errors = getattr(self.view, "extra_error_responses", {})
        for code, description in {**ERROR_RESPONSES, **view_errors}.items():
            if code not in responses:
                response = self._get_response_for_code(ErrorSerializer, code,
                                                       direction=direction)
                response["description"] = description
                responses[code] = response
        return responses
