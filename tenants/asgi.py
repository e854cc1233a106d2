"""ASGI middleware for WebSockets: tenant from the Host header, user from that tenant's session.

Both lookups run in one database call so that the schema switch and the session read happen on
the same thread's connection; the connection is put back to public afterwards.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, load_backend
from django.contrib.auth.models import AnonymousUser
from django.utils.crypto import constant_time_compare
from django_tenants.utils import get_tenant_domain_model, remove_www

from tenants.db import connection


def _cookies(headers: dict[bytes, bytes]) -> dict[str, str]:
    from http.cookies import SimpleCookie

    jar: SimpleCookie = SimpleCookie()
    jar.load(headers.get(b"cookie", b"").decode("latin-1"))
    return {key: morsel.value for key, morsel in jar.items()}


def _user_from_session(session_key: str | None) -> Any:
    if not session_key:
        return AnonymousUser()
    engine = import_module(settings.SESSION_ENGINE)
    session = engine.SessionStore(session_key)
    try:
        user_id = session[SESSION_KEY]
        backend_path = session[BACKEND_SESSION_KEY]
    except KeyError:
        return AnonymousUser()
    if backend_path not in settings.AUTHENTICATION_BACKENDS:
        return AnonymousUser()
    user = load_backend(backend_path).get_user(user_id)
    if user is None:
        return AnonymousUser()
    session_hash = session.get(HASH_SESSION_KEY)
    if not session_hash or not constant_time_compare(
        session_hash, user.get_session_auth_hash()
    ):
        return AnonymousUser()
    return user


@database_sync_to_async
def resolve_tenant_and_user(host: str, session_key: str | None) -> tuple[Any, Any]:
    """The active tenant serving ``host`` and the user of ``session_key`` in its schema."""
    connection.set_schema_to_public()
    domain = (
        get_tenant_domain_model().objects.select_related("tenant").filter(domain=host).first()
    )
    if domain is None or not domain.tenant.is_active or domain.tenant.schema_name == "public":
        return None, AnonymousUser()
    tenant = domain.tenant
    try:
        connection.set_tenant(tenant)
        user = _user_from_session(session_key)
        if user.is_authenticated:
            # Warm the permission caches while the schema is set.
            user.get_all_permissions()
    finally:
        connection.set_schema_to_public()
    return tenant, user


class TenantAuthMiddleware:
    """Puts ``scope["tenant"]`` and ``scope["user"]``; closes the socket for unknown hosts.

    Consumers switch the connection to ``scope["tenant"]`` inside their own database calls.
    """

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        headers = dict(scope.get("headers") or [])
        host = headers.get(b"host", b"").decode("latin-1").split(":")[0].lower()
        session_key = _cookies(headers).get(settings.SESSION_COOKIE_NAME)
        tenant, user = await resolve_tenant_and_user(remove_www(host), session_key)
        if tenant is None:
            await send({"type": "websocket.close", "code": 4404})
            return None
        return await self.inner(dict(scope, tenant=tenant, user=user), receive, send)
