"""What a sender gets (the notifications of one delivery) and what it returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tenants.db import connection


@dataclass(frozen=True, slots=True)
class Item:
    """One notification of a message: an alert's event."""

    alert_id: int
    event: str
    kind: str
    severity: str
    message: str
    scope: str
    scope_label: str
    site_id: int | None
    camera_id: int | None
    value: float | None
    threshold: float | None
    opened_at: str
    resolved_at: str | None
    resolution: str

    def as_json(self) -> dict[str, Any]:
        return {"alert_id": self.alert_id, "event": self.event, "kind": self.kind,
                "severity": self.severity, "message": self.message, "scope": self.scope,
                "scope_label": self.scope_label, "site_id": self.site_id,
                "camera_id": self.camera_id, "value": self.value, "threshold": self.threshold,
                "opened_at": self.opened_at, "resolved_at": self.resolved_at,
                "resolution": self.resolution}


@dataclass(frozen=True, slots=True)
class Message:
    """One delivery's content: one item, or several for a digest."""

    delivery_id: int
    channel: str
    recipient: str
    items: tuple[Item, ...]
    tenant_name: str = ""
    portal_url: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def digest(self) -> bool:
        return len(self.items) > 1

    @property
    def subject(self) -> str:
        if self.digest:
            opened = sum(1 for i in self.items if i.event == "opened")
            resolved = len(self.items) - opened
            parts = [f"{opened} opened"] if opened else []
            parts += [f"{resolved} resolved"] if resolved else []
            return f"[{self.tenant_name}] {len(self.items)} alerts: {', '.join(parts)}"
        item = self.items[0]
        state = "Resolved" if item.event == "resolved" else item.severity.capitalize()
        return f"[{self.tenant_name}] {state}: {item.message}"[:200]


@dataclass(frozen=True, slots=True)
class SendOutcome:
    """The result of one try: ``retry`` says whether trying again may help."""

    ok: bool
    status_code: int | None = None
    error: str = ""
    retry: bool = True


def tenant_name() -> str:
    tenant = getattr(connection, "tenant", None)
    return str(getattr(tenant, "name", "") or connection.schema_name)


def portal_url() -> str:
    from django.conf import settings

    tenant = getattr(connection, "tenant", None)
    domain = "localhost"
    if tenant is not None and hasattr(tenant, "get_primary_domain"):
        primary = tenant.get_primary_domain()
        domain = primary.domain if primary else domain
    return str(settings.ALERTS_PORTAL_URL.format(domain=domain)).rstrip("/") + "/alerts/"
