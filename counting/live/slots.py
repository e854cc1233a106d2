"""Live-connection slots per tenant: at most the tenant's ``websocket_quota`` open sockets.

Each open socket holds a member of a Redis sorted set ``<schema>:live-sockets`` whose score is
when the slot expires; the socket renews it every ``LIVE_TENANT_CHECK_S`` and removes it on
close, so a process that died without closing frees its slots after ``LIVE_SLOT_TTL_S``.
While Redis is unavailable the slot is not counted and the socket is let in (live updates go
through Redis too, and resume with a resync): the degradation is logged, never a refusal.
"""

from __future__ import annotations

import logging
import time

import redis
from django.conf import settings

from tenants.redis_keys import redis_client, tenant_key

logger = logging.getLogger(__name__)


class SlotsUnavailable(Exception):
    """Redis did not answer: the slot could not be counted."""


def slots_key(schema: str) -> str:
    """The Redis key of a tenant's open live sockets."""
    return tenant_key(schema, "live-sockets")


def slot_take(*, schema: str, member: str, quota: int) -> bool:
    """Take a slot for ``member``; False (and nothing held) when the tenant's are all taken.

    Raises :class:`SlotsUnavailable` when Redis does not answer.
    """
    now = time.time()
    key = slots_key(schema)
    try:
        pipe = redis_client().pipeline(transaction=True)
        pipe.zremrangebyscore(key, "-inf", now)
        pipe.zadd(key, {member: now + settings.LIVE_SLOT_TTL_S})
        pipe.zcard(key)
        pipe.expire(key, int(settings.LIVE_SLOT_TTL_S) + 1)
        held = int(pipe.execute()[2])
        if held > quota:
            # Over the quota with this one: give it back. Two sockets racing for the last slot
            # may both be refused; never both admitted.
            redis_client().zrem(key, member)
            return False
        return True
    except (redis.RedisError, OSError) as exc:
        raise SlotsUnavailable(str(exc)) from exc


def slot_renew(*, schema: str, member: str) -> None:
    """Extend ``member``'s slot (the socket is still open); Redis errors are logged only."""
    key = slots_key(schema)
    try:
        pipe = redis_client().pipeline(transaction=True)
        pipe.zadd(key, {member: time.time() + settings.LIVE_SLOT_TTL_S})
        pipe.expire(key, int(settings.LIVE_SLOT_TTL_S) + 1)
        pipe.execute()
    except (redis.RedisError, OSError) as exc:
        logger.warning("live slots of %s not renewed (Redis unavailable: %s)", schema, exc)


def slot_release(*, schema: str, member: str) -> None:
    """Give ``member``'s slot back; Redis errors are logged (the slot expires by itself)."""
    try:
        redis_client().zrem(slots_key(schema), member)
    except (redis.RedisError, OSError) as exc:
        logger.warning("live slot of %s not released (Redis unavailable: %s); it expires in "
                       "%.0f s", schema, exc, settings.LIVE_SLOT_TTL_S)


def slots_held(schema: str) -> int:
    """How many unexpired slots the tenant holds (for tests and diagnostics)."""
    return int(redis_client().zcount(slots_key(schema), time.time(), "+inf"))
