"""A suspended or deleted tenant's live sockets close (code 4410) within seconds.

Two ways, either enough on its own:

- at once: the tenant's suspension (``tenants.signals.tenant_suspended``), its coming deletion
  (``tenant_deleting``) or any save of the Tenant row with ``is_active`` False sends
  ``tenant.closed`` to the tenant-wide Channels group every socket of the tenant joins;
- by polling: every socket re-reads the tenant every ``LIVE_TENANT_CHECK_S`` (through a
  per-process memory, so one query per tenant and interval, not per socket), which also covers
  changes made with ``QuerySet.update()`` or directly in SQL, and a Redis outage.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import transaction
from django.db.models.signals import post_save
from django.dispatch import receiver

from tenants.models import Tenant
from tenants.signals import tenant_deleting, tenant_suspended

logger = logging.getLogger(__name__)

CLOSED_MESSAGE = "tenant.closed"  # handled by the consumers' tenant_closed()
CLOSE_CODE = 4410
CLOSE_REASON = ("This organisation's account is suspended or deleted: live counts are "
                "unavailable. Contact your administrator.")


def tenant_group(schema: str) -> str:
    """The Channels group every live socket of a tenant joins."""
    return f"{schema}.tenant"


def tenant_sockets_close(schema: str) -> None:
    """Ask every live socket of the tenant ``schema`` to close; failures are logged (the
    sockets' own polling closes them within ``LIVE_TENANT_CHECK_S``)."""
    _forget(schema)
    try:
        async_to_sync(get_channel_layer().group_send)(
            tenant_group(schema), {"type": CLOSED_MESSAGE})
    except Exception as exc:  # Redis down or slow: polling closes them
        logger.warning("live sockets of %s not told to close (%s: %s); they close on their "
                       "next check", schema, type(exc).__name__, exc)


@receiver(tenant_suspended, dispatch_uid="live_sockets_on_suspend")
def _on_suspended(sender: Any, tenant: Any, **kwargs: Any) -> None:
    tenant_sockets_close(tenant.schema_name)


@receiver(tenant_deleting, dispatch_uid="live_sockets_on_delete")
def _on_deleting(sender: Any, tenant: Any, **kwargs: Any) -> None:
    tenant_sockets_close(tenant.schema_name)


@receiver(post_save, sender=Tenant, dispatch_uid="live_sockets_on_tenant_save")
def _on_saved(sender: Any, instance: Tenant, **kwargs: Any) -> None:
    if not instance.is_active:
        schema = instance.schema_name
        transaction.on_commit(lambda: tenant_sockets_close(schema))


# schema -> (monotonic time read, active): one read per tenant and interval in this process.
_known: dict[str, tuple[float, bool]] = {}
_known_lock = threading.Lock()


def _forget(schema: str) -> None:
    with _known_lock:
        _known.pop(schema, None)


def tenant_is_open(schema: str) -> bool:
    """Whether the tenant still exists and is active (read at most every
    ``LIVE_TENANT_CHECK_S`` per process). Call from a thread, not the event loop."""
    now = time.monotonic()
    with _known_lock:
        known = _known.get(schema)
    if known is not None and now - known[0] < settings.LIVE_TENANT_CHECK_S / 2:
        return known[1]
    active = Tenant.objects.filter(schema_name=schema, is_active=True).exists()
    with _known_lock:
        _known[schema] = (now, active)
    return active
