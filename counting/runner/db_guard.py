"""Database outages seen by one runner: logged once when they start and once when they end."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from django.db import DatabaseError, InterfaceError, OperationalError, connection

from counting.runner.state import RunnerState

logger = logging.getLogger(__name__)

DB_ERRORS = (OperationalError, InterfaceError)

T = TypeVar("T")


class DatabaseGuard:
    """Runs the runner's database duties so that an unreachable database never ends the loop.

    A failed duty returns None; the connection is closed so that the next query reconnects
    (and sets the tenant schema again).
    """

    def __init__(self, *, camera_id: int, state: RunnerState | None = None) -> None:
        self.camera_id = camera_id
        self.state = state
        self.down_since: float | None = None

    def run(self, func: Callable[[], T]) -> T | None:
        """``func()``, or None when the database failed under it."""
        try:
            result = func()
        except DB_ERRORS as exc:
            self.failed(exc)
            return None
        self.recovered()
        return result

    def failed(self, exc: Exception) -> None:
        if self.state is not None:
            self.state.db_failed(exc)
        if self.down_since is None:
            self.down_since = time.monotonic()
            logger.error("camera %s: database calls failing (%s); buffering ledger writes",
                         self.camera_id, exc)
        try:
            connection.close()  # the next query reconnects (and re-sets the tenant schema)
        except DatabaseError:
            pass

    def recovered(self) -> None:
        if self.state is not None:
            self.state.db_ok()
        if self.down_since is not None:
            down = time.monotonic() - self.down_since
            self.down_since = None
            logger.warning("camera %s: database back after %.1fs", self.camera_id, down)
