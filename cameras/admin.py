"""Tenant admin for sites and cameras, with per-object permissions (the users' admin is in
tenants.accounts.admin)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.text import Truncator
from guardian.admin import GuardedModelAdmin
from guardian.forms import GroupObjectPermissionsForm, UserObjectPermissionsForm

from audit.admin import AuditedModelAdmin
from cameras import services
from cameras.models import Camera, Site
from cameras.permissions import (
    OBJECT_ACTIONS,
    direct_object_perms,
    object_permission_grant,
    object_permission_revoke,
)
from cameras.selectors import ai_models_choosable
from cameras.validators import validate_camera_url, validate_opening_hours, validate_timezone
from tenants.accounts.admin import OwnerOnlyObjectPermissionsMixin
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


class AuditedGuardedModelAdmin(OwnerOnlyObjectPermissionsMixin, AuditedModelAdmin,  # type: ignore[misc]
                               GuardedModelAdmin):
    """Guardian's object-permission pages, for Owners only, with every grant and revoke
    audited. Writes go through the camera services (which audit them); the bulk delete goes
    through ``delete_model`` one object at a time and is recorded as ``admin.bulk_delete``."""

    audited_by_services = frozenset({"create", "update", "delete"})

    def get_obj_perms_manage_user_form(self, request: HttpRequest) -> Any:
        return _audited_perms_form(UserObjectPermissionsForm, request.user)

    def get_obj_perms_manage_group_form(self, request: HttpRequest) -> Any:
        return _audited_perms_form(GroupObjectPermissionsForm, request.user)


# Names may be 200 characters long: lists and drop-downs show the start and the full name on hover.
LIST_NAME_CHARS = 60
CHOICE_NAME_CHARS = 80


def short_name(value: str, chars: int = LIST_NAME_CHARS) -> str:
    """``value`` cut to ``chars`` characters with an ellipsis when longer."""
    return Truncator(value).chars(chars)


def _name_cell(value: str) -> str:
    return format_html('<span title="{}">{}</span>', value, short_name(value))


class SiteChoiceField(forms.ModelChoiceField):
    """The site drop-down: long names are shortened so the form stays usable."""

    def label_from_instance(self, obj: Any) -> str:
        return f"{short_name(obj.name, CHOICE_NAME_CHARS)} ({obj.timezone})"


class SiteListFilter(admin.SimpleListFilter):
    """The camera list's "by site" filter, with long site names shortened."""

    title = "site"
    parameter_name = "site__id__exact"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(str(pk), short_name(name)) for pk, name in
                Site.objects.order_by("name", "id").values_list("pk", "name")]

    def queryset(self, request: HttpRequest, queryset: Any) -> Any:
        value = self.value()
        if value and value.isdigit():
            return queryset.filter(site_id=int(value))
        return queryset


SITE_FIELDS = ["name", "address", "timezone", "opening_hours"]
CAMERA_FIELDS = ["site", "name", "stream_url", "username", "detect_fps", "enabled", "ai_model"]


class SiteForm(forms.ModelForm):
    """Validates timezone and opening hours with the services' rules."""

    class Meta:
        model = Site
        fields = SITE_FIELDS

    def clean_timezone(self) -> str:
        return validate_timezone(self.cleaned_data["timezone"])

    def clean_opening_hours(self) -> Any:
        return validate_opening_hours(self.cleaned_data["opening_hours"])


@admin.register(Site, site=tenant_admin_site)
class SiteAdmin(AuditedGuardedModelAdmin):
    """Sites; the 'Object permissions' button grants view/change per user or group."""

    form = SiteForm
    list_display = ("display_name", "timezone", "display_address")
    search_fields = ("name", "address")

    @admin.display(description="name", ordering="name")
    def display_name(self, obj: Site) -> str:
        return _name_cell(obj.name)

    @admin.display(description="address", ordering="address")
    def display_address(self, obj: Site) -> str:
        return _name_cell(obj.address)

    def save_model(self, request: HttpRequest, obj: Site, form: Any, change: bool) -> None:
        data = {k: form.cleaned_data[k] for k in SITE_FIELDS if k in form.cleaned_data}
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

    site = SiteChoiceField(queryset=Site.objects.all())

    class Meta:
        model = Camera
        fields = CAMERA_FIELDS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "ai_model" in self.fields:  # only active models may be chosen (empty: the default)
            self.fields["ai_model"].queryset = ai_models_choosable()  # type: ignore[attr-defined]

    def clean_stream_url(self) -> str:
        return validate_camera_url(self.cleaned_data["stream_url"])

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("detect_fps") is not None:
            try:
                services.camera_fps_check(detect_fps=data["detect_fps"],
                                          enabled=bool(data.get("enabled")),
                                          camera=self.instance if self.instance.pk else None)
            except ValidationError as exc:
                self.add_error("detect_fps", exc.message_dict.get("detect_fps", exc.messages))
        return data


@admin.register(Camera, site=tenant_admin_site)
class CameraAdmin(AuditedGuardedModelAdmin):
    """Cameras; writes go through the camera services so they are validated and audited."""

    form = CameraForm
    list_display = ("display_name", "display_site", "enabled", "status", "detect_fps")
    list_filter = ("enabled", "status", SiteListFilter)
    search_fields = ("name",)
    readonly_fields = ("status", "status_reason")

    list_select_related = ("site",)

    @admin.display(description="name", ordering="name")
    def display_name(self, obj: Camera) -> str:
        return _name_cell(obj.name)

    @admin.display(description="site", ordering="site__name")
    def display_site(self, obj: Camera) -> str:
        return _name_cell(obj.site.name)

    def save_model(self, request: HttpRequest, obj: Camera, form: Any, change: bool) -> None:
        # Only the form's own fields: the admin's generated form also lists the read-only
        # ``status`` and ``status_reason``, which are never in cleaned_data (the KeyError of
        # issue 13).
        data = {k: form.cleaned_data[k] for k in CAMERA_FIELDS if k in form.cleaned_data}
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
