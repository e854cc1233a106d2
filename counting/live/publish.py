"""Publishing count changes to WebSocket groups, after the ledger commit.

Group names and sequence keys carry the tenant schema (camera 1 exists in every tenant).
Each message carries the camera's *absolute* totals for the site-local day, plus the new events
and a per-group sequence number from Redis ``INCR``: a client that sees a gap asks for a resync,
and a message that races a snapshot is harmless because totals are absolute, not deltas.

Sending happens on a background asyncio loop owned by this module, so the stream loop never
waits for Redis round trips of the channel layer.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from channels.layers import get_channel_layer

from cameras.local_time import local_today
from counting.selectors import day_totals
from tenants.redis_keys import redis_client, tenant_key

logger = logging.getLogger(__name__)

MESSAGE_TYPE = "counts.update"  # handled by the consumers' counts_update()


def camera_group(schema: str, camera_id: int) -> str:
    """Channels group of one camera of one tenant."""
    return f"{schema}.camera.{camera_id}"


def site_group(schema: str, site_id: int) -> str:
    """Channels group of one site of one tenant."""
    return f"{schema}.site.{site_id}"


def sequence_key(group: str) -> str:
    """Redis key of a group's sequence counter (group names start with the schema)."""
    schema, _, rest = group.partition(".")
    return tenant_key(schema, "live-seq", rest)


def sequence_current(group: str) -> int:
    """The last sequence number sent to ``group`` (0 before the first message)."""
    value = redis_client().get(sequence_key(group))
    return int(value) if value else 0


class _Sender:
    """A daemon thread running an event loop that sends group messages in submission order."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="live-publisher",
                                       daemon=True)
        self.thread.start()
        self.layer = get_channel_layer()

    def send(self, group: str, payload: dict[str, Any]) -> Any:
        coro = self.layer.group_send(group, {"type": MESSAGE_TYPE, "payload": payload})
        return asyncio.run_coroutine_threadsafe(coro, self.loop)


_sender: _Sender | None = None
_sender_lock = threading.Lock()


def _get_sender() -> _Sender:
    global _sender
    with _sender_lock:
        if _sender is None or not _sender.thread.is_alive():
            _sender = _Sender()
        return _sender


def publish(group: str, payload: dict[str, Any], wait: bool = False) -> int:
    """Send ``payload`` to ``group`` with the group's next sequence number; returns it."""
    seq = int(redis_client().incr(sequence_key(group)))
    future = _get_sender().send(group, {**payload, "seq": seq})
    if wait:
        future.result(timeout=5)
    return seq


def counts_payload(*, camera_id: int, site_id: int, day: str, totals: dict[str, Any],
                   events: Sequence[Any] = (), zones: dict[int, int] | None = None,
                   ) -> dict[str, Any]:
    """The message of one committed change: the camera's day totals, its new events, and the
    zones' current occupancy (live value, newer than the stored minute samples)."""
    zone_totals = {str(zid): dict(z) for zid, z in totals.get("zones", {}).items()}
    for zid, occupancy in (zones or {}).items():
        zone_totals.setdefault(str(zid), {})["occupancy"] = occupancy
    return {
        "type": "counts",
        "camera_id": camera_id,
        "site_id": site_id,
        "day": day,
        "lines": {str(lid): line for lid, line in totals.get("lines", {}).items()},
        "zones": zone_totals,
        "events": [{"line_id": e.line_id, "direction": e.direction,
                    "at": e.occurred_at.isoformat()} for e in events],
        "committed_at": datetime.now(tz=UTC).isoformat(),
    }


def publish_camera_counts(*, schema: str, camera_id: int, site_id: int, site_tz: str,
                          events: Sequence[Any] = (), zones: dict[int, int] | None = None,
                          wait: bool = False, raise_errors: bool = False) -> bool:
    """Read the camera's day totals (committed) and send them to its camera and site groups;
    True when sent.

    Called by the runner's publisher thread after a ledger commit. Failures are logged and
    return False, never raised: live views resynchronise from the database, the ledger is the
    truth. With ``raise_errors`` the failure is raised instead (the runner's publisher tells
    a Redis outage from a database one).
    """
    try:
        day = local_today(site_tz=site_tz)
        totals = day_totals(camera_ids=[camera_id], site_tz=site_tz, day=day)[camera_id]
        payload = counts_payload(camera_id=camera_id, site_id=site_id, day=day.isoformat(),
                                 totals=totals, events=events, zones=zones)
        publish(camera_group(schema, camera_id), payload, wait=wait)
        publish(site_group(schema, site_id), payload, wait=wait)
    except Exception as exc:
        if raise_errors:
            raise
        logger.warning("camera %s: live publish failed (clients will resync): %s", camera_id,
                       exc)
        return False
    return True
