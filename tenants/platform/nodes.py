"""Stream nodes: the writes of a node advertising itself and the reads of who is live.

Times come from PostgreSQL's ``now()`` (the heartbeat and the "gone" test), so the clocks of
the worker hosts never matter. See :mod:`tenants.platform.models.nodes`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import connection

from tenants.platform.models import StreamNode


@dataclass(frozen=True)
class NodeReport:
    """What a streams worker says about itself at each heartbeat."""

    name: str
    host: str
    pid: int
    queue: str
    slots: int
    heartbeat_s: float
    started_at: datetime
    # [{"schema": ..., "tenant": ..., "camera_id": ...}] of its running stream tasks
    cameras: list[dict[str, Any]] = field(default_factory=list)
    load: tuple[float, float, float] = (0.0, 0.0, 0.0)
    cpu_count: int = 0


def stream_node_heartbeat(*, report: NodeReport) -> None:
    """Upsert the node's row with the database's time as its heartbeat (one statement)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO public.platform_streamnode (name, host, pid, queue, slots, "
            "slots_in_use, cameras, load_1m, load_5m, load_15m, cpu_count, heartbeat_s, "
            "started_at, heartbeat_at) VALUES (%s, %s, %s, %s, %s, %s, %s::jsonb, %s, %s, %s, "
            "%s, %s, %s, now()) ON CONFLICT (name) DO UPDATE SET host = EXCLUDED.host, "
            "pid = EXCLUDED.pid, queue = EXCLUDED.queue, slots = EXCLUDED.slots, "
            "slots_in_use = EXCLUDED.slots_in_use, cameras = EXCLUDED.cameras, "
            "load_1m = EXCLUDED.load_1m, load_5m = EXCLUDED.load_5m, "
            "load_15m = EXCLUDED.load_15m, cpu_count = EXCLUDED.cpu_count, "
            "heartbeat_s = EXCLUDED.heartbeat_s, started_at = EXCLUDED.started_at, "
            "heartbeat_at = now()",
            [report.name[:200], report.host[:200], report.pid, report.queue[:200],
             report.slots, len(report.cameras), json.dumps(report.cameras, separators=(",", ":")),
             *report.load, report.cpu_count, report.heartbeat_s, report.started_at])


def stream_node_remove(*, name: str) -> bool:
    """Remove a node's row (its worker stopped cleanly); True if there was one."""
    deleted, _ = StreamNode.objects.filter(name=name).delete()
    return deleted > 0


def stream_nodes_with_liveness() -> list[StreamNode]:
    """Every node by name, with ``alive`` set by the database's clock (heartbeat within three
    of its intervals)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT now()")
        now = cursor.fetchone()[0]
    nodes = list(StreamNode.objects.order_by("name"))
    for node in nodes:
        node.alive = node.is_live(now)
    return nodes


def stream_nodes_live(*, queue: str) -> list[StreamNode]:
    """The live nodes taking stream tasks from ``queue``."""
    return [node for node in stream_nodes_with_liveness() if node.queue == queue and node.alive]


def node_cameras_text(cameras: list[dict[str, Any]]) -> str:
    """``tenant/camera 12, ...`` of a node's running cameras (``-`` for none)."""
    if not cameras:
        return "-"
    return ", ".join(f"{c.get('tenant') or c.get('schema') or '?'}/camera {c.get('camera_id')}"
                     for c in cameras)
