"""The ledger and the minute tables partitioned by month with pg_partman (docs/operations.md,
"Partitioned ledger"): crossing events by ``occurred_at``, line minute rollups and zone minute
occupancy by ``minute``.

Each table is converted with its rows in this migration's transaction (tenants/partitions.py:
renamed aside, the partitioned table made under its name with monthly children from its oldest
row, rows copied in batches of ids, the plain table dropped, keys and indexes made again with
the partition column in every unique key). Ledger writers meanwhile wait on the table lock and
then write into the new table (their INSERT names the table, not its old oid). The
idempotency key's UNIQUE (key) becomes UNIQUE (key, occurred_at); its text-pattern index goes
(nothing searches keys by prefix). Reversible: the reverse makes plain tables again.
"""

from django.db import migrations, models

from tenants.partitions import is_partitioned, table_partition, table_unpartition

# table -> the time column it is partitioned by
TABLES = {
    "counting_countevent": "occurred_at",
    "counting_lineminuterollup": "minute",
    "counting_zoneminuteoccupancy": "minute",
}
KEY_UNIQUE = "countevent_idempotency_unique"


def _schema(editor):  # type: ignore[no-untyped-def]
    return editor.connection.schema_name


def _table_exists(editor, table):  # type: ignore[no-untyped-def]
    with editor.connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s)", [f'"{_schema(editor)}"."{table}"'])
        return cursor.fetchone()[0] is not None


def _key_constraint(editor):  # type: ignore[no-untyped-def]
    """The name of the unique constraint on the idempotency key (Django named it in 0001)."""
    with editor.connection.cursor() as cursor:
        cursor.execute(
            "SELECT con.conname FROM pg_constraint con JOIN pg_attribute a "
            "ON a.attrelid = con.conrelid AND a.attnum = ANY(con.conkey) "
            "WHERE con.conrelid = %s::regclass AND con.contype = 'u' "
            "AND a.attname = 'idempotency_key'",
            [f'"{_schema(editor)}"."counting_countevent"'])
        row = cursor.fetchone()
    return row[0] if row else None


def _key_pattern_indexes(editor):  # type: ignore[no-untyped-def]
    with editor.connection.cursor() as cursor:
        cursor.execute("SELECT indexname FROM pg_indexes WHERE schemaname = %s "
                       "AND tablename = 'counting_countevent' AND indexname LIKE %s",
                       [_schema(editor), "%idempotency%like"])
        return tuple(row[0] for row in cursor.fetchall())


def forward(apps, editor):  # type: ignore[no-untyped-def]
    schema = _schema(editor)
    for table, column in TABLES.items():
        if not _table_exists(editor, table) or is_partitioned(schema, table):
            continue
        drop = _key_pattern_indexes(editor) if table == "counting_countevent" else ()
        table_partition(schema, table, column, drop_indexes=drop)
    name = _key_constraint(editor)
    if name and name != KEY_UNIQUE:
        with editor.connection.cursor() as cursor:
            cursor.execute(f'ALTER TABLE "{schema}".counting_countevent '
                           f'RENAME CONSTRAINT "{name}" TO {KEY_UNIQUE}')


def backward(apps, editor):  # type: ignore[no-untyped-def]
    schema = _schema(editor)
    for table, column in TABLES.items():
        if _table_exists(editor, table):
            table_unpartition(schema, table, column)
    with editor.connection.cursor() as cursor:
        # UNIQUE (key) again under the name PostgreSQL gives an inline UNIQUE column, and the
        # text-pattern index Django makes for a unique CharField.
        cursor.execute(f'ALTER TABLE "{schema}".counting_countevent '
                       f'DROP CONSTRAINT {KEY_UNIQUE}')
        cursor.execute(f'ALTER TABLE "{schema}".counting_countevent ADD CONSTRAINT '
                       'counting_countevent_idempotency_key_key UNIQUE (idempotency_key)')
        cursor.execute(f'CREATE INDEX counting_countevent_idempotency_key_like ON "{schema}".'
                       "counting_countevent (idempotency_key varchar_pattern_ops)")


class Migration(migrations.Migration):

    dependencies = [
        ('cameras', '0003_url_secrets'),
        ('counting', '0019_stream_slots'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name='countevent',
                    name='idempotency_key',
                    field=models.CharField(max_length=64),
                ),
                migrations.AddConstraint(
                    model_name='countevent',
                    constraint=models.UniqueConstraint(
                        fields=('idempotency_key', 'occurred_at'),
                        name='countevent_idempotency_unique'),
                ),
            ],
            database_operations=[migrations.RunPython(forward, backward)],
        ),
    ]
