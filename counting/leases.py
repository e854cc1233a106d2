"""Stream ownership: one lease row per camera with a heartbeat and a fencing generation.

A runner owns a camera while its lease row names it and its heartbeat is younger than the TTL.
Taking a lease (free, released or stale) increments ``generation``; every ledger write checks
the generation inside its transaction (:mod:`counting.ledger`), so a runner that lost its lease
(paused, partitioned, killed and revived) can never write again: its generation is stale.

All times come from PostgreSQL's ``now()`` so that clocks of worker nodes never matter.
Queries run in the current tenant schema (the caller has set it).
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass

from django.db import connection, transaction


@dataclass(frozen=True)
class LeaseTaken:
    """What the new owner learns on acquiring: its generation and who held the lease before
    (``previous_owner`` empty when the lease was free or released cleanly)."""

    generation: int
    previous_owner: str


def runner_identity() -> str:
    """A unique owner name for one stream run: host, process and a random suffix."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def lease_acquire(*, camera_id: int, owner: str, ttl_s: float) -> LeaseTaken | None:
    """Take the camera's lease if it is free, released or stale; None when someone else holds
    a live one. Bumps the generation (the fencing token) on every successful take."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO counting_cameralease (camera_id, owner, generation, last_batch_seq) "
            "VALUES (%s, '', 0, 0) ON CONFLICT (camera_id) DO NOTHING", [camera_id])
        # Lock the row so the previous owner is read consistently with the takeover.
        cursor.execute(
            "SELECT owner FROM counting_cameralease WHERE camera_id = %s FOR UPDATE",
            [camera_id])
        row = cursor.fetchone()
        previous = row[0] if row else ""
        cursor.execute(
            "UPDATE counting_cameralease SET owner = %s, generation = generation + 1, "
            "acquired_at = now(), heartbeat_at = now(), last_batch_seq = 0 "
            "WHERE camera_id = %s AND (owner = '' OR owner = %s OR heartbeat_at IS NULL "
            "OR heartbeat_at < now() - make_interval(secs => %s)) RETURNING generation",
            [owner, camera_id, owner, ttl_s])
        taken = cursor.fetchone()
    if taken is None:
        return None
    return LeaseTaken(generation=int(taken[0]), previous_owner=previous if previous != owner
                      else "")


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
    so that a later owner still gets a higher one."""
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE counting_cameralease SET owner = '', heartbeat_at = NULL "
            "WHERE camera_id = %s AND owner = %s AND generation = %s", [camera_id, owner,
                                                                       generation])
        return bool(cursor.rowcount == 1)


def cameras_needing_runner(*, ttl_s: float) -> list[int]:
    """Enabled cameras of the current tenant without a live lease (none, released or stale)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.id FROM cameras_camera c LEFT JOIN counting_cameralease l "
            "ON l.camera_id = c.id WHERE c.enabled AND (l.camera_id IS NULL OR l.owner = '' "
            "OR l.heartbeat_at IS NULL OR l.heartbeat_at < now() - make_interval(secs => %s)) "
            "ORDER BY c.id", [ttl_s])
        return [int(row[0]) for row in cursor.fetchall()]
