"""Pooled connections (Django's psycopg pool, DATABASE_POOL) never serve one tenant's rows to
another: threads interleave two tenants on a pool smaller than the threads, on the real
PostgreSQL, through django-tenants' backend, with rollbacks and failed statements between."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tenants.db_pool import pool_reset
from tests.conftest import REPO_ROOT

ALIAS = "pooled_test"
THREADS, ROUNDS, POOL_MAX = 6, 30, 3


@pytest.fixture(scope="module")
def live_db(django_db_setup: Any, django_db_blocker: Any) -> Iterator[None]:
    with django_db_blocker.unblock():
        yield


@pytest.fixture(scope="module")
def sites(live_db: None) -> Iterator[dict[str, list[str]]]:
    """Committed sites in tenant_a and tenant_b (same primary keys possible, other names)."""
    from django.db import connection
    from django_tenants.utils import schema_context

    from cameras.models import Site

    marker = f"pool-{uuid.uuid4().hex[:8]}"
    made: dict[str, list[str]] = {}
    for schema in ("tenant_a", "tenant_b"):
        with schema_context(schema):
            names = [f"{marker} {schema} {n}" for n in range(3)]
            for name in names:
                Site.objects.create(name=name, timezone="UTC")
            made[schema] = names
    connection.set_schema_to_public()
    yield made
    for schema in made:
        with schema_context(schema):
            Site.objects.filter(name__startswith=marker).delete()
    connection.set_schema_to_public()


def pooled_wrapper() -> Any:
    """A django-tenants DatabaseWrapper on the test database whose connections come from the
    pool of ALIAS (one pool per alias, shared by every wrapper of every thread)."""
    from django.db import connections
    from django.db.utils import load_backend

    base = connections["default"].settings_dict
    settings_dict = {**base, "CONN_MAX_AGE": 0, "OPTIONS": {
        **base["OPTIONS"], "pool": {"min_size": 1, "max_size": POOL_MAX, "timeout": 30,
                                    "reset": pool_reset}}}
    return load_backend(base["ENGINE"]).DatabaseWrapper(settings_dict, alias=ALIAS)


def test_threads_interleaving_tenants_on_pooled_connections_see_only_their_own(
        sites: dict[str, list[str]]) -> None:
    marker = sites["tenant_a"][0].split(" ")[0]
    seen: list[tuple[str, tuple[str, ...], int]] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def work(n: int) -> None:
        wrapper = pooled_wrapper()
        try:
            for i in range(ROUNDS):
                schema = ("tenant_a", "tenant_b")[(n + i) % 2]
                wrapper.set_schema(schema)
                if i % 5 == 0:
                    # a request whose statement fails and whose transaction is rolled back
                    wrapper.set_autocommit(False)
                    try:
                        with wrapper.cursor() as cursor:
                            cursor.execute("SELECT 1 / 0")
                    except Exception:  # noqa: BLE001 - the failure is the point
                        wrapper.rollback()
                    wrapper.set_autocommit(True)
                with wrapper.cursor() as cursor:
                    cursor.execute("SELECT name FROM cameras_site WHERE name LIKE %s "
                                   "ORDER BY name", [f"{marker}%"])
                    names = tuple(row[0] for row in cursor.fetchall())
                    cursor.execute("SELECT pg_backend_pid()")
                    pid = cursor.fetchone()[0]
                with lock:
                    seen.append((schema, names, pid))
                wrapper.close()  # back to the pool: the next borrower may be another tenant
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            wrapper.close()

    # given 6 threads and a pool of 3 connections
    threads = [threading.Thread(target=work, args=(n,)) for n in range(THREADS)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        # then no thread failed and every query saw exactly its own tenant's rows
        assert not errors, errors
        assert len(seen) == THREADS * ROUNDS
        wrong = [(schema, names) for schema, names, _ in seen if names != tuple(sites[schema])]
        assert wrong == []
        # and the connections really were shared: at most 3 sessions, each served both tenants
        pids = {pid for _, _, pid in seen}
        assert 1 <= len(pids) <= POOL_MAX
        assert any({s for s, _, p in seen if p == pid} == {"tenant_a", "tenant_b"}
                   for pid in pids)
        # and a connection back in the pool kept no tenant's search_path nor its timeouts lost
        pool = pooled_wrapper().pool
        with pool.connection() as conn:
            path = conn.execute("SHOW search_path").fetchone()[0]
            timeout = conn.execute("SHOW statement_timeout").fetchone()[0]
        assert path == '"$user", public'
        assert timeout == "30s"
    finally:
        pooled_wrapper().close_pool()


def test_the_setting_turns_the_pool_on_and_celery_workers_drop_it() -> None:
    # given the environment of a node with DATABASE_POOL on
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test", "DATABASE_POOL": "1",
           "DATABASE_POOL_MAX_SIZE": "5"}
    code = (
        "import django; django.setup()\n"
        "from django.db import connection\n"
        "pool = connection.settings_dict['OPTIONS']['pool']\n"
        "print(pool['max_size'], connection.settings_dict['CONN_MAX_AGE'])\n"
        "from config.celery import _no_connection_pool_in_workers\n"
        "_no_connection_pool_in_workers()\n"
        "print('pool' in connection.settings_dict['OPTIONS'], connection.pool)\n")
    run = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, env=env,
                         capture_output=True, text=True, timeout=60)
    # then a web process pools (max 5, CONN_MAX_AGE 0) and a Celery worker does not
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == ["5 0", "False None"]
