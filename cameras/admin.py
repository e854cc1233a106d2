"""Tenant admin for sites and cameras, with per-object permissions (the users' admin is in
tenants.accounts.admin)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from guardian.admin import GuardedModelAdmin
from guardian.forms import GroupObjectPermissionsForm, UserObjectPermissionsForm

from cameras import services
from cameras.models import Camera, Site
from cameras.permissions import (
    OBJECT_ACTIONS,
    direct_object_perms,
    object_permission_grant,
    object_permission_revoke,
)
from cameras.validators import validate_camera_url, validate_opening_hours, validate_timezone
from tenants.admin_sites import tenant_admin_site


def _audited_perms_form(base: type, actor: Any) -> type:
    """A guardian permissions form limited to view/change that saves through our services."""

    class AuditedObjectPermissionsForm(base):  # type: ignore[misc, valid-type]
        def get_obj_perms_field_choices(self) -> list[tuple[str, str]]:
            model = self.obj._meta.model_name
            return [(f"{action}_{model}", f"Can {action} this {model}")
                    for action in OBJECT_ACTIONS]

        def save_obj_perms(self) -> None:
            grantee = getattr(self, "user", None) or self.group
            model = self.obj._meta.model_name
            wanted = set(self.cleaned_data[self.get_obj_perms_field_name()])
            current = set(direct_object_perms(grantee, self.obj))
            for action in OBJECT_ACTIONS:
                codename = f"{action}_{model}"
                if codename in wanted and codename not in current:
                    object_permission_grant(actor=actor, grantee=grantee, action=action,
                                            obj=self.obj)
                elif codename in current and codename not in wanted:
                    object_permission_revoke(actor=actor, grantee=grantee, action=action,
                                             obj=self.obj)

    return AuditedObjectPermissionsForm


class AuditedGuardedModelAdmin(GuardedModelAdmin):
    """Guardian's object-permission pages, with every grant and revoke audited."""

    def get_obj_perms_manage_user_form(self, request: HttpRequest) -> Any:
        return _audited_perms_form(UserObjectPermissionsForm, request.user)

    def get_obj_perms_manage_group_form(self, request: HttpRequest) -> Any:
        return _audited_perms_form(GroupObjectPermissionsForm, request.user)


class SiteForm(forms.ModelForm):
    """Validates timezone and opening hours with the services' rules."""

    class Meta:
        model = Site
        fields = ["name", "address", "timezone", "opening_hours"]

    def clean_timezone(self) -> str:
        return validate_timezone(self.cleaned_data["timezone"])

    def clean_opening_hours(self) -> Any:
        return validate_opening_hours(self.cleaned_data["opening_hours"])


@admin.register(Site, site=tenant_admin_site)
class SiteAdmin(AuditedGuardedModelAdmin):
    """Sites; the 'Object permissions' button grants view/change per user or group."""

    form = SiteForm
    list_display = ("name", "timezone", "address")
    search_fields = ("name", "address")

    def save_model(self, request: HttpRequest, obj: Site, form: Any, change: bool) -> None:
        data = {k: form.cleaned_data[k] for k in form.Meta.fields}
        if change:
            saved = services.site_update(actor=request.user, site=obj, **data)
        else:
            saved = services.site_create(actor=request.user, **data)
        obj.pk = saved.pk

    def delete_model(self, request: HttpRequest, obj: Site) -> None:
        services.site_delete(actor=request.user, site=obj)


class CameraForm(forms.ModelForm):
    """Camera form: the password is write-only; an empty field keeps the stored one."""

    password = forms.CharField(widget=forms.PasswordInput(render_value=False), required=False,
                               help_text="Leave empty to keep the stored password.")

    class Meta:
        model = Camera
        fields = ["site", "name", "stream_url", "username", "detect_fps", "enabled"]

    def clean_stream_url(self) -> str:
        return validate_camera_url(self.cleaned_data["stream_url"])


@admin.register(Camera, site=tenant_admin_site)
class CameraAdmin(AuditedGuardedModelAdmin):
    """Cameras; writes go through the camera services so they are validated and audited."""

    form = CameraForm
    list_display = ("name", "site", "enabled", "status", "detect_fps")
    list_filter = ("enabled", "status", "site")
    search_fields = ("name",)
    readonly_fields = ("status", "status_reason")

    def save_model(self, request: HttpRequest, obj: Camera, form: Any, change: bool) -> None:
        data = {k: form.cleaned_data[k] for k in form.Meta.fields}
        password = form.cleaned_data.get("password")
        try:
            if change:
                extra = {"password": password} if password else {}
                saved = services.camera_update(actor=request.user, camera=obj, **data, **extra)
            else:
                saved = services.camera_create(actor=request.user, password=password or "", **data)
        except ValidationError as exc:
            from django.contrib import messages

            messages.error(request, "; ".join(exc.messages))
            return
        obj.pk = saved.pk

    def delete_model(self, request: HttpRequest, obj: Camera) -> None:
        try:
            services.camera_delete(actor=request.user, camera=obj)
        except ValidationError as exc:
            from django.contrib import messages

            messages.error(request, " ".join(exc.messages))
