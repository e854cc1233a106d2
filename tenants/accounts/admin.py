"""Tenant admin for the tenant's users and groups (roles); every change is audited
(``audit.admin.AuditedUserAdmin``), and the per-object permission pages are for Owners only."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.models import Group, User
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse

from audit.admin import AuditedGroupAdmin, AuditedUserAdmin
from tenants.accounts.roles import user_role
from tenants.accounts.users import user_values
from tenants.admin_sites import tenant_admin_site
from tenants.constants import Role

# The same rule as the API's /object-permissions/ (cameras.api.object_permissions): model
# permissions only the Owner role holds.
OBJECT_PERMISSION_MANAGERS = ("auth.change_group", "auth.view_user")


def can_manage_object_permissions(user: Any) -> bool:
    """Whether ``user`` may grant and revoke per-object permissions (Owners, superusers)."""
    return bool(user.is_active and user.has_perms(OBJECT_PERMISSION_MANAGERS))


class OwnerOnlyObjectPermissionsMixin:
    """For guardian's admin: the object-permission pages refuse anyone but Owners, with a
    message, as the API does (a Manager may edit a camera, not decide who sees it)."""

    def _refuse_object_permissions(self, request: HttpRequest, object_pk: str,
                                   ) -> HttpResponse | None:
        if can_manage_object_permissions(request.user):
            return None
        messages.error(request, "Only an Owner can grant or revoke per-object permissions. "
                                "Ask an Owner of this account to change who may see it.")
        opts = self.model._meta  # type: ignore[attr-defined]
        site = self.admin_site.name  # type: ignore[attr-defined]
        return HttpResponseRedirect(reverse(
            f"{site}:{opts.app_label}_{opts.model_name}_change", args=[object_pk]))

    def obj_perms_manage_view(self, request: HttpRequest, object_pk: str) -> Any:
        refused = self._refuse_object_permissions(request, object_pk)
        return refused or super().obj_perms_manage_view(  # type: ignore[misc]
            request, object_pk)

    def obj_perms_manage_user_view(self, request: HttpRequest, object_pk: str,
                                   user_id: str) -> Any:
        refused = self._refuse_object_permissions(request, object_pk)
        return refused or super().obj_perms_manage_user_view(  # type: ignore[misc]
            request, object_pk, user_id)

    def obj_perms_manage_group_view(self, request: HttpRequest, object_pk: str,
                                    group_id: str) -> Any:
        refused = self._refuse_object_permissions(request, object_pk)
        return refused or super().obj_perms_manage_group_view(  # type: ignore[misc]
            request, object_pk, group_id)


class TenantUserAdmin(AuditedUserAdmin):
    """Users of this tenant; every change is one audit event with the role and privileges."""

    def audit_values(self, obj: Any) -> dict[str, Any]:
        return user_values(obj)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        # The role decides admin access, as in user_create/user_update: an Owner or Manager
        # given the group here must be able to enter the admin (issue 13), a Viewer must not.
        user = form.instance
        staff = user_role(user) in (Role.OWNER, Role.MANAGER)
        if not user.is_superuser and user.is_staff != staff:
            user.is_staff = staff
            user.save(update_fields=["is_staff"])


tenant_admin_site.register(User, TenantUserAdmin)
tenant_admin_site.register(Group, AuditedGroupAdmin)
