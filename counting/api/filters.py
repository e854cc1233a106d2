"""Query filters of counting rules and the ledger."""

from __future__ import annotations

import django_filters

from counting.constants import Direction
from counting.models import CountEvent, CountingLine, Zone
from tenants.rest.mixins import IdFilter


class CameraRuleFilter(django_filters.FilterSet):
    """Lines or zones by camera, name (contains) and enabled."""

    camera = IdFilter(field_name="camera_id")
    name = django_filters.CharFilter(lookup_expr="icontains", max_length=100)
    enabled = django_filters.BooleanFilter()


class LineFilter(CameraRuleFilter):
    """Lines by camera, name (contains) and enabled."""

    class Meta:
        model = CountingLine
        fields = ["camera", "name", "enabled"]


class ZoneFilter(CameraRuleFilter):
    """Zones by camera, name (contains) and enabled."""

    class Meta:
        model = Zone
        fields = ["camera", "name", "enabled"]


class CountEventFilter(django_filters.FilterSet):
    """Ledger events by camera, line, direction and time (``from`` inclusive, ``to``
    exclusive)."""

    camera = IdFilter(field_name="camera_id")
    line = IdFilter(field_name="line_id")
    direction = django_filters.ChoiceFilter(choices=Direction.choices)
    occurred_from = django_filters.IsoDateTimeFilter(field_name="occurred_at", lookup_expr="gte",
                                                     label="from")
    occurred_to = django_filters.IsoDateTimeFilter(field_name="occurred_at", lookup_expr="lt",
                                                   label="to")

    class Meta:
        model = CountEvent
        fields = ["camera", "line", "direction"]

# ``from`` is a Python keyword: rename the filters after the class is built.
for _public, _internal in (("from", "occurred_from"), ("to", "occurred_to")):
    CountEventFilter.base_filters[_public] = CountEventFilter.base_filters.pop(_internal)
