"""URLs of the REST API on a tenant's domain: ``/api/v1/``, ``/api/schema/``, ``/api/docs/``.

The documentation page's assets come from the installed drf-spectacular-sidecar package and are
served here, so the page works without any CDN.
"""

from __future__ import annotations

from pathlib import Path

import drf_spectacular_sidecar
from django.urls import include, path, re_path
from django.views.static import serve
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter

from analytics.alerts.api.views import (
    AlertRuleViewSet,
    AlertViewSet,
    DeliveryViewSet,
    WebhookEndpointViewSet,
)
from analytics.api.views import (
    CountsView,
    OccupancyView,
    SiteOccupancyResetView,
    SiteOccupancyView,
    SitesTotalsView,
)
from analytics.reports.api.views import (
    CountsExportView,
    ExportViewSet,
    OccupancyExportView,
    ReportScheduleViewSet,
    SiteOccupancyExportView,
)
from audit.api.views import AuditEventViewSet
from cameras.api.object_permissions import ObjectPermissionRevokeView, ObjectPermissionView
from cameras.api.views import CameraViewSet, SiteViewSet
from counting.api.detector_models import DetectorModelViewSet
from counting.api.views import (
    CameraHealthViewSet,
    CountEventViewSet,
    CountingLineViewSet,
    ZoneViewSet,
)
from tenants.accounts.api.views import (
    MeView,
    PasswordChangeView,
    RoleListView,
    TokenViewSet,
    UserViewSet,
)
from tenants.rest.errors import api_not_found

SIDECAR_STATIC = (
    Path(drf_spectacular_sidecar.__file__).parent / "static" / "drf_spectacular_sidecar"
)

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("sites", SiteViewSet, basename="site")
router.register("cameras", CameraViewSet, basename="camera")
# /cameras/{id}/health/ is served by counting, which owns the health rows.
router.register("cameras", CameraHealthViewSet, basename="camera-health")
router.register("lines", CountingLineViewSet, basename="line")
router.register("zones", ZoneViewSet, basename="zone")
router.register("detector-models", DetectorModelViewSet, basename="detector-model")
router.register("events", CountEventViewSet, basename="event")
router.register("audit", AuditEventViewSet, basename="audit")
router.register("tokens", TokenViewSet, basename="token")
router.register("users", UserViewSet, basename="user")
router.register("alert-rules", AlertRuleViewSet, basename="alert-rule")
router.register("alerts", AlertViewSet, basename="alert")
router.register("webhook-endpoints", WebhookEndpointViewSet, basename="webhook-endpoint")
router.register("alert-deliveries", DeliveryViewSet, basename="alert-delivery")
router.register("report-schedules", ReportScheduleViewSet, basename="report-schedule")
router.register("exports", ExportViewSet, basename="export")

v1 = [
    path("me/", MeView.as_view(), name="me"),
    path("me/password/", PasswordChangeView.as_view(), name="me-password"),
    path("counts/", CountsView.as_view(), name="counts"),
    path("counts/export/", CountsExportView.as_view(), name="counts-export"),
    path("occupancy/export/", OccupancyExportView.as_view(), name="occupancy-export"),
    path("occupancy/", OccupancyView.as_view(), name="occupancy"),
    path("site-occupancy/", SiteOccupancyView.as_view(), name="site-occupancy"),
    path("site-occupancy/export/", SiteOccupancyExportView.as_view(),
         name="site-occupancy-export"),
    path("counts/sites/", SitesTotalsView.as_view(), name="counts-sites"),
    path("site-occupancy/reset/", SiteOccupancyResetView.as_view(),
         name="site-occupancy-reset"),
    path("roles/", RoleListView.as_view(), name="roles"),
    path("object-permissions/", ObjectPermissionView.as_view(), name="object-permissions"),
    path("object-permissions/revoke/", ObjectPermissionRevokeView.as_view(),
         name="object-permissions-revoke"),
    *router.urls,
]

urlpatterns = [
    path("v1/", include((v1, "api"), namespace="api")),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("docs/redoc/", SpectacularRedocView.as_view(url_name="api-schema"), name="api-redoc"),
    re_path(r"^docs/assets/(?P<path>(swagger-ui-dist|redoc)/[\w./-]+)$", serve,
            {"document_root": str(SIDECAR_STATIC)}, name="api-docs-assets"),
    # Anything else under /api/ is a JSON 404, like every other API error.
    re_path(r"^.*$", api_not_found, name="api-not-found"),
]
