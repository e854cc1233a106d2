"""The runner's hold on its camera: acquire, heartbeat and release one lease generation, from a
thread and a database connection of its own.

The lease thread's connection is the lease's *heartbeat connection*: it holds the lease's
advisory lock for the whole run (counting/leases.py), so a takeover needs this session gone,
not merely a late heartbeat. Its calls never wait in the frame loop; a heartbeat that fails
(database unreachable, the lease row locked elsewhere) is retried at the next interval and shown
as a degraded condition; a refused heartbeat (the lease was taken over) ends the run.
"""

from __future__ import annotations

import logging
import threading

from django.db import DatabaseError, connection

from counting.leases import (
    LeaseTaken,
    lease_acquire,
    lease_heartbeat,
    lease_lock_try,
    lease_release,
)
from counting.runner.state import RunnerState, thread_schema_set
from counting.runner.watchdog import Watchdog

logger = logging.getLogger(__name__)


class LeaseLostError(RuntimeError):
    """Another runner took the camera over; this one must stop without writing."""


class LeaseKeeper:
    """Holds one camera's lease for one run; ``generation`` is the fencing token every ledger
    write of the run carries (0 until acquired). Calls run on the caller's connection."""

    def __init__(self, *, camera_id: int, owner: str, ttl_s: float,
                 force_after_s: float | None = None) -> None:
        self.camera_id = camera_id
        self.owner = owner
        self.ttl_s = ttl_s
        self.force_after_s = force_after_s
        self.generation = 0
        self.lock_held = False

    def acquire(self) -> LeaseTaken | None:
        """Take the lease (None: someone else holds a live one, or its session is alive)."""
        taken = lease_acquire(camera_id=self.camera_id, owner=self.owner, ttl_s=self.ttl_s,
                              force_after_s=self.force_after_s)
        if taken is not None:
            self.generation = taken.generation
            self.lock_held = True
        return taken

    def heartbeat(self) -> None:
        """Renew the lease (and take its lock again after a reconnect); raises
        :class:`LeaseLostError` when it was taken over."""
        if not lease_heartbeat(camera_id=self.camera_id, owner=self.owner,
                               generation=self.generation):
            raise LeaseLostError("heartbeat refused: the lease was taken over")
        if not self.lock_held:
            self.lock_held = lease_lock_try(camera_id=self.camera_id)

    def release(self) -> bool:
        """Give the lease up so that another runner can take the camera at once."""
        self.lock_held = False
        return lease_release(camera_id=self.camera_id, owner=self.owner,
                             generation=self.generation)

    def connection_lost(self) -> None:
        """The session ended (and its advisory lock with it)."""
        self.lock_held = False


class LeaseThread:
    """Acquires the lease, heartbeats every ``interval_s`` and releases it, on its own thread.

    ``start()`` blocks until the lease is acquired or refused (the run cannot begin without
    it); afterwards nothing here blocks the caller. ``stop(release=...)`` ends the thread,
    releasing the lease unless it was lost.
    """

    def __init__(self, *, keeper: LeaseKeeper, state: RunnerState, schema: str,
                 watchdog: Watchdog, interval_s: float) -> None:
        self.keeper = keeper
        self.state = state
        self.schema = schema
        self.watchdog = watchdog
        self.interval_s = interval_s
        self.taken: LeaseTaken | None = None
        self.error: BaseException | None = None
        self.released = False
        self._acquired = threading.Event()
        self._stop = threading.Event()
        self._release = False
        self._thread = threading.Thread(target=self._run, daemon=True, name="lease")

    def start(self, timeout_s: float = 30.0) -> LeaseTaken | None:
        """Start and wait for the acquire; re-raises its error."""
        self._thread.start()
        if not self._acquired.wait(timeout_s):
            self._stop.set()
            raise TimeoutError(f"lease acquire took more than {timeout_s} s")
        if self.error is not None:
            raise self.error
        return self.taken

    def stop(self, *, release: bool, timeout_s: float) -> None:
        self._release = release
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout_s)

    def _run(self) -> None:
        thread_schema_set(self.schema, self.keeper.camera_id)
        try:
            try:
                with self.watchdog.watch("lease acquire"):
                    self.taken = self.keeper.acquire()
            except BaseException as exc:  # reported to start()
                self.error = exc
                return
            finally:
                self._acquired.set()
            if self.taken is None:
                return
            self.state.lease_lock_held = True
            while not self._stop.wait(self.interval_s):
                if not self._beat():
                    return
            if self._release and not self.state.lease_lost:
                self._release_now()
        finally:
            connection.close()

    def _beat(self) -> bool:
        """One heartbeat; False when the lease was taken over (the thread ends)."""
        try:
            with self.watchdog.watch("lease heartbeat"):
                self.keeper.heartbeat()
        except LeaseLostError as exc:
            logger.warning("camera %s: %s", self.keeper.camera_id, exc)
            self.state.lease_lost_set()
            return False
        except DatabaseError as exc:
            if not self.state.lease_trouble:
                logger.error("camera %s: lease heartbeat failed (%s); retrying every %.0f s",
                             self.keeper.camera_id, exc, self.interval_s)
            self.state.lease_trouble = f"lease heartbeat failing: {_first_line(exc)}"
            if _session_lost():
                # The session (and its advisory lock) is gone: reconnect at the next beat and
                # take the lock again. A query-level failure (lock or statement timeout, a
                # cancel) keeps the session: closing it would free the lock, and a slow owner
                # would look silent to a taker.
                self.keeper.connection_lost()
                self.state.lease_lock_held = False
                try:
                    connection.close()
                except DatabaseError:
                    pass
            return True
        if self.state.lease_trouble:
            logger.warning("camera %s: lease heartbeat works again", self.keeper.camera_id)
        self.state.lease_trouble = ""
        self.state.lease_lock_held = self.keeper.lock_held
        return True

    def _release_now(self) -> None:
        try:
            with self.watchdog.watch("lease release", limit_s=3.0):
                self.released = self.keeper.release()
        except DatabaseError as exc:
            logger.error("camera %s: could not release the lease (%s); it expires in %.0f s "
                         "once this session ends", self.keeper.camera_id, exc,
                         self.keeper.ttl_s)


def _session_lost() -> bool:
    """True when this thread's database connection is closed or broken."""
    raw = connection.connection
    return raw is None or bool(raw.closed) or bool(getattr(raw, "broken", False))


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
