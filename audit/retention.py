"""Retention of a schema's audit trail: its oldest events removed, verifiably.

Events are removed only as a prefix of the chain (from its first event up to the last one that
occurred before the cut-off) by ``audit_admin.audit_prune()`` (audit/sql/setup.sql), which runs
as the audit owner role, refuses anything younger than 30 days, and records the last removed
event's (seq, hash) as the chain's *anchor*. ``verify_audit`` then checks the chain from the
anchor: the events kept still prove they were not edited, reordered or removed, and the anchor
says how many went by retention and when. The application itself still cannot delete one.
"""

from __future__ import annotations

from datetime import datetime

from django.db import connection

from audit.verify import chain_anchor_of

AUDIT_PRUNE_BATCH = 10_000
# audit_admin.audit_prune() refuses younger events; plans cannot ask for less.
AUDIT_RETENTION_MIN_DAYS = 30


def audit_prune(*, schema: str, before: datetime, batch: int = AUDIT_PRUNE_BATCH) -> int:
    """Remove ``schema``'s audit events that occurred before ``before`` (a prefix of its chain),
    ``batch`` per transaction; returns how many were removed."""
    removed = 0
    while True:
        with connection.cursor() as cursor:
            cursor.execute("SELECT audit_admin.audit_prune(%s, %s, %s)", [schema, before, batch])
            step = int(cursor.fetchone()[0])
        removed += step
        if step < batch:
            return removed


def audit_chain_start(*, schema: str, anchor: tuple[int, str]) -> None:
    """Start ``schema``'s new, empty chain at ``anchor`` (a restored trail that was pruned)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT audit_admin.chain_start(%s, %s, %s)",
                       [schema, anchor[0], anchor[1]])


__all__ = ["AUDIT_RETENTION_MIN_DAYS", "audit_chain_start", "audit_prune", "chain_anchor_of"]
