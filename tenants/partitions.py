"""Time-partitioned tables of a tenant schema, managed with pg_partman (Debian
``postgresql-15-partman``; the extension lives in the ``partman`` schema, created by
``scripts/db_create.sh``).

A partitioned table here is PostgreSQL declarative partitioning by RANGE of one timestamp
column, monthly children named ``<table>_pYYYY_MM`` made ahead by pg_partman
(``PREMAKE`` months) and a ``<table>_default`` partition for a row whose time has no child yet:
such a row is stored, never lost, and ``check_integrity`` reports it; ``partitions_maintain``
moves it into its own child (``partman.partition_data_time``) before making children ahead.

- ``table_partition`` turns a plain table (with rows) into a partitioned one: the plain table is
  renamed aside, the partitioned one made under the old name with children from its oldest row
  on, the rows copied in batches of ids, the plain table dropped, then the primary key and every
  unique constraint get the partition column added (PostgreSQL requires it), and the indexes and
  foreign keys come back under their own names. ``table_unpartition`` is its reverse.
- Everything runs in the caller's transaction (a migration's): nobody sees a half-made table.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import connection

PARTMAN = "partman"
INTERVAL = "1 month"
PREMAKE = 3  # months made ahead of now (the maintenance beat runs daily)
COPY_BATCH = 50_000


@dataclass(frozen=True)
class Partition:
    """One child of a partitioned table: its name and the [start, end) range it holds."""

    name: str
    start: datetime
    end: datetime


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _qualified(schema: str, table: str) -> str:
    return f"{_q(schema)}.{_q(table)}"


def _parent(schema: str, table: str) -> str:
    """The parent's name as pg_partman's part_config stores it (unquoted schema.table)."""
    return f"{schema}.{table}"


def _like_schema(schema: str) -> str:
    """A LIKE pattern of every parent of ``schema`` (its ``_`` and ``%`` taken literally)."""
    escaped = schema.replace("\\", "\\\\").replace("_", "\\_").replace("%", "\\%")
    return f"{escaped}.%"


def partman_installed() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_extension WHERE extname = 'pg_partman'")
        return cursor.fetchone() is not None


def _require_partman() -> None:
    if not partman_installed():
        raise RuntimeError(
            "the pg_partman extension is not installed in this database: install the Debian "
            "package postgresql-15-partman (scripts/system_deps.sh) and run "
            "scripts/db_create.sh as the PostgreSQL superuser, then migrate again")


def is_partitioned(schema: str, table: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT c.relkind = 'p' FROM pg_class c JOIN pg_namespace n "
                       "ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relname = %s",
                       [schema, table])
        row = cursor.fetchone()
    return bool(row and row[0])


def _definitions(schema: str, table: str) -> tuple[list[tuple[str, str, str]], list[str]]:
    """(name, kind, definition) of the table's constraints except NOT NULL and CHECK (the
    copy keeps those), and the definitions of its indexes that no constraint owns."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT con.conname, con.contype, pg_get_constraintdef(con.oid) "
            "FROM pg_constraint con WHERE con.conrelid = %s::regclass "
            "AND con.contype IN ('p', 'u', 'f') ORDER BY con.contype DESC, con.conname",
            [_qualified(schema, table)])
        constraints = [(str(n), str(k), str(d)) for n, k, d in cursor.fetchall()]
        cursor.execute(
            "SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i "
            "WHERE i.indrelid = %s::regclass AND NOT EXISTS "
            "(SELECT 1 FROM pg_constraint con WHERE con.conindid = i.indexrelid "
            " AND con.conrelid = i.indrelid) ORDER BY i.indexrelid",
            [_qualified(schema, table)])
        indexes = [str(row[0]) for row in cursor.fetchall()]
    return constraints, indexes


def _with_column(definition: str, column: str) -> str:
    """``PRIMARY KEY (id)`` -> ``PRIMARY KEY (id, minute)`` (unless the column is in it)."""
    head, _, rest = definition.partition("(")
    columns, _, tail = rest.partition(")")
    names = [name.strip().strip('"') for name in columns.split(",")]
    if column in names:
        return definition
    return f"{head}({columns}, {_q(column)}){tail}"


def _without_column(definition: str, column: str) -> str:
    head, _, rest = definition.partition("(")
    columns, _, tail = rest.partition(")")
    kept = [name.strip() for name in columns.split(",") if name.strip().strip('"') != column]
    return f"{head}({', '.join(kept)}){tail}"


def _copy(cursor: object, source: str, target: str, batch: int) -> int:
    """Copy every row of ``source`` into ``target`` in batches of ids; returns the rows."""
    copied, last = 0, None
    while True:
        where = "" if last is None else "WHERE id > %s "
        cursor.execute(  # type: ignore[attr-defined]
            f"WITH b AS (SELECT * FROM {source} {where}ORDER BY id LIMIT %s), "
            f"i AS (INSERT INTO {target} SELECT * FROM b) SELECT count(*), max(id) FROM b",
            ([] if last is None else [last]) + [batch])
        count, last_id = cursor.fetchone()  # type: ignore[attr-defined]
        if not count:
            return copied
        copied, last = copied + int(count), last_id


def _rebuild(cursor: object, schema: str, table: str,
             constraints: list[tuple[str, str, str]], indexes: list[str],
             adjust: object) -> None:
    qualified = _qualified(schema, table)
    for name, kind, definition in constraints:
        if kind in ("p", "u"):
            definition = adjust(definition)  # type: ignore[operator]
        cursor.execute(  # type: ignore[attr-defined]
            f"ALTER TABLE {qualified} ADD CONSTRAINT {_q(name)} {definition}")
    for definition in indexes:
        cursor.execute(definition)  # type: ignore[attr-defined]


def _identity_reset(cursor: object, schema: str, table: str) -> None:
    qualified = _qualified(schema, table)
    cursor.execute(  # type: ignore[attr-defined]
        f"SELECT setval(pg_get_serial_sequence(%s, 'id'), max(id)) FROM {qualified} "
        "HAVING max(id) IS NOT NULL", [qualified])


def table_partition(schema: str, table: str, column: str, *, batch: int = COPY_BATCH,
                    drop_indexes: tuple[str, ...] = ()) -> int:
    """Turn ``schema.table`` (a plain table with an ``id`` identity) into a table partitioned
    monthly by ``column``, keeping every row; returns the rows copied. ``drop_indexes`` names
    indexes of the plain table not to make again. Run in a transaction."""
    _require_partman()
    if is_partitioned(schema, table):
        return 0
    constraints, indexes = _definitions(schema, table)
    indexes = [d for d in indexes if not any(f" {_q(n)} " in d or f" {n} " in d
                                             for n in drop_indexes)]
    plain = f"{table}__plain"
    qualified, qualified_plain = _qualified(schema, table), _qualified(schema, plain)
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # rows of this transaction checked
        cursor.execute(f"LOCK TABLE {qualified} IN ACCESS EXCLUSIVE MODE")
        cursor.execute(f"SELECT min({_q(column)}) FROM {qualified}")
        oldest = cursor.fetchone()[0]
        cursor.execute(f"ALTER TABLE {qualified} RENAME TO {_q(plain)}")
        cursor.execute(
            f"CREATE TABLE {qualified} (LIKE {qualified_plain} INCLUDING DEFAULTS "
            f"INCLUDING IDENTITY INCLUDING CONSTRAINTS INCLUDING STORAGE INCLUDING COMMENTS) "
            f"PARTITION BY RANGE ({_q(column)})")
        partitions_register(schema, table, column, start=oldest)
        copied = _copy(cursor, qualified_plain, qualified, batch)
        cursor.execute(f"DROP TABLE {qualified_plain}")
        _rebuild(cursor, schema, table, constraints, indexes,
                 lambda definition: _with_column(definition, column))
        _identity_reset(cursor, schema, table)
    return copied


def table_unpartition(schema: str, table: str, column: str, *,
                      batch: int = COPY_BATCH) -> int:
    """The reverse of :func:`table_partition`: a plain table with the same rows, the partition
    column taken out of the primary key again (unique constraints are left as they are: the
    caller knows which of them had it added)."""
    if not is_partitioned(schema, table):
        return 0
    constraints, indexes = _definitions(schema, table)
    old = f"{table}__partitioned"
    qualified, qualified_old = _qualified(schema, table), _qualified(schema, old)
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # rows of this transaction checked
        cursor.execute(f"LOCK TABLE {qualified} IN ACCESS EXCLUSIVE MODE")
        cursor.execute(f"ALTER TABLE {qualified} RENAME TO {_q(old)}")
        cursor.execute(
            f"CREATE TABLE {qualified} (LIKE {qualified_old} INCLUDING DEFAULTS "
            "INCLUDING IDENTITY INCLUDING CONSTRAINTS INCLUDING STORAGE INCLUDING COMMENTS)")
        copied = _copy(cursor, qualified_old, qualified, batch)
        cursor.execute(f"DROP TABLE {qualified_old} CASCADE")
        partitions_forget(schema, table)
        _rebuild(cursor, schema, table, constraints, indexes,
                 lambda definition: (_without_column(definition, column)
                                     if definition.startswith("PRIMARY KEY") else definition))
        _identity_reset(cursor, schema, table)
    return copied


def partitions_register(schema: str, table: str, column: str, *,
                        start: datetime | None = None) -> None:
    """Hand the (empty or just made) partitioned parent to pg_partman: monthly children from
    ``start`` (else this month) to ``PREMAKE`` months ahead, and a default partition.
    A configuration left by a dropped schema of the same name is forgotten first."""
    partitions_forget(schema, table)
    with connection.cursor() as cursor:
        if start is None:  # a new table: from this month on (pg_partman would make months back)
            cursor.execute("SELECT date_trunc('month', now(), 'UTC')")
            start = cursor.fetchone()[0]
        cursor.execute(
            f"SELECT {PARTMAN}.create_parent(p_parent_table := %s, p_control := %s, "
            "p_type := 'native', p_interval := %s, p_premake := %s, "
            "p_start_partition := %s, p_jobmon := false)",
            [_parent(schema, table), column, INTERVAL, PREMAKE,
             None if start is None else start.isoformat()])
        # Children are made ahead by partitions_maintain; the default is never dropped.
        cursor.execute(
            f"UPDATE {PARTMAN}.part_config SET infinite_time_partitions = true "
            "WHERE parent_table = %s", [_parent(schema, table)])


def partitions_forget(schema: str, table: str | None = None) -> None:
    """Remove pg_partman's configuration (and template tables) of ``schema``'s parents (or of
    one): called when a schema is dropped or a parent made again."""
    pattern = _like_schema(schema)
    if table:
        pattern = pattern[:-1] + table.replace("_", "\\_")
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT template_table FROM {PARTMAN}.part_config "
                       "WHERE parent_table LIKE %s", [pattern])
        for (template,) in cursor.fetchall():
            if template:
                name = str(template).split(".", 1)[-1]
                cursor.execute(f"DROP TABLE IF EXISTS {_qualified(PARTMAN, name)}")
        cursor.execute(f"DELETE FROM {PARTMAN}.part_config WHERE parent_table LIKE %s",
                       [pattern])


def partitioned_tables(schema: str) -> list[str]:
    """The schema's tables pg_partman manages."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT parent_table FROM {PARTMAN}.part_config "
                       "WHERE parent_table LIKE %s ORDER BY parent_table", [_like_schema(schema)])
        return [str(row[0]).split(".", 1)[1] for row in cursor.fetchall()]


def partitions_of(schema: str, table: str) -> list[Partition]:
    """The table's children with a time range, oldest first (the default partition left out).
    """
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i "
            "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = %s::regclass",
            [_qualified(schema, table)])
        rows = cursor.fetchall()
        found = []
        for name, bound in rows:
            if "DEFAULT" in str(bound):
                continue
            cursor.execute(f"SELECT child_start_time, child_end_time FROM "
                           f"{PARTMAN}.show_partition_info(%s, p_parent_table := %s)",
                           [_parent(schema, name), _parent(schema, table)])
            start, end = cursor.fetchone()
            found.append(Partition(name=str(name), start=start, end=end))
    return sorted(found, key=lambda partition: partition.start)


def default_rows(schema: str) -> dict[str, int]:
    """Rows held by each managed table's default partition (rows whose time had no child)."""
    counts = {}
    with connection.cursor() as cursor:
        for table in partitioned_tables(schema):
            cursor.execute(f"SELECT count(*) FROM {_qualified(schema, table + '_default')}")
            counts[table] = int(cursor.fetchone()[0])
    return counts


def partitions_maintain(schema: str) -> dict[str, int]:
    """Move rows out of each managed table's default partition into their own children, then
    make the children ``PREMAKE`` months ahead (``partman.run_maintenance`` per parent);
    returns the rows moved per table. Each table in its own transaction."""
    moved = {}
    for table, count in default_rows(schema).items():
        parent = _parent(schema, table)
        moved[table] = 0
        with connection.cursor() as cursor:
            while count:
                cursor.execute(f"SELECT {PARTMAN}.partition_data_time(%s, p_batch_count := 10)",
                               [parent])
                step = int(cursor.fetchone()[0] or 0)
                # pg_partman's staging table lives until commit and has this table's columns:
                # gone, so that the next table moved in the same transaction makes its own.
                cursor.execute("DROP TABLE IF EXISTS pg_temp.partman_temp_data_storage")
                if not step:
                    break
                moved[table] += step
                count -= step
            cursor.execute(f"SELECT {PARTMAN}.run_maintenance(%s, p_jobmon := false)", [parent])
    return moved


def partition_drop(schema: str, table: str, partition: str) -> int:
    """Drop one child of ``table`` (instant, no bloat); returns the rows it held."""
    qualified = _qualified(schema, partition)
    with connection.cursor() as cursor:
        if connection.in_atomic_block:
            # Deferred foreign-key checks of rows made in this transaction must run before
            # their table can be dropped.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(f"LOCK TABLE {qualified} IN ACCESS EXCLUSIVE MODE")
        cursor.execute(f"SELECT count(*) FROM {qualified}")
        rows = int(cursor.fetchone()[0])
        cursor.execute(f"DROP TABLE {qualified}")
    return rows
