"""What a pooled PostgreSQL connection forgets when it goes back to the pool (web processes).

django-tenants issues ``SET search_path`` before the first query after every ``set_tenant``
(each request's middleware) and after every ``close`` (each return to the pool), rollback and
savepoint rollback (``TENANT_LIMIT_SET_CALLS``: not before every query), so a connection taken
from the pool is pointed at the request's tenant before its first query whatever it served
before. As a second line, :func:`pool_reset` (psycopg_pool's ``reset`` callback, run on every
return) puts ``search_path`` back to the server default, so a query that bypassed django-tenants
would find no tenant's tables rather than the previous tenant's, and drops any session-level
advisory lock a request could have left (the stream runners hold theirs on connections that
are never pooled: Celery workers run without the pool, config/celery.py).

Nothing else is reset: the time zone and the statement/lock timeouts are set once per
connection (Django's ``configure`` and the startup options) and stay right.
"""

from __future__ import annotations

from typing import Any


def pool_reset(conn: Any) -> None:
    """Called by psycopg_pool (in its own thread) with the returned connection, idle."""
    conn.execute("RESET search_path")
    conn.execute("SELECT pg_advisory_unlock_all()")
