"""Per-object permissions on sites and cameras (Owner): ``/api/v1/object-permissions/``.

Who may see which site or camera is the cameras' own rule (``cameras.permissions``), so the
endpoints that grant and revoke it live here; they need the model permissions
``auth.change_group`` and ``auth.view_user`` that only the Owner role holds.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from drf_spectacular.utils import OpenApiParameter, extend_schema
from guardian.models import GroupObjectPermission, UserObjectPermission
from rest_framework import exceptions
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from cameras.api.serializers import (
    ObjectPermissionChangeSerializer,
    ObjectPermissionInputSerializer,
    ObjectPermissionQuerySerializer,
    ObjectPermissionSerializer,
)
from cameras.models import Camera, Site
from cameras.permissions import object_permission_grant, object_permission_revoke
from tenants.rest.mixins import ModelPermission, StrictQueryParamsMixin

CanManageObjectPermissions = ModelPermission.build("CanManageObjectPermissions", {
    "GET": ["auth.change_group", "auth.view_user"],
    "POST": ["auth.change_group", "auth.view_user"]})


def _permission_rows(model: Any, target_type: str, target_id: int | None,
                     holder: str, holder_id: int | None) -> list[dict[str, Any]]:
    rows = model.objects.select_related("permission", "content_type").filter(
        content_type__app_label="cameras", content_type__model__in=["site", "camera"],
        permission__codename__regex=r"^(view|change)_(site|camera)$")
    if target_type:
        rows = rows.filter(content_type__model=target_type)
    if target_id is not None:
        rows = rows.filter(object_pk=str(target_id))
    if holder_id is not None:
        rows = rows.filter(**{f"{holder}_id": holder_id})
    return [{"action": r.permission.codename.split("_")[0], "target_type": r.content_type.model,
             "target_id": int(r.object_pk),
             "user": r.user_id if holder == "user" else None,
             "group": r.group_id if holder == "group" else None} for r in rows]


class ObjectPermissionView(StrictQueryParamsMixin, APIView):
    """Per-object permissions (view/change) on sites and cameras (Owner).

    A view grant on a site covers its cameras. ``POST`` grants; ``POST .../revoke/`` revokes.
    """

    permission_classes = [IsAuthenticated, CanManageObjectPermissions]
    extra_query_params = frozenset({"target_type", "target_id", "user", "group"})

    @extend_schema(
        summary="Object permissions held directly by users and groups (Owner)",
        parameters=[
            OpenApiParameter("target_type", str, enum=["site", "camera"]),
            OpenApiParameter("target_id", int),
            OpenApiParameter("user", int),
            OpenApiParameter("group", int),
        ],
        responses=ObjectPermissionSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        params = ObjectPermissionQuerySerializer(data=request.query_params.dict())
        params.is_valid(raise_exception=True)
        q = params.validated_data
        rows: list[dict[str, Any]] = []
        if "group" not in q:
            rows += _permission_rows(UserObjectPermission, q.get("target_type", ""),
                                     q.get("target_id"), "user", q.get("user"))
        if "user" not in q:
            rows += _permission_rows(GroupObjectPermission, q.get("target_type", ""),
                                     q.get("target_id"), "group", q.get("group"))
        rows.sort(key=lambda r: (r["target_type"], r["target_id"], r["action"],
                                 r["user"] or 0, r["group"] or 0))
        return Response(ObjectPermissionSerializer(rows, many=True).data)

    @extend_schema(summary="Grant view or change on a site or camera (Owner)",
                   request=ObjectPermissionInputSerializer,
                   responses=ObjectPermissionChangeSerializer)
    def post(self, request: Request) -> Response:
        return _change_permission(request, grant=True)


class ObjectPermissionRevokeView(StrictQueryParamsMixin, APIView):
    """Revoking a per-object permission (Owner)."""

    permission_classes = [IsAuthenticated, CanManageObjectPermissions]

    @extend_schema(summary="Revoke view or change on a site or camera (Owner)",
                   request=ObjectPermissionInputSerializer,
                   responses=ObjectPermissionChangeSerializer)
    def post(self, request: Request) -> Response:
        return _change_permission(request, grant=False)


def _change_permission(request: Request, *, grant: bool) -> Response:
    data = ObjectPermissionInputSerializer(data=request.data)
    data.is_valid(raise_exception=True)
    values = data.validated_data
    model = Site if values["target_type"] == "site" else Camera
    obj = model.objects.filter(pk=values["target_id"]).first()
    if obj is None:
        raise exceptions.ValidationError(
            {"target_id": [f"{values['target_type'].capitalize()} {values['target_id']} "
                           "does not exist."]})
    grantee: Any
    if "user" in values:
        grantee = get_user_model().objects.filter(pk=values["user"]).first()
        if grantee is None:
            raise exceptions.ValidationError({"user": [f"User {values['user']} does not exist."]})
    else:
        grantee = Group.objects.filter(pk=values["group"]).first()
        if grantee is None:
            raise exceptions.ValidationError(
                {"group": [f"Group {values['group']} does not exist."]})
    service = object_permission_grant if grant else object_permission_revoke
    changed = service(actor=request.user, grantee=grantee, action=values["action"], obj=obj)
    body = {"action": values["action"], "target_type": values["target_type"],
            "target_id": obj.pk, "user": values.get("user"), "group": values.get("group"),
            "changed": changed}
    return Response(ObjectPermissionChangeSerializer(body).data)
