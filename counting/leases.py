"""Stream ownership: one lease row per camera with a heartbeat and a fencing generation.

A runner owns a camera while its lease row names it and its heartbeat is younger than the TTL.
Taking a lease (free, released or stale) increments ``generation``; every ledger write checks
the generation inside its transaction (:mod:`counting.ledger`), so a runner that lost its lease
(paused, partitioned, killed and revived) can never write again: its generation is stale.

All times come from PostgreSQL's ``now()`` so that clocks of worker nodes never matter.
Queries run in the current tenant schema (the caller has set it).

Takeover needs the owner to be *silent*, not merely slow. The owner holds a session-level
advisory lock (key: the tenant schema and the camera) on the connection it heartbeats from,
for as long as it runs. A taker needs both that lock and a heartbeat older than the TTL. A
heartbeat that is late because its UPDATE waits behind a locked row, or a stalled network, still
leaves the owner's session (and its lock) alive, so nobody takes over. When the owner's process
dies, PostgreSQL ends its session and frees the lock; the heartbeat then ages past the TTL and
the camera can be taken. A session that stays alive without its process ever heartbeating
again (a frozen host behind a proxy) is ended by a taker with ``pg_terminate_backend`` once the
heartbeat is older than ``force_after_s`` (90 s by default).
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from dataclasses import dataclass
from datetime import datetime

from django.db import connection, transaction

logger = logging.getLogger(__name__)

# The advisory lock of a camera's lease: two int4 keys, the tenant schema's hash and the camera.
_LOCK_KEYS = "hashtext('counting-lease:' || current_schema()), %s"


@dataclass(frozen=True)
class LeaseTaken:
    """What the new owner learns on acquiring: its generation and who held the lease before
    (``previous_owner`` empty when the lease was free or released cleanly)."""

    generation: int
    previous_owner: str
    # The last frame whose crossings the previous owners stored (None: nothing ever stored).
    stored_until: datetime | None = None


def runner_identity() -> str:
    """A unique owner name for one stream run: host, process and a random suffix."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def lease_acquire(*, camera_id: int, owner: str, ttl_s: float,
                  force_after_s: float | None = None) -> LeaseTaken | None:
    """Take the camera's lease if it is free, released, or stale *and* its owner's session is
    gone (the advisory lock is free); None when someone else holds it. On success this
    connection holds the lease's advisory lock until :func:`lease_unlock` (or until the
    session ends). Bumps the generation (the fencing token) on every successful take.

    With ``force_after_s``, an owner whose heartbeat is older than that but whose session
    still holds the lock is ended with ``pg_terminate_backend`` (its process is frozen or cut
    off: a live runner heartbeats every few seconds).
    """
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO counting_cameralease (camera_id, owner, generation, last_batch_seq) "
            "VALUES (%s, '', 0, 0) ON CONFLICT (camera_id) DO NOTHING", [camera_id])
        # Lock the row so the previous owner is read consistently with the takeover.
        cursor.execute(
            "SELECT owner, heartbeat_at IS NULL OR heartbeat_at < now() - make_interval("
            "secs => %s), heartbeat_at IS NOT NULL AND heartbeat_at < now() - make_interval("
            "secs => %s) FROM counting_cameralease WHERE camera_id = %s FOR UPDATE",
            [ttl_s, force_after_s if force_after_s is not None else 1e9, camera_id])
        previous, stale, force = cursor.fetchone()
        if previous and previous != owner and not stale:
            return None  # a live owner
        if not lease_lock_try(camera_id=camera_id):
            if not (previous and force):
                return None  # the owner's session is alive: slow, not silent
            if not _lease_lock_force(camera_id=camera_id):
                return None
        cursor.execute(
            "UPDATE counting_cameralease SET owner = %s, generation = generation + 1, "
            "acquired_at = now(), heartbeat_at = now(), last_batch_seq = 0 "
            "WHERE camera_id = %s RETURNING generation, stored_until", [owner, camera_id])
        taken = cursor.fetchone()
    return LeaseTaken(generation=int(taken[0]), previous_owner=previous if previous != owner
                      else "", stored_until=taken[1])


def lease_lock_try(*, camera_id: int) -> bool:
    """Take the lease's advisory lock on this connection's session (True if held now)."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT pg_try_advisory_lock({_LOCK_KEYS})", [camera_id])
        return bool(cursor.fetchone()[0])


def lease_unlock(*, camera_id: int) -> None:
    """Free the lease's advisory lock held by this session (every hold of it)."""
    with connection.cursor() as cursor:
        for _ in range(100):  # session locks are re-entrant: free each hold
            cursor.execute(f"SELECT pg_advisory_unlock({_LOCK_KEYS})", [camera_id])
            if not cursor.fetchone()[0]:
                return


def lease_lock_holder(*, camera_id: int) -> int | None:
    """The backend pid of the session holding the lease's advisory lock (None if free)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted "
            "AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
            "AND classid = hashtext('counting-lease:' || current_schema())::oid "
            "AND objid = %s::oid AND objsubid = 2", [camera_id])
        row = cursor.fetchone()
        return int(row[0]) if row else None


def _lease_lock_force(*, camera_id: int) -> bool:
    """End the session that holds the lease's lock (its owner stopped heartbeating long ago)
    and take the lock; False if it cannot be had within about two seconds."""
    pid = lease_lock_holder(camera_id=camera_id)
    if pid is not None:
        logger.warning("camera %s: ending database session %s, which holds the lease's lock "
                       "without heartbeating", camera_id, pid)
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline:
        if lease_lock_try(camera_id=camera_id):
            return True
        time.sleep(0.1)
    return False


def lease_heartbeat(*, camera_id: int, owner: str, generation: int) -> bool:
    """Renew the lease; False when it was taken over (the runner must stop at once)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE counting_cameralease SET heartbeat_at = now() "
            "WHERE camera_id = %s AND owner = %s AND generation = %s", [camera_id, owner,
                                                                       generation])
        return bool(cursor.rowcount == 1)


def lease_release(*, camera_id: int, owner: str, generation: int) -> bool:
    """Give the lease up (clean stop) so the camera can be taken at once; keeps the generation
    so that a later owner still gets a higher one. Frees this session's advisory lock too."""
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE counting_cameralease SET owner = '', heartbeat_at = NULL "
            "WHERE camera_id = %s AND owner = %s AND generation = %s", [camera_id, owner,
                                                                       generation])
        released = bool(cursor.rowcount == 1)
    lease_unlock(camera_id=camera_id)
    return released


def cameras_needing_runner(*, ttl_s: float) -> list[int]:
    """Enabled cameras of the current tenant without a live lease (none, released or stale)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.id FROM cameras_camera c LEFT JOIN counting_cameralease l "
            "ON l.camera_id = c.id WHERE c.enabled AND (l.camera_id IS NULL OR l.owner = '' "
            "OR l.heartbeat_at IS NULL OR l.heartbeat_at < now() - make_interval(secs => %s)) "
            "ORDER BY c.id", [ttl_s])
        return [int(row[0]) for row in cursor.fetchall()]


def cameras_due_for_runner(*, ttl_s: float) -> list[int]:
    """:func:`cameras_needing_runner` without the cameras backing off after failing to
    connect (``next_attempt_at`` still ahead), unless the camera was edited since that run
    began (a corrected address is tried at once)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.id FROM cameras_camera c LEFT JOIN counting_cameralease l "
            "ON l.camera_id = c.id WHERE c.enabled AND (l.camera_id IS NULL OR ((l.owner = '' "
            "OR l.heartbeat_at IS NULL OR l.heartbeat_at < now() - make_interval(secs => %s)) "
            "AND (l.next_attempt_at IS NULL OR l.next_attempt_at <= now() "
            "OR l.acquired_at IS NULL OR c.updated_at > l.acquired_at))) ORDER BY c.id",
            [ttl_s])
        return [int(row[0]) for row in cursor.fetchall()]


def cameras_running_count(*, ttl_s: float) -> int:
    """Cameras of the current tenant with a live lease owner (for fair shares of slots)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM counting_cameralease WHERE owner <> '' AND "
                       "heartbeat_at >= now() - make_interval(secs => %s)",
                       [ttl_s])
        return int(cursor.fetchone()[0])


def lease_backoff_set(*, camera_id: int, owner: str, generation: int, connected: bool,
                      base_s: float, max_s: float) -> datetime | None:
    """The run could not connect to the camera and ends: count one more failed run (the
    first if this run had connected at some point) and set the next attempt to now +
    ``base_s`` x 2^(failures - 1), at most ``max_s``. Returns that time (None if the lease
    is no longer ours)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE counting_cameralease SET connect_failures = CASE WHEN %s THEN 1 "
            "ELSE connect_failures + 1 END, next_attempt_at = now() + make_interval(secs => "
            "least(%s, %s * power(2, (CASE WHEN %s THEN 1 ELSE connect_failures + 1 END) - 1))) "
            "WHERE camera_id = %s AND owner = %s AND generation = %s "
            "RETURNING next_attempt_at",
            [connected, max_s, base_s, connected, camera_id, owner, generation])
        row = cursor.fetchone()
        return row[0] if row else None
