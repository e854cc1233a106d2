"""The audit trail in both admins (read-only), and the mixin that audits admin writes.

``AuditedModelAdmin`` records every add, change and delete made in an admin as one audit event
with the values before and after (``<model>.create``, ``<model>.update``, ``<model>.delete``),
and turns the bulk "delete selected" action into one ``delete_model`` per object (so an admin
whose ``delete_model`` goes through a service deletes through it) plus one ``admin.bulk_delete``
event. Admins whose writes go through services that record their own events name those
operations in ``audited_by_services``.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse

from audit.context import audited_explicitly
from audit.models import AuditEvent, FailedLoginTally
from audit.services import audit_record
from tenants.admin_sites import ReadOnlyModelAdmin, platform_admin_site, tenant_admin_site

# Never copied into the trail: hashes and encrypted secrets (whether they changed is enough).
SECRET_FIELDS = frozenset({"password", "secret_hash"})
SECRET_SUFFIX = "_encrypted"  # noqa: S105 (a field-name suffix, not a secret)
# Bookkeeping that changes on its own and says nothing about who changed what.
NOISE_FIELDS = frozenset({"last_login", "updated_at"})


def model_audit_values(obj: models.Model) -> dict[str, Any]:
    """An object's fields for the audit trail: plain values, foreign keys as ids, many-to-many
    as sorted labels; secrets only as "set" or not."""
    values: dict[str, Any] = {}
    for field in obj._meta.concrete_fields:
        if field.name in NOISE_FIELDS:
            continue
        value = getattr(obj, field.attname)
        if field.name in SECRET_FIELDS or field.name.endswith(SECRET_SUFFIX):
            values[f"{field.name}_set"] = bool(value)
            continue
        values[field.name] = value
    if obj.pk is not None:
        for m2m in obj._meta.many_to_many:
            values[m2m.name] = sorted(str(item) for item in getattr(obj, m2m.name).all())
    return values


class AuditedModelAdmin(admin.ModelAdmin):
    """A ModelAdmin whose adds, changes and deletes (one by one or in bulk) are audited."""

    # Operations ("create", "update", "delete") whose service records the event itself.
    audited_by_services: frozenset[str] = frozenset()

    def audit_values(self, obj: Any) -> dict[str, Any]:
        return model_audit_values(obj)

    def audit_action(self, verb: str) -> str:
        return f"{self.model._meta.model_name}.{verb}"

    def get_object(self, request: HttpRequest, object_id: str,
                   from_field: str | None = None) -> Any:
        obj = super().get_object(request, object_id, from_field)
        if obj is not None:
            # Before the form writes into the instance: the values as stored.
            request._audit_before = self.audit_values(obj)  # type: ignore[attr-defined]
        return obj

    def changeform_view(self, request: HttpRequest, object_id: str | None = None,
                        form_url: str = "", extra_context: dict[str, Any] | None = None,
                        ) -> HttpResponse:
        # This admin records the whole change itself: the signal receivers stay silent.
        with audited_explicitly():
            return super().changeform_view(request, object_id, form_url, extra_context)

    def log_addition(self, request: HttpRequest, obj: Any, message: Any) -> Any:
        # Called after the object and its many-to-many relations are saved, in the same
        # transaction: the values are final.
        if obj.pk is not None and "create" not in self.audited_by_services:
            audit_record(action=self.audit_action("create"), target=obj,
                         after=self.audit_values(obj), actor=request.user)
        return super().log_addition(request, obj, message)

    def log_change(self, request: HttpRequest, obj: Any, message: Any) -> Any:
        if "update" not in self.audited_by_services:
            before = getattr(request, "_audit_before", None)
            after = self.audit_values(obj)
            if before != after:
                audit_record(action=self.audit_action("update"), target=obj, before=before,
                             after=after, actor=request.user)
        return super().log_change(request, obj, message)

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        before = self.audit_values(obj)
        target_type, target_id, label = obj._meta.label_lower, str(obj.pk), str(obj)[:200]
        super().delete_model(request, obj)
        if "delete" not in self.audited_by_services:
            audit_record(action=self.audit_action("delete"), target_type=target_type,
                         target_id=target_id, target_repr=label, before=before,
                         actor=request.user)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        """The bulk action: each object through ``delete_model`` (its service, its event), and
        one event that names them all."""
        deleted = []
        model = self.model
        for obj in list(queryset):
            entry = {"id": obj.pk, "repr": str(obj)[:200]}
            try:
                self.delete_model(request, obj)
            except ValidationError as exc:  # a service's refusal: say which, go on
                messages.error(request, f"{entry['repr']} not deleted: {' '.join(exc.messages)}")
                continue
            # A delete_model may report a refusal as a message instead of raising.
            if not model._default_manager.filter(pk=entry["id"]).exists():
                deleted.append(entry)
        self.audit_bulk_delete(request, deleted)

    def audit_bulk_delete(self, request: HttpRequest, deleted: list[dict[str, Any]]) -> None:
        """One ``admin.bulk_delete`` event naming the objects (id, repr) a bulk action deleted."""
        if deleted:
            audit_record(action="admin.bulk_delete", target_type=self.model._meta.label_lower,
                         after={"count": len(deleted), "objects": deleted},
                         actor=request.user)


class AuditedUserAdmin(AuditedModelAdmin, UserAdmin):
    """Users: profile, staff and superuser flags, groups and permissions audited; a password
    set on the password page is recorded by the ``user.password_change`` signal receiver."""

    def audit_action(self, verb: str) -> str:
        return f"user.{verb}"


class AuditedGroupAdmin(AuditedModelAdmin, GroupAdmin):
    """Groups and their permissions, audited."""

    def audit_action(self, verb: str) -> str:
        return f"group.{verb}"


class _ReadOnlyAdmin(ReadOnlyModelAdmin):
    """Lists and shows rows; nothing can be added, changed or deleted."""

    actions = None

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return [field.name for field in self.model._meta.fields]


class AuditEventAdmin(_ReadOnlyAdmin):
    """Lists and shows audit events; nothing can be added, changed or deleted."""

    list_display = ("occurred_at", "actor_name", "action", "target_type", "target_id", "ip")
    list_filter = ("action", "target_type")
    search_fields = ("actor_name", "target_id", "target_repr", "request_id")
    date_hierarchy = "occurred_at"


class FailedLoginTallyAdmin(_ReadOnlyAdmin):
    """Failed logins per hour, username and address (read-only; see ``manage.py
    failed_logins``)."""

    list_display = ("hour", "username", "ip", "failures", "first_at", "last_at")
    search_fields = ("username", "ip")
    date_hierarchy = "hour"


tenant_admin_site.register(AuditEvent, AuditEventAdmin)
platform_admin_site.register(AuditEvent, AuditEventAdmin)
tenant_admin_site.register(FailedLoginTally, FailedLoginTallyAdmin)
platform_admin_site.register(FailedLoginTally, FailedLoginTallyAdmin)
