"""Every Redis key of a tenant starts with its schema name; these helpers build and sweep them."""

from __future__ import annotations

import redis
from django.conf import settings
from redis.backoff import ExponentialBackoff
from redis.retry import Retry


def tenant_key(schema_name: str, *parts: object) -> str:
    """A Redis key for a tenant's data: ``<schema>:<part>:<part>...``."""
    return ":".join([schema_name, *(str(part) for part in parts)])


def redis_client(url: str | None = None) -> redis.Redis:
    """A Redis client for the app's own keys (live sequence numbers, stop flags...).

    Every call is bounded: a Redis that is down fails the connect within
    ``REDIS_CONNECT_TIMEOUT_S``, one that stops answering (frozen, partitioned) fails the command
    with ``redis.TimeoutError`` within ``REDIS_SOCKET_TIMEOUT_S``. A broken connection is retried
    once after a short backoff (a Redis restart), never more, so the worst case stays about twice
    the timeout; callers still treat ``redis.RedisError`` as "Redis unavailable".
    """
    return redis.Redis.from_url(
        url or settings.REDIS_URL,
        socket_connect_timeout=settings.REDIS_CONNECT_TIMEOUT_S,
        socket_timeout=settings.REDIS_SOCKET_TIMEOUT_S,
        health_check_interval=settings.REDIS_HEALTH_CHECK_INTERVAL_S,
        # Only a dropped connection is retried; a timeout is not (it would double the wait).
        retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), retries=1,
                    supported_errors=(redis.ConnectionError,)),
    )


def tenant_redis_keys_delete(*, schema_name: str) -> int:
    """Delete every cache and app key of one tenant in every Redis database the app uses."""
    urls = {settings.REDIS_URL, settings.CACHES["default"]["LOCATION"]}
    deleted = 0
    for url in urls:
        client = redis_client(url)
        batch = list(client.scan_iter(match=f"{schema_name}:*", count=500))
        if batch:
            deleted += int(client.delete(*batch))
    return deleted
