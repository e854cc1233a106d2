"""A WebSocket message to the subscribers of the alert's site and camera, after commit.

It travels on the live-counts groups (``<schema>.site.<id>``, ``<schema>.camera.<id>``) through
counting's publisher, so it carries the group's next sequence number like every live message;
a client tells it apart by ``"type": "alert"``.
"""

from __future__ import annotations

import logging
from typing import Any

from analytics.alerts.models import Alert
from counting.live.publish import camera_group, publish, site_group

logger = logging.getLogger(__name__)


def alert_payload(alert: Alert, event: str) -> dict[str, Any]:
    return {
        "type": "alert", "event": event, "alert_id": alert.pk, "rule_id": alert.rule_id,
        "kind": alert.kind, "severity": alert.severity, "state": alert.state,
        "message": alert.message, "scope": alert.scope_key, "site_id": alert.site_id,
        "camera_id": alert.camera_id, "value": alert.value,
        "opened_at": alert.opened_at.isoformat(),
        "resolved_at": alert.resolved_at.isoformat() if alert.resolved_at else None,
    }


def alert_publish(*, schema: str, alert: Alert, event: str) -> None:
    """Send the alert's change to its site's and camera's groups; failures are logged only
    (the portal's inbox reads the database)."""
    payload = alert_payload(alert, event)
    try:
        if alert.site_id is not None:
            publish(site_group(schema, alert.site_id), payload)
        if alert.camera_id is not None:
            publish(camera_group(schema, alert.camera_id), payload)
    except Exception:
        logger.exception("%s: live message of alert %s failed", schema, alert.pk)
