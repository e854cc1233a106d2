"""The rollup models move to the counting app (the ledger's own derived tables).

State only: the tables and their rows stay where they are; counting's 0004 takes over the same
tables, and counting's 0005 renames them.
"""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('analytics', '0003_line_hour_rollup'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name='LineMinuteRollup'),
                migrations.DeleteModel(name='LineHourRollup'),
                migrations.DeleteModel(name='ZoneMinuteOccupancy'),
            ],
            database_operations=[],
        ),
    ]
