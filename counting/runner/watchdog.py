"""A watchdog beside the runner's database threads: no call may hang the thread that made it.

Server-side timeouts (statement, lock, idle-in-transaction) end a slow query, and TCP keepalives
and ``tcp_user_timeout`` end a dead connection, but none of them sees a connection whose network
stopped delivering while the server is fine (a stalled proxy or NAT): libpq waits for an answer
that never comes. So every database call of a background thread runs inside
:meth:`Watchdog.watch`::

    call runs > cancel_after_s  ->  cancel request (PQcancel, on a connection of its own,
                                    bounded, in a helper thread)
    still running cut_s later   ->  the call's socket is shut down: libpq sees the connection
                                    closed, the call raises OperationalError, the thread
                                    reconnects at its next attempt
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.db import connections

logger = logging.getLogger(__name__)


@dataclass
class _Raw:
    connection: Any


@dataclass
class _Watch:
    what: str
    wrapper: Any  # the calling thread's Django DatabaseWrapper
    started: float
    limit_s: float
    cancelled: bool = False
    cut: bool = False


class Watchdog:
    """Cancels, then cuts, database calls that run longer than their limit.

    ``cancels`` and ``cuts`` count what it had to do (reported in logs and used by tests).
    """

    def __init__(self, *, cancel_after_s: float = 10.0, cut_s: float = 3.0,
                 poll_s: float = 0.25, name: str = "db-watchdog") -> None:
        self.cancel_after_s = cancel_after_s
        self.cut_s = cut_s
        self.poll_s = poll_s
        self.cancels = 0
        self.cuts = 0
        self._watches: dict[int, _Watch] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name=name)
        self._thread.start()

    @contextmanager
    def watch(self, what: str, limit_s: float | None = None,
              raw: Any = None) -> Iterator[None]:
        """Watch the database calls of the block: on the calling thread's default connection,
        or on ``raw`` (a psycopg connection) when given."""
        key = threading.get_ident()
        wrapper = connections["default"] if raw is None else _Raw(raw)
        entry = _Watch(what=what, wrapper=wrapper, started=time.monotonic(),
                       limit_s=self.cancel_after_s if limit_s is None else limit_s)
        with self._lock:
            self._watches[key] = entry
        try:
            yield
        finally:
            with self._lock:
                self._watches.pop(key, None)

    def close(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.wait(self.poll_s):
            now = time.monotonic()
            with self._lock:
                watches = list(self._watches.values())
            for entry in watches:
                age = now - entry.started
                if age >= entry.limit_s and not entry.cancelled:
                    entry.cancelled = True
                    self._cancel(entry, age)
                elif age >= entry.limit_s + self.cut_s and not entry.cut:
                    entry.cut = True
                    self._cut(entry, age)

    def _cancel(self, entry: _Watch, age: float) -> None:
        raw = entry.wrapper.connection
        if raw is None:
            return  # still connecting: connect_timeout bounds that
        self.cancels += 1
        logger.error("database call '%s' running for %.1f s: cancelling it", entry.what, age)

        def cancel() -> None:
            try:
                raw.cancel_safe(timeout=self.cut_s)
            except Exception as exc:  # the cut follows if the cancel did not help
                logger.warning("cancel of '%s' failed: %s", entry.what, exc)

        threading.Thread(target=cancel, daemon=True, name="db-cancel").start()

    def _cut(self, entry: _Watch, age: float) -> None:
        raw = entry.wrapper.connection
        if raw is None:
            return
        try:
            fd = raw.pgconn.socket
        except Exception:  # closed meanwhile
            return
        self.cuts += 1
        logger.error("database call '%s' still running after %.1f s and a cancel: cutting its "
                     "connection (network stalled?)", entry.what, age)
        try:
            sock = socket.socket(fileno=os.dup(fd))
        except OSError:
            return
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        finally:
            sock.close()
