"""The Celery app. Every task carries its tenant's schema in a header (tenant-schemas-celery).

A task that arrives without a tenant refuses to run, unless it is declared platform-wide
(``base=PlatformTask``), like the supervisor that walks every tenant: the base task classes live
in ``tenants.tasks`` so that apps use them without importing ``config``.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

from celery.app.amqp import AMQP
from celery.signals import worker_init, worker_shutdown
from kombu import Connection, Queue
from tenant_schemas_celery.app import CeleryApp

from tenants.tasks import RequireTenantTask

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
# Before torch is imported anywhere in a worker: spinning OpenMP threads collapse when another
# process wants the core (2 threads went from ~45 ms to 300+ ms per frame in docs/pipeline.md).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


class CappedBackoffConnection(Connection):
    """A broker connection whose reconnect waits never exceed ``CELERY_BROKER_RECONNECT_MAX_S``.

    A worker's consumer (and beat) reconnect through ``ensure_connection`` with kombu's defaults
    (2 s, +2 s per try, up to 30 s between tries) and Celery has no setting for them: after a
    RabbitMQ restart of a minute a worker could stay away half a minute longer than the broker.
    """

    def _ensure_connection(self, errback: Any = None, max_retries: int | None = None,
                           interval_start: float = 2, interval_step: float = 2,
                           interval_max: float = 30, *args: Any, **kwargs: Any) -> Any:
        from django.conf import settings

        cap = float(getattr(settings, "CELERY_BROKER_RECONNECT_MAX_S", 5.0))
        return super()._ensure_connection(
            errback, max_retries, min(interval_start, cap), min(interval_step, cap),
            min(interval_max, cap), *args, **kwargs)


class CappedBackoffAMQP(AMQP):
    """Celery's AMQP helper, making :class:`CappedBackoffConnection` connections."""

    Connection = CappedBackoffConnection


app = CeleryApp("peoplecount", task_cls=RequireTenantTask, amqp=CappedBackoffAMQP)
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.task_queues = (Queue("default"), Queue("streams"), Queue("short"))
app.conf.task_default_queue = "default"
app.autodiscover_tasks()


@worker_init.connect
def _no_connection_pool_in_workers(sender: Any = None, **kwargs: Any) -> None:
    """Celery workers never borrow pooled connections (DATABASE_POOL is for web processes).

    A stream runner keeps a connection per thread for its whole run (a pool of a few would
    stall the cameras beyond it) and its lease thread holds a session advisory lock that must
    end with the session, not go back to a pool. The same environment file can serve both.
    """
    from django.conf import settings
    from django.db import connections

    options = settings.DATABASES["default"].get("OPTIONS", {})
    if options.pop("pool", None) is not None:
        connections["default"].settings_dict.get("OPTIONS", {}).pop("pool", None)
        logging.getLogger(__name__).info("DATABASE_POOL ignored in this Celery worker: "
                                         "stream runners use their own connections")


@worker_shutdown.connect
def _exit_without_interpreter_teardown(sender: Any = None, **kwargs: Any) -> None:
    """A ``celery worker`` process whose warm shutdown is complete (tasks returned, pool
    joined, broker connection closed) exits at once.

    Python's own teardown of the worker's main process (every module of Django, Celery, NumPy,
    OpenCV...) costs about half a second of CPU; on a loaded machine that was seconds of wall
    time after everything had stopped, and ``SIGTERM`` must stop a worker within 10 s. Only in
    a process started as ``celery ... worker`` (never an embedded worker of a test process).
    """
    argv = [os.path.basename(arg) for arg in sys.argv[:3]]
    if "worker" not in sys.argv[1:6] or not any(a in ("celery", "__main__.py") for a in argv):
        return
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(int(getattr(sender, "exitcode", 0) or 0))
