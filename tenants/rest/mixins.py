"""Mixins and permission classes shared by the API views of every app."""

from __future__ import annotations

from typing import Any

import django_filters
from django import forms
from rest_framework import exceptions
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.settings import api_settings

ID_MAX = 2**63 - 1


class IdFilter(django_filters.NumberFilter):
    """A filter on a whole-number id (a decimal such as 0.5 is a 400, not a silent match)."""

    field_class = forms.IntegerField

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", -ID_MAX)
        kwargs.setdefault("max_value", ID_MAX)
        super().__init__(*args, **kwargs)


BOOLEAN_VALUES = frozenset({"true", "false", "True", "False", "1", "0"})
# Query parameters every endpoint accepts besides its own filters.
COMMON_QUERY_PARAMS = frozenset({"format"})


# --- Query parameters ---------------------------------------------------------------------------
class StrictQueryParamsMixin:
    """Answers 400 to query parameters the endpoint does not know (a typo is not ignored).

    The known ones are the filterset's filters, ``ordering`` when ordering is enabled, the
    paginator's parameters, ``extra_query_params`` of the view and ``format``.
    """

    extra_query_params: frozenset[str] = frozenset()

    def allowed_query_params(self) -> set[str]:
        allowed = set(COMMON_QUERY_PARAMS) | set(self.extra_query_params)
        filterset_class = getattr(self, "filterset_class", None)
        if filterset_class is not None:
            allowed |= set(filterset_class.base_filters)
        if getattr(self, "ordering_fields", None):
            allowed.add(api_settings.ORDERING_PARAM)
        paginator = getattr(self, "paginator", None)
        if paginator is not None:
            for attr in ("page_query_param", "page_size_query_param", "cursor_query_param"):
                name = getattr(paginator, attr, None)
                if name:
                    allowed.add(name)
        return allowed

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)  # type: ignore[misc]
        unknown = sorted(set(request.query_params) - self.allowed_query_params())
        if unknown:
            raise exceptions.ValidationError(
                {name: ["Unknown query parameter."] for name in unknown})
        self._check_filter_values(request)

    def _check_filter_values(self, request: Request) -> None:
        """django-filter ignores empty values and unknown booleans; the API refuses them."""
        filterset_class = getattr(self, "filterset_class", None)
        if filterset_class is None:
            return
        errors: dict[str, list[str]] = {}
        for name, value in request.query_params.items():
            declared = filterset_class.base_filters.get(name)
            if declared is None or isinstance(declared, django_filters.CharFilter):
                continue
            if isinstance(declared, django_filters.BooleanFilter):
                if value not in BOOLEAN_VALUES:
                    errors[name] = ["Use true or false."]
            elif value == "":
                errors[name] = ["This parameter may not be empty."]
        if errors:
            raise exceptions.ValidationError(errors)


class ModelPermission:
    """Requires Django model permissions per HTTP method, e.g. ``{"GET": ["auth.view_user"]}``.

    Build one with ``ModelPermission.build(...)``; methods not listed need no extra permission.
    """

    perms_by_method: dict[str, list[str]] = {}

    @classmethod
    def build(cls, name: str, perms_by_method: dict[str, list[str]]) -> type[BasePermission]:
        return type(name, (_ModelPermission,), {"perms_by_method": perms_by_method,
                                                "__doc__": f"Model permissions {perms_by_method}"})


class _ModelPermission(BasePermission):
    """See ModelPermission."""

    perms_by_method: dict[str, list[str]] = {}

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if not user or not user.is_authenticated:
            return False
        method = "GET" if request.method in ("HEAD", "OPTIONS") else str(request.method)
        return bool(user.has_perms(self.perms_by_method.get(method, [])))


