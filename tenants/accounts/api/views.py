"""Endpoints of the current user, personal tokens, users and roles.

Tokens belong to their user: each user lists, creates and revokes only their own. Users and
roles are for Owners (model permissions ``auth.*_user`` and ``auth.view_group`` that only the
Owner role holds). Object permissions on sites and cameras: ``cameras.api.object_permissions``.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import authenticate, get_user_model, update_session_auth_hash
from django.contrib.auth.models import Group
from django.db.models import Count, QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import exceptions, mixins, status, viewsets
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from tenants.accounts.api.serializers import (
    MeSerializer,
    PasswordChangeSerializer,
    RoleSerializer,
    TokenCreatedSerializer,
    TokenInputSerializer,
    TokenOutputSerializer,
    UserInputSerializer,
    UserOutputSerializer,
    UserUpdateSerializer,
)
from tenants.accounts.lockout import lockout_message
from tenants.accounts.models import ApiToken
from tenants.accounts.roles import user_role
from tenants.accounts.tokens import token_create, token_revoke
from tenants.accounts.users import user_create, user_password_change, user_update
from tenants.constants import Role
from tenants.rest.errors import LockedOutError
from tenants.rest.mixins import ModelPermission, StrictQueryParamsMixin

CanManageUsers = ModelPermission.build("CanManageUsers", {
    "GET": ["auth.view_user"], "POST": ["auth.add_user"], "PATCH": ["auth.change_user"],
    "PUT": ["auth.change_user"]})
CanViewRoles = ModelPermission.build("CanViewRoles", {"GET": ["auth.view_group"]})


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
            "retention": request._request.tenant.retention_summary(),  # type: ignore[attr-defined]
        }
        return Response(MeSerializer(body).data)


def check_password_guarded(request: Request, user: Any, password: str,
                           field: str = "password") -> None:
    """Re-check the user's password through the authentication backends, so that django-axes
    counts failures and locks out guessing exactly as on the login page."""
    django_request: Any = request._request
    checked = authenticate(django_request, username=user.get_username(), password=password)
    if getattr(django_request, "axes_locked_out", False):
        # Answer with the API's own error shape instead of axes' HTML page.
        django_request.axes_locked_out = False
        raise LockedOutError(lockout_message(django_request))
    if checked is None or checked.pk != user.pk:
        raise exceptions.ValidationError({field: ["The password is not correct."]})


class PasswordChangeView(StrictQueryParamsMixin, APIView):
    """Change your own password: the current one is checked as a login is (wrong ones count
    towards the lockout); the new one must pass the password validators. Your other sessions
    end; this one (if any) stays signed in; API tokens are kept."""

    permission_classes = [IsAuthenticated]
    extra_error_responses = {"429": "Too many requests, or locked out after wrong passwords."}

    @extend_schema(summary="Change your password", request=PasswordChangeSerializer,
                   responses={204: None})
    def post(self, request: Request) -> Response:
        data = PasswordChangeSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user: Any = request.user
        check_password_guarded(request, user, data.validated_data["current_password"],
                               field="current_password")
        user_password_change(actor=user, user=user,
                             new_password=data.validated_data["new_password"])
        if not isinstance(request.auth, ApiToken):
            update_session_auth_hash(request._request, user)
        return Response(status=status.HTTP_204_NO_CONTENT,
                        headers={"Cache-Control": "no-store"})


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
