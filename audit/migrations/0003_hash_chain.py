"""The hash chain, and the table handed to the audit owner role.

1. Add the chain columns; chain the events already there (in id order) with the same hashes
   the database computes for new ones (audit/chain.py).
2. Link every new event in the database (audit_admin.chain_link(), audit/sql/setup.sql) and
   refuse TRUNCATE as the append-only trigger already refuses UPDATE and DELETE.
3. Hand the table to peoplecount_audit_owner; the role running this migration (the
   application's) keeps SELECT and INSERT only (audit_admin.audit_table_protect()).

This runs in the public schema and in every tenant schema, including schemas that
django-tenants creates at run time; it needs the objects scripts/db_create.sh installs.
"""

from typing import Any

import django.utils.timezone
from django.db import migrations, models

import audit.models
from audit.chain import CONTENT_FIELDS, GENESIS, content_hash, link_hash


def chain_existing_events(apps: Any, schema_editor: Any) -> None:
    event_model = apps.get_model("audit", "AuditEvent")
    table = event_model._meta.db_table
    with schema_editor.connection.cursor() as cursor:
        # The table still belongs to the role running this migration, who may lift the
        # append-only trigger for the one UPDATE that fills the new columns.
        cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER audit_event_append_only")
        prev = GENESIS
        for seq, event in enumerate(event_model.objects.order_by("id").iterator(), start=1):
            fields = {name: getattr(event, name) for name in CONTENT_FIELDS}
            content = content_hash(fields)
            digest = link_hash(prev, seq, content)
            cursor.execute(f"UPDATE {table} SET content_hash = %s, seq = %s, prev_hash = %s, "
                           "hash = %s WHERE id = %s", [content, seq, prev, digest, event.id])
            prev = digest
        cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER audit_event_append_only")


LINK = """
CREATE TRIGGER audit_event_chain_link BEFORE INSERT ON audit_auditevent
    FOR EACH ROW EXECUTE FUNCTION audit_admin.chain_link();
CREATE TRIGGER audit_event_no_truncate BEFORE TRUNCATE ON audit_auditevent
    FOR EACH STATEMENT EXECUTE FUNCTION audit_event_append_only();
"""
UNLINK = """
DROP TRIGGER IF EXISTS audit_event_chain_link ON audit_auditevent;
DROP TRIGGER IF EXISTS audit_event_no_truncate ON audit_auditevent;
"""


def protect(apps: Any, schema_editor: Any) -> None:
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT audit_admin.audit_table_protect(%s)",
                       [schema_editor.connection.schema_name])


class Migration(migrations.Migration):
    dependencies = [("audit", "0002_append_only_trigger")]
    operations = [
        migrations.AlterField(
            model_name="auditevent", name="occurred_at",
            field=models.DateTimeField(db_index=True, default=django.utils.timezone.now),
        ),
        migrations.AddField(
            model_name="auditevent", name="content_hash",
            field=models.CharField(default="", editable=False, max_length=64),
            preserve_default=False,
        ),
        migrations.AddField(model_name="auditevent", name="seq",
                            field=audit.models._ChainSeqField(editable=False, null=True)),
        migrations.AddField(model_name="auditevent", name="prev_hash",
                            field=audit.models._ChainField(editable=False, max_length=64,
                                                           null=True)),
        migrations.AddField(model_name="auditevent", name="hash",
                            field=audit.models._ChainField(editable=False, max_length=64,
                                                           null=True)),
        migrations.RunPython(chain_existing_events, migrations.RunPython.noop),
        migrations.AlterField(model_name="auditevent", name="seq",
                              field=audit.models._ChainSeqField(editable=False)),
        migrations.AlterField(model_name="auditevent", name="prev_hash",
                              field=audit.models._ChainField(editable=False, max_length=64)),
        migrations.AlterField(model_name="auditevent", name="hash",
                              field=audit.models._ChainField(editable=False, max_length=64)),
        migrations.AddConstraint(
            model_name="auditevent",
            constraint=models.UniqueConstraint(fields=("seq",), name="audit_event_seq_unique"),
        ),
        migrations.RunSQL(LINK, UNLINK),
        # Irreversible by design: once protected, only the owner role may change the table.
        migrations.RunPython(protect, migrations.RunPython.noop),
    ]
