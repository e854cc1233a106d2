"""Query filters of sites and cameras."""

from __future__ import annotations

import django_filters

from cameras.constants import CameraStatus
from cameras.models import Camera, Site
from tenants.rest.mixins import IdFilter


class SiteFilter(django_filters.FilterSet):
    """Sites by name (contains) and timezone."""

    name = django_filters.CharFilter(lookup_expr="icontains", max_length=200)
    timezone = django_filters.CharFilter(max_length=64)

    class Meta:
        model = Site
        fields = ["name", "timezone"]


class CameraFilter(django_filters.FilterSet):
    """Cameras by site, name (contains), enabled and status."""

    site = IdFilter(field_name="site_id")
    name = django_filters.CharFilter(lookup_expr="icontains", max_length=200)
    enabled = django_filters.BooleanFilter()
    status = django_filters.ChoiceFilter(choices=CameraStatus.choices)

    class Meta:
        model = Camera
        fields = ["site", "name", "enabled", "status"]
