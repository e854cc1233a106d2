"""gunicorn settings for production serving (scripts/serve.sh; docs/deploy.md).

One gunicorn master per node supervises WEB_CONCURRENCY uvicorn worker processes; each worker
runs the whole ASGI application (HTTP through Django with WhiteNoise for /static/, WebSockets
through Channels, whose groups live in Redis so a message reaches a socket on any worker or
node). Every value comes from the environment.
"""

from __future__ import annotations

import multiprocessing
import os
from typing import Any

from uvicorn_worker import UvicornWorker


class PeopleCountWorker(UvicornWorker):
    """uvicorn's gunicorn worker without the ASGI lifespan protocol (Django has none: it would
    log a warning at every start) and with the proxy headers read only from trusted proxies."""

    CONFIG_KWARGS: dict[str, Any] = {
        **UvicornWorker.CONFIG_KWARGS,
        "lifespan": "off",
        "forwarded_allow_ips": os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1"),
    }


bind = os.environ.get("WEB_BIND", "127.0.0.1:8000").split(",")
# Per core: two workers and one more (gunicorn's rule): a worker waits on PostgreSQL and Redis
# part of each request, and Django's sync views run in its thread pool.
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
worker_class = "config.gunicorn.PeopleCountWorker"
# A worker silent this long is killed and replaced; a stream of a WebSocket is not "silent".
timeout = int(os.environ.get("WEB_TIMEOUT_S", "60"))
graceful_timeout = int(os.environ.get("WEB_GRACEFUL_TIMEOUT_S", "20"))
keepalive = int(os.environ.get("WEB_KEEPALIVE_S", "5"))
# Recycle a worker after this many requests (plus jitter) to bound slow leaks; 0 = never.
max_requests = int(os.environ.get("WEB_MAX_REQUESTS", "20000"))
max_requests_jitter = int(os.environ.get("WEB_MAX_REQUESTS_JITTER", "2000"))
accesslog = os.environ.get("WEB_ACCESS_LOG") or None
errorlog = "-"
loglevel = os.environ.get("WEB_LOG_LEVEL", "info")
proc_name = "peoplecount-web"


def child_exit(server: Any, worker: Any) -> None:
    """A worker ended: its live prometheus-client gauges (WebSockets open) stop counting."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
