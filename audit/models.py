"""The audit trail: one immutable row per change, written explicitly by services."""

from __future__ import annotations

from typing import Any, NoReturn

from django.db import models


class AuditEventQuerySet(models.QuerySet["AuditEvent"]):
    """Refuses bulk updates and deletes: the trail is append-only."""

    def update(self, **kwargs: Any) -> NoReturn:
        raise PermissionError("Audit events are append-only and cannot be updated.")

    def delete(self) -> NoReturn:  # type: ignore[override]
        raise PermissionError("Audit events are append-only and cannot be deleted.")


class AuditEvent(models.Model):
    """Who did what to which object, when, from where, with the values before and after.

    Append-only in code (``save`` refuses updates, ``delete`` refuses) and in the database
    (a trigger rejects UPDATE and DELETE on the table).
    """

    occurred_at = models.DateTimeField(auto_now_add=True, db_index=True)
    # No foreign key: the trail outlives users and never changes when they are deleted.
    actor_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    actor_name = models.CharField(max_length=254, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    action = models.CharField(max_length=64, db_index=True)
    target_type = models.CharField(max_length=100, blank=True, db_index=True)
    target_id = models.CharField(max_length=64, blank=True, db_index=True)
    target_repr = models.CharField(max_length=200, blank=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-occurred_at", "-id"]
        indexes = [models.Index(fields=["target_type", "target_id", "occurred_at"])]

    def __str__(self) -> str:
        return f"{self.occurred_at:%Y-%m-%d %H:%M:%S} {self.actor_name or '-'} {self.action}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None and not kwargs.get("force_insert"):
            raise PermissionError("Audit events are append-only and cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:  # type: ignore[override]
        raise PermissionError("Audit events are append-only and cannot be deleted.")
