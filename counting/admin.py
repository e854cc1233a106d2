"""Tenant admin: lines and zones under their camera's own pages, health read-only.

Edits go through the counting services so they are validated, versioned (running streams
reload them) and audited exactly like API edits.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest

from counting import services
from counting.models import CameraHealth, CameraHealthEvent, CountingLine, Zone
from tenants.admin_sites import ReadOnlyModelAdmin, tenant_admin_site


class _ServiceAdmin(admin.ModelAdmin):
    """Saves and deletes through the services (validation, version bump, audit)."""

    create_service: Any = None
    update_service: Any = None
    delete_service: Any = None
    fields_to_save: tuple[str, ...] = ()
    target_kw = ""

    check_service: Any = None

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False,
                 **kwargs: Any) -> Any:
        form_class = super().get_form(request, obj, change=change, **kwargs)
        check = type(self).check_service

        class ServiceCheckedForm(form_class):  # type: ignore[misc, valid-type]
            """Runs the services' validation so bad input is a form error, not a 500."""

            def _post_clean(self) -> None:
                super()._post_clean()
                try:
                    check(self.instance)
                except ValidationError as exc:
                    self._update_errors(exc)

        return ServiceCheckedForm

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        values = {f: form.cleaned_data[f] for f in self.fields_to_save if f in form.cleaned_data}
        if change:
            type(self).update_service(actor=request.user, **{self.target_kw: obj}, **values)
        else:
            created = type(self).create_service(actor=request.user,
                                                camera=form.cleaned_data["camera"], **values)
            obj.pk = created.pk

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        try:
            type(self).delete_service(actor=request.user, **{self.target_kw: obj})
        except ValidationError as exc:
            self.message_user(request, " ".join(exc.messages), level=messages.ERROR)

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        for obj in queryset:
            self.delete_model(request, obj)


@admin.register(CountingLine, site=tenant_admin_site)
class CountingLineAdmin(_ServiceAdmin):
    """Counting lines (normalised coordinates; crossing left to right is "in")."""

    list_display = ("name", "camera", "in_label", "out_label", "entrance", "enabled", "version")
    list_filter = ("enabled", "entrance", "camera")
    fields = ("camera", "name", "x1", "y1", "x2", "y2", "in_label", "out_label", "entrance",
              "enabled")
    fields_to_save = ("name", "x1", "y1", "x2", "y2", "in_label", "out_label", "entrance",
                      "enabled")
    create_service = services.counting_line_create
    update_service = services.counting_line_update
    delete_service = services.counting_line_delete
    check_service = services.counting_line_check
    target_kw = "line"


@admin.register(Zone, site=tenant_admin_site)
class ZoneAdmin(_ServiceAdmin):
    """Zones (polygons of normalised points) with an optional capacity, and masks."""

    list_display = ("name", "camera", "capacity", "ignore_detections", "entrance", "enabled",
                    "version")
    list_filter = ("enabled", "ignore_detections", "entrance", "camera")
    fields = ("camera", "name", "points", "capacity", "ignore_detections", "entrance", "enabled")
    fields_to_save = ("name", "points", "capacity", "ignore_detections", "entrance", "enabled")
    create_service = services.zone_create
    update_service = services.zone_update
    delete_service = services.zone_delete
    check_service = services.zone_check
    target_kw = "zone"


class _ReadOnlyAdmin(ReadOnlyModelAdmin):
    """Written by the stream runners only."""


@admin.register(CameraHealth, site=tenant_admin_site)
class CameraHealthAdmin(_ReadOnlyAdmin):
    """The latest stream health of each camera."""

    list_display = ("camera", "state", "reason", "last_frame_at", "fps_received",
                    "fps_analysed", "frame_age_s", "events_lost", "reconnects")
    list_filter = ("state",)


@admin.register(CameraHealthEvent, site=tenant_admin_site)
class CameraHealthEventAdmin(_ReadOnlyAdmin):
    """State changes and processing gaps, newest first."""

    list_display = ("occurred_at", "camera", "state", "reason", "gap_seconds")
    list_filter = ("state", "camera")

# The model registry's pages on the platform admin (public schema).
import counting.registry_admin  # noqa: E402, F401
