"""Checking the audit trail of a schema in the database, or of an export file."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from django.db import connection
from django_tenants.utils import schema_context

from audit.chain import CONTENT_FIELDS, ChainReport, chain_verify
from audit.models import AuditEvent

AUDIT_OWNER_ROLE = "peoplecount_audit_owner"
CHAIN_FIELDS = ("id", "seq", "prev_hash", "hash", "content_hash")
EXPORT_FORMAT = "peoplecount-audit-export/1"


def chain_head_of(schema: str) -> tuple[int, str] | None:
    """The (seq, hash) the chain of ``schema`` ends at, kept where the application cannot
    write (audit_admin.chain_head); None if the schema has no audit chain."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT seq, hash FROM audit_admin.chain_head WHERE schema_name = %s",
                       [schema])
        row = cursor.fetchone()
    return (int(row[0]), str(row[1])) if row else None


def chain_anchor_of(schema: str) -> tuple[int, str] | None:
    """The (seq, hash) of the last event retention removed from ``schema``'s chain (where the
    chain now starts, audit/retention.py); None if none was ever removed."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass('audit_admin.chain_anchor') IS NOT NULL")
        if not cursor.fetchone()[0]:
            return None
        cursor.execute("SELECT seq, hash FROM audit_admin.chain_anchor WHERE schema_name = %s",
                       [schema])
        row = cursor.fetchone()
    return (int(row[0]), str(row[1])) if row else None


def _table_owner(schema: str) -> str | None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT c.relowner::regrole::text FROM pg_class c "
                       "WHERE c.oid = to_regclass(format('%%I.audit_auditevent', %s::text))",
                       [schema])
        row = cursor.fetchone()
    return str(row[0]) if row else None


def schema_rows(schema: str, *, up_to_seq: int | None = None) -> Iterator[dict[str, Any]]:
    """The audit events of ``schema`` as dicts, in chain order, streamed."""
    with schema_context(schema):
        events = AuditEvent.objects.order_by("seq")
        if up_to_seq is not None:
            events = events.filter(seq__lte=up_to_seq)
        yield from events.values(*CHAIN_FIELDS, *CONTENT_FIELDS).iterator(chunk_size=2000)


def audit_verify_schema(*, schema: str) -> ChainReport:
    """Check the chain of ``schema`` against its head; also report an unprotected table."""
    head = chain_head_of(schema)
    report = chain_verify(schema_rows(schema), head=head or (0, "0" * 64),
                          start=chain_anchor_of(schema))
    if report.ok and head is None and report.events:
        return ChainReport(events=report.events, last_seq=report.last_seq,
                           last_hash=report.last_hash, problem="the schema has no chain head")
    owner = _table_owner(schema)
    if report.ok and owner != AUDIT_OWNER_ROLE:
        return ChainReport(events=report.events, last_seq=report.last_seq,
                           last_hash=report.last_hash,
                           problem=f"the audit table is owned by {owner}, not {AUDIT_OWNER_ROLE}"
                                   ": the application could rewrite it")
    return report


def retired_head(schema: str) -> tuple[int, str, str] | None:
    """The last head of ``schema``'s audit table when it was dropped: (seq, hash, dropped_at)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT seq, hash, dropped_at FROM audit_admin.retired_chain "
                       "WHERE schema_name = %s ORDER BY id DESC LIMIT 1", [schema])
        row = cursor.fetchone()
    return (int(row[0]), str(row[1]), row[2].isoformat()) if row else None


def retired_heads() -> list[tuple[str, int, str, str, str]]:
    """Every audit table dropped with its schema: (schema, seq, hash, dropped_at, dropped_by)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT schema_name, seq, hash, dropped_at, dropped_by "
                       "FROM audit_admin.retired_chain ORDER BY id")
        return [(str(schema), int(seq), str(digest), dropped_at.isoformat(), str(by))
                for schema, seq, digest, dropped_at, by in cursor.fetchall()]


def export_read(path: Path) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any]]:
    """Header, events and trailer of an export file (audit/export.py)."""
    header: dict[str, Any] = {}
    trailer: dict[str, Any] = {}
    events: list[dict[str, Any]] = []
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            record = json.loads(line)
            kind = record.pop("kind", None)
            if number == 1:
                if kind != "header" or record.get("format") != EXPORT_FORMAT:
                    raise ValueError(f"{path} is not an audit export ({EXPORT_FORMAT})")
                header = record
            elif kind == "event":
                events.append(record)
            elif kind == "head":
                trailer = record
            else:
                raise ValueError(f"{path}:{number}: unknown record kind {kind!r}")
    if not trailer:
        raise ValueError(f"{path} has no head record: the export is incomplete")
    return header, events, trailer


def audit_verify_file(*, path: Path, check_database: bool = True) -> tuple[ChainReport, str]:
    """Check an export's chain and that it ends at the head it claims; with the database at
    hand, also at the head recorded when the schema was dropped. Returns (report, note)."""
    header, events, trailer = export_read(path)
    head = (int(trailer["seq"]), str(trailer["hash"]))
    anchor = header.get("anchor")
    report = chain_verify(events, head=head,
                          start=(int(anchor[0]), str(anchor[1])) if anchor else None)
    if not report.ok or not check_database:
        return report, ""
    retired = retired_head(header["schema"])
    if retired is None:
        live = chain_head_of(header["schema"])
        note = ("the schema's audit table still exists" if live
                else "no dropped head recorded for this schema in this database")
        return report, note
    if (retired[0], retired[1]) != head:
        problem = (f"the export ends at seq {head[0]} but the schema's audit table held seq "
                   f"{retired[0]} ({retired[1][:12]}) when it was dropped at {retired[2]}")
        return ChainReport(events=report.events, last_seq=report.last_seq,
                           last_hash=report.last_hash, problem=problem), ""
    return report, f"matches the head recorded when the schema was dropped at {retired[2]}"
