"""Per-camera and queue metrics for the Prometheus endpoint (tenants/metrics.py), read per scrape.

Why from the database: stream runners are threads of Celery worker processes, several per
machine and on several machines, and a camera moves between them on a lease takeover. Each
runner already reports its numbers to ``CameraHealth`` every few seconds (counting/health.py),
so the web process answering a scrape reads those rows: one consistent value per camera
whichever process or machine runs it, totals that survive a worker restart (Prometheus
counters never go back), and no per-process files to share between machines. The cost is one
query per 100 tenant schemas per scrape and a resolution of the report interval (``health_s``).
``peoplecount_camera_report_age_seconds`` shows a runner that stopped reporting.

Broker queue depths are asked of RabbitMQ (a passive declare per queue, bounded by a short
timeout and cached a few seconds); live WebSocket connections are counted in the web processes
that hold them (counting/live/consumers.py).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator
from typing import Any

from django.conf import settings
from django_tenants.utils import schema_context
from prometheus_client import Gauge
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    SummaryMetricFamily,
)
from prometheus_client.metrics_core import Metric

from cameras.constants import CameraStatus
from cameras.models import Camera
from counting.models import CameraHealth
from tenants.db import connection

logger = logging.getLogger(__name__)

SCHEMAS_PER_QUERY = 100
QUEUE_CACHE_S = 5.0
LABELS = ["tenant", "camera"]

# Live sockets open in this process (summed over a node's worker processes in multiprocess
# mode): a gauge moved by the consumers on connect and disconnect, per watched camera or site
# (kind "camera" or "site", id its primary key in the tenant).
WEBSOCKET_CONNECTIONS = Gauge(
    "peoplecount_websocket_connections", "Live WebSocket connections open",
    ["tenant", "kind", "id"], multiprocess_mode="livesum")

_GAUGES = {
    "fps_received": ("peoplecount_camera_received_fps",
                     "Frames per second received from the camera (last report interval)"),
    "fps_analysed": ("peoplecount_camera_analysed_fps",
                     "Frames per second analysed by the detector (last report interval)"),
    "frame_age_s": ("peoplecount_camera_frame_age_seconds",
                    "Age of the newest frame at the last report"),
    "buffered_events": ("peoplecount_camera_ledger_buffer_events",
                        "Crossings waiting in the runner's ledger buffer"),
    "publish_queue": ("peoplecount_camera_publish_queue_messages",
                      "Live messages waiting in the runner's publish queue"),
    "ledger_write_max_s": ("peoplecount_camera_ledger_write_max_seconds",
                           "Longest ledger transaction in the last report interval"),
}
_COUNTERS = {
    "events_written": ("peoplecount_camera_events_written", "Crossing events stored"),
    "events_lost": ("peoplecount_camera_events_lost",
                    "Crossing events lost (buffer overflow while the database was away)"),
    "reconnects": ("peoplecount_camera_reconnects", "Reconnections to the camera's stream"),
    "frames_dropped": ("peoplecount_camera_frames_dropped",
                       "Frames dropped before analysis (newer ones arrived)"),
    "frames_skipped": ("peoplecount_camera_frames_skipped",
                       "Frames due at the detect rate not analysed (machine overloaded)"),
    "lease_takeovers": ("peoplecount_camera_lease_takeovers",
                        "Leases taken over from a runner that stopped answering"),
}
_FIELDS = ["camera_id", *_GAUGES, *_COUNTERS, "ledger_writes", "ledger_write_seconds", "state",
           "updated_at"]


def _tenant_schemas() -> list[tuple[str, str]]:
    """(slug, schema) of every tenant but the public one."""
    from tenants.models import Tenant

    with schema_context("public"):
        return [(str(slug), str(schema)) for slug, schema in
                Tenant.objects.exclude(schema_name="public").order_by("schema_name")
                .values_list("slug", "schema_name")]


def _health_rows(tenants: list[tuple[str, str]]) -> Iterator[tuple[str, dict[str, Any]]]:
    health = CameraHealth._meta.db_table
    cameras = Camera._meta.db_table
    columns = ", ".join(f"h.{name}" for name in _FIELDS)
    quote = connection.ops.quote_name
    for start in range(0, len(tenants), SCHEMAS_PER_QUERY):
        chunk = tenants[start:start + SCHEMAS_PER_QUERY]
        sql = " UNION ALL ".join(
            f"SELECT %s, {columns} FROM {quote(schema)}.{health} h "
            f"JOIN {quote(schema)}.{cameras} c ON c.id = h.camera_id" for _, schema in chunk)
        with connection.cursor() as cursor:
            cursor.execute(sql, [slug for slug, _ in chunk])
            for row in cursor.fetchall():
                yield str(row[0]), dict(zip(_FIELDS, row[1:], strict=True))


def camera_metrics() -> Iterable[Metric]:
    """One family per per-camera number, labelled by tenant slug and camera id."""
    gauges = {k: GaugeMetricFamily(n, h, labels=LABELS) for k, (n, h) in _GAUGES.items()}
    counters = {k: CounterMetricFamily(n, h, labels=LABELS) for k, (n, h) in _COUNTERS.items()}
    latency = SummaryMetricFamily("peoplecount_camera_ledger_write_seconds",
                                  "Ledger transactions (count) and their summed duration",
                                  labels=LABELS)
    state = GaugeMetricFamily("peoplecount_camera_state",
                              "1 for the camera's current stream state", labels=[*LABELS, "state"])
    report_age = GaugeMetricFamily("peoplecount_camera_report_age_seconds",
                                   "Seconds since the camera's runner last reported",
                                   labels=LABELS)
    now = time.time()
    for slug, row in _health_rows(_tenant_schemas()):
        labels = [slug, str(row["camera_id"])]
        for key, family in gauges.items():
            if row[key] is not None:
                family.add_metric(labels, float(row[key]))
        for key, counter in counters.items():
            counter.add_metric(labels, float(row[key]))
        latency.add_metric(labels, count_value=int(row["ledger_writes"]),
                           sum_value=float(row["ledger_write_seconds"]))
        for choice in CameraStatus.values:
            state.add_metric([*labels, choice], 1.0 if row["state"] == choice else 0.0)
        report_age.add_metric(labels, max(0.0, now - row["updated_at"].timestamp()))
    connection.set_schema_to_public()
    yield from gauges.values()
    yield from counters.values()
    yield from (latency, state, report_age)


_queue_cache: dict[str, Any] = {"at": 0.0, "depths": {}}


def _queue_depths() -> dict[str, tuple[int, int]] | None:
    """(messages ready, consumers) per Celery queue, from RabbitMQ (a queue no worker declared
    yet has none of either); None when the broker did not answer. Cached QUEUE_CACHE_S."""
    if time.monotonic() - _queue_cache["at"] < QUEUE_CACHE_S:
        cached: dict[str, tuple[int, int]] | None = _queue_cache["depths"]
        return cached
    from kombu import Connection

    depths: dict[str, tuple[int, int]] | None = {}
    names = sorted({"default", settings.COUNTING_STREAMS_QUEUE, settings.COUNTING_SHORT_QUEUE})
    conn = Connection(settings.CELERY_BROKER_URL, connect_timeout=1.0,
                      transport_options={"max_retries": 0})
    try:
        with conn:
            channel = conn.channel()
            for name in names:
                try:
                    _, messages, consumers = channel.queue_declare(queue=name, passive=True)
                except conn.channel_errors:
                    channel = conn.channel()  # a missing queue closes the channel
                    messages = consumers = 0
                depths[name] = (int(messages), int(consumers))  # type: ignore[index]
    except (OSError, *conn.connection_errors) as exc:
        logger.warning("metrics: the broker's queue depths could not be read: %s", exc)
        depths = None
    _queue_cache.update(at=time.monotonic(), depths=depths)
    return depths


def queue_metrics() -> Iterable[Metric]:
    """Messages waiting and consumers of the Celery queues (streams wait here for a worker)."""
    depth = GaugeMetricFamily("peoplecount_queue_messages", "Messages ready in a Celery queue",
                              labels=["queue"])
    consumers = GaugeMetricFamily("peoplecount_queue_consumers",
                                  "Consumers of a Celery queue", labels=["queue"])
    depths = _queue_depths()
    for name, (messages, count) in sorted((depths or {}).items()):
        depth.add_metric([name], messages)
        consumers.add_metric([name], count)
    up = GaugeMetricFamily("peoplecount_broker_up", "1 if the broker answered the last read")
    up.add_metric([], 0.0 if depths is None else 1.0)
    return [depth, consumers, up]
