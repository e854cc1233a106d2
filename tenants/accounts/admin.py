"""Tenant admin for the tenant's users and groups (roles); every user change is audited."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group, User
from django.http import HttpRequest

from audit.services import audit_record
from tenants.accounts.roles import user_role
from tenants.accounts.users import user_values
from tenants.admin_sites import tenant_admin_site
from tenants.constants import Role


class TenantUserAdmin(UserAdmin):
    """Users of this tenant; every change is written to the audit trail."""

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        # Group (role) changes are saved after the user row, so the event is written last.
        request._audit_user_before = (  # type: ignore[attr-defined]
            user_values(User.objects.get(pk=obj.pk)) if change and obj.pk else None)
        super().save_model(request, obj, form, change)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        # The role decides admin access, as in user_create/user_update: an Owner or Manager
        # given the group here must be able to enter the admin (issue 13), a Viewer must not.
        user = form.instance
        staff = user_role(user) in (Role.OWNER, Role.MANAGER)
        if not user.is_superuser and user.is_staff != staff:
            user.is_staff = staff
            user.save(update_fields=["is_staff"])
        before = getattr(request, "_audit_user_before", None)
        after = user_values(form.instance)
        if before != after:
            audit_record(action="user.update" if change else "user.create",
                         target=form.instance, before=before, after=after, actor=request.user)

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        before = user_values(obj)
        pk = obj.pk
        super().delete_model(request, obj)
        audit_record(action="user.delete", target_type="auth.user", target_id=str(pk),
                     before=before, actor=request.user)


tenant_admin_site.register(User, TenantUserAdmin)
tenant_admin_site.register(Group, GroupAdmin)
