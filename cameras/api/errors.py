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


class UpstreamImageTooLargeError(exceptions.APIException):
    """The camera's picture is above the snapshot pixel limit (refused before decoding)."""

    status_code = status.HTTP_502_BAD_GATEWAY
    default_detail = "The camera's picture is too large for a snapshot."
    default_code = "camera_image_too_large"


class SnapshotBusyError(exceptions.APIException):
    """Too many snapshots of this tenant at once: retry after ``wait`` seconds."""

    status_code: int = status.HTTP_429_TOO_MANY_REQUESTS
    default_detail = "Too many snapshots at once: retry in a few seconds."
    default_code = "snapshot_busy"

    def __init__(self, detail: str, *, wait: int) -> None:
        super().__init__(detail)
        self.wait = wait  # DRF's handler turns it into Retry-After


class SnapshotUnavailableError(SnapshotBusyError):
    """The web process takes as many snapshots as it may: retry after ``wait`` seconds."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "snapshot_unavailable"


class PictureNotShownError(exceptions.APIException):
    """The snapshot was taken but its people could not be blurred, so it is not sent."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = ("The picture could not be blurred for privacy, so it is not shown. "
                      "Try again later.")
    default_code = "picture_not_shown"
