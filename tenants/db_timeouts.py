"""PostgreSQL session timeouts: the web's limits everywhere, the migration limits while migrating.

Every connection starts with ``settings.DATABASE_TIMEOUTS_MS`` (sent in the libpq startup
packet, see config/settings/base.py). A migration may legitimately run one statement for minutes
(an index on a large ledger table), so the migrate commands run inside
:func:`migration_timeouts`, which sets ``settings.DATABASE_MIGRATE_TIMEOUTS_MS`` on every open
and newly opened connection of the process and resets them afterwards. Resetting (``RESET``)
goes back to the startup-packet values, so a web process that provisions a tenant keeps its own
limits for the requests that follow.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.db import connections
from django.db.backends.signals import connection_created

SESSION_TIMEOUTS = ("statement_timeout", "lock_timeout", "idle_in_transaction_session_timeout")


def _set(connection: Any, values: Mapping[str, int]) -> None:
    with connection.cursor() as cursor:
        for name in SESSION_TIMEOUTS:
            # set_config(..., false) is SET at session level; names come from the constant above.
            cursor.execute("SELECT set_config(%s, %s, false)", [name, f"{int(values[name])}ms"])


def _on_connection_created(sender: Any, connection: Any, **kwargs: Any) -> None:
    _set(connection, settings.DATABASE_MIGRATE_TIMEOUTS_MS)


@contextmanager
def migration_timeouts() -> Iterator[None]:
    """Run the block with the migration timeouts on every connection of this process."""
    values = settings.DATABASE_MIGRATE_TIMEOUTS_MS
    opened = [conn for conn in connections.all(initialized_only=True)
              if conn.connection is not None]
    for conn in opened:
        _set(conn, values)
    # Connections opened during the block (or by forked migration executors) get them too.
    connection_created.connect(_on_connection_created, dispatch_uid="migration_timeouts")
    try:
        yield
    finally:
        connection_created.disconnect(dispatch_uid="migration_timeouts")
        for conn in connections.all(initialized_only=True):
            if conn.connection is None or not conn.is_usable():
                continue
            with conn.cursor() as cursor:
                for name in SESSION_TIMEOUTS:
                    cursor.execute(f"RESET {name}")
