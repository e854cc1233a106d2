"""Endpoints of the current user, personal tokens, users, roles and object permissions.

Tokens belong to their user: each user lists, creates and revokes only their own. Users, roles
and object permissions are for Owners (model permissions ``auth.*_user`` and
``auth.change_group`` that only the Owner role holds).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import authenticate, get_user_model
from django.contrib.auth.models import Group
from django.db.models import Count, QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from guardian.models import GroupObjectPermission, UserObjectPermission
from rest_framework import exceptions, mixins, status, viewsets
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from cameras.models import Camera, Site
from cameras.permissions import object_permission_grant, object_permission_revoke
from tenants.accounts.api.serializers import (
    MeSerializer,
    ObjectPermissionChangeSerializer,
    ObjectPermissionInputSerializer,
    ObjectPermissionQuerySerializer,
    ObjectPermissionSerializer,
    RoleSerializer,
    TokenCreatedSerializer,
    TokenInputSerializer,
    TokenOutputSerializer,
    UserInputSerializer,
    UserOutputSerializer,
    UserUpdateSerializer,
)
from tenants.accounts.models import ApiToken
from tenants.accounts.tokens import token_create, token_revoke
from tenants.constants import Role
from tenants.rest.errors import LockedOutError
from tenants.rest.mixins import ModelPermission, StrictQueryParamsMixin
from tenants.roles import user_role
from tenants.users import user_create, user_update

CanManageUsers = ModelPermission.build("CanManageUsers", {
    "GET": ["auth.view_user"], "POST": ["auth.add_user"], "PATCH": ["auth.change_user"],
    "PUT": ["auth.change_user"]})
CanViewRoles = ModelPermission.build("CanViewRoles", {"GET": ["auth.view_group"]})
CanManageObjectPermissions = ModelPermission.build("CanManageObjectPermissions", {
    "GET": ["auth.change_group", "auth.view_user"],
    "POST": ["auth.change_group", "auth.view_user"]})


class MeView(StrictQueryParamsMixin, APIView):
    """The user making the request."""

    @extend_schema(summary="The current user", responses=MeSerializer)
    def get(self, request: Request) -> Response:
        user: Any = request.user
        token = request.auth if isinstance(request.auth, ApiToken) else None
        body = {
            "id": user.pk, "username": user.get_username(), "email": user.email,
            "first_name": user.first_name, "last_name": user.last_name,
            "role": user_role(user), "permissions": sorted(user.get_all_permissions()),
            "auth": "token" if token else "session", "token": token,
        }
        return Response(MeSerializer(body).data)


def check_password_guarded(request: Request, user: Any, password: str) -> None:
    """Re-check the user's password through the authentication backends, so that django-axes
    counts failures and locks out guessing exactly as on the login page."""
    django_request: Any = request._request
    checked = authenticate(django_request, username=user.get_username(), password=password)
    if getattr(django_request, "axes_locked_out", False):
        # Answer with the API's own error shape instead of axes' HTML page.
        django_request.axes_locked_out = False
        raise LockedOutError()
    if checked is None or checked.pk != user.pk:
        raise exceptions.ValidationError({"password": ["The password is not correct."]})


@extend_schema_view(
    list=extend_schema(summary="Your personal API tokens"),
    retrieve=extend_schema(summary="One of your tokens"),
    create=extend_schema(summary="Create a personal API token (shown once)",
                         request=TokenInputSerializer,
                         responses={201: TokenCreatedSerializer}),
    destroy=extend_schema(summary="Revoke one of your tokens"),
)
class TokenViewSet(StrictQueryParamsMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                   mixins.CreateModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet):
    """Personal API tokens of the current user."""

    serializer_class = TokenOutputSerializer
    permission_classes = [IsAuthenticated]
    ordering_fields = ["created_at", "expires_at", "name", "id"]
    ordering = ["-created_at", "-id"]
    queryset = ApiToken.objects.none()
    extra_error_responses = {"429": "Too many requests, or locked out after wrong passwords."}

    def get_queryset(self) -> QuerySet[ApiToken]:
        user: Any = self.request.user
        return ApiToken.objects.filter(user=user)

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = TokenInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        check_password_guarded(request, request.user, values.pop("password"))
        issued = token_create(actor=request.user, user=request.user, **values)
        body = TokenCreatedSerializer(issued.token).data
        body["token"] = issued.plaintext
        return Response(body, status=status.HTTP_201_CREATED,
                        headers={"Cache-Control": "no-store"})

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        token_revoke(actor=request.user, token=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema_view(
    list=extend_schema(summary="Users of the tenant (Owner)"),
    retrieve=extend_schema(summary="One user (Owner)"),
    create=extend_schema(summary="Add a user with a role (Owner)", request=UserInputSerializer),
    partial_update=extend_schema(summary="Change a user's role, activity or name (Owner)",
                                 request=UserUpdateSerializer),
)
class UserViewSet(StrictQueryParamsMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                  mixins.CreateModelMixin, mixins.UpdateModelMixin, viewsets.GenericViewSet):
    """Users and their roles. Users are deactivated (is_active=false), never deleted."""

    serializer_class = UserOutputSerializer
    permission_classes = [IsAuthenticated, CanManageUsers]
    http_method_names = ["get", "post", "patch", "head", "options"]
    ordering_fields = ["username", "date_joined", "id"]
    ordering = ["username", "id"]
    queryset = get_user_model().objects.none()

    def get_queryset(self) -> QuerySet[Any]:
        return get_user_model().objects.prefetch_related("groups").order_by("username", "id")

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = UserInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = user_create(actor=request.user, **data.validated_data)
        return Response(UserOutputSerializer(user).data, status=status.HTTP_201_CREATED)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        user = self.get_object()
        data = UserUpdateSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        user = user_update(actor=request.user, user=user, **data.validated_data)
        return Response(UserOutputSerializer(user).data)


class RoleListView(StrictQueryParamsMixin, APIView):
    """The built-in roles with their model permissions (Owner)."""

    permission_classes = [IsAuthenticated, CanViewRoles]

    @extend_schema(summary="The roles (Owner)", responses=RoleSerializer(many=True))
    def get(self, request: Request) -> Response:
        groups = (Group.objects.filter(name__in=Role.ALL).annotate(user_count=Count("user"))
                  .prefetch_related("permissions__content_type").order_by("id"))
        body = [{"id": g.pk, "name": g.name, "user_count": g.user_count,  # type: ignore[attr-defined]
                 "permissions": sorted(f"{p.content_type.app_label}.{p.codename}"
                                       for p in g.permissions.all())} for g in groups]
        return Response(RoleSerializer(body, many=True).data)


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
