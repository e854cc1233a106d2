"""verify_audit finds an edited, a removed and two swapped events, and a tenant's deleted trail
survives as an export it can check.

Tampering is done as the PostgreSQL superuser (the only one who can), on committed rows of a
tenant made for the test; each case is undone before the next.
"""

from __future__ import annotations

import io
import json
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.core.management import CommandError, call_command
from psycopg.types.json import Jsonb

from audit.chain import GENESIS, chain_verify, content_hash, link_hash

COLUMNS = ("id", "occurred_at", "actor_id", "actor_name", "ip", "request_id", "action",
           "target_type", "target_id", "target_repr", "before", "after", "content_hash", "seq",
           "prev_hash", "hash")


def verify(*args: str) -> tuple[bool, str]:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("verify_audit", *args, stdout=out, stderr=err)
    except CommandError:
        return False, out.getvalue() + err.getvalue()
    return True, out.getvalue() + err.getvalue()


@pytest.fixture
def live_db(django_db_setup: Any, django_db_blocker: Any) -> Iterator[None]:
    """Database access in autocommit mode: rows are committed, the superuser sees them."""
    with django_db_blocker.unblock():
        yield


@pytest.fixture
def superuser(live_db: None) -> Iterator[psycopg.Connection[Any]]:
    """A superuser connection to the test database, with triggers off (replica mode)."""
    from django.db import connection

    params = connection.settings_dict
    with psycopg.connect(host=params["HOST"] or "127.0.0.1", port=params["PORT"] or 5432,
                         user=os.environ.get("TEST_DATABASE_SUPERUSER", "postgres"),
                         dbname=params["NAME"], autocommit=True) as conn:
        conn.execute("SET session_replication_role = replica")
        yield conn


@pytest.fixture
def trail(live_db: None, committed_tenant: Callable[..., Any],
          ) -> Iterator[tuple[str, list[int]]]:
    """A committed tenant whose trail holds the owner's creation plus five events."""
    from django_tenants.utils import tenant_context

    from audit.context import audit_context
    from audit.services import audit_record

    slug = f"chain_{uuid.uuid4().hex[:10]}"
    tenant = committed_tenant(slug=slug, owner_email=f"owner@{slug.replace('_', '-')}.test").tenant
    with tenant_context(tenant), audit_context(ip="2001:DB8:0:0::7", request_id="req-chain"):
        for n in range(5):
            audit_record(action=f"test.step{n}", target_type="x", target_id=str(n),
                         before={"n": n, "big": 1e20, "name": "é"}, after={"n": n + 1.5})
    yield tenant.slug, _ids(tenant.schema_name)


def _ids(schema: str) -> list[int]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f'SELECT id FROM "{schema}".audit_auditevent ORDER BY seq')
        return [row[0] for row in cursor.fetchall()]


def test_an_intact_chain_verifies(trail: tuple[str, list[int]]) -> None:
    slug, ids = trail
    ok, output = verify("--tenant", slug)
    assert ok, output
    assert output.startswith(f"ok {slug}: {len(ids)} events, head seq {len(ids)} ")
    # and the whole platform's trails too (public and every tenant)
    ok, output = verify()
    assert ok, output
    assert output.splitlines()[0].startswith("ok public: ")


def test_an_edited_event_is_named(trail: tuple[str, list[int]],
                                  superuser: psycopg.Connection[Any]) -> None:
    slug, ids = trail
    # when the superuser changes what one event says
    superuser.execute(f"UPDATE {slug}.audit_auditevent SET action = 'test.nothing' "
                      "WHERE id = %s", [ids[3]])
    # then verify_audit fails and names that event
    ok, output = verify("--tenant", slug)
    assert not ok
    assert output == (f"FAILED {slug}: event id {ids[3]} (seq 4): its content does not match "
                      "its content hash: the event was edited\n")
    # (and rehashing the content is not enough: the link no longer matches)
    superuser.execute(f"UPDATE {slug}.audit_auditevent SET content_hash = %s WHERE id = %s",
                      [content_hash(_row(superuser, slug, ids[3])), ids[3]])
    ok, output = verify("--tenant", slug)
    assert not ok
    assert f"event id {ids[3]} (seq 4): its hash does not match its link" in output


def test_a_removed_event_is_named_by_the_one_after_it(trail: tuple[str, list[int]],
                                                      superuser: psycopg.Connection[Any]) -> None:
    slug, ids = trail
    superuser.execute(f"DELETE FROM {slug}.audit_auditevent WHERE id = %s", [ids[2]])
    ok, output = verify("--tenant", slug)
    assert not ok
    assert output == (f"FAILED {slug}: event id {ids[3]} (seq 4): expected seq 3: an event "
                      "before it was removed, or events were reordered\n")


def test_removing_the_newest_events_shows_at_the_head(trail: tuple[str, list[int]],
                                                     superuser: psycopg.Connection[Any]) -> None:
    slug, ids = trail
    superuser.execute(f"DELETE FROM {slug}.audit_auditevent WHERE id = %s", [ids[-1]])
    ok, output = verify("--tenant", slug)
    assert not ok
    assert f"the chain ends at seq {len(ids) - 1} but its head is seq {len(ids)}" in output


def test_two_swapped_events_are_named(trail: tuple[str, list[int]],
                                      superuser: psycopg.Connection[Any]) -> None:
    slug, ids = trail
    # when the superuser swaps the places of the 3rd and 4th events
    table = f"{slug}.audit_auditevent"
    superuser.execute(f"UPDATE {table} SET seq = -1 WHERE id = %s", [ids[2]])
    superuser.execute(f"UPDATE {table} SET seq = 3 WHERE id = %s", [ids[3]])
    superuser.execute(f"UPDATE {table} SET seq = 4 WHERE id = %s", [ids[2]])
    # then the first one out of place is named
    ok, output = verify("--tenant", slug)
    assert not ok
    assert output == (f"FAILED {slug}: event id {ids[3]} (seq 3): its prev_hash is not the hash "
                      "of the event before it: events were removed or reordered\n")


def test_swapped_contents_with_rehashed_links_are_still_found(
        trail: tuple[str, list[int]], superuser: psycopg.Connection[Any]) -> None:
    slug, ids = trail
    # when the superuser swaps what two events say and recomputes every hash after them,
    rows = [_row(superuser, slug, ident) for ident in ids]
    rows[2], rows[3] = ({**rows[3], "seq": 3, "id": ids[2]}, {**rows[2], "seq": 4, "id": ids[3]})
    prev = rows[1]["hash"]
    for row in rows[2:]:
        row["content_hash"] = content_hash(row)
        row["prev_hash"], row["hash"] = prev, link_hash(prev, row["seq"], row["content_hash"])
        prev = row["hash"]
        superuser.execute(
            f"UPDATE {slug}.audit_auditevent SET occurred_at = %s, action = %s, target_id = %s, "
            "before = %s, after = %s, content_hash = %s, prev_hash = %s, hash = %s "
            "WHERE id = %s",
            [row["occurred_at"], row["action"], row["target_id"], Jsonb(row["before"]),
             Jsonb(row["after"]), row["content_hash"], row["prev_hash"], row["hash"], row["id"]])
    # then the chain is consistent but no longer ends at the head only the owner can move
    assert chain_verify(rows).ok
    ok, output = verify("--tenant", slug)
    assert not ok
    assert "but its head is seq" in output


def _row(conn: psycopg.Connection[Any], slug: str, ident: int) -> dict[str, Any]:
    cursor = conn.execute(f"SELECT {', '.join(COLUMNS)} FROM {slug}.audit_auditevent "
                          "WHERE id = %s", [ident])
    values = cursor.fetchone()
    assert values is not None
    row = dict(zip(COLUMNS, values, strict=True))
    row["ip"] = str(row["ip"]) if row["ip"] is not None else None
    return row


def test_a_deleted_tenant_leaves_a_verifiable_export(live_db: None, settings: Any,
                                                     tmp_path: Path) -> None:
    from django_tenants.utils import tenant_context

    from audit.services import audit_record
    from tenants.platform.services import tenant_create, tenant_delete
    from tests.conftest import PASSWORD

    settings.AUDIT_EXPORT_DIR = tmp_path
    slug = f"t_{uuid.uuid4().hex[:10]}"
    tenant = tenant_create(name=slug, slug=slug, domain=f"{slug.replace('_', '-')}.localhost",
                           owner_email=f"owner@{slug.replace('_', '-')}.test",
                           owner_password=PASSWORD).tenant
    with tenant_context(tenant):
        for n in range(3):
            audit_record(action=f"test.kept{n}", after={"n": n})
    # when the tenant is deleted
    tenant_delete(slug=slug)
    # then its trail is in one export file, whose chain ends where the dropped table did
    (export,) = tmp_path.glob(f"{slug}-*.jsonl")
    lines = [json.loads(line) for line in export.read_text().splitlines()]
    assert [line["kind"] for line in lines] == ["header"] + ["event"] * 4 + ["head"]
    assert [line["action"] for line in lines[1:-1]] == [
        "user.create", "test.kept0", "test.kept1", "test.kept2"]
    assert (lines[-1]["seq"], lines[1]["prev_hash"]) == (4, GENESIS)
    ok, output = verify("--file", str(export))
    assert ok, output
    assert output.startswith(f"ok {export}: 4 events, head seq 4 ")
    assert "matches the head recorded when the schema was dropped" in output
    # and the whole platform's check lists the dropped trail's last head
    ok, output = verify()
    assert ok, output
    assert f"dropped {slug} at " in output and f"head seq 4 {lines[-1]['hash'][:16]}" in output

    # and an export edited afterwards fails, naming the event
    lines[2]["after"] = {"n": 7}
    export.write_text("".join(json.dumps(line) + "\n" for line in lines))
    ok, output = verify("--file", str(export))
    assert not ok
    assert f"event id {lines[2]['id']} (seq 2): its content does not match" in output

    # and so does one cut short, even with its head record rewritten to match
    lines = lines[:2] + [{"kind": "head", "seq": 1, "hash": lines[1]["hash"]}]
    export.write_text("".join(json.dumps(line) + "\n" for line in lines))
    ok, output = verify("--file", str(export))
    assert not ok
    assert "the export ends at seq 1 but the schema's audit table held seq 4" in output
