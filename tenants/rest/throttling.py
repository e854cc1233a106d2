"""Request rates per user, per token and per anonymous address, within each tenant."""

from __future__ import annotations

from typing import Any

from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from tenants.db import current_schema


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


