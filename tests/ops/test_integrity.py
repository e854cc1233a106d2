"""check_integrity: a clean tenant passes; each planted problem is found, named, and fails the run.

One committed tenant (module scope) with a camera, a line and a few ledger batches; each test
plants one problem as the PostgreSQL superuser (triggers off), checks that the command reports
it with exit status 1, then undoes it so the next test starts clean.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from django.core.management import CommandError, call_command

from tests.conftest import PASSWORD, REPO_ROOT

T0 = datetime(2026, 3, 29, 0, 59, 58, tzinfo=UTC)  # batches straddle an hour boundary


def check(*args: str) -> tuple[int, str]:
    """Run the command in-process: (exit status, stdout + stderr)."""
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("check_integrity", *args, stdout=out, stderr=err)
    except CommandError as exc:
        return exc.returncode, out.getvalue() + err.getvalue() + str(exc)
    return 0, out.getvalue() + err.getvalue()


@pytest.fixture(scope="module")
def live_db(django_db_setup: Any, django_db_blocker: Any) -> Iterator[None]:
    with django_db_blocker.unblock():
        yield


@pytest.fixture(scope="module")
def superuser(live_db: None) -> Iterator[psycopg.Connection[Any]]:
    from django.db import connection

    params = connection.settings_dict
    with psycopg.connect(host=params["HOST"] or "127.0.0.1", port=params["PORT"] or 5432,
                         user=os.environ.get("TEST_DATABASE_SUPERUSER", "postgres"),
                         dbname=params["NAME"], autocommit=True) as conn:
        conn.execute("SET session_replication_role = replica")
        yield conn


@pytest.fixture(scope="module")
def counted(live_db: None) -> Iterator[dict[str, Any]]:
    """A committed tenant with two cameras, one line each and 4 events over two hours."""
    from django.db import connection
    from django_tenants.utils import tenant_context

    from cameras.services import camera_create, site_create
    from counting.leases import lease_acquire
    from counting.ledger import LedgerBatch, LedgerEvent, ledger_write
    from counting.services import counting_line_create
    from tenants.partitions import partitions_maintain
    from tenants.platform.services import tenant_create, tenant_delete

    slug = f"integ_{uuid.uuid4().hex[:8]}"
    tenant = tenant_create(name=slug, slug=slug, domain=f"{slug.replace('_', '-')}.localhost",
                           owner_email=f"owner@{slug.replace('_', '-')}.test",
                           owner_password=PASSWORD).tenant
    with tenant_context(tenant):
        site = site_create(actor=None, name="Integrity site")
        cams, lines = [], []
        for n in range(2):
            cam = camera_create(actor=None, site=site, name=f"Cam {n}",
                                stream_url=f"rtsp://10.9.9.{n + 1}/")
            lines.append(counting_line_create(actor=None, camera=cam, name="Door", x1=0.5,
                                              y1=0, x2=0.5, y2=1))
            cams.append(cam)
        lease = lease_acquire(camera_id=cams[0].pk, owner="integrity-test", ttl_s=60)
        assert lease is not None
        events = tuple(LedgerEvent(line_id=lines[0].pk, direction=d, track_id=i,
                                   occurred_at=T0 + timedelta(seconds=i), frame_index=i * 5)
                       for i, d in enumerate(["in", "out", "in", "in"]))
        ledger_write(LedgerBatch(camera_id=cams[0].pk, generation=lease.generation, seq=1,
                                 events=events))
    # T0's month is older than a new tenant's partitions: the daily maintenance moves the rows
    # out of the default partitions (which check_integrity would report otherwise).
    partitions_maintain(tenant.schema_name)
    connection.set_schema_to_public()
    yield {"tenant": tenant, "schema": tenant.schema_name, "slug": slug, "cameras": cams,
           "lines": lines, "site": site}
    connection.set_schema_to_public()
    tenant_delete(slug=slug)


def test_a_clean_tenant_passes_and_the_whole_platform_too(counted: dict[str, Any]) -> None:
    # given a tenant whose rollups were written by the ledger itself
    # when it, then every tenant, is checked
    status, out = check("--tenant", counted["slug"])
    # (other tests commit rows of any date to the session's tenants: the daily maintenance
    # moves those out of the default partitions, as it would in production)
    from tenants.partitions import partitions_maintain

    for schema in ("tenant_a", "tenant_b"):
        partitions_maintain(schema)
    whole_status, whole_out = check()
    # then nothing is reported and the exit status is 0
    assert (status, out.strip()) == (0, "ok: 1 tenant(s) checked, no problem found"), out
    # and the whole platform's run (other tests' tenants may exist meanwhile) names nothing of
    # it nor of the session's two tenants
    assert whole_status in (0, 1), whole_out
    named = {line.split(" ")[1] for line in whole_out.splitlines() if line.startswith("PROBLEM")}
    assert named.isdisjoint({counted["schema"], "tenant_a", "tenant_b"}), whole_out


def test_a_rollup_that_disagrees_with_its_events_is_found(
        counted: dict[str, Any], superuser: psycopg.Connection[Any]) -> None:
    schema, line = counted["schema"], counted["lines"][0]
    minute = T0.replace(second=0)
    # given a minute rollup one count too high (its hour now disagrees with its minutes too)
    superuser.execute(f'UPDATE "{schema}".counting_lineminuterollup SET count_in = count_in + 1'
                      " WHERE line_id = %s AND minute = %s", [line.pk, minute])
    try:
        status, out = check("--tenant", counted["slug"])
    finally:
        superuser.execute(f'UPDATE "{schema}".counting_lineminuterollup SET count_in = '
                          "count_in - 1 WHERE line_id = %s AND minute = %s", [line.pk, minute])
    # then both are named, one line each, and the run fails
    assert status == 1
    assert out.splitlines()[:2] == [
        f"PROBLEM {schema} rollup_minute: line {line.pk} minute 2026-03-29T00:59Z: events in=1 "
        "out=1, rollup in=2 out=1",
        f"PROBLEM {schema} rollup_hour: line {line.pk} hour 2026-03-29T00:00Z: minutes sum in=2 "
        "out=1, hour rollup in=1 out=1",
    ]
    # and the rollup is not rewritten by the check: after the undo it passes again
    assert check("--tenant", counted["slug"])[0] == 0


def test_a_day_rollup_that_disagrees_with_its_minutes_is_found(
        counted: dict[str, Any], superuser: psycopg.Connection[Any]) -> None:
    schema, line = counted["schema"], counted["lines"][0]
    table = f'"{schema}".counting_linedayrollup'
    # given the site's local day (UTC here) of the 4 events counted one "out" too many
    superuser.execute(f"UPDATE {table} SET count_out = count_out + 1 WHERE line_id = %s",
                      [line.pk])
    try:
        status, out = check("--tenant", counted["slug"])
    finally:
        superuser.execute(f"UPDATE {table} SET count_out = count_out - 1 WHERE line_id = %s",
                          [line.pk])
    assert status == 1
    assert out.splitlines()[0] == (
        f"PROBLEM {schema} rollup_day: line {line.pk} local day 2026-03-29: minutes sum in=3 "
        "out=1, day rollup in=3 out=2")


def test_events_without_a_rollup_row_are_found_and_since_limits_the_range(
        counted: dict[str, Any], superuser: psycopg.Connection[Any]) -> None:
    schema, line = counted["schema"], counted["lines"][0]
    minute = T0.replace(second=0) + timedelta(minutes=1)  # 01:00, events in=2 out=0
    table = f'"{schema}".counting_lineminuterollup'
    row = superuser.execute(f"SELECT id, camera_id, count_in, count_out FROM {table} "
                            "WHERE line_id = %s AND minute = %s", [line.pk, minute]).fetchone()
    assert row is not None
    # given the minute row of two stored events deleted
    superuser.execute(f"DELETE FROM {table} WHERE id = %s", [row[0]])
    try:
        status, out = check("--tenant", counted["slug"], "--json")
        later_status, _ = check("--tenant", counted["slug"], "--since", "2026-03-29T02:00")
    finally:
        superuser.execute(f"INSERT INTO {table} (id, line_id, camera_id, minute, count_in, "
                          "count_out) VALUES (%s, %s, %s, %s, %s, %s)",
                          [row[0], line.pk, row[1], minute, row[2], row[3]])
    # then the JSON report names the minute, and the hour and day that no longer add up
    report = json.loads(out[:out.rindex("}") + 1])
    assert (status, report["ok"], report["tenants_checked"]) == (1, False, 1)
    assert [(p["check"], p["detail"]) for p in report["problems"]] == [
        ("rollup_minute", f"line {line.pk} minute 2026-03-29T01:00Z: events in=2 out=0, "
                          "no rollup row"),
        ("rollup_hour", f"line {line.pk} hour 2026-03-29T01:00Z: minutes sum in=0 out=0, "
                        "hour rollup in=2 out=0"),
        ("rollup_day", f"line {line.pk} local day 2026-03-29: minutes sum in=1 out=1, "
                       "day rollup in=3 out=1"),
    ]
    # and a check of a later range does not look at it
    assert later_status == 0


def test_an_event_on_another_cameras_line_is_found(
        counted: dict[str, Any], superuser: psycopg.Connection[Any]) -> None:
    schema = counted["schema"]
    cam0, cam1 = counted["cameras"]
    event_id = superuser.execute(f'SELECT min(id) FROM "{schema}".counting_countevent'
                                 ).fetchone()[0]  # type: ignore[index]
    # given an event whose camera is not its line's camera
    superuser.execute(f'UPDATE "{schema}".counting_countevent SET camera_id = %s WHERE id = %s',
                      [cam1.pk, event_id])
    try:
        status, out = check("--tenant", counted["slug"])
    finally:
        superuser.execute(f'UPDATE "{schema}".counting_countevent SET camera_id = %s '
                          "WHERE id = %s", [cam0.pk, event_id])
    assert status == 1
    assert (f"PROBLEM {schema} camera_mismatch: counting_countevent id {event_id} has camera "
            f"{cam1.pk} but its line {counted['lines'][0].pk} belongs to camera {cam0.pk}"
            ) in out.splitlines()


def test_a_permission_on_a_deleted_object_is_found(counted: dict[str, Any]) -> None:
    from django.contrib.auth import get_user_model
    from django_tenants.utils import tenant_context
    from guardian.shortcuts import assign_perm

    from cameras.models import Site
    from cameras.services import site_create

    schema = counted["schema"]
    with tenant_context(counted["tenant"]):
        owner = get_user_model().objects.get(
            username=f"owner@{counted['slug'].replace('_', '-')}.test")
        site = site_create(actor=None, name="Gone soon")
        perm = assign_perm("cameras.view_site", owner, site)
        # given the site removed behind guardian's back (a raw delete leaves its grants)
        Site.objects.filter(pk=site.pk).delete()
    try:
        status, out = check("--tenant", counted["slug"])
    finally:
        with tenant_context(counted["tenant"]):
            type(perm).objects.filter(pk=perm.pk).delete()
    assert status == 1
    assert out.splitlines()[0] == (
        f"PROBLEM {schema} orphan_permission: guardian_userobjectpermission id {perm.pk} grants "
        f"on cameras.site {site.pk}, which does not exist")


def test_an_edited_audit_event_is_found(counted: dict[str, Any],
                                        superuser: psycopg.Connection[Any]) -> None:
    schema = counted["schema"]
    table = f'"{schema}".audit_auditevent'
    event_id, name = superuser.execute(f"SELECT id, actor_name FROM {table} ORDER BY seq "
                                       "LIMIT 1").fetchone()  # type: ignore[misc]
    # given the first audit event's actor rewritten
    superuser.execute(f"UPDATE {table} SET actor_name = 'mallory' WHERE id = %s", [event_id])
    try:
        status, out = check("--tenant", counted["slug"])
    finally:
        superuser.execute(f"UPDATE {table} SET actor_name = %s WHERE id = %s", [name, event_id])
    assert status == 1
    assert out.splitlines()[0].startswith(
        f"PROBLEM {schema} audit_chain: event id {event_id} (seq 1): ")


def test_a_schema_without_its_tenant_row_is_found_from_the_command_line(
        counted: dict[str, Any], superuser: psycopg.Connection[Any]) -> None:
    from tests.celery_worker import test_database_url

    schema = counted["schema"]
    moved = f"{schema}_moved"
    # given the tenant's schema renamed (its row now names a schema that does not exist)
    superuser.execute(f'ALTER SCHEMA "{schema}" RENAME TO "{moved}"')
    try:
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test",
               "DATABASE_URL": test_database_url()}
        # when a cron job runs the command over the whole platform
        run = subprocess.run([sys.executable, "manage.py", "check_integrity"], cwd=REPO_ROOT,
                             env=env, capture_output=True, text=True, timeout=120)
    finally:
        superuser.execute(f'ALTER SCHEMA "{moved}" RENAME TO "{schema}"')
    # then its exit status is 1 and it names both halves of the problem
    assert run.returncode == 1, run.stdout + run.stderr
    lines = run.stdout.splitlines()
    assert (f"PROBLEM {moved} orphan_schema: schema {moved} holds a ledger "
            "(counting_countevent) but no tenant row names it") in lines
    assert f"PROBLEM {schema} missing_schema: tenant schema {schema} does not exist" in lines


def test_an_unknown_tenant_is_a_usage_error(counted: dict[str, Any]) -> None:
    status, out = check("--tenant", "no_such_tenant")
    assert status == 2
    assert "No tenant with slug no_such_tenant" in out
