"""Every Redis key of a tenant starts with its schema name; these helpers build and sweep them."""

from __future__ import annotations

import redis
from django.conf import settings


def tenant_key(schema_name: str, *parts: object) -> str:
    """A Redis key for a tenant's data: ``<schema>:<part>:<part>...``."""
    return ":".join([schema_name, *(str(part) for part in parts)])


def redis_client(url: str | None = None) -> redis.Redis:
    """A Redis client for the app's own keys (live sequence numbers, stop flags...)."""
    return redis.Redis.from_url(url or settings.REDIS_URL)


def tenant_redis_keys_delete(*, schema_name: str) -> int:
    """Delete every cache and app key of one tenant in every Redis database the app uses."""
    urls = {settings.REDIS_URL, settings.CACHES["default"]["LOCATION"]}
    deleted = 0
    for url in urls:
        client = redis.Redis.from_url(url)
        batch = list(client.scan_iter(match=f"{schema_name}:*", count=500))
        if batch:
            deleted += int(client.delete(*batch))
    return deleted
