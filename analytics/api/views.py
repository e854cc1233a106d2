"""``/counts/`` and ``/occupancy/``: series over the rollups in the site's timezone.

A scope (site, camera, line, zone) the user may not view is a 404, like any object. A series
that could read more stored rows than the tenant's plan allows (``query_rows_quota``) is a 400
``query_too_large`` saying how to shrink it; one the database does not finish within
``SERIES_STATEMENT_TIMEOUT_S`` is a 503 ``query_timeout``.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from analytics.api.errors import QueryTimeoutError, QueryTooLargeError
from analytics.api.serializers import (
    CountSeriesSerializer,
    CountsQuerySerializer,
    LocalDateTimeField,
    OccupancyQuerySerializer,
    OccupancyResetInputSerializer,
    OccupancyResetOutputSerializer,
    OccupancySeriesSerializer,
    SiteOccupancyQuerySerializer,
    SiteOccupancySeriesSerializer,
    SitesTotalsQuerySerializer,
    SitesTotalsSerializer,
)
from analytics.footfall import site_footfall_sources
from analytics.quality import bucket_quality, with_quality
from analytics.series import (
    BUCKETS,
    CALENDAR_BUCKETS,
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
from cameras.selectors import camera_get_visible_to, site_get_visible_to, site_list_visible_to
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


_datetime = LocalDateTimeField().to_representation


def _count_points(points: list[Any]) -> list[dict[str, Any]]:
    """Count points as ``CountPointSerializer`` writes them.

    A bucket starts where the previous one ended (same instant, same offset, so the same text):
    its start reuses that text instead of formatting it again."""
    rows = []
    last: Any = None
    last_text = ""
    for p in points:
        start = (last_text if last is not None and p.start == last
                 and p.start.utcoffset() == last.utcoffset() else _datetime(p.start))
        last, last_text = p.end, _datetime(p.end)
        rows.append({"start": start, "end": last_text, "count_in": p.count_in,
                     "count_out": p.count_out, "coverage": p.coverage, "quality": p.quality,
                     "quality_notes": list(p.quality_notes)})
    return rows


class _SeriesView(StrictQueryParamsMixin, APIView):
    """A series endpoint: the default throttles plus the tenant's budget of series."""

    def get_throttles(self) -> list[Any]:
        return [*super().get_throttles(), TenantSeriesRateThrottle()]


class CountsView(_SeriesView):
    """In/out counts per minute, hour or day of a site, a camera or a line."""

    extra_query_params = frozenset({"site", "camera", "line", "from", "to", "bucket", "hours",
                                    "compare"})

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
            OpenApiParameter("compare", str, enum=["previous", "weekday"], description=(
                "Add the same series over the previous period, or one week earlier.")),
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
        if values.get("compare"):
            body["compare"] = self._comparison(values, site, sources, camera_ids, points, tz)
        results, body["results"] = body["results"], []
        compare = body.get("compare")
        if compare:
            earlier, compare["results"] = compare["results"], []
        data = CountSeriesSerializer(body).data
        # The buckets (up to ~1,100) are written directly: the same fields and formats as
        # CountPointSerializer (the documented shape), 5x cheaper than DRF's field machinery.
        data["results"] = _count_points(results)
        if compare:
            data["compare"]["results"] = _count_points(earlier)
        return Response(data)


    @staticmethod
    def _comparison(values: dict[str, Any], site: Any, sources: CountSources,
                    camera_ids: Any, points: list[Any], tz: ZoneInfo) -> dict[str, Any]:
        """The same series shifted back (local wall time, so hours stay hours across DST)."""
        first, last = points[0].start, points[-1].end
        local_first = first.replace(tzinfo=None)
        if values["compare"] == "weekday":
            shift = timedelta(days=7)
        else:  # the previous period: as many local days (or hours, minutes) just before
            span = last.replace(tzinfo=None) - local_first
            shift = timedelta(days=span.days) if values["bucket"] in CALENDAR_BUCKETS else span
            shift = shift or span
        start = (local_first - shift).replace(tzinfo=tz)
        end = start + (last - first) if values["bucket"] not in CALENDAR_BUCKETS else (
            (last.replace(tzinfo=None) - shift).replace(tzinfo=tz))
        windows = (opening_windows(opening_hours=site.opening_hours or {},
                                   site_tz=site.timezone, start=start, end=end)
                   if values["hours"] == "open" else None)
        earlier = _series(count_series, sources=sources, bucket=values["bucket"], start=start,
                          end=end, tz=tz, windows=windows, day_rollups=True)
        earlier = with_quality(earlier, bucket_quality(
            camera_ids=camera_ids, bounds=[(p.start, p.end) for p in earlier],
            line_ids=sources.lines + sources.lines_swapped,
            zone_ids=sources.zones + sources.zones_swapped))
        return {"type": values["compare"], "start": earlier[0].start, "end": earlier[-1].end,
                "results": earlier,
                "total": {"count_in": sum(p.count_in for p in earlier),
                          "count_out": sum(p.count_out for p in earlier)}}


class SitesTotalsView(_SeriesView):
    """Footfall of all the sites the caller may view, per local day, each site in its own
    timezone: day 2026-03-02 is Paris's 2 March plus Kolkata's 2 March."""

    extra_query_params = frozenset({"from", "to"})

    @extend_schema(
        summary="Footfall of all your sites per local day (each site's own day)",
        parameters=[
            OpenApiParameter("from", OpenApiTypes.DATE, required=True,
                             description="First local day (included)."),
            OpenApiParameter("to", OpenApiTypes.DATE, required=True,
                             description="Day after the last one (excluded)."),
        ],
        responses=SitesTotalsSerializer,
    )
    def get(self, request: Request) -> Response:
        query = SitesTotalsQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        first, stop = query.validated_data["start"], query.validated_data["end"]
        per_day: dict[date, list[int]] = {first + timedelta(days=i): [0, 0]
                                          for i in range((stop - first).days)}
        sites = list(site_list_visible_to(user=request.user).order_by("pk"))
        for site in sites:
            tz = _timezone(site.timezone)
            sources = site_footfall_sources(user=request.user, site=site).sources
            points = _series(count_series, sources=sources, bucket="day",
                             start=datetime.combine(first, time.min, tzinfo=tz),
                             end=datetime.combine(stop, time.min, tzinfo=tz), tz=tz,
                             day_rollups=True)
            for point in points:
                row = per_day.get(point.start.date())
                if row is not None:
                    row[0] += point.count_in
                    row[1] += point.count_out
        results = [{"day": day, "count_in": v[0], "count_out": v[1]}
                   for day, v in sorted(per_day.items())]
        return Response(SitesTotalsSerializer({
            "sites": [site.pk for site in sites], "results": results,
            "total": {"count_in": sum(r["count_in"] for r in results),
                      "count_out": sum(r["count_out"] for r in results)}}).data)


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
