"""Audit retention removes only a prefix of the hash chain and anchors it, so verify_audit still
checks every event that stays; a restored trail can continue from the anchor."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

OLD = datetime(2025, 1, 1, 9, tzinfo=UTC)


def _bare_tenant(slug: str) -> Any:
    """A migrated tenant schema with an empty audit trail (no owner, no domain)."""
    from tenants.models import Tenant

    tenant = Tenant(schema_name=slug, slug=slug, name=slug)
    tenant.save(verbosity=0)
    return tenant


def _event(action: str, occurred_at: datetime) -> Any:
    from audit.models import AuditEvent

    event = AuditEvent(action=action, occurred_at=occurred_at, target_type="tests.thing",
                       target_id="1", after={"n": action})
    event.save()
    return event


@pytest.mark.django_db
def test_audit_retention_removes_an_anchored_prefix_and_the_rest_verifies(
        in_tenant: Any, tmp_path: Path) -> None:
    from django.db import DatabaseError
    from django_tenants.utils import schema_context

    from audit.chain import chain_verify
    from audit.export import audit_export_schema
    from audit.models import AuditEvent
    from audit.retention import audit_chain_start, audit_prune, chain_anchor_of
    from audit.verify import audit_verify_file, audit_verify_schema, schema_rows

    # given a trail of five events from 2025 followed by three of today
    schema = f"ar_{uuid.uuid4().hex[:8]}"
    tenant = _bare_tenant(schema)
    with in_tenant(tenant):
        old = [_event(f"old.{i}", OLD + timedelta(days=i)) for i in range(5)]
        for i in range(3):
            _event(f"new.{i}", timezone.now())
    with schema_context(schema):
        kept_before = list(schema_rows(schema))[5:]

    # when audit events before June 2025 are removed, two per transaction
    removed = audit_prune(schema=schema, before=datetime(2025, 6, 1, tzinfo=UTC), batch=2)

    # then exactly the five old ones went and the chain is anchored at the last of them
    assert removed == 5
    with in_tenant(tenant):
        assert list(AuditEvent.objects.order_by("seq").values_list("action", flat=True)) == [
            "new.0", "new.1", "new.2"]
    assert chain_anchor_of(schema) == (5, old[-1].hash)
    # and the events that stay verify from the anchor, in the database and in an export
    report = audit_verify_schema(schema=schema)
    assert report.ok, report.problem
    assert (report.events, report.last_seq) == (3, 8)
    exported = audit_export_schema(schema=schema, path=tmp_path / "trail.jsonl")
    assert audit_verify_file(path=exported, check_database=False)[0].ok
    # and a kept event missing after the anchor is still caught
    with schema_context(schema):
        rows = list(schema_rows(schema))
    assert rows == kept_before
    assert not chain_verify(rows[1:], start=(5, old[-1].hash)).ok

    # when a new, empty trail is started at that anchor and given the same events
    copy = _bare_tenant(f"{schema}_c")
    audit_chain_start(schema=copy.schema_name, anchor=(5, old[-1].hash))
    with in_tenant(copy):
        for row in rows:
            event = AuditEvent(**{name: row[name] for name in (
                "occurred_at", "actor_id", "actor_name", "ip", "request_id", "action",
                "target_type", "target_id", "target_repr", "before", "after")})
            event.save()
    # then it is the same chain, link for link
    with schema_context(copy.schema_name):
        copied = list(schema_rows(copy.schema_name))
    assert [(r["seq"], r["hash"]) for r in copied] == [(r["seq"], r["hash"]) for r in rows]
    assert audit_verify_schema(schema=copy.schema_name).ok

    # and events younger than 30 days are never removed, whoever asks
    with pytest.raises(DatabaseError, match="younger than 30 days"):
        audit_prune(schema=schema, before=timezone.now() - timedelta(days=1))
