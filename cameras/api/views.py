"""Endpoints of sites and cameras. Reads go through the permission-aware selectors; writes go
through the services, so they are validated and audited.

An object the user may not view is a 404; one the user may view but not change is a 403.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import connection
from django.db.models import QuerySet
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import exceptions, renderers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from cameras.api.errors import (
    PictureNotShownError,
    SnapshotBusyError,
    SnapshotUnavailableError,
    UpstreamError,
    UpstreamImageTooLargeError,
)
from cameras.api.filters import CameraFilter, SiteFilter
from cameras.api.serializers import (
    CameraInputSerializer,
    CameraOutputSerializer,
    SiteInputSerializer,
    SiteOutputSerializer,
)
from cameras.api.snapshot_gate import SnapshotBusy, snapshot_answer
from cameras.models import Camera, Site
from cameras.privacy import PictureNotShown, snapshot_for_display
from cameras.selectors import (
    ai_model_get,
    camera_list_visible_to,
    site_get_visible_to,
    site_list_visible_to,
    user_can,
)
from cameras.services import (
    camera_create,
    camera_delete,
    camera_update,
    site_create,
    site_delete,
    site_update,
)
from tenants.rest.errors import ErrorSerializer
from tenants.rest.mixins import StrictQueryParamsMixin


def require_object_perm(*, user: Any, perm: str, obj: Site | Camera) -> None:
    """403 unless ``user`` holds ``perm`` (view/change/delete) on ``obj``."""
    if not user_can(user=user, perm=perm, obj=obj):
        raise exceptions.PermissionDenied(
            f"You may view this {obj._meta.verbose_name} but not {perm} it.")


def require_model_perm(*, user: Any, perm: str, message: str) -> None:
    if not user.has_perm(perm):
        raise exceptions.PermissionDenied(message)


@extend_schema_view(
    list=extend_schema(summary="Sites you may view"),
    retrieve=extend_schema(summary="One site"),
    create=extend_schema(summary="Create a site (Owner, Manager)", request=SiteInputSerializer),
    update=extend_schema(summary="Replace a site (change permission)",
                         request=SiteInputSerializer),
    partial_update=extend_schema(summary="Change a site (change permission)",
                                 request=SiteInputSerializer),
    destroy=extend_schema(summary="Delete a site without cameras (Owner, Manager)"),
)
class SiteViewSet(StrictQueryParamsMixin, viewsets.ModelViewSet):
    """Sites with their timezone and opening hours."""

    serializer_class = SiteOutputSerializer
    filterset_class = SiteFilter
    ordering_fields = ["name", "created_at", "id"]
    ordering = ["name", "id"]
    queryset = Site.objects.none()

    def get_queryset(self) -> QuerySet[Site]:
        return site_list_visible_to(user=self.request.user)

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        require_model_perm(user=request.user, perm="cameras.add_site",
                           message="Only Owners and Managers may create sites.")
        data = SiteInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        site = site_create(actor=request.user, **data.validated_data)
        return Response(SiteOutputSerializer(site).data, status=status.HTTP_201_CREATED)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        site = self.get_object()
        require_object_perm(user=request.user, perm="change", obj=site)
        data = SiteInputSerializer(data=request.data, partial=kwargs.get("partial", False))
        data.is_valid(raise_exception=True)
        site = site_update(actor=request.user, site=site, **data.validated_data)
        return Response(SiteOutputSerializer(site).data)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        site = self.get_object()
        require_object_perm(user=request.user, perm="delete", obj=site)
        site_delete(actor=request.user, site=site)
        return Response(status=status.HTTP_204_NO_CONTENT)


class JPEGRenderer(renderers.BaseRenderer):
    """Lets clients ask for ``image/jpeg``; errors still come as JSON text."""

    media_type = "image/jpeg"
    format = "jpg"
    charset = None
    render_style = "binary"

    def render(self, data: Any, accepted_media_type: str | None = None,
               renderer_context: Mapping[str, Any] | None = None) -> bytes:
        if isinstance(data, bytes):
            return data
        return renderers.JSONRenderer().render(data)


@extend_schema_view(
    list=extend_schema(summary="Cameras you may view"),
    retrieve=extend_schema(summary="One camera"),
    create=extend_schema(summary="Add a camera to a site (Owner, Manager)",
                         request=CameraInputSerializer),
    update=extend_schema(summary="Replace a camera (change permission)",
                         request=CameraInputSerializer),
    partial_update=extend_schema(summary="Change a camera (change permission)",
                                 request=CameraInputSerializer),
    destroy=extend_schema(summary="Delete a camera (Owner, Manager)"),
)
class CameraViewSet(StrictQueryParamsMixin, viewsets.ModelViewSet):
    """Cameras: stream URL (checked against the URL policy), credentials, detection rate."""

    serializer_class = CameraOutputSerializer
    filterset_class = CameraFilter
    ordering_fields = ["name", "created_at", "id", "site"]
    ordering = ["site_id", "name", "id"]
    queryset = Camera.objects.none()

    def get_queryset(self) -> QuerySet[Camera]:
        return camera_list_visible_to(user=self.request.user)

    def get_serializer_context(self) -> dict[str, Any]:
        context = dict(super().get_serializer_context())
        user = self.request.user
        if user.has_perm("cameras.change_camera"):
            context["full_camera_ids"] = None
        else:
            context["full_camera_ids"] = set(
                camera_list_visible_to(user=user, perm="change").values_list("pk", flat=True))
        return context

    def _site(self, site_id: int) -> Site:
        site = site_get_visible_to(user=self.request.user, site_id=site_id)
        if site is None:
            raise exceptions.ValidationError({"site": [f"Site {site_id} does not exist."]})
        return site

    @staticmethod
    def _ai_model(model_id: int | None) -> Any:
        """The registry row named by ``ai_model`` (the service checks that it is active)."""
        if model_id is None:
            return None
        model = ai_model_get(model_id)
        if model is None:
            raise exceptions.ValidationError({"ai_model": [
                f"Detector model {model_id} does not exist: GET /api/v1/detector-models/ lists "
                "the ones you may choose, or send null for the default."]})
        return model

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        require_model_perm(user=request.user, perm="cameras.add_camera",
                           message="Only Owners and Managers may add cameras.")
        data = CameraInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        values["site"] = self._site(values["site"])
        if "ai_model" in values:
            values["ai_model"] = self._ai_model(values["ai_model"])
        camera = camera_create(actor=request.user, **values)
        return Response(CameraOutputSerializer(camera).data, status=status.HTTP_201_CREATED)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        camera = self.get_object()
        require_object_perm(user=request.user, perm="change", obj=camera)
        data = CameraInputSerializer(data=request.data, partial=kwargs.get("partial", False))
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        if "site" in values:
            values["site"] = self._site(values["site"])
            if values["site"].pk != camera.site_id:
                require_model_perm(user=request.user, perm="cameras.change_camera",
                                   message="Only Owners and Managers may move cameras.")
        if "ai_model" in values:
            values["ai_model"] = self._ai_model(values["ai_model"])
        camera = camera_update(actor=request.user, camera=camera, **values)
        return Response(CameraOutputSerializer(camera).data)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        camera = self.get_object()
        require_object_perm(user=request.user, perm="delete", obj=camera)
        camera_delete(actor=request.user, camera=camera)
        return Response(status=status.HTTP_204_NO_CONTENT)

    def _set_enabled(self, request: Request, enabled: bool) -> Response:
        camera = self.get_object()
        require_object_perm(user=request.user, perm="change", obj=camera)
        camera = camera_update(actor=request.user, camera=camera, enabled=enabled)
        return Response(CameraOutputSerializer(camera).data)

    @extend_schema(summary="Enable a camera (change permission)", request=None,
                   responses=CameraOutputSerializer)
    @action(detail=True, methods=["post"])
    def enable(self, request: Request, pk: str | None = None) -> Response:
        return self._set_enabled(request, True)

    @extend_schema(summary="Disable a camera (change permission)", request=None,
                   responses=CameraOutputSerializer)
    @action(detail=True, methods=["post"])
    def disable(self, request: Request, pk: str | None = None) -> Response:
        return self._set_enabled(request, False)

    @extend_schema(
        summary="A current frame of the camera as JPEG (change permission: for drawing lines "
                "and zones)",
        description="Answers are reused for a few seconds. A camera that cannot be opened, "
                    "whatever the cause, gets one answer (502 camera_unreachable).",
        responses={
            (200, "image/jpeg"): OpenApiResponse(OpenApiTypes.BINARY, description="A JPEG."),
            403: OpenApiResponse(ErrorSerializer, description="No change permission."),
            429: OpenApiResponse(ErrorSerializer, description="Too many snapshots of this "
                                 "account at once; see Retry-After."),
            502: OpenApiResponse(ErrorSerializer, description="The camera could not be "
                                 "opened, or its picture is above the pixel limit."),
            503: OpenApiResponse(ErrorSerializer, description="The service takes too many "
                                 "snapshots at once; see Retry-After."),
        },
    )
    @action(detail=True, methods=["get"],
            renderer_classes=[renderers.JSONRenderer, JPEGRenderer])
    def snapshot(self, request: Request, pk: str | None = None) -> HttpResponse:
        camera = self.get_object()
        # A snapshot shows the scene itself; it is for those who draw the camera's lines and
        # zones, not for everyone who may see its counts.
        require_object_perm(user=request.user, perm="change", obj=camera)
        try:
            answer = snapshot_answer(camera=camera,
                                     schema=connection.schema_name)  # type: ignore[attr-defined]
        except SnapshotBusy as exc:
            error = SnapshotBusyError if exc.scope == "tenant" else SnapshotUnavailableError
            raise error(str(exc), wait=exc.retry_after_s) from exc
        if answer.snapshot is None:
            if answer.error_code == "camera_image_too_large":
                raise UpstreamImageTooLargeError(answer.error_message)
            raise UpstreamError(answer.error_message)
        try:
            # People blurred when the tenant asks for it (issue 13); never sent unblurred.
            jpeg = snapshot_for_display(answer.snapshot.jpeg)
        except PictureNotShown as exc:
            raise PictureNotShownError(str(exc)) from exc
        response = HttpResponse(jpeg, content_type="image/jpeg")
        response["Cache-Control"] = "private, no-store"
        return response
