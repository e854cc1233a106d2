"""PostgreSQL connections carry statement, lock and idle-in-transaction timeouts and TCP
keepalives; migrations run with their own (by default unlimited) timeouts; a query blocked on a
row lock fails within the lock timeout with a clear error instead of hanging."""

from __future__ import annotations

import socket
import time
from typing import Any

import pytest
from django.db import OperationalError, connection, connections, transaction

from tests.chaos.faults import lease_row_locked


def _show(name: str, conn: Any = connection) -> str:
    with conn.cursor() as cursor:
        cursor.execute(f"SHOW {name}")
        return str(cursor.fetchone()[0])


def _ms(value: str) -> int:
    """PostgreSQL's display of a duration ("30s", "5s", "1min", "0") in milliseconds."""
    units = {"ms": 1, "s": 1000, "min": 60_000, "h": 3_600_000}
    for unit in sorted(units, key=len, reverse=True):
        if value.endswith(unit) and value[: -len(unit)].isdigit():
            return int(value[: -len(unit)]) * units[unit]
    return int(value)


@pytest.mark.django_db
def test_a_real_connection_has_the_configured_timeouts(settings: Any) -> None:
    # given a fresh connection of the process
    fresh = connections.create_connection("default")
    # then the server reports the timeouts of the settings for this session
    try:
        for name, value in settings.DATABASE_TIMEOUTS_MS.items():
            assert _ms(_show(name, fresh)) == value, name
            assert _ms(_show(name)) == value, name  # and the test's own connection too
    finally:
        fresh.close()
    assert settings.DATABASE_TIMEOUTS_MS["statement_timeout"] > 0
    assert settings.DATABASE_TIMEOUTS_MS["lock_timeout"] > 0
    assert settings.DATABASE_TIMEOUTS_MS["idle_in_transaction_session_timeout"] > 0
    # and the client socket sends TCP keepalives with the configured timing
    options = settings.DATABASES["default"]["OPTIONS"]
    sock = socket.socket(fileno=connection.connection.pgconn.socket)
    try:
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE) == \
            options["keepalives_idle"]
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL) == \
            options["keepalives_interval"]
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT) == \
            options["keepalives_count"]
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT) == \
            options["tcp_user_timeout"]
    finally:
        sock.detach()  # the socket belongs to libpq


@pytest.mark.django_db
def test_migrations_run_with_the_migration_timeouts_and_restore_the_web_ones(
        settings: Any) -> None:
    from django.core.management import get_commands

    from tenants.db_timeouts import migration_timeouts

    # given the migrate commands are the project's (found before django-tenants')
    assert get_commands()["migrate"] == "tenants"
    assert get_commands()["migrate_schemas"] == "tenants"
    web = settings.DATABASE_TIMEOUTS_MS
    # when a block runs under the migration timeouts, on the open connection and a new one
    with migration_timeouts():
        during_open = {name: _ms(_show(name)) for name in web}
        fresh = connections.create_connection("default")
        fresh.ensure_connection()  # sends connection_created, as a new connection would
        during_new = {name: _ms(_show(name, fresh)) for name in web}
        fresh.close()
    after = {name: _ms(_show(name)) for name in web}
    # then both had the migration values (0: a long migration is not cut short)
    assert during_open == settings.DATABASE_MIGRATE_TIMEOUTS_MS
    assert during_new == settings.DATABASE_MIGRATE_TIMEOUTS_MS
    assert during_open["statement_timeout"] == 0
    # and afterwards the connection is back on the web timeouts
    assert after == web


def test_migrate_schemas_runs_under_the_migration_timeouts(
        django_db_setup: Any, django_db_blocker: Any, monkeypatch: Any) -> None:
    from django.core.management import call_command
    from django_tenants.management.commands.migrate_schemas import MigrateSchemasCommand

    seen: dict[str, int] = {}

    def record(self: Any, *args: Any, **options: Any) -> None:
        seen["statement_timeout"] = _ms(_show("statement_timeout"))

    # given django-tenants' migration work replaced by a probe of the session's timeout
    monkeypatch.setattr(MigrateSchemasCommand, "handle", record)
    with django_db_blocker.unblock():
        # when `migrate` is called as deployments and the test database set-up call it
        call_command("migrate", verbosity=0)
        # then the migration ran without the web's statement timeout, which is back after
        assert seen == {"statement_timeout": 0}
        assert _ms(_show("statement_timeout")) > 0


def test_a_query_blocked_on_the_lease_row_fails_within_the_lock_timeout(
        live_db: None, stream_tenant: Any, settings: Any) -> None:
    from django_tenants.utils import tenant_context

    from counting.models import CameraLease
    from tests.streams.conftest import make_camera

    settings.CAMERA_URL_ALLOW_LOOPBACK = True
    camera = make_camera(stream_tenant, "http://127.0.0.1:9/video.mjpg", lines=False)
    with tenant_context(stream_tenant):
        CameraLease.objects.get_or_create(camera=camera)
    lock_s = settings.DATABASE_TIMEOUTS_MS["lock_timeout"] / 1000
    # given the lease row held by another transaction (a stuck process, an admin's session)
    with lease_row_locked(stream_tenant.schema_name, camera.pk) as holder:
        assert holder.rows == 1
        started = time.monotonic()
        # when this process tries to take the row (as a heartbeat or takeover does)
        with tenant_context(stream_tenant), pytest.raises(OperationalError) as failure, \
                transaction.atomic():
            CameraLease.objects.select_for_update().get(camera=camera)
        elapsed = time.monotonic() - started
    # then it fails after the lock timeout, not later, and says why
    assert "lock timeout" in str(failure.value)
    assert lock_s - 0.5 <= elapsed < lock_s + 3.0
    # and once the lock is gone the row is free again
    with tenant_context(stream_tenant), transaction.atomic():
        assert CameraLease.objects.select_for_update().get(camera=camera).camera_id == camera.pk
