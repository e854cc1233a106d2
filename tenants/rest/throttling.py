"""Request rates per user, per token and per anonymous address within each tenant, and per
tenant as a whole (every user, token and address of it together: one tenant cannot take the
platform's whole capacity), with a smaller per-tenant budget for expensive reads (series).

The rates live in the cache (Redis). When the cache is down or does not answer, throttling
degrades explicitly instead of failing the request with a 500: the request is let through,
the response carries ``X-Throttle-Degraded: cache unavailable``, a warning is logged once per
``API_THROTTLE_CACHE_RETRY_S``, and the cache is not asked again until that interval has passed
(so a frozen Redis costs one cache timeout per interval, not one per request).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import redis
from django.conf import settings
from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from tenants.db import current_schema

logger = logging.getLogger(__name__)

DEGRADED_HEADER = "X-Throttle-Degraded"
DEGRADED_VALUE = "cache unavailable"
# What a cache client raises when its server is down, refuses or stops answering.
CACHE_ERRORS: tuple[type[BaseException], ...] = (redis.RedisError, OSError)


class CacheOutage:
    """Process-wide memory of a failed throttle cache: until ``retry_at`` the cache is skipped.

    One per process (every throttle class and thread shares it), so an outage is noticed by the
    first request that hits it and logged once per interval, not once per request.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.retry_at = 0.0
        self.last_warning_at: float | None = None

    def active(self) -> bool:
        return time.monotonic() < self.retry_at

    def failed(self, exc: BaseException) -> None:
        interval = float(getattr(settings, "API_THROTTLE_CACHE_RETRY_S", 5.0))
        now = time.monotonic()
        with self._lock:
            self.retry_at = now + interval
            warn = self.last_warning_at is None or now - self.last_warning_at >= interval
            if warn:
                self.last_warning_at = now
        if warn:
            logger.warning("API throttling degraded: the cache is unavailable (%s: %s); "
                           "requests are let through unthrottled, next try in %.0f s",
                           type(exc).__name__, exc, interval)

    def recovered(self) -> None:
        with self._lock:
            was_down = self.last_warning_at is not None
            self.retry_at = 0.0
            self.last_warning_at = None
        if was_down:
            logger.warning("API throttling restored: the cache answers again")


cache_outage = CacheOutage()


def _mark_degraded(view: Any) -> None:
    # APIView.finalize_response copies view.headers (a fresh dict per request) onto the response.
    headers = getattr(view, "headers", None)
    if isinstance(headers, dict):
        headers[DEGRADED_HEADER] = DEGRADED_VALUE


class _TenantRateThrottle(SimpleRateThrottle):
    """A rate throttle whose cache key names the tenant schema explicitly.

    The default cache's key function already prefixes the schema; naming it in the key too keeps
    user 1 of tenant A and user 1 of tenant B apart even on a cache without that function.
    """

    def get_rate(self) -> str | None:
        # Read at request time (not import time) so settings overrides apply.
        rates: dict[str, Any] = api_settings.DEFAULT_THROTTLE_RATES
        rate = rates.get(self.scope or "")
        return str(rate) if rate is not None else None

    def __init__(self) -> None:
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)

    def key_for(self, kind: str, ident: object) -> str:
        return f"throttle:{current_schema()}:{self.scope}:{kind}:{ident}"

    def allow_request(self, request: Request, view: Any) -> bool:
        if self.rate is None or self.get_cache_key(request, view) is None:
            return True  # this throttle does not apply: the cache is not involved
        if cache_outage.active():
            _mark_degraded(view)
            return True
        try:
            allowed = super().allow_request(request, view)
        except CACHE_ERRORS as exc:
            cache_outage.failed(exc)
            _mark_degraded(view)
            return True
        if cache_outage.last_warning_at is not None:
            cache_outage.recovered()
        return allowed


class UserRateThrottle(_TenantRateThrottle):
    """Requests of a user with a session (not a token), per user and tenant."""

    scope = "user"

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        user = request.user
        if not user or not user.is_authenticated or request.auth is not None:
            return None
        return self.key_for("user", user.pk)


class TokenRateThrottle(_TenantRateThrottle):
    """Requests made with a personal API token, per token and tenant."""

    scope = "token"

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        token = request.auth
        if token is None or not hasattr(token, "prefix"):
            return None
        return self.key_for("token", token.pk)


class AnonRateThrottle(_TenantRateThrottle):
    """Anonymous requests, per client address and tenant."""

    scope = "anon"

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        if request.user and request.user.is_authenticated:
            return None
        return self.key_for("ip", self.get_ident(request))




class TenantRateThrottle(_TenantRateThrottle):
    """All requests of one tenant together (rate ``tenant``), whoever makes them."""

    scope = "tenant"

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        schema = current_schema()
        if schema == "public":
            return None
        return self.key_for("all", schema)


class TenantSeriesRateThrottle(TenantRateThrottle):
    """Expensive reads of one tenant together (rate ``tenant_series``): count and occupancy
    series, which may each read up to the plan's ``query_rows_quota`` rows."""

    scope = "tenant_series"
