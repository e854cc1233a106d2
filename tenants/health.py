"""``GET /healthz``: is PostgreSQL, Redis and RabbitMQ answering? 200 if all, else 503."""

from __future__ import annotations

import time
from collections.abc import Callable

import redis
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from kombu import Connection

TIMEOUT_S = 2.0


def check_postgresql() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def check_redis() -> None:
    client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=TIMEOUT_S,
                                  socket_timeout=TIMEOUT_S)
    try:
        client.ping()
    finally:
        client.close()


def check_rabbitmq() -> None:
    with Connection(settings.CELERY_BROKER_URL, connect_timeout=TIMEOUT_S) as conn:
        conn.ensure_connection(max_retries=1, timeout=TIMEOUT_S)


CHECKS: dict[str, Callable[[], None]] = {
    "postgresql": check_postgresql,
    "redis": check_redis,
    "rabbitmq": check_rabbitmq,
}


def healthz(request: HttpRequest) -> JsonResponse:
    """Report each dependency; the failing ones are named with their error."""
    services: dict[str, dict[str, object]] = {}
    for name, check in CHECKS.items():
        started = time.monotonic()
        try:
            check()
        except Exception as exc:  # noqa: BLE001 - any failure means "down"
            services[name] = {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}
        else:
            services[name] = {"ok": True}
        services[name]["ms"] = round((time.monotonic() - started) * 1000, 1)
    failing = [name for name, state in services.items() if not state["ok"]]
    body = {"status": "ok" if not failing else "fail", "failing": failing, "services": services}
    return JsonResponse(body, status=200 if not failing else 503)
