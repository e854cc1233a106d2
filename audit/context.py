"""The actor, IP and request id of the current request or job, carried in a context variable."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(frozen=True)
class AuditContext:
    """Who is acting now, from where, under which request id."""

    actor_id: int | None = None
    actor_name: str = ""
    ip: str | None = None
    request_id: str = ""


_EMPTY = AuditContext()
_current: ContextVar[AuditContext] = ContextVar("audit_context", default=_EMPTY)  # noqa: B039


def current_audit_context() -> AuditContext:
    return _current.get()


@contextlib.contextmanager
def audit_context(*, actor: object | None = None, ip: str | None = None,
                  request_id: str | None = None, actor_name: str | None = None,
                  ) -> Iterator[AuditContext]:
    """Run a block as ``actor`` (a user, or None for the system)."""
    actor_id = getattr(actor, "pk", None) if actor is not None else None
    name = actor_name if actor_name is not None else (
        getattr(actor, "get_username", lambda: "")() if actor is not None else ""
    )
    ctx = AuditContext(actor_id=actor_id, actor_name=name or "", ip=ip,
                       request_id=request_id or uuid.uuid4().hex)
    token = _current.set(ctx)
    try:
        yield ctx
    finally:
        _current.reset(token)
