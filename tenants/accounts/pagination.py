"""Paging of API lists, with a cap on the page size."""

from rest_framework.pagination import CursorPagination, PageNumberPagination

PAGE_SIZE = 50
MAX_PAGE_SIZE = 200


# --- Paging -------------------------------------------------------------------------------------
class PagePagination(PageNumberPagination):
    """``?page=&page_size=`` with at most 200 items a page."""

    page_size = PAGE_SIZE
    page_size_query_param = "page_size"
    max_page_size = MAX_PAGE_SIZE


class LedgerCursorPagination(CursorPagination):
    """Stable paging through the event ledger by (occurred_at, id)."""

    page_size = PAGE_SIZE
    page_size_query_param = "page_size"
    max_page_size = MAX_PAGE_SIZE
    ordering = ("occurred_at", "id")


class AuditCursorPagination(CursorPagination):
    """Stable paging through the audit trail, newest first."""

    page_size = PAGE_SIZE
    page_size_query_param = "page_size"
    max_page_size = MAX_PAGE_SIZE
    ordering = ("-occurred_at", "-id")


