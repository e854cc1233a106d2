"""The audit trail, read-only, for users with ``audit.view_auditevent`` (Owner, Manager)."""

from __future__ import annotations

import django_filters
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers, viewsets
from rest_framework.permissions import IsAuthenticated

from audit.models import AuditEvent
from tenants.rest.mixins import IdFilter, ModelPermission, StrictQueryParamsMixin
from tenants.rest.pagination import AuditCursorPagination

CanViewAudit = ModelPermission.build("CanViewAudit", {"GET": ["audit.view_auditevent"]})

class AuditEventSerializer(serializers.ModelSerializer):
    """One audit event: who did what to which object, when, from where, before/after."""

    before = serializers.JSONField(allow_null=True)
    after = serializers.JSONField(allow_null=True)

    class Meta:
        model = AuditEvent
        fields = ["id", "occurred_at", "actor_id", "actor_name", "ip", "request_id", "action",
                  "target_type", "target_id", "target_repr", "before", "after"]
        read_only_fields = fields

class AuditEventFilter(django_filters.FilterSet):
    """Events by action, target, actor and time (``from`` inclusive, ``to`` exclusive)."""

    action = django_filters.CharFilter(max_length=64)
    action_prefix = django_filters.CharFilter(field_name="action", lookup_expr="startswith",
                                              max_length=64)
    target_type = django_filters.CharFilter(max_length=100)
    target_id = django_filters.CharFilter(max_length=64)
    actor = IdFilter(field_name="actor_id")
    occurred_from = django_filters.IsoDateTimeFilter(field_name="occurred_at", lookup_expr="gte")
    occurred_to = django_filters.IsoDateTimeFilter(field_name="occurred_at", lookup_expr="lt")

    class Meta:
        model = AuditEvent
        fields = ["action", "target_type", "target_id"]

for _public, _internal in (("from", "occurred_from"), ("to", "occurred_to")):
    AuditEventFilter.base_filters[_public] = AuditEventFilter.base_filters.pop(_internal)

@extend_schema_view(
    list=extend_schema(summary="The audit trail, newest first (Owner, Manager)"),
    retrieve=extend_schema(summary="One audit event (Owner, Manager)"),
)
class AuditEventViewSet(StrictQueryParamsMixin, mixins.ListModelMixin,
                        mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Append-only audit events of the tenant, paged by cursor."""

    serializer_class = AuditEventSerializer
    permission_classes = [IsAuthenticated, CanViewAudit]
    filterset_class = AuditEventFilter
    pagination_class = AuditCursorPagination
    queryset = AuditEvent.objects.none()

    def get_queryset(self) -> QuerySet[AuditEvent]:
        return AuditEvent.objects.all()
