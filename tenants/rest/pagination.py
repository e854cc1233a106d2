"""Paging of API lists, with a cap on the page size; a page size that is not a positive whole
number is a 400 and a page that is not one is a 404 (neither is silently replaced by the
default)."""

from __future__ import annotations

from typing import Any

from rest_framework import exceptions
from rest_framework.pagination import CursorPagination, PageNumberPagination
from rest_framework.request import Request

PAGE_SIZE = 50
MAX_PAGE_SIZE = 200


class _StrictPageSize:
    """Rejects malformed page sizes instead of ignoring them."""

    page_size_query_param: str | None = "page_size"

    def get_page_size(self, request: Request) -> Any:
        name = self.page_size_query_param
        if name and name in request.query_params:
            raw = request.query_params[name]
            if not raw.isdigit() or int(raw) < 1:
                raise exceptions.ValidationError(
                    {name: [f"A whole number from 1 (at most {MAX_PAGE_SIZE} are returned)."]})
        return super().get_page_size(request)  # type: ignore[misc]


class PagePagination(_StrictPageSize, PageNumberPagination):
    """``?page=&page_size=`` with at most 200 items a page."""

    page_size = PAGE_SIZE
    max_page_size = MAX_PAGE_SIZE

    def get_page_number(self, request: Request, paginator: Any) -> Any:
        # DRF reads an empty ``?page=`` as page 1; a malformed number (``?page=x``) is already
        # a 404 "Invalid page", so an empty one is refused the same way.
        if request.query_params.get(self.page_query_param) == "":
            raise exceptions.NotFound("Invalid page: give a whole page number from 1, or leave "
                                      "out 'page' for the first page.")
        return super().get_page_number(request, paginator)


class LedgerCursorPagination(_StrictPageSize, CursorPagination):
    """Stable paging through the event ledger by (occurred_at, id)."""

    page_size = PAGE_SIZE
    max_page_size = MAX_PAGE_SIZE
    ordering = ("occurred_at", "id")


class AuditCursorPagination(_StrictPageSize, CursorPagination):
    """Stable paging through the audit trail, newest first."""

    page_size = PAGE_SIZE
    max_page_size = MAX_PAGE_SIZE
    ordering = ("-occurred_at", "-id")
