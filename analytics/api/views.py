"""``/counts/`` and ``/occupancy/``: series over the rollups in the site's timezone.

A scope (site, camera, line, zone) the user may not view is a 404, like any object. A series
that could read more stored rows than the tenant's plan allows (``query_rows_quota``) is a 400
``query_too_large`` saying how to shrink it; one the database does not finish within
``SERIES_STATEMENT_TIMEOUT_S`` is a 503 ``query_timeout``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from analytics.api.errors import QueryTimeoutError, QueryTooLargeError
from analytics.api.serializers import (
    CountSeriesSerializer,
    CountsQuerySerializer,
    OccupancyQuerySerializer,
    OccupancyResetInputSerializer,
    OccupancyResetOutputSerializer,
    OccupancySeriesSerializer,
    SiteOccupancyQuerySerializer,
    SiteOccupancySeriesSerializer,
)
from analytics.footfall import site_footfall_sources
from analytics.quality import bucket_quality, with_quality
from analytics.series import (
    BUCKETS,
    DWELL_BINS,
    CountSources,
    SeriesRangeError,
    SeriesTimeoutError,
    SeriesTooLargeError,
    count_series,
    zone_occupancy_series,
)
from analytics.site_occupancy import site_occupancy_reset, site_occupancy_series
from cameras.local_time import opening_windows
from cameras.selectors import camera_get_visible_to, site_get_visible_to
from counting.selectors import (
    counting_line_get_visible_to,
    counting_line_list_visible_to,
    zone_get_visible_to,
)
from tenants.db import connection
from tenants.rest.mixins import StrictQueryParamsMixin
from tenants.rest.throttling import TenantSeriesRateThrottle

WINDOW_PARAMS = [
    OpenApiParameter("from", str, required=True, description="Start (inclusive), ISO 8601 "
                     "date-time; without an offset it is read in the site's timezone."),
    OpenApiParameter("to", str, required=True, description="End (exclusive), ISO 8601."),
    OpenApiParameter("bucket", str, enum=list(BUCKETS), description=(
        "Bucket size (default hour); week starts on Monday, month on the 1st, both at local "
        "midnight. Ranges: minute <= 2 days, hour <= 93 days, day, week and month <= 1098 "
        "days.")),
]


def _aware(value: datetime, tz: ZoneInfo) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=tz)


def _timezone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def _limits() -> dict[str, int | None]:
    """The current tenant's row quota per query and the series' statement timeout."""
    tenant = getattr(connection, "tenant", None)
    quota = getattr(tenant, "quota", None)
    return {"max_rows": quota("query_rows_quota") if callable(quota) else None,
            "timeout_ms": int(settings.SERIES_STATEMENT_TIMEOUT_S * 1000) or None}


def _series(function: Any, **kwargs: Any) -> Any:
    """Run a series function; range, size and time errors become API errors."""
    try:
        return function(**kwargs, **_limits())
    except SeriesRangeError as exc:
        raise exceptions.ValidationError({exc.field: [str(exc)]}) from exc
    except SeriesTooLargeError as exc:
        raise QueryTooLargeError(str(exc)) from exc
    except SeriesTimeoutError as exc:
        raise QueryTimeoutError(str(exc)) from exc


class _SeriesView(StrictQueryParamsMixin, APIView):
    """A series endpoint: the default throttles plus the tenant's budget of series."""

    def get_throttles(self) -> list[Any]:
        return [*super().get_throttles(), TenantSeriesRateThrottle()]


class CountsView(_SeriesView):
    """In/out counts per minute, hour or day of a site, a camera or a line."""

    extra_query_params = frozenset({"site", "camera", "line", "from", "to", "bucket", "hours"})

    @extend_schema(
        summary="Counts per bucket in the site's timezone (empty buckets are zero)",
        parameters=[
            OpenApiParameter("site", int, description=(
                "A site: its footfall from the lines and zones marked as entrances (each in "
                "its entering direction), or all lines of its cameras when none is marked.")),
            OpenApiParameter("camera", int, description="A camera (all its lines)."),
            OpenApiParameter("line", int, description="One counting line."),
            *WINDOW_PARAMS,
            OpenApiParameter("hours", str, enum=["all", "open"], description=(
                "open: only what happened during the site's opening hours.")),
        ],
        responses=CountSeriesSerializer,
    )
    def get(self, request: Request) -> Response:
        query = CountsQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        values = query.validated_data
        user = request.user
        footfall = None
        if "site" in values:
            site = site_get_visible_to(user=user, site_id=values["site"])
            if site is None:
                raise exceptions.NotFound("No such site.")
            footfall = site_footfall_sources(user=user, site=site)
            sources = footfall.sources
            scope, camera_ids = {"type": "site", "id": site.pk}, footfall.camera_ids
        elif "camera" in values:
            camera = camera_get_visible_to(user=user, camera_id=values["camera"])
            if camera is None:
                raise exceptions.NotFound("No such camera.")
            sources = CountSources(lines=tuple(
                counting_line_list_visible_to(user=user, camera_id=camera.pk)
                .values_list("pk", flat=True)))
            scope, site = {"type": "camera", "id": camera.pk}, camera.site
            camera_ids = (camera.pk,)
        else:
            line = counting_line_get_visible_to(user=user, line_id=values["line"])
            if line is None:
                raise exceptions.NotFound("No such line.")
            sources = CountSources(lines=(line.pk,))
            scope, site = {"type": "line", "id": line.pk}, line.camera.site
            camera_ids = (line.camera_id,)
        tz_name = site.timezone
        tz = _timezone(tz_name)
        start, end = _aware(values["start"], tz), _aware(values["end"], tz)
        windows = (opening_windows(opening_hours=site.opening_hours or {}, site_tz=tz_name,
                                   start=start, end=end)
                   if values["hours"] == "open" else None)
        points = _series(count_series, sources=sources, bucket=values["bucket"], start=start,
                         end=end, tz=tz, windows=windows, day_rollups=True)
        points = with_quality(points, bucket_quality(
            camera_ids=camera_ids, bounds=[(p.start, p.end) for p in points],
            line_ids=sources.lines + sources.lines_swapped,
            zone_ids=sources.zones + sources.zones_swapped))
        body: dict[str, Any] = {
            "scope": scope, "timezone": tz_name, "bucket": values["bucket"],
            "hours": values["hours"],
            "start": points[0].start, "end": points[-1].end, "results": points,
            "total": {"count_in": sum(p.count_in for p in points),
                      "count_out": sum(p.count_out for p in points)},
        }
        if footfall is not None:
            body["footfall"] = {"basis": footfall.basis, "entrances": list(footfall.entrances)}
        return Response(CountSeriesSerializer(body).data)


class OccupancyView(_SeriesView):
    """Occupancy of a zone per minute, hour or day."""

    extra_query_params = frozenset({"zone", "from", "to", "bucket"})

    @extend_schema(
        summary="Zone occupancy per bucket in the site's timezone (empty buckets are zero)",
        parameters=[OpenApiParameter("zone", int, required=True), *WINDOW_PARAMS],
        responses=OccupancySeriesSerializer,
    )
    def get(self, request: Request) -> Response:
        query = OccupancyQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        values = query.validated_data
        zone = zone_get_visible_to(user=request.user, zone_id=values["zone"])
        if zone is None:
            raise exceptions.NotFound("No such zone.")
        tz_name = zone.camera.site.timezone
        tz = _timezone(tz_name)
        points = _series(zone_occupancy_series, zone_ids=[zone.pk], bucket=values["bucket"],
                         start=_aware(values["start"], tz), end=_aware(values["end"], tz),
                         tz=tz)
        points = with_quality(points, bucket_quality(
            camera_ids=[zone.camera_id], bounds=[(p.start, p.end) for p in points],
            zone_ids=[zone.pk]))
        body = {"scope": {"type": "zone", "id": zone.pk}, "timezone": tz_name,
                "dwell_bins": list(DWELL_BINS),
                "bucket": values["bucket"], "start": points[0].start, "end": points[-1].end,
                "results": points}
        return Response(OccupancySeriesSerializer(body).data)


class SiteOccupancyView(_SeriesView):
    """A site's occupancy from its entrances, never below zero, reset at closing time."""

    extra_query_params = frozenset({"site", "from", "to", "bucket"})

    @extend_schema(
        summary="Site occupancy per bucket (entrances in minus out, never below zero, reset at "
                "closing time and on demand) with the resets of the range",
        parameters=[OpenApiParameter("site", int, required=True), *WINDOW_PARAMS],
        responses=SiteOccupancySeriesSerializer,
    )
    def get(self, request: Request) -> Response:
        query = SiteOccupancyQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        values = query.validated_data
        site = site_get_visible_to(user=request.user, site_id=values["site"])
        if site is None:
            raise exceptions.NotFound("No such site.")
        footfall = site_footfall_sources(user=request.user, site=site)
        tz = _timezone(site.timezone)
        series = _series(site_occupancy_series, site=site, sources=footfall.sources,
                         bucket=values["bucket"], start=_aware(values["start"], tz),
                         end=_aware(values["end"], tz))
        points = with_quality(series.points, bucket_quality(
            camera_ids=footfall.camera_ids, bounds=[(p.start, p.end) for p in series.points],
            line_ids=footfall.sources.lines + footfall.sources.lines_swapped,
            zone_ids=footfall.sources.zones + footfall.sources.zones_swapped))
        body = {"scope": {"type": "site", "id": site.pk}, "timezone": site.timezone,
                "bucket": values["bucket"], "start": points[0].start, "end": points[-1].end,
                "current": series.current, "results": points,
                "footfall": {"basis": footfall.basis, "entrances": list(footfall.entrances)},
                "resets": series.resets}
        return Response(SiteOccupancySeriesSerializer(body).data)


class SiteOccupancyResetView(StrictQueryParamsMixin, APIView):
    """Reset a site's occupancy to zero now (Owner, Manager: the reset permission)."""

    @extend_schema(summary="Reset a site's occupancy to zero now (audited, recorded with what "
                           "it removed)",
                   request=OccupancyResetInputSerializer,
                   responses={201: OccupancyResetOutputSerializer})
    def post(self, request: Request) -> Response:
        data = OccupancyResetInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        site = site_get_visible_to(user=request.user, site_id=data.validated_data["site"])
        if site is None:
            raise exceptions.NotFound("No such site.")
        footfall = site_footfall_sources(user=request.user, site=site)
        try:
            reset = site_occupancy_reset(actor=request.user, site=site,
                                         sources=footfall.sources,
                                         reason=data.validated_data.get("reason", ""))
        except DjangoPermissionDenied as exc:
            raise exceptions.PermissionDenied(str(exc)) from exc
        return Response(OccupancyResetOutputSerializer(reset).data, status=201)
