"""Per-tenant backup and restore: one consistent, checksummed archive of one tenant.

An archive is an uncompressed tar file (``<slug>-<UTC time>.tenant.tar``) holding::

    manifest.json          format, time, the tenant row, its domains and plan, the schema's
                           applied migrations, and per table: columns, rows, sha256 of its file
    manifest.json.sha256   sha256 of manifest.json
    tables/<table>.copy.gz each table of the schema in PostgreSQL's COPY text format, gzipped

Consistency: every table of the schema and the public rows (tenant, domains, plan) are read
in one ``REPEATABLE READ READ ONLY`` transaction, i.e. from one snapshot, while the tenant keeps
counting. Sessions and the migration table are not copied (the migrations are recorded in the
manifest; people sign in again after a restore).

Restore makes a *new* tenant (a new slug; the same slug once the original was deleted): its
schema is migrated exactly to the archive's migrations, the rows are copied in one transaction
(audit events are appended again in their order, so the database relinks the same hash chain,
and the chain head must come out equal to the archived one), then the schema is migrated to
the code's latest migrations. An archive made at an older schema version therefore migrates
like any tenant. Everything is checked before anything is written, and a restore that fails
removes the tenant it was making.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import logging
import os
import re
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import transaction
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.recorder import MigrationRecorder
from django_tenants.utils import schema_context, schema_exists

from audit.retention import audit_chain_start, chain_anchor_of
from audit.services import audit_record
from tenants.constants import DOMAIN_PATTERN, RESERVED_SLUGS, SLUG_PATTERN
from tenants.db import connection
from tenants.db_timeouts import migration_timeouts
from tenants.models import QUOTA_FIELDS, RETENTION_FIELDS, Domain, Plan, Tenant
from tenants.partitions import partitions_maintain

logger = logging.getLogger(__name__)

BACKUP_FORMAT = "peoplecount-tenant-backup/1"
MANIFEST = "manifest.json"
# Not copied: the migrations are in the manifest (the restore replays them), sessions are
# bearer secrets of the old domain and expire anyway.
SKIPPED_TABLES = frozenset({"django_migrations", "django_session"})
AUDIT_TABLE = "audit_auditevent"
# Filled by the database's chain trigger when the events are appended again (and the id by its
# identity, which only the audit owner could move).
AUDIT_DB_COLUMNS = ("id", "seq", "prev_hash", "hash")
_TENANT_FIELDS = ("name", "slug", "schema_name", "camera_quota", "is_active", "privacy_blur",
                  *QUOTA_FIELDS, *RETENTION_FIELDS)
_PLAN_FIELDS = ("code", "name", "camera_quota", *QUOTA_FIELDS, *RETENTION_FIELDS)
_CHUNK = 1 << 20

# (stage, table, rows done, rows total or None): what a terminal shows as progress.
Progress = Callable[[str, str, int, int | None], None]


@dataclass(frozen=True)
class BackupResult:
    """What ``tenant_backup`` wrote: the archive, its size, rows per table and the time taken."""

    path: Path
    bytes: int
    rows: dict[str, int]
    seconds: float


@dataclass(frozen=True)
class RestoreResult:
    """What ``tenant_restore`` made: the new tenant, rows per table, migrations applied after
    the copy (an archive from an older schema version), the audit head, and the time taken."""

    tenant: Tenant
    rows: dict[str, int]
    migrated: list[str]
    audit_head: tuple[int, str]
    seconds: float


def _no_progress(stage: str, table: str, done: int, total: int | None) -> None:
    return None


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _schema_tables(schema: str) -> list[tuple[str, list[str]]]:
    """The schema's tables (partitioned parents, not their partitions) and their stored
    columns, in name order."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, array_agg(a.attname ORDER BY a.attnum) "
            "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 "
            "  AND NOT a.attisdropped AND a.attgenerated = '' "
            "WHERE n.nspname = %s AND c.relkind IN ('r', 'p') AND NOT c.relispartition "
            "GROUP BY c.relname ORDER BY c.relname", [schema])
        return [(str(name), list(columns)) for name, columns in cursor.fetchall()]


def _applied_migrations(schema: str) -> list[list[str]]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT app, name FROM {_q(schema)}.django_migrations ORDER BY id")
        return [[str(app), str(name)] for app, name in cursor.fetchall()]


def backup_path_default(*, slug: str, directory: Path) -> Path:
    """``<directory>/<slug>-<UTC time>.tenant.tar``."""
    stamp = datetime.now(tz=UTC).strftime("%Y%m%dT%H%M%SZ")
    return directory / f"{slug}-{stamp}.tenant.tar"


def tenant_backup(*, slug: str, path: Path, progress: Progress = _no_progress) -> BackupResult:
    """Write one tenant's archive to ``path`` from one snapshot of the database.

    The archive is written under a temporary name and renamed when complete, so a file under
    ``path`` is always whole. Raises ValidationError for an unknown tenant or an existing path.
    """
    started = time.monotonic()
    if connection.in_atomic_block:
        raise RuntimeError("tenant_backup takes its own snapshot: call it outside a transaction.")
    if path.exists():
        raise ValidationError({"path": [f"{path} exists already; choose another file name."]})
    connection.set_schema_to_public()
    tenant = Tenant.objects.filter(slug=slug).select_related("plan").first()
    if tenant is None or tenant.schema_name == "public":
        raise ValidationError({"slug": [f"No tenant with slug '{slug}'."]})
    schema = tenant.schema_name
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    rows: dict[str, int] = {}
    try:
        with tarfile.open(partial, "w") as archive, transaction.atomic():
            with connection.cursor() as cursor:
                # Before the first query: every read below sees the same snapshot.
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            tenant = Tenant.objects.select_related("plan").get(pk=tenant.pk)
            manifest: dict[str, Any] = {
                "format": BACKUP_FORMAT,
                "created_at": datetime.now(tz=UTC).isoformat(),
                "tenant": {name: getattr(tenant, name) for name in _TENANT_FIELDS},
                "domains": [{"domain": d.domain, "is_primary": d.is_primary}
                            for d in Domain.objects.filter(tenant=tenant).order_by("id")],
                "plan": ({name: getattr(tenant.plan, name) for name in _PLAN_FIELDS}
                         if tenant.plan else None),
                "migrations": _applied_migrations(schema),
                "audit_head": _audit_head(schema),
                "audit_anchor": (list(anchor) if (anchor := chain_anchor_of(schema))
                                 else None),
                "tables": [],
            }
            for table, columns in _schema_tables(schema):
                if table in SKIPPED_TABLES:
                    continue
                count, digest, member = _table_dump(archive, schema, table, columns, progress)
                rows[table] = count
                manifest["tables"].append({"name": table, "columns": columns, "rows": count,
                                           "file": member, "sha256": digest})
            body = json.dumps(manifest, indent=1, sort_keys=True).encode()
            _add_bytes(archive, MANIFEST, body)
            _add_bytes(archive, MANIFEST + ".sha256",
                       f"{hashlib.sha256(body).hexdigest()}  {MANIFEST}\n".encode())
        with partial.open("rb+") as done:
            os.fsync(done.fileno())
        partial.replace(path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    finally:
        connection.set_schema_to_public()
    audit_record(action="tenant.backup", target=tenant,
                 after={"file": path.name, "bytes": path.stat().st_size,
                        "rows": sum(rows.values())})
    logger.info("Backed up tenant %s to %s (%d rows)", slug, path, sum(rows.values()))
    return BackupResult(path=path, bytes=path.stat().st_size, rows=rows,
                        seconds=time.monotonic() - started)


def _audit_head(schema: str) -> list[Any] | None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT seq, hash FROM audit_admin.chain_head WHERE schema_name = %s",
                       [schema])
        row = cursor.fetchone()
    return [int(row[0]), str(row[1])] if row else None


def _add_bytes(archive: tarfile.TarFile, name: str, body: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(body)
    info.mtime = int(time.time())
    archive.addfile(info, io.BytesIO(body))


def _table_dump(archive: tarfile.TarFile, schema: str, table: str, columns: list[str],
                progress: Progress) -> tuple[int, str, str]:
    """COPY one table into a gzipped member; return (rows, sha256 of the member, its name)."""
    member = f"tables/{table}.copy.gz"
    order = " ORDER BY seq" if table == AUDIT_TABLE else ""
    column_list = ", ".join(_q(column) for column in columns)
    sql = f"COPY (SELECT {column_list} FROM {_q(schema)}.{_q(table)}{order}) TO STDOUT"
    count = 0
    with tempfile.TemporaryFile() as spool:
        with gzip.GzipFile(fileobj=spool, mode="wb", compresslevel=1, mtime=0) as packed:
            with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
                for chunk in copy:
                    data = bytes(chunk)
                    count += data.count(b"\n")  # text format: one line per row
                    packed.write(data)
                    progress("backup", table, count, None)
        digest = hashlib.sha256()
        spool.seek(0)
        for block in iter(lambda: spool.read(_CHUNK), b""):
            digest.update(block)
        info = tarfile.TarInfo(member)
        info.size = spool.tell()
        info.mtime = int(time.time())
        spool.seek(0)
        archive.addfile(info, spool)
    progress("backup", table, count, count)
    return count, digest.hexdigest(), member


# --- restore ---------------------------------------------------------------------------------


def backup_read_manifest(path: Path) -> dict[str, Any]:
    """The manifest of an archive after checking its format and every checksum; raises
    ValidationError saying what is wrong (nothing is written before this passes)."""
    def bad(message: str) -> ValidationError:
        return ValidationError({"archive": [f"{path}: {message}"]})

    if not path.is_file():
        raise bad("no such file.")
    try:
        with tarfile.open(path, "r:") as archive:
            names = set(archive.getnames())
            if MANIFEST not in names or MANIFEST + ".sha256" not in names:
                raise bad("not a tenant backup (no manifest); make one with backup_tenant.")
            body = _member_bytes(archive, MANIFEST)
            recorded = _member_bytes(archive, MANIFEST + ".sha256").decode().split()[0]
            if hashlib.sha256(body).hexdigest() != recorded:
                raise bad("the manifest does not match its checksum: the archive is damaged.")
            manifest: dict[str, Any] = json.loads(body)
            if manifest.get("format") != BACKUP_FORMAT:
                raise bad(f"format {manifest.get('format')!r} is not {BACKUP_FORMAT!r}; "
                          "restore it with the version of the platform that made it.")
            for table in manifest["tables"]:
                member = archive.extractfile(table["file"]) if table["file"] in names else None
                if member is None:
                    raise bad(f"table {table['name']} is missing from the archive.")
                digest = hashlib.sha256()
                for block in iter(lambda m=member: m.read(_CHUNK), b""):  # type: ignore[misc]
                    digest.update(block)
                if digest.hexdigest() != table["sha256"]:
                    raise bad(f"table {table['name']} does not match its checksum: the archive "
                              "is damaged; restore another copy.")
    except (tarfile.TarError, OSError, UnicodeDecodeError, json.JSONDecodeError,
            KeyError, IndexError) as exc:
        raise bad(f"cannot be read as a tenant backup ({exc}).") from exc
    return manifest


def _member_bytes(archive: tarfile.TarFile, name: str) -> bytes:
    member = archive.extractfile(name)
    if member is None:
        raise KeyError(name)
    return member.read()


def _migration_targets(manifest: dict[str, Any]) -> list[tuple[str, str | None]]:
    """The leaf migration of every app as the archive's schema had them applied."""
    executor = MigrationExecutor(connection)
    graph = executor.loader.graph
    applied = {(app, name) for app, name in manifest["migrations"]}
    unknown = sorted(f"{app}.{name}" for app, name in applied if (app, name) not in graph.nodes)
    if unknown:
        raise ValidationError({"archive": [
            "The archive was made by a newer version of the platform (unknown migrations: "
            f"{', '.join(unknown[:5])}); restore it with that version or later."]})
    targets: list[tuple[str, str | None]] = []
    for app in sorted({app for app, _ in graph.nodes}):
        leaves = [node for node in applied if node[0] == app
                  and not any(child.key in applied for child in graph.node_map[node].children
                              if child.key[0] == app)]
        if not leaves:
            targets.append((app, None))
        else:
            targets.extend(leaves)
    return targets


def _restore_validate(manifest: dict[str, Any], *, slug: str,
                      domain: str | None) -> list[tuple[str, bool]]:
    errors: dict[str, list[str]] = {}
    if not SLUG_PATTERN.match(slug):
        errors["slug"] = [f"'{slug}' is not a valid slug: use 2-48 lowercase letters, digits or "
                          "underscores, starting with a letter."]
    elif slug in RESERVED_SLUGS or slug.startswith("pg_"):
        errors["slug"] = [f"'{slug}' is reserved; choose another slug."]
    elif (Tenant.objects.filter(slug=slug).exists()
          or Tenant.objects.filter(schema_name=slug).exists() or schema_exists(slug)):
        errors["slug"] = [f"The slug '{slug}' is taken; choose another one (or delete that "
                          "tenant first to restore it under its own slug)."]
    if domain is not None:
        domains = [(domain.strip().lower(), True)]
    else:
        domains = [(str(d["domain"]), bool(d["is_primary"])) for d in manifest["domains"]]
        if not domains:
            errors["domain"] = ["The archive has no domain: pass --domain."]
    for name, _ in domains:
        if not DOMAIN_PATTERN.match(name):
            errors.setdefault("domain", []).append(f"'{name}' is not a valid host name.")
        elif Domain.objects.filter(domain=name).exists():
            errors.setdefault("domain", []).append(
                f"The domain '{name}' is taken (by the tenant the archive came from?): pass "
                "--domain with a free host name.")
    if errors:
        raise ValidationError(errors)
    return domains


def tenant_restore(*, path: Path, slug: str, domain: str | None = None,
                   progress: Progress = _no_progress) -> RestoreResult:
    """Restore an archive as the new tenant ``slug`` (with ``domain``, else the archive's
    domains); every count, user, permission and audit event as they were in the archive.

    Raises ValidationError (nothing changed) for a damaged or foreign archive, a taken slug or
    domain, or an archive newer than the code. A failure after the schema was made removes the
    tenant again.
    """
    from tenants.platform.services import _remove_tenant

    started = time.monotonic()
    connection.set_schema_to_public()
    manifest = backup_read_manifest(path)
    domains = _restore_validate(manifest, slug=slug, domain=domain)
    targets = _migration_targets(manifest)
    if connection.in_atomic_block:
        raise RuntimeError("tenant_restore runs its own transactions: call it outside one.")
    source = manifest["tenant"]
    plan = _plan_for(manifest["plan"])
    tenant = Tenant(schema_name=slug, slug=slug, plan=plan,
                    **{name: source[name] for name in _TENANT_FIELDS
                       if name in source and name not in ("slug", "schema_name")})
    # The schema is made below at the archive's migrations, not at the latest.
    tenant.auto_create_schema = False
    rows: dict[str, int] = {}
    try:
        tenant.save()
        with transaction.atomic():
            for name, primary in domains:
                Domain.objects.create(domain=name, tenant=tenant, is_primary=primary)
        with migration_timeouts():
            _schema_create_at(slug, targets)
            with transaction.atomic():
                rows = _copy_in(path, manifest, slug, progress)
            connection.set_schema_to_public()
            before = set(map(tuple, _applied_migrations(slug)))
            call_command("migrate_schemas", schema_name=slug, interactive=False, verbosity=0)
            # Rows older than the new schema's monthly partitions went to the default ones.
            partitions_maintain(slug)
            migrated = sorted(f"{app}.{name}" for app, name in _applied_migrations(slug)
                              if (app, name) not in before)
        head = _audit_head(slug) or [0, "0" * 64]
    except BaseException:
        logger.exception("Restore of %s as %s failed; removing what was made", path, slug)
        connection.set_schema_to_public()
        _remove_tenant(tenant)
        raise
    finally:
        connection.set_schema_to_public()
    audit_record(action="tenant.restore", target=tenant,
                 after={"file": path.name, "from_slug": source["slug"], "slug": slug,
                        "domains": [name for name, _ in domains], "rows": sum(rows.values()),
                        "migrated": migrated})
    logger.info("Restored %s as tenant %s (%d rows, %d migrations after)", path, slug,
                sum(rows.values()), len(migrated))
    return RestoreResult(tenant=tenant, rows=rows, migrated=migrated,
                         audit_head=(int(head[0]), str(head[1])),
                         seconds=time.monotonic() - started)


def _plan_for(spec: dict[str, Any] | None) -> Plan | None:
    if spec is None:
        return None
    plan = Plan.objects.filter(code=spec["code"]).first()
    if plan is None:  # a plan this platform does not have (another installation's): made
        plan = Plan.objects.create(**{name: spec[name] for name in _PLAN_FIELDS if name in spec})
    return plan


def _schema_create_at(schema: str, targets: list[tuple[str, str | None]]) -> None:
    """Create ``schema`` and migrate it to exactly ``targets`` (as django-tenants' migrate of a
    tenant schema does: its own migration table, the public schema behind it)."""
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE SCHEMA {_q(schema)}")
    connection.set_schema(schema, include_public=False)
    MigrationRecorder(connection).ensure_schema()
    connection.set_schema(schema)
    executor = MigrationExecutor(connection)
    executor.migrate(targets)  # type: ignore[arg-type]
    connection.set_schema_to_public()


def _copy_in(path: Path, manifest: dict[str, Any], schema: str,
             progress: Progress) -> dict[str, int]:
    """Replace the freshly migrated schema's rows by the archive's, in the current transaction.
    """
    existing = {table for table, _ in _schema_tables(schema)}
    tables = manifest["tables"]
    missing = [table["name"] for table in tables if table["name"] not in existing]
    if missing:
        raise ValidationError({"archive": [
            f"tables {', '.join(missing)} do not exist at the archive's migrations: the archive "
            "does not match its own manifest."]})
    rows: dict[str, int] = {}
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")
        cursor.execute(f"SELECT count(*) FROM {_q(schema)}.{_q(AUDIT_TABLE)}")
        if cursor.fetchone()[0]:
            raise RuntimeError("the new schema's audit trail is not empty before the restore")
    if manifest.get("audit_anchor"):  # a pruned trail continues from its anchor
        seq, digest = manifest["audit_anchor"]
        audit_chain_start(schema=schema, anchor=(int(seq), str(digest)))
    with connection.cursor() as cursor:
        # Rows the migrations made (content types, permissions, groups) are replaced by the
        # archive's, whose ids the other rows point at.
        plain = [table["name"] for table in tables if table["name"] != AUDIT_TABLE]
        if plain:
            cursor.execute("TRUNCATE " + ", ".join(f"{_q(schema)}.{_q(t)}" for t in plain))
    with tarfile.open(path, "r:") as archive:
        for table in tables:
            name = table["name"]
            columns = [column for column in table["columns"]
                       if not (name == AUDIT_TABLE and column in AUDIT_DB_COLUMNS)]
            member = archive.extractfile(table["file"])
            assert member is not None  # checked by backup_read_manifest
            rows[name] = _table_load(member, schema, name, table["columns"], columns,
                                     table["rows"], progress)
            if rows[name] != table["rows"]:
                raise RuntimeError(f"table {name}: {rows[name]} rows read, the manifest says "
                                   f"{table['rows']}")
    _sequences_reset(schema, skip={AUDIT_TABLE})
    head = _audit_head(schema)
    archived = manifest.get("audit_head")
    if archived is not None and head != archived:
        raise RuntimeError(f"the restored audit chain ends at {head}, the archive's at "
                           f"{archived}: the audit trail would not be identical")
    return rows


def _table_load(member: IO[bytes], schema: str, table: str, stored: list[str],
                loaded: list[str], total: int, progress: Progress) -> int:
    """COPY one archived table in; columns the database fills itself are cut from each line."""
    keep = [stored.index(column) for column in loaded]
    cut = len(keep) != len(stored)
    sql = (f"COPY {_q(schema)}.{_q(table)} ({', '.join(_q(c) for c in loaded)}) FROM STDIN")
    count = 0
    with gzip.GzipFile(fileobj=member, mode="rb") as packed, \
            connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
        for lines in _line_blocks(packed):
            count += lines.count(b"\n")
            if cut:
                lines = b"".join(
                    b"\t".join(fields[i] for i in keep) + b"\n"
                    for fields in (line.split(b"\t") for line in lines.splitlines()))
            copy.write(lines)
            progress("restore", table, count, total)
    return count


def _line_blocks(stream: gzip.GzipFile | IO[bytes]) -> Iterator[bytes]:
    """Blocks of whole lines (COPY text rows never contain a raw newline)."""
    rest = b""
    for block in iter(lambda: stream.read(_CHUNK), b""):
        block = rest + block
        end = block.rfind(b"\n") + 1
        rest = block[end:]
        if end:
            yield block[:end]
    if rest:
        raise ValueError("the table's data ends in the middle of a row")


_SERIAL = re.compile(r"^nextval\(")


def _sequences_reset(schema: str, *, skip: set[str]) -> None:
    """Move each identity or serial sequence past the restored rows."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_name, column_name, column_default, is_identity "
            "FROM information_schema.columns WHERE table_schema = %s", [schema])
        columns = [(table, column) for table, column, default, identity in cursor.fetchall()
                   if table not in skip and (identity == "YES"
                                             or _SERIAL.match(str(default or "")))]
        for table, column in columns:
            qualified = f"{_q(schema)}.{_q(table)}"
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence(%s, %s), max({_q(column)})) "
                f"FROM {qualified} HAVING max({_q(column)}) IS NOT NULL",
                [qualified, column])


def tenant_schema_rows(*, slug: str) -> dict[str, int]:
    """Rows per table of a tenant's schema (what a backup would copy), for checks."""
    tenant = Tenant.objects.get(slug=slug)
    counts: dict[str, int] = {}
    with schema_context(tenant.schema_name), connection.cursor() as cursor:
        for table, _ in _schema_tables(tenant.schema_name):
            if table in SKIPPED_TABLES:
                continue
            cursor.execute(f"SELECT count(*) FROM {_q(tenant.schema_name)}.{_q(table)}")
            counts[table] = int(cursor.fetchone()[0])
    return counts
