"""The audit trail: one immutable row per change, written explicitly by services."""

from __future__ import annotations

from typing import Any, NoReturn

from django.db import models
from django.utils import timezone

from audit.chain import CONTENT_FIELDS, content_hash


class AuditEventQuerySet(models.QuerySet["AuditEvent"]):
    """Refuses bulk updates and deletes: the trail is append-only."""

    def update(self, **kwargs: Any) -> NoReturn:
        raise PermissionError("Audit events are append-only and cannot be updated.")

    def delete(self) -> NoReturn:  # type: ignore[override]
        raise PermissionError("Audit events are append-only and cannot be deleted.")


# Normalises an address as the inet column returns it (IPv6 compressed, lowercase).
_IP_FIELD = models.GenericIPAddressField()


class _ChainField(models.CharField):  # type: ignore[type-arg]
    """A chain column the database fills on INSERT (audit_admin.chain_link()) and returns."""

    db_returning = True


class _ChainSeqField(models.BigIntegerField):  # type: ignore[type-arg]
    """The event's position in its schema's chain, set by the database on INSERT."""

    db_returning = True


class AuditEvent(models.Model):
    """Who did what to which object, when, from where, with the values before and after.

    Append-only in code (``save`` refuses updates, ``delete`` refuses) and in the database:
    the application's role may only SELECT and INSERT (the table belongs to a role nobody logs
    in as) and triggers refuse UPDATE, DELETE and TRUNCATE even to the owner. Tamper-evident:
    each event carries the hash of its content and is linked by the database to the previous
    event of its schema (``seq``, ``prev_hash``, ``hash``; see audit/chain.py).
    """

    # Not auto_now_add: the time is part of the content hash, computed before the INSERT.
    occurred_at = models.DateTimeField(default=timezone.now, db_index=True)
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
    content_hash = models.CharField(max_length=64, editable=False)
    seq = _ChainSeqField(editable=False)
    prev_hash = _ChainField(max_length=64, editable=False)
    hash = _ChainField(max_length=64, editable=False)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-occurred_at", "-id"]
        indexes = [models.Index(fields=["target_type", "target_id", "occurred_at"])]
        constraints = [models.UniqueConstraint(fields=["seq"], name="audit_event_seq_unique")]

    def __str__(self) -> str:
        return f"{self.occurred_at:%Y-%m-%d %H:%M:%S} {self.actor_name or '-'} {self.action}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None and not kwargs.get("force_insert"):
            raise PermissionError("Audit events are append-only and cannot be changed.")
        if self.occurred_at is None:
            self.occurred_at = timezone.now()
        # The values exactly as the database will return them (inet, jsonb), so that the hash
        # computed now is the one a later check recomputes from the stored row.
        self.ip = _IP_FIELD.to_python(self.ip) if self.ip else None
        self.content_hash = content_hash({name: getattr(self, name) for name in CONTENT_FIELDS})
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:  # type: ignore[override]
        raise PermissionError("Audit events are append-only and cannot be deleted.")


class FailedLoginTally(models.Model):
    """Failed logins counted per hour, username and client address: bounded, unlike one audit
    event per failure (which let anyone grow the trail without limit).

    At most ``AUDIT_FAILED_LOGIN_KEYS_PER_HOUR`` rows per hour; failures beyond that are
    counted in the hour's overflow row (``username`` and ``ip`` both ``*``). Rows older than
    ``AUDIT_FAILED_LOGIN_RETENTION_DAYS`` are pruned. Lockouts themselves are audit events
    (``auth.lockout``). ``manage.py failed_logins`` summarises it. Unlike the audit trail it is
    an ordinary, mutable table: a count, not evidence.
    """

    OVERFLOW = "*"

    hour = models.DateTimeField()
    username = models.CharField(max_length=150)
    ip = models.CharField(max_length=45, blank=True)
    failures = models.PositiveIntegerField(default=0)
    first_at = models.DateTimeField()
    last_at = models.DateTimeField()

    class Meta:
        ordering = ["-hour", "-failures"]
        constraints = [models.UniqueConstraint(fields=["hour", "username", "ip"],
                                               name="audit_failed_login_tally_key")]
        indexes = [models.Index(fields=["username", "hour"])]

    def __str__(self) -> str:
        return f"{self.hour:%Y-%m-%d %H}h {self.username} {self.ip or '-'}: {self.failures}"
