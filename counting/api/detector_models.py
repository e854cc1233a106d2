"""``/api/v1/detector-models/``: the registry's detector models a camera may be given as its
own (``ai_model`` on a camera), and which one counts for this tenant when a camera has none.

Served by counting because counting resolves a camera's model (``counting.model_choice``); the
registry itself is platform data, the same on every tenant's domain, and only active models are
listed (candidates and retired ones cannot be chosen).
"""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers, viewsets

from cameras.selectors import ai_models_choosable
from counting.model_choice import chosen_model
from tenants.platform.models import AiModel
from tenants.rest.mixins import StrictQueryParamsMixin


class DetectorModelSerializer(serializers.ModelSerializer):
    """An active detector model: what it is, how it was evaluated, and whether it is the one
    this tenant's cameras count with when they name none (``tenant_default``)."""

    count_error = serializers.SerializerMethodField(
        help_text="Relative count error on the reference footage at registration (0.05 = 5%); "
                  "null when not evaluated.")
    tenant_default = serializers.SerializerMethodField(
        help_text="True for the model cameras without their own model count with.")

    class Meta:
        model = AiModel
        fields = ["id", "name", "version", "label", "format", "input_size", "classes",
                  "licence", "count_error", "tenant_default"]
        read_only_fields = fields

    def get_count_error(self, model: AiModel) -> float | None:
        value = (model.evaluation or {}).get("count_error")
        return float(value) if isinstance(value, int | float) else None

    def get_tenant_default(self, model: AiModel) -> bool:
        return bool(model.pk == self.context.get("tenant_default_id"))


@extend_schema_view(
    list=extend_schema(summary="Detector models a camera may be given",
                       description="Active models of the platform's registry. Set a camera's "
                                   "``ai_model`` to one of these ids, or to null for the "
                                   "tenant's default (``tenant_default``)."),
    retrieve=extend_schema(summary="One active detector model"),
)
class DetectorModelViewSet(StrictQueryParamsMixin, mixins.ListModelMixin,
                           mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Read-only list of the active registry models, for every signed-in user of the tenant."""

    serializer_class = DetectorModelSerializer
    queryset = AiModel.objects.none()
    pagination_class = None  # a handful of rows

    def get_queryset(self) -> QuerySet[AiModel]:
        return ai_models_choosable()

    def get_serializer_context(self) -> dict[str, Any]:
        context = dict(super().get_serializer_context())
        default, _ = chosen_model(schema=connection.schema_name,  # type: ignore[attr-defined]
                                  ai_model_id=None)
        context["tenant_default_id"] = default.pk if default is not None else None
        return context
