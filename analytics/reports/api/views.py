"""``/counts/export/`` and ``/occupancy/export/``: the series of ``/counts/`` and
``/occupancy/`` as a CSV, XLSX or PDF file (``?format=``), made while the request waits;
``/exports/`` (longer ranges, made by a task) and ``/report-schedules/``.

The query is the series endpoint's (same parameters, caps, quota, permissions and errors) and
the rows are its answer's rows (analytics/reports/tables.py), so the file's numbers equal the
API's row for row. Longer ranges (a year of hours) go through ``POST /exports/`` (a task).
"""

from __future__ import annotations

import tempfile
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from django.http import FileResponse, HttpResponseBase
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import exceptions, mixins, status, viewsets
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from analytics.api.views import CountsView, OccupancyView, SiteOccupancyView
from analytics.reports.api.renderers import FILE_RENDERERS
from analytics.reports.api.serializers import (
    ExportInputSerializer,
    ExportOutputSerializer,
    ReportScheduleInputSerializer,
    ReportScheduleOutputSerializer,
)
from analytics.reports.exports import export_create
from analytics.reports.models import Export, ReportSchedule
from analytics.reports.services import (
    report_schedule_create,
    report_schedule_delete,
    report_schedule_update,
)
from analytics.reports.tables import ExportTable, Kind, export_table
from analytics.reports.writers import CONTENT_TYPES, FORMATS, export_write
from cameras.models import Camera, Site
from counting.models import CountingLine, Zone
from tenants.rest.errors import ErrorSerializer
from tenants.rest.mixins import StrictQueryParamsMixin
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



class SiteOccupancyExportView(_ExportMixin, SiteOccupancyView):
    """``/site-occupancy/`` as a file: the same query parameters, checks and rows."""

    kind = "site_occupancy"

    @extend_schema(
        summary="Site occupancy per bucket as a CSV, XLSX or PDF file (the rows of "
                "/site-occupancy/)",
        parameters=[FORMAT_PARAM], responses=FILE_RESPONSES)
    def get(self, request: Request) -> HttpResponseBase:  # type: ignore[override]
        return self.export(request)


# --- Report schedules and exports made by a task ----------------------------------------------
DENIED = OpenApiResponse(ErrorSerializer, description="Not allowed for your role.")


def _require(user: Any, perm: str) -> None:
    if not user.has_perm(perm):
        raise exceptions.PermissionDenied(
            "Only Owners and Managers may schedule reports; ask an Owner of your organisation.")


def _schedule_values(data: dict[str, Any]) -> dict[str, Any]:
    """Input ids -> objects (unknown ids: an error on the field; visibility is the service's)."""
    values = dict(data)
    models_by_field = {"site": Site, "camera": Camera, "line": CountingLine, "zone": Zone}
    for field, model in models_by_field.items():
        if field not in values:
            continue
        pk = values[field]
        if pk is None:
            continue
        obj = model._default_manager.filter(pk=pk).first()
        if obj is None:
            raise exceptions.ValidationError({field: [f"{field.capitalize()} {pk} does not "
                                                      "exist."]})
        values[field] = obj
    return values


def _validation(exc: DjangoValidationError) -> exceptions.ValidationError:
    return exceptions.ValidationError(
        exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages})


@extend_schema_view(
    list=extend_schema(summary="Report schedules (Owner, Manager)"),
    retrieve=extend_schema(summary="One report schedule"),
    create=extend_schema(summary="Schedule a report (Owner, Manager)",
                         request=ReportScheduleInputSerializer,
                         responses={201: ReportScheduleOutputSerializer, 403: DENIED}),
    partial_update=extend_schema(summary="Change a report schedule (Owner, Manager)",
                                 request=ReportScheduleInputSerializer,
                                 responses={200: ReportScheduleOutputSerializer, 403: DENIED}),
    destroy=extend_schema(summary="Delete a report schedule (Owner, Manager)",
                          responses={204: None, 403: DENIED}),
)
class ReportScheduleViewSet(StrictQueryParamsMixin, mixins.ListModelMixin,
                            mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Reports e-mailed daily, weekly or monthly at a local time, covering the previous local
    period (docs/reports.md). Validated and audited by analytics/reports/services.py."""

    serializer_class = ReportScheduleOutputSerializer
    queryset = ReportSchedule.objects.none()
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self) -> QuerySet[ReportSchedule]:
        if not self.request.user.has_perm("analytics.view_reportschedule"):
            return ReportSchedule.objects.none()
        return ReportSchedule.objects.select_related("site").prefetch_related("sends")

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        _require(request.user, "analytics.add_reportschedule")
        data = ReportScheduleInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            schedule = report_schedule_create(actor=request.user,
                                              **_schedule_values(data.validated_data))
        except DjangoValidationError as exc:
            raise _validation(exc) from exc
        return Response(ReportScheduleOutputSerializer(schedule).data,
                        status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        schedule = self.get_object()
        _require(request.user, "analytics.change_reportschedule")
        data = ReportScheduleInputSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        try:
            schedule = report_schedule_update(actor=request.user, schedule=schedule,
                                              **_schedule_values(data.validated_data))
        except DjangoValidationError as exc:
            raise _validation(exc) from exc
        return Response(ReportScheduleOutputSerializer(schedule).data)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        schedule = self.get_object()
        _require(request.user, "analytics.delete_reportschedule")
        report_schedule_delete(actor=request.user, schedule=schedule)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema_view(
    list=extend_schema(summary="Your exports made by a task, newest first"),
    retrieve=extend_schema(summary="One export: status, progress and, once ready, its signed "
                                   "download link"),
    create=extend_schema(summary="Export a long range (a year of hours) as a task: poll the "
                                 "answer's URL for progress",
                         request=ExportInputSerializer,
                         responses={202: ExportOutputSerializer}),
)
class ExportViewSet(StrictQueryParamsMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                    viewsets.GenericViewSet):
    """Exports made by a task; each user sees their own. The download link is signed for this
    tenant and expires after ``REPORTS_EXPORT_TTL_S`` (docs/reports.md)."""

    serializer_class = ExportOutputSerializer
    queryset = Export.objects.none()
    lookup_value_regex = "[0-9a-f-]{36}"

    def get_queryset(self) -> QuerySet[Export]:
        return Export.objects.filter(created_by=self.request.user.pk)

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = ExportInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        export = export_create(user=request.user, kind=values["kind"], fmt=values["format"],
                               params=values["params"])
        return Response(ExportOutputSerializer(export, context={"request": request}).data,
                        status=status.HTTP_202_ACCEPTED)
