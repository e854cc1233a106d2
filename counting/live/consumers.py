"""WebSocket consumers: live counts of one camera or one site.

Protocol (JSON):
- server -> client on connect and on request: ``{"type": "snapshot", "seq": S, "day": ...,
  "cameras": {camera_id: {"lines": {...}, "zones": {...}}}}`` read from the database;
- server -> client on every committed change: ``{"type": "counts", "seq": N, "camera_id": ...,
  "lines": {...}, "zones": {...}, "events": [...]}`` with absolute day totals of that camera;
- client -> server ``{"type": "resync"}`` when it sees ``seq`` jump (a lost message): it gets
  a new snapshot, at most once per ``LIVE_RESYNC_MIN_INTERVAL_S`` (a snapshot reads the
  database); a resync sooner is answered ``{"type": "resync_throttled", "retry_after": s}``
  and the client asks again after that many seconds.

Fair shares and tenant state (close codes, each with a reason for people):
- 4429: the tenant already has its plan's ``websocket_quota`` live sockets open (the socket is
  accepted, then closed, so the browser sees the code and the reason);
- 4410: the tenant was suspended or deleted (at once through a signal, else within
  ``LIVE_TENANT_CHECK_S`` by the socket's own check; see :mod:`counting.live.tenant_watch`).

The tenant comes from the Host header and the user from that tenant's session
(tenants.asgi.TenantAuthMiddleware); a user without the view permission on the object is refused
before the handshake is accepted (HTTP 403), and nothing is subscribed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings

from counting.live.publish import camera_group, sequence_current, site_group
from counting.live.slots import SlotsUnavailable, slot_release, slot_renew, slot_take
from counting.live.tenant_watch import CLOSE_CODE, CLOSE_REASON, tenant_group, tenant_is_open
from counting.metrics import WEBSOCKET_CONNECTIONS
from tenants.db import connection, tenant_quota

QUOTA_CLOSE_CODE = 4429

logger = logging.getLogger(__name__)


@database_sync_to_async
def _resolve(tenant: Any, user: Any, kind: str, pk: int,
             refresh: bool = False) -> tuple[list[int], str] | None:
    """The camera ids and site timezone the user may watch, or None when refused.

    ``refresh`` reloads the user first: permissions are cached on the user object, and a
    re-check must see grants revoked and accounts deactivated since the socket opened.
    """
    from django.contrib.auth import get_user_model

    from cameras.selectors import camera_get_visible_to, site_get_visible_to

    connection.set_tenant(tenant)
    try:
        if not user or not user.is_authenticated:
            return None
        if refresh:
            user = get_user_model().objects.filter(pk=user.pk, is_active=True).first()
            if user is None:
                return None
        if kind == "camera":
            camera = camera_get_visible_to(user=user, camera_id=pk)
            if camera is None:
                return None
            return [camera.pk], camera.site.timezone
        site = site_get_visible_to(user=user, site_id=pk)
        if site is None:
            return None
        return sorted(site.cameras.values_list("pk", flat=True)), site.timezone
    finally:
        connection.set_schema_to_public()


@database_sync_to_async
def _snapshot(tenant: Any, camera_ids: list[int], site_tz: str) -> dict[str, Any]:
    from cameras.local_time import local_today
    from counting.selectors import day_totals

    connection.set_tenant(tenant)
    try:
        day = local_today(site_tz=site_tz)
        totals = day_totals(camera_ids=camera_ids, site_tz=site_tz, day=day)
    finally:
        connection.set_schema_to_public()
    return {"day": day.isoformat(), "cameras": {
        str(cid): {"lines": {str(k): v for k, v in t["lines"].items()},
                   "zones": {str(k): v for k, v in t["zones"].items()}}
        for cid, t in totals.items()}}


def _take_slot(schema: str, member: str) -> int | None:
    """Take a live slot of the tenant; its quota when refused, None when taken (or when Redis
    is down: the socket is let in and the outage logged)."""
    quota = tenant_quota("websocket_quota", schema)
    if quota is None:
        return None
    try:
        return None if slot_take(schema=schema, member=member, quota=quota) else quota
    except SlotsUnavailable as exc:
        logger.warning("live slots of %s not counted (Redis unavailable: %s); socket let in",
                       schema, exc)
        return None


class _CountsConsumer(AsyncJsonWebsocketConsumer):
    """Common part: permission check before accept, the tenant's slot quota, group
    subscriptions, snapshots (resyncs throttled), and the close of a closed tenant."""

    kind = ""
    group: str | None = None
    slot_held = False
    watcher: asyncio.Task[None] | None = None
    last_snapshot_at = float("-inf")  # of the last resync (the snapshot on connect is free)

    def _group_name(self, schema: str, pk: int) -> str:
        raise NotImplementedError

    async def connect(self) -> None:
        tenant = self.scope.get("tenant")
        user = self.scope.get("user")
        pk = int(self.scope["url_route"]["kwargs"]["pk"])
        if tenant is None:
            await self.close(code=4404)
            return
        allowed = await _resolve(tenant, user, self.kind, pk)
        if allowed is None:
            # Refused before accept: the handshake fails with 403 and nothing is subscribed.
            await self.close(code=4403)
            return
        self.camera_ids, self.site_tz = allowed
        self.tenant = tenant
        self.user = user
        self.pk = pk
        self.checked_at = time.monotonic()
        schema = tenant.schema_name
        refused_quota = await sync_to_async(_take_slot, thread_sensitive=False)(
            schema, self.channel_name)
        await self.accept()
        if refused_quota is not None:
            logger.info("live %s %s of %s refused: %s sockets open already", self.kind, pk,
                        schema, refused_quota)
            await self.close(code=QUOTA_CLOSE_CODE, reason=(
                f"Your organisation's plan allows {refused_quota} live connections at once and "
                "all are in use: close another live page (or tab) and reload, or upgrade."))
            return
        self.slot_held = True
        WEBSOCKET_CONNECTIONS.labels(tenant=schema, kind=self.kind, id=str(pk)).inc()
        self.group = self._group_name(schema, pk)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.channel_layer.group_add(tenant_group(schema), self.channel_name)
        self.watcher = asyncio.ensure_future(self._watch())
        await self._send_snapshot()

    async def _watch(self) -> None:
        """Every LIVE_TENANT_CHECK_S: close if the tenant is closed, else renew the slot."""
        schema = self.tenant.schema_name
        while True:
            await asyncio.sleep(settings.LIVE_TENANT_CHECK_S)
            try:
                is_open = await database_sync_to_async(tenant_is_open)(schema)
            except Exception:  # the database is unreachable: keep the socket, retry later
                logger.warning("live %s %s: tenant %s not checked", self.kind, self.pk, schema,
                               exc_info=True)
                continue
            if not is_open:
                await self._close_for_tenant()
                return
            await sync_to_async(slot_renew, thread_sensitive=False)(
                schema=schema, member=self.channel_name)

    async def _close_for_tenant(self) -> None:
        logger.info("live %s %s: tenant %s closed, closing the socket", self.kind, self.pk,
                    self.tenant.schema_name)
        await self.close(code=CLOSE_CODE, reason=CLOSE_REASON)

    async def tenant_closed(self, event: dict[str, Any]) -> None:
        """The tenant was suspended or is being deleted (tenant_watch's group message)."""
        await self._close_for_tenant()

    async def _send_snapshot(self) -> None:
        assert self.group is not None
        # The sequence is read before the totals: any later message has a higher number and
        # carries absolute totals, so applying it after this snapshot is always right.
        seq = await database_sync_to_async(sequence_current)(self.group)
        snapshot = await _snapshot(self.tenant, self.camera_ids, self.site_tz)
        await self.send_json({"type": "snapshot", "seq": seq, **snapshot})

    async def _still_allowed(self) -> bool:
        """Re-check the permission every LIVE_PERMISSION_RECHECK_S; close the socket if gone."""
        if time.monotonic() - self.checked_at < settings.LIVE_PERMISSION_RECHECK_S:
            return True
        self.checked_at = time.monotonic()
        allowed = await _resolve(self.tenant, self.user, self.kind, self.pk, refresh=True)
        if allowed is None:
            logger.info("live %s %s: permission gone for user %s, closing", self.kind,
                        self.pk, getattr(self.user, "pk", None))
            await self.close(code=4403)
            return False
        self.camera_ids, self.site_tz = allowed
        return True

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if isinstance(content, dict) and content.get("type") == "resync":
            wait = self.last_snapshot_at + settings.LIVE_RESYNC_MIN_INTERVAL_S - time.monotonic()
            if wait > 0:
                # A snapshot reads the database: a client asking in a loop gets told to wait.
                await self.send_json({"type": "resync_throttled",
                                      "retry_after": round(wait, 1)})
                return
            if await self._still_allowed():
                self.last_snapshot_at = time.monotonic()
                await self._send_snapshot()

    async def counts_update(self, event: dict[str, Any]) -> None:
        if await self._still_allowed():
            await self.send_json(event["payload"])

    async def disconnect(self, code: int) -> None:
        if self.watcher is not None:
            self.watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.watcher
        if self.group is not None:
            await self.channel_layer.group_discard(self.group, self.channel_name)
            await self.channel_layer.group_discard(tenant_group(self.tenant.schema_name),
                                                   self.channel_name)
        if self.slot_held:
            self.slot_held = False
            WEBSOCKET_CONNECTIONS.labels(tenant=self.tenant.schema_name, kind=self.kind,
                                         id=str(self.pk)).dec()
            await sync_to_async(slot_release, thread_sensitive=False)(
                schema=self.tenant.schema_name, member=self.channel_name)


class CameraCountsConsumer(_CountsConsumer):
    """``/ws/cameras/<id>/``: live counts of one camera (needs view on the camera or site)."""

    kind = "camera"

    def _group_name(self, schema: str, pk: int) -> str:
        return camera_group(schema, pk)


class SiteCountsConsumer(_CountsConsumer):
    """``/ws/sites/<id>/``: live counts of every camera of a site (needs view on the site)."""

    kind = "site"

    def _group_name(self, schema: str, pk: int) -> str:
        return site_group(schema, pk)
