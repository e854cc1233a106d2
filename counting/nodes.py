"""This streams worker advertises itself as a node: slots, slots in use, cameras, load.

::

    celery worker -Q streams -n streams-b@%h --concurrency 4      (main process)
        celeryd_after_setup: consumes COUNTING_STREAMS_QUEUE? -> a NodeAdvertiser
        worker_ready:         its thread starts
            every COUNTING_NODE_HEARTBEAT_S (3 s): the running counting.stream_run requests
            (tenant schema from the task header, camera from the arguments), os.getloadavg()
            -> tenants.platform.nodes.stream_node_heartbeat (one upsert, database time)
        worker_shutting_down: the thread removes the row and ends

The thread runs in the worker's main process (it sees every request its prefork children run)
and owns its database connection; every call runs under a :class:`Watchdog`, and a failure is
logged once per outage and retried at the next beat, so a database that is down or stalled
never blocks or crashes the worker: the node only looks gone to the supervisor until the next
beat gets through. Imported by every Celery process through ``CELERY_IMPORTS``.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from celery.signals import celeryd_after_setup, worker_ready, worker_shutting_down
from django.conf import settings
from django.db import connection

from counting.runner.watchdog import Watchdog
from tenants.platform.nodes import NodeReport, stream_node_heartbeat, stream_node_remove

logger = logging.getLogger(__name__)

STREAM_TASK = "counting.stream_run"


def running_streams(requests: Iterable[Any]) -> list[tuple[str, int]]:
    """(tenant schema, camera id) of each running stream task among Celery's requests."""
    running = []
    for request in requests:
        if getattr(request, "name", None) != STREAM_TASK:
            continue
        headers = getattr(request, "request_dict", None) or {}
        schema = str(headers.get("_schema_name") or "")
        args: Any = getattr(request, "args", None) or ()
        try:
            camera_id = int(args[0])
        except (IndexError, TypeError, ValueError):
            continue
        running.append((schema, camera_id))
    return sorted(running)


def _active_requests() -> list[Any]:
    from celery.worker.state import active_requests

    for _ in range(5):  # the main thread may change the set while we copy it
        try:
            return list(active_requests)
        except RuntimeError:
            continue
    return []


class NodeAdvertiser:
    """Keeps this worker's :class:`~tenants.platform.models.StreamNode` row fresh from a thread
    of the main process; never raises into the worker."""

    def __init__(self, *, name: str, queue: str, slots: int, interval_s: float,
                 requests: Callable[[], list[Any]] = _active_requests) -> None:
        self.name = name
        self.queue = queue
        self.slots = slots
        self.interval_s = interval_s
        self.requests = requests
        self.host = socket.gethostname()
        self.started_at = datetime.now(tz=UTC)
        self.beats = 0
        self.failures = 0
        self._failing = False
        self._stop = threading.Event()
        self._done = threading.Event()
        self._tenant_names: dict[str, str] = {}
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, daemon=True, name="stream-node")
        self._thread.start()

    def stop(self, timeout_s: float = 2.0) -> None:
        """End the thread; it removes the node's row on its way out."""
        self._stop.set()
        if self._thread is not None:
            self._done.wait(timeout_s)

    def report(self) -> NodeReport:
        cameras = [{"schema": schema, "tenant": self._tenant_name(schema),
                    "camera_id": camera_id}
                   for schema, camera_id in running_streams(self.requests())]
        try:
            load = os.getloadavg()
        except OSError:
            load = (0.0, 0.0, 0.0)
        return NodeReport(name=self.name, host=self.host, pid=os.getpid(), queue=self.queue,
                          slots=self.slots, heartbeat_s=self.interval_s,
                          started_at=self.started_at, cameras=cameras,
                          load=(round(load[0], 2), round(load[1], 2), round(load[2], 2)),
                          cpu_count=os.cpu_count() or 0)

    def beat(self) -> bool:
        """One heartbeat; False (logged once per outage) when the database refused it."""
        try:
            stream_node_heartbeat(report=self.report())
        except Exception as exc:  # the database is down or stalled: retried next beat
            self.failures += 1
            if not self._failing:
                logger.warning("stream node %s: heartbeat failed (%s); retrying every %.0f s, "
                               "the supervisor counts this node as gone meanwhile", self.name,
                               exc, self.interval_s)
            self._failing = True
            connection.close_if_unusable_or_obsolete()
            return False
        if self._failing:
            logger.info("stream node %s: heartbeat recovered", self.name)
        self._failing = False
        self.beats += 1
        return True

    def _tenant_name(self, schema: str) -> str:
        if schema not in self._tenant_names:
            from tenants.models import Tenant

            name = (Tenant.objects.filter(schema_name=schema)
                    .values_list("name", flat=True).first())
            if name is None:
                return schema
            self._tenant_names[schema] = name
        return self._tenant_names[schema]

    def _run(self) -> None:
        watchdog = Watchdog(cancel_after_s=max(2.0, self.interval_s), cut_s=2.0,
                            name="stream-node-watchdog")
        try:
            while not self._stop.is_set():
                with watchdog.watch("node heartbeat"):
                    self.beat()
                self._stop.wait(self.interval_s)
            try:
                with watchdog.watch("node removal"):
                    stream_node_remove(name=self.name)
            except Exception as exc:  # gone after three heartbeats anyway
                logger.warning("stream node %s: row not removed (%s)", self.name, exc)
        finally:
            watchdog.close()
            connection.close()
            self._done.set()


_advertiser: NodeAdvertiser | None = None


@celeryd_after_setup.connect
def _node_prepare(sender: Any = None, instance: Any = None, **kwargs: Any) -> None:
    """A worker consuming the streams queue becomes a node named after its Celery name."""
    global _advertiser
    if instance is None or not getattr(settings, "COUNTING_NODE_ADVERTISE", True):
        return
    queue = settings.COUNTING_STREAMS_QUEUE
    try:
        consumed = set(instance.app.amqp.queues.consume_from)
    except AttributeError:
        consumed = set()
    if queue not in consumed:
        return
    _advertiser = NodeAdvertiser(name=str(sender), queue=queue,
                                 slots=int(getattr(instance, "concurrency", 0) or 1),
                                 interval_s=settings.COUNTING_NODE_HEARTBEAT_S)


@worker_ready.connect
def _node_start(sender: Any = None, **kwargs: Any) -> None:
    if _advertiser is not None and _advertiser._thread is None:
        _advertiser.start()
        logger.info("stream node %s: advertising %d slots on queue %s every %.0f s",
                    _advertiser.name, _advertiser.slots, _advertiser.queue,
                    _advertiser.interval_s)


@worker_shutting_down.connect
def _node_stop(sender: Any = None, **kwargs: Any) -> None:
    # Runs in a signal handler: only set the thread's event (it removes the row itself).
    if _advertiser is not None:
        _advertiser._stop.set()
