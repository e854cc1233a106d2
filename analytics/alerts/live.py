"""A WebSocket message to the subscribers of the alerts' sites and cameras, after commit.

It travels on the live-counts groups (``<schema>.site.<id>``, ``<schema>.camera.<id>``) through
counting's publisher, so it carries the group's next sequence number like every live message;
a client tells it apart by ``"type": "alert"``. Alerts changed by one commit go to each group
as one message: ``{"type": "alert", "event": "opened"|"resolved", "alerts": [...]}``.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from analytics.alerts.models import Alert
from counting.live.publish import camera_group, publish, site_group

logger = logging.getLogger(__name__)


def alert_payload(alert: Alert) -> dict[str, Any]:
    return {
        "alert_id": alert.pk, "rule_id": alert.rule_id, "kind": alert.kind,
        "severity": alert.severity, "state": alert.state, "message": alert.message,
        "scope": alert.scope_key, "site_id": alert.site_id, "camera_id": alert.camera_id,
        "value": alert.value, "opened_at": alert.opened_at.isoformat(),
        "resolved_at": alert.resolved_at.isoformat() if alert.resolved_at else None,
    }


def alerts_publish(*, schema: str, alerts: Iterable[Alert], event: str) -> None:
    """Send the alerts' change to their sites' and cameras' groups, one message per group;
    failures are logged only (the portal's inbox reads the database)."""
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for alert in alerts:
        payload = alert_payload(alert)
        if alert.site_id is not None:
            groups[site_group(schema, alert.site_id)].append(payload)
        if alert.camera_id is not None:
            groups[camera_group(schema, alert.camera_id)].append(payload)
    for group, items in groups.items():
        try:
            publish(group, {"type": "alert", "event": event, "alerts": items})
        except Exception:
            logger.exception("%s: live message of %d alerts failed", group, len(items))


def alert_publish(*, schema: str, alert: Alert, event: str) -> None:
    """One alert's change (see :func:`alerts_publish`)."""
    alerts_publish(schema=schema, alerts=[alert], event=event)
