"""Stream worker nodes: each streams worker advertises its capacity here (public schema).

A node is one ``celery worker`` process consuming a streams queue. Its main process upserts
its row every ``heartbeat_s`` seconds (counting/nodes.py): how many stream slots it has (its
prefork concurrency), how many are in use and by which cameras (tenant and camera), and the
host's load average. The supervisor dispatches at most as many stream tasks as the live nodes
have free slots; the platform admin and ``manage.py stream_nodes`` show the rows. A node whose
heartbeat is older than ``GONE_AFTER_HEARTBEATS`` of its intervals is gone (its row stays until
it is removed or the node comes back under the same name).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import models
from django.utils import timezone

# A node silent for more than this many of its heartbeat intervals is shown as gone.
GONE_AFTER_HEARTBEATS = 3


class StreamNode(models.Model):
    """One streams worker (Celery node name, e.g. ``streams-b@host``) and its capacity."""

    name = models.CharField(max_length=200, unique=True)
    host = models.CharField(max_length=200)
    pid = models.PositiveIntegerField(default=0)
    # The queue it takes stream tasks from (capacity is counted per queue).
    queue = models.CharField(max_length=200, db_index=True)
    slots = models.PositiveIntegerField(default=0)
    slots_in_use = models.PositiveIntegerField(default=0)
    # [{"schema": ..., "tenant": ..., "camera_id": ...}] of the stream tasks running there.
    cameras = models.JSONField(default=list, blank=True)
    load_1m = models.FloatField(default=0.0)
    load_5m = models.FloatField(default=0.0)
    load_15m = models.FloatField(default=0.0)
    cpu_count = models.PositiveIntegerField(default=0)
    heartbeat_s = models.FloatField(default=3.0)
    started_at = models.DateTimeField()
    heartbeat_at = models.DateTimeField()
    # Set by tenants.platform.nodes.stream_nodes_with_liveness (the database's clock).
    alive: bool = False

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.slots_in_use}/{self.slots} slots)"

    def gone_after(self) -> timedelta:
        """Silence after which this node is shown as gone."""
        return timedelta(seconds=GONE_AFTER_HEARTBEATS * self.heartbeat_s)

    def is_live(self, now: datetime | None = None) -> bool:
        """True while its heartbeat is younger than three of its intervals."""
        return (now or timezone.now()) - self.heartbeat_at <= self.gone_after()

    @property
    def slots_free(self) -> int:
        return max(0, self.slots - self.slots_in_use)
