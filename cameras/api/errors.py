"""API errors of the cameras' endpoints: a camera that cannot be reached or does not answer.

They render in the API's one error shape through ``tenants.rest.errors.api_exception_handler``.
"""

from __future__ import annotations

from rest_framework import exceptions, status


class UpstreamError(exceptions.APIException):
    """An upstream (a camera) could not be reached."""

    status_code = status.HTTP_502_BAD_GATEWAY
    default_detail = "The camera could not be reached."
    default_code = "camera_unreachable"


class UpstreamTimeoutError(exceptions.APIException):
    """An upstream (a camera) did not answer in time."""

    status_code = status.HTTP_504_GATEWAY_TIMEOUT
    default_detail = "The camera did not answer in time."
    default_code = "camera_timeout"
