"""API errors of the series endpoints: a query too large to answer, or one that ran too long.

They render in the API's one error shape through ``tenants.rest.errors.api_exception_handler``.
"""

from __future__ import annotations

from rest_framework import exceptions, status


class QueryTooLargeError(exceptions.APIException):
    """The series could read more rows than the tenant's plan allows in one query."""

    status_code = status.HTTP_400_BAD_REQUEST
    default_detail = ("This query is too large: shorten the range, use a larger bucket, or ask "
                      "for one camera or line instead of a site.")
    default_code = "query_too_large"


class QueryTimeoutError(exceptions.APIException):
    """The database did not answer the series in the allowed time."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = ("The query took too long and was stopped: try again shortly, or shorten "
                      "the range.")
    default_code = "query_timeout"
