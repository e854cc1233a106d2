"""``/counts/export/`` and ``/occupancy/export/``: the series of ``/counts/`` and
``/occupancy/`` as a CSV, XLSX or PDF file (``?format=``), made while the request waits.

The query is the series endpoint's (same parameters, caps, quota, permissions and errors) and
the rows are its answer's rows (analytics/reports/tables.py), so the file's numbers equal the
API's row for row. Longer ranges (a year of hours) go through ``POST /exports/`` (a task).
"""

from __future__ import annotations

import tempfile
from typing import Any

from django.http import FileResponse, HttpResponseBase
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from analytics.api.views import CountsView, OccupancyView
from analytics.reports.api.renderers import FILE_RENDERERS
from analytics.reports.tables import ExportTable, Kind, export_table
from analytics.reports.writers import CONTENT_TYPES, FORMATS, export_write
from tenants.rest.schema import ApiAutoSchema

FORMAT_PARAM = OpenApiParameter(
    "format", str, enum=list(FORMATS),
    description="File format (default csv): csv (one row per bucket, the answer's fields as "
                "columns), xlsx (a Data and an About sheet) or pdf (site, range, timezone, a "
                "chart and the table).")
FILE_RESPONSES = {
    (200, "text/csv"): OpenApiResponse(OpenApiTypes.BINARY, description="The CSV file."),
    (200, CONTENT_TYPES["xlsx"]): OpenApiResponse(OpenApiTypes.BINARY,
                                                  description="The XLSX workbook."),
    (200, "application/pdf"): OpenApiResponse(OpenApiTypes.BINARY, description="The PDF."),
}


def file_response(table: ExportTable, fmt: str) -> FileResponse:
    """Write the table to a temporary file (spooled in memory up to 1 MB) and answer it."""
    out = tempfile.SpooledTemporaryFile(max_size=1 << 20)  # noqa: SIM115 (FileResponse closes)
    export_write(table, fmt, out)  # type: ignore[arg-type]
    out.seek(0)
    return FileResponse(out, as_attachment=True, filename=table.filename(fmt),
                        content_type=CONTENT_TYPES[fmt])


class FileAutoSchema(ApiAutoSchema):
    """Operations that answer files: their errors are documented (and sent) as JSON."""

    def _get_response_for_code(self, serializer: Any, status_code: Any, media_types: Any = None,
                               direction: Any = "response") -> Any:
        if str(status_code).startswith(("4", "5")):
            media_types = ["application/json"]
        return super()._get_response_for_code(serializer, status_code, media_types, direction)


class _ExportMixin:
    """A series view answering its series as a file; errors stay the API's JSON errors."""

    renderer_classes: Any = FILE_RENDERERS
    schema: Any = FileAutoSchema()
    kind: Kind = "counts"

    def finalize_response(self, request: Request, response: Any, *args: Any,
                          **kwargs: Any) -> Any:
        if isinstance(response, Response):  # an error: the API's JSON error shape
            request.accepted_renderer = JSONRenderer()
            request.accepted_media_type = "application/json"
        return super().finalize_response(request, response, *args, **kwargs)  # type: ignore[misc]

    def export(self, request: Request) -> HttpResponseBase:
        fmt = getattr(request.accepted_renderer, "format", "csv")
        table = export_table(kind=self.kind, user=request.user,
                             params=request.query_params.dict())
        return file_response(table, fmt)


class CountsExportView(_ExportMixin, CountsView):
    """``/counts/`` as a file: the same query parameters, checks and rows."""

    @extend_schema(
        summary="Counts per bucket as a CSV, XLSX or PDF file (the rows of /counts/)",
        parameters=[FORMAT_PARAM], responses=FILE_RESPONSES)
    def get(self, request: Request) -> HttpResponseBase:  # type: ignore[override]
        return self.export(request)


class OccupancyExportView(_ExportMixin, OccupancyView):
    """``/occupancy/`` as a file: the same query parameters, checks and rows."""

    kind = "occupancy"

    @extend_schema(
        summary="Zone occupancy per bucket as a CSV, XLSX or PDF file (the rows of /occupancy/)",
        parameters=[FORMAT_PARAM], responses=FILE_RESPONSES)
    def get(self, request: Request) -> HttpResponseBase:  # type: ignore[override]
        return self.export(request)
