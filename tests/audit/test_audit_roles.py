"""The application's database role can append to the audit trail and do nothing else to it.

The test database is cloned and migrated by the same role the application runs as
(DATABASE_URL), so every statement below is one the application itself could send.
"""

from __future__ import annotations

import contextlib
import re
from typing import Any

import pytest
from django.db import DatabaseError, connection, transaction

from audit.models import AuditEvent
from audit.services import audit_record

REFUSED = [
    # (statement, what PostgreSQL answers)
    ("TRUNCATE audit_auditevent", "permission denied for table audit_auditevent"),
    ("TRUNCATE audit_auditevent CASCADE", "permission denied for table audit_auditevent"),
    ("UPDATE audit_auditevent SET action = 'x'", "permission denied for table audit_auditevent"),
    ("DELETE FROM audit_auditevent", "permission denied for table audit_auditevent"),
    ("ALTER TABLE audit_auditevent DISABLE TRIGGER audit_event_append_only",
     "must be owner of table audit_auditevent"),
    ("ALTER TABLE audit_auditevent DISABLE TRIGGER ALL", "must be owner of table audit_auditevent"),
    ("DROP TRIGGER audit_event_chain_link ON audit_auditevent",
     "must be owner of (relation|table) audit_auditevent"),
    ("ALTER TABLE audit_auditevent OWNER TO CURRENT_USER", "must be owner of table"),
    ("ALTER TABLE audit_auditevent RENAME TO audit_old", "must be owner of table"),
    ("SET session_replication_role = replica",
     'permission denied to set parameter "session_replication_role"'),
    ("UPDATE audit_admin.chain_head SET seq = 0", "permission denied for table chain_head"),
    ("DELETE FROM audit_admin.retired_chain", "permission denied for table retired_chain"),
    ("CREATE TRIGGER t BEFORE INSERT ON audit_auditevent FOR EACH ROW "
     "EXECUTE FUNCTION audit_event_append_only()", "permission denied for table audit_auditevent"),
]


def _refused(sql: str) -> str:
    with pytest.raises(DatabaseError) as caught, transaction.atomic(), connection.cursor() as c:
        c.execute(sql)
    return str(caught.value)


@pytest.mark.parametrize("schema", ["tenant", "public"])
@pytest.mark.parametrize(("sql", "message"), REFUSED, ids=[sql[:40] for sql, _ in REFUSED])
def test_the_application_role_cannot_rewrite_the_trail(schema: str, sql: str, message: str,
                                                       tenant_a: Any, in_tenant: Any) -> None:
    with in_tenant(tenant_a) if schema == "tenant" else contextlib.nullcontext():
        # given events in the trail (of a tenant, and of the platform)
        audit_record(action="test.event", target_type="x", target_id="1")
        trail = list(AuditEvent.objects.order_by("seq").values_list("seq", "action", "hash"))
        # when the application's role tries to change them, then PostgreSQL refuses
        refusal = _refused(sql)
        assert re.match(message, refusal), refusal
        assert list(AuditEvent.objects.order_by("seq").values_list("seq", "action", "hash")
                    ) == trail


def test_dropping_an_audit_table_alone_is_refused_even_to_the_schema_owner(
        tenant_a: Any) -> None:
    # given the application's role, which owns the tenant schemas it creates
    with connection.cursor() as cursor:
        cursor.execute("SELECT nspowner::regrole::text = current_user FROM pg_namespace "
                       "WHERE nspname = %s", [tenant_a.schema_name])
        assert cursor.fetchone() == (True,)
    # when it drops the tenant's audit table without the schema, then that is refused
    message = _refused(f"DROP TABLE {tenant_a.schema_name}.audit_auditevent")
    assert message.startswith(f"{tenant_a.schema_name}.audit_auditevent can only be dropped")
    # and the public trail's table is not even its to drop
    assert "must be owner of table audit_auditevent" in _refused(
        "DROP TABLE public.audit_auditevent")
    assert "must be owner of schema public" in _refused("DROP SCHEMA public CASCADE")


def test_the_application_role_is_no_superuser_and_holds_only_select_and_insert(
        tenant_a: Any) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT rolsuper, rolbypassrls, "
                       "pg_has_role(current_user, 'peoplecount_audit_owner', 'MEMBER') "
                       "FROM pg_roles WHERE rolname = current_user")
        assert cursor.fetchone() == (False, False, False)
        for schema in ("public", tenant_a.schema_name):
            table = f"{schema}.audit_auditevent"
            privileges = {}
            for privilege in ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES",
                              "TRIGGER"):
                cursor.execute("SELECT has_table_privilege(current_user, %s, %s)",
                               [table, privilege])
                privileges[privilege] = cursor.fetchone()[0]
            assert privileges == {"SELECT": True, "INSERT": True, "UPDATE": False,
                                  "DELETE": False, "TRUNCATE": False, "REFERENCES": False,
                                  "TRIGGER": False}, schema
            cursor.execute("SELECT relowner::regrole::text FROM pg_class WHERE oid = %s::regclass",
                           [table])
            assert cursor.fetchone() == ("peoplecount_audit_owner",)


def test_an_insert_that_skips_the_content_hash_is_refused(tenant_a: Any,
                                                          in_tenant: Any) -> None:
    with in_tenant(tenant_a):
        message = _refused("INSERT INTO audit_auditevent (occurred_at, actor_name, request_id, "
                           "action, target_type, target_id, target_repr, content_hash, seq, "
                           "prev_hash, hash) VALUES (now(), '', '', 'forged', '', '', '', '', "
                           "1, '0', '0')")
    assert message.startswith("an audit event needs its content_hash")
