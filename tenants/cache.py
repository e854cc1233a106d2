"""Django's Redis cache with django-prometheus' cache counters (gets, hits, misses, failures).

django-prometheus ships the same class in ``django_prometheus.cache.backends.redis``, but that
module imports django-redis, which this project does not use; the counters are its own.
"""

from __future__ import annotations

from typing import Any

from django.core.cache.backends.redis import RedisCache
from django_prometheus.cache.metrics import (
    django_cache_get_fail_total,
    django_cache_get_total,
    django_cache_hits_total,
    django_cache_misses_total,
)

BACKEND_LABEL = "native_redis"


class MeteredRedisCache(RedisCache):
    """Counts every ``get``: total, hits, misses and failures (label backend=native_redis)."""

    def get(self, key: Any, default: Any = None, version: int | None = None) -> Any:
        django_cache_get_total.labels(backend=BACKEND_LABEL).inc()
        try:
            result = super().get(key, default=None, version=version)
        except Exception:
            django_cache_get_fail_total.labels(backend=BACKEND_LABEL).inc()
            raise
        if result is not None:
            django_cache_hits_total.labels(backend=BACKEND_LABEL).inc()
            return result
        django_cache_misses_total.labels(backend=BACKEND_LABEL).inc()
        return default
