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


# Set while a caller that records its own, complete audit event changes users, groups or
# permissions (a service, an audited admin form): the signal receivers that catch every other
# path (shell, stock views, third-party code) stay silent then, so nothing is recorded twice.
_explicit: ContextVar[bool] = ContextVar("audit_explicit", default=False)  # noqa: B039


@contextlib.contextmanager
def audited_explicitly() -> Iterator[None]:
    """Run a block whose changes the caller audits itself (see ``is_audited_explicitly``)."""
    token = _explicit.set(True)
    try:
        yield
    finally:
        _explicit.reset(token)


def is_audited_explicitly() -> bool:
    return _explicit.get()
