"""Endpoints of counting lines, zones, camera health and the event ledger.

Lines, zones, health and events of a camera are visible with view on the camera; writing lines
and zones needs change on the camera. Writes go through ``counting.services`` (audited).
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import exceptions, mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from cameras.models import Camera
from cameras.selectors import camera_get_visible_to, camera_list_visible_to, user_can
from counting.api.filters import CountEventFilter, LineFilter, ZoneFilter
from counting.api.serializers import (
    CameraHealthSerializer,
    CountEventSerializer,
    LineInputSerializer,
    LineOutputSerializer,
    LineUpdateSerializer,
    ZoneInputSerializer,
    ZoneOutputSerializer,
    ZoneUpdateSerializer,
)
from counting.models import CountEvent, CountingLine, Zone
from counting.selectors import (
    camera_gaps_recent,
    camera_health_condition,
    camera_health_get_visible_to,
    counting_line_list_visible_to,
    zone_list_visible_to,
)
from counting.services import (
    counting_line_create,
    counting_line_delete,
    counting_line_update,
    zone_create,
    zone_delete,
    zone_update,
)
from tenants.rest.mixins import StrictQueryParamsMixin
from tenants.rest.pagination import LedgerCursorPagination


def _camera_for_write(user: Any, camera_id: int) -> Camera:
    """The camera a new rule goes on: 400 if not visible, 403 if visible but not changeable."""
    camera = camera_get_visible_to(user=user, camera_id=camera_id)
    if camera is None:
        raise exceptions.ValidationError({"camera": [f"Camera {camera_id} does not exist."]})
    _require_change(user, camera)
    return camera


def _require_change(user: Any, camera: Camera) -> None:
    if not user_can(user=user, perm="change", obj=camera):
        raise exceptions.PermissionDenied(
            "Changing a camera's lines and zones needs change permission on the camera.")


class _RuleViewSet(StrictQueryParamsMixin, viewsets.ModelViewSet):
    """Shared create/update/delete flow of lines and zones."""

    ordering_fields = ["name", "created_at", "id", "camera"]
    ordering = ["camera_id", "name", "id"]
    input_serializer: type = LineInputSerializer
    update_serializer: type = LineUpdateSerializer
    output_serializer: type = LineOutputSerializer

    def _create(self, actor: Any, camera: Camera, values: dict[str, Any]) -> Any:
        raise NotImplementedError

    def _update(self, actor: Any, obj: Any, values: dict[str, Any]) -> Any:
        raise NotImplementedError

    def _delete(self, actor: Any, obj: Any) -> None:
        raise NotImplementedError

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = self.input_serializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        camera = _camera_for_write(request.user, values.pop("camera"))
        obj = self._create(request.user, camera, values)
        return Response(self.output_serializer(obj).data, status=status.HTTP_201_CREATED)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        obj = self.get_object()
        _require_change(request.user, obj.camera)
        data = self.update_serializer(data=request.data, partial=kwargs.get("partial", False))
        data.is_valid(raise_exception=True)
        obj = self._update(request.user, obj, dict(data.validated_data))
        return Response(self.output_serializer(obj).data)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        obj = self.get_object()
        _require_change(request.user, obj.camera)
        self._delete(request.user, obj)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema_view(
    list=extend_schema(summary="Counting lines of the cameras you may view"),
    retrieve=extend_schema(summary="One counting line"),
    create=extend_schema(summary="Add a counting line (change on the camera)",
                         request=LineInputSerializer),
    update=extend_schema(summary="Replace a counting line", request=LineUpdateSerializer),
    partial_update=extend_schema(summary="Change a counting line", request=LineUpdateSerializer),
    destroy=extend_schema(summary="Delete a line that has counted nothing yet"),
)
class CountingLineViewSet(_RuleViewSet):
    """Counting lines: segments in normalised image coordinates."""

    serializer_class = LineOutputSerializer
    filterset_class = LineFilter
    queryset = CountingLine.objects.none()

    def get_queryset(self) -> QuerySet[CountingLine]:
        return counting_line_list_visible_to(user=self.request.user)

    def _create(self, actor: Any, camera: Camera, values: dict[str, Any]) -> CountingLine:
        return counting_line_create(actor=actor, camera=camera, **values)

    def _update(self, actor: Any, obj: Any, values: dict[str, Any]) -> CountingLine:
        return counting_line_update(actor=actor, line=obj, **values)

    def _delete(self, actor: Any, obj: Any) -> None:
        counting_line_delete(actor=actor, line=obj)


@extend_schema_view(
    list=extend_schema(summary="Zones of the cameras you may view"),
    retrieve=extend_schema(summary="One zone"),
    create=extend_schema(summary="Add a zone (change on the camera)", request=ZoneInputSerializer),
    update=extend_schema(summary="Replace a zone", request=ZoneUpdateSerializer),
    partial_update=extend_schema(summary="Change a zone", request=ZoneUpdateSerializer),
    destroy=extend_schema(summary="Delete a zone without stored occupancy"),
)
class ZoneViewSet(_RuleViewSet):
    """Zones: simple polygons in normalised image coordinates."""

    serializer_class = ZoneOutputSerializer
    filterset_class = ZoneFilter
    queryset = Zone.objects.none()
    input_serializer = ZoneInputSerializer
    update_serializer = ZoneUpdateSerializer
    output_serializer = ZoneOutputSerializer

    def get_queryset(self) -> QuerySet[Zone]:
        return zone_list_visible_to(user=self.request.user)

    def _create(self, actor: Any, camera: Camera, values: dict[str, Any]) -> Zone:
        return zone_create(actor=actor, camera=camera, **values)

    def _update(self, actor: Any, obj: Any, values: dict[str, Any]) -> Zone:
        return zone_update(actor=actor, zone=obj, **values)

    def _delete(self, actor: Any, obj: Any) -> None:
        zone_delete(actor=actor, zone=obj)


@extend_schema_view(
    list=extend_schema(summary="The event ledger: one row per crossing, oldest first"),
    retrieve=extend_schema(summary="One ledger event"),
)
class CountEventViewSet(StrictQueryParamsMixin, mixins.ListModelMixin,
                        mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Crossings of the cameras you may view, paged by an opaque cursor (occurred_at, id)."""

    serializer_class = CountEventSerializer
    filterset_class = CountEventFilter
    pagination_class = LedgerCursorPagination
    queryset = CountEvent.objects.none()

    def get_queryset(self) -> QuerySet[CountEvent]:
        cameras = camera_list_visible_to(user=self.request.user).values("pk")
        return CountEvent.objects.filter(camera__in=cameras)


class CameraHealthViewSet(StrictQueryParamsMixin, viewsets.GenericViewSet):
    """``/cameras/{id}/health/``: the stream health of a camera, served here because counting
    owns the health rows (its runner writes them); registered under the cameras prefix."""

    queryset = Camera.objects.none()

    def get_queryset(self) -> QuerySet[Camera]:
        return camera_list_visible_to(user=self.request.user)

    @extend_schema(summary="Stream health of the camera, as its runner last reported it",
                   description="A camera whose stream never ran reports its own status. "
                               "``condition`` says whether frames are analysed (ok), analysed "
                               "with trouble beside the loop (degraded) or not analysed "
                               "(stalled), with the reason; ``recent_gaps`` are the last ten "
                               "stretches of time that were not analysed.",
                   responses=CameraHealthSerializer)
    @action(detail=True, methods=["get"])
    def health(self, request: Request, pk: str | None = None) -> Response:
        camera = self.get_object()
        health = camera_health_get_visible_to(user=request.user, camera_id=camera.pk)
        if health is None:  # never run yet: report the camera's own status
            body: dict[str, Any] = {
                "camera": camera.pk, "state": camera.status, "reason": camera.status_reason,
                "last_frame_at": None, "fps_received": 0.0, "fps_analysed": 0.0,
                "frame_age_s": None, "frames_dropped": 0, "frames_skipped": 0,
                "events_lost": 0, "reconnects": 0,
                "updated_at": None}
        else:
            body = {str(name): getattr(health, str(name))
                    for name in CameraHealthSerializer().fields
                    if name not in ("condition", "condition_reason", "recent_gaps")}
            body["camera"] = camera.pk
        condition = camera_health_condition(health=health, camera_enabled=camera.enabled)
        body["condition"] = condition.condition
        body["condition_reason"] = condition.reason
        body["recent_gaps"] = camera_gaps_recent(camera_id=camera.pk)
        return Response(CameraHealthSerializer(body).data)
