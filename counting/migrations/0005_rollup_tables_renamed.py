"""Rename the rollup tables (and their auto-named indexes) to the counting app's names.

``ALTER TABLE ... RENAME`` and ``ALTER INDEX ... RENAME`` change only the catalogue: no row is
rewritten, and django-tenants runs this once per tenant schema. Writers running the code from
before the move name the old tables in raw SQL, so stream workers restart with this release.
"""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('counting', '0004_rollups_from_analytics'),
    ]

    operations = [
        migrations.RenameIndex(
            model_name='linehourrollup',
            new_name='counting_li_camera__581bdf_idx',
            old_name='analytics_l_camera__abef18_idx',
        ),
        migrations.RenameIndex(
            model_name='lineminuterollup',
            new_name='counting_li_camera__b9558f_idx',
            old_name='analytics_l_camera__fac6c6_idx',
        ),
        migrations.AlterModelTable(
            name='linehourrollup',
            table=None,
        ),
        migrations.AlterModelTable(
            name='lineminuterollup',
            table=None,
        ),
        migrations.AlterModelTable(
            name='zoneminuteoccupancy',
            table=None,
        ),
    ]
