"""Writing the audit trail. Services call ``audit_record`` inside their transaction."""

from __future__ import annotations

import json
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models

from audit.context import current_audit_context
from audit.models import AuditEvent

_UNSET: Any = object()


def to_json(values: dict[str, Any] | None) -> dict[str, Any] | None:
    """Make values JSON-safe (dates, decimals, UUIDs become strings)."""
    if values is None:
        return None
    return json.loads(json.dumps(values, cls=DjangoJSONEncoder))  # type: ignore[no-any-return]


def audit_record(*, action: str, target: models.Model | None = None, target_type: str = "",
                 target_id: str = "", before: dict[str, Any] | None = None,
                 after: dict[str, Any] | None = None, actor: Any = _UNSET,
                 target_repr: str = "") -> AuditEvent:
    """Append one audit event. The actor defaults to the one of the current request or job."""
    ctx = current_audit_context()
    if actor is _UNSET:
        actor_id, actor_name = ctx.actor_id, ctx.actor_name
    elif actor is None or not getattr(actor, "is_authenticated", False):
        actor_id, actor_name = None, ""
    else:
        actor_id, actor_name = actor.pk, actor.get_username()
    if target is not None:
        target_type = target_type or target._meta.label_lower
        target_id = target_id or str(target.pk)
    return AuditEvent.objects.create(
        actor_id=actor_id,
        actor_name=actor_name,
        ip=ctx.ip,
        request_id=ctx.request_id,
        action=action,
        target_type=target_type,
        target_id=target_id,
        target_repr=(target_repr or (str(target) if target is not None else ""))[:200],
        before=to_json(before),
        after=to_json(after),
    )
