"""Platform admin: tenants (created through the provisioning service), domains, plans and
platform staff."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.models import Group, User
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse

from audit.admin import AuditedGroupAdmin, AuditedModelAdmin, AuditedUserAdmin
from tenants.admin_sites import platform_admin_site
from tenants.models import QUOTA_FIELDS, RETENTION_FIELDS, Domain, Plan, Tenant
from tenants.platform.services import (
    tenant_create,
    tenant_delete,
    tenant_reactivate,
    tenant_suspend,
    tenant_validate_new,
)


class TenantCreateForm(forms.ModelForm):
    """The add form: a tenant with its first domain and owner, provisioned in one step."""

    domain = forms.CharField(help_text="e.g. acme.example.com")
    owner_email = forms.EmailField()
    owner_password = forms.CharField(widget=forms.PasswordInput)

    class Meta:
        model = Tenant
        fields = ["name", "slug", "plan", "camera_quota"]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        try:
            tenant_validate_new(
                name=data.get("name", ""), slug=data.get("slug", ""),
                domain=(data.get("domain") or "").lower(),
                owner_email=data.get("owner_email", ""),
                owner_password=data.get("owner_password", ""),
            )
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                if field in self.errors:
                    # Already refused by the field itself (e.g. "This field is required."):
                    # the service's message would only quote the empty value again.
                    continue
                self.add_error(field if field in self.fields else None, errors)
        return data


PUBLIC_TENANT_REFUSAL = ("The public tenant is the platform itself (tenants, plans, staff and "
                         "their audit trail) and cannot be deleted.")


@admin.register(Tenant, site=platform_admin_site)
class TenantAdmin(AuditedModelAdmin):
    """Tenants: creation goes through ``tenant_create`` and deletion through ``tenant_delete``
    (each records its own event); changes (suspension, quota, plan) are audited by the mixin.
    The schema name never changes and the public tenant cannot be deleted."""

    audited_by_services = frozenset({"create", "delete"})

    list_display = ("name", "slug", "plan", "camera_quota", "is_active", "created_at")
    list_filter = ("is_active", "plan")
    search_fields = ("name", "slug")
    readonly_fields = ("schema_name", "created_at")

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False,
                 **kwargs: Any) -> Any:
        if obj is None:
            kwargs["form"] = TenantCreateForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is not None:
            return ("schema_name", "slug", "created_at")
        return ("created_at",)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return ["name", "slug", "plan", "camera_quota", "domain", "owner_email",
                    "owner_password"]
        return ["name", "slug", "schema_name", "plan", "camera_quota", *QUOTA_FIELDS,
                *RETENTION_FIELDS, "is_active", "created_at"]

    actions = ["suspend_selected", "reactivate_selected"]

    def save_model(self, request: HttpRequest, obj: Tenant, form: Any, change: bool) -> None:
        if change:
            self._save_change(request, obj, form)
            return
        data = form.cleaned_data
        try:
            result = tenant_create(
                name=data["name"], slug=data["slug"], domain=data["domain"],
                owner_email=data["owner_email"], owner_password=data["owner_password"],
                plan_code=data["plan"].code if data.get("plan") else None,
                camera_quota=data.get("camera_quota"),
            )
        except ValidationError as exc:  # raced with another creation
            messages.error(request, f"Tenant not created: {'; '.join(exc.messages)}")
            return
        obj.pk = result.tenant.pk

    def _save_change(self, request: HttpRequest, obj: Tenant, form: Any) -> None:
        """Other fields are saved as edited; "active" goes through the suspend and reactivate
        services (audit, streams stopped), never straight to the row."""
        wanted = obj.is_active
        toggled = "is_active" in form.changed_data
        if toggled:
            obj.is_active = not wanted  # the stored value: the service changes it
        obj.save()
        if toggled:
            self._set_active(request, obj, active=wanted)

    def _set_active(self, request: HttpRequest, tenant: Tenant, *, active: bool) -> bool:
        try:
            if active:
                return tenant_reactivate(tenant=tenant)
            return tenant_suspend(tenant=tenant, reason="platform admin")
        except ValidationError as exc:
            messages.error(request, f"{tenant.name}: {'; '.join(exc.messages)}")
            return False

    @admin.action(description="Suspend selected tenants (their streams stop, their users are "
                              "refused; data is kept)", permissions=["change"])
    def suspend_selected(self, request: HttpRequest, queryset: Any) -> None:
        done = [t.name for t in queryset if self._set_active(request, t, active=False)]
        if done:
            messages.success(request, f"Suspended: {', '.join(done)}.")
        else:
            messages.info(request, "No tenant was suspended (already suspended).")

    @admin.action(description="Reactivate selected tenants", permissions=["change"])
    def reactivate_selected(self, request: HttpRequest, queryset: Any) -> None:
        done = [t.name for t in queryset if self._set_active(request, t, active=True)]
        if done:
            messages.success(request, f"Reactivated: {', '.join(done)}. Their enabled cameras "
                                      "start again within seconds.")
        else:
            messages.info(request, "No tenant was reactivated (already active).")

    def delete_model(self, request: HttpRequest, obj: Tenant) -> None:
        tenant_delete(slug=obj.slug)

    def delete_view(self, request: HttpRequest, object_id: str,
                    extra_context: dict[str, Any] | None = None) -> HttpResponse:
        tenant = Tenant.objects.filter(pk=object_id).first() if object_id.isdigit() else None
        if tenant is not None and tenant.schema_name == "public":
            messages.error(request, PUBLIC_TENANT_REFUSAL)
            return HttpResponseRedirect(reverse(
                f"{self.admin_site.name}:tenants_tenant_change", args=[tenant.pk]))
        return super().delete_view(request, object_id, extra_context)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Tenant]) -> None:
        """The bulk "delete selected tenants" action: each through ``tenant_delete`` (streams
        stopped, audit trail exported, schema, domains and Redis keys removed), never a bare
        ``DELETE`` of the rows; the public tenant is refused with a message; one
        ``admin.bulk_delete`` event names the tenants deleted."""
        if queryset.filter(schema_name="public").exists():
            messages.error(request, PUBLIC_TENANT_REFUSAL)
            queryset = queryset.exclude(schema_name="public")
        deleted = []
        for tenant in list(queryset):
            try:
                tenant_delete(slug=tenant.slug)
            except ValidationError as exc:
                messages.error(request, f"{tenant.name} not deleted: {'; '.join(exc.messages)}")
                continue
            deleted.append({"id": tenant.pk, "repr": tenant.name})
        self.audit_bulk_delete(request, deleted)

    def audit_values(self, obj: Any) -> dict[str, Any]:
        # "active" changes only through tenant_suspend/tenant_reactivate, which record them.
        values = super().audit_values(obj)
        values.pop("is_active", None)
        return values

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_superuser)


@admin.register(Domain, site=platform_admin_site)
class DomainAdmin(AuditedModelAdmin):
    """Host names routed to tenants."""

    list_display = ("domain", "tenant", "is_primary")
    search_fields = ("domain",)


@admin.register(Plan, site=platform_admin_site)
class PlanAdmin(AuditedModelAdmin):
    """Commercial plans and their quotas."""

    list_display = ("name", "code", "camera_quota", "fps_quota", "websocket_quota",
                    *RETENTION_FIELDS)


# Platform staff: the users of the public schema (not a tenant's people, who have their own admin
# in tenants.accounts.admin on each tenant's domain).
platform_admin_site.register(User, AuditedUserAdmin)
platform_admin_site.register(Group, AuditedGroupAdmin)

from tenants.platform import node_admin  # noqa: E402,F401  (registers the stream nodes)
