"""Take over the rollup models from the analytics app without touching their tables.

State only: the models are declared here on their existing tables (``analytics_*``), with the
index names those tables already have; 0005 then renames the tables to ``counting_*``. The
schema's content types of the three models are relabelled too, so their permissions (and any
group holding them) follow the models instead of being left stale beside new ones.
"""

import django.db.models.deletion
from django.db import migrations, models

ROLLUP_MODELS = ('lineminuterollup', 'linehourrollup', 'zoneminuteoccupancy')


def _relabel(apps, old_label, new_label):
    content_type = apps.get_model('contenttypes', 'ContentType')
    for model in ROLLUP_MODELS:
        if not content_type.objects.filter(app_label=new_label, model=model).exists():
            content_type.objects.filter(app_label=old_label, model=model).update(
                app_label=new_label)


def content_types_forward(apps, schema_editor):
    _relabel(apps, 'analytics', 'counting')


def content_types_backward(apps, schema_editor):
    _relabel(apps, 'counting', 'analytics')


class Migration(migrations.Migration):

    dependencies = [
        ('analytics', '0004_rollups_moved_to_counting'),
        ('cameras', '0001_initial'),
        ('contenttypes', '0002_remove_content_type_name'),
        ('counting', '0003_zone_ignore_detections'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='LineMinuteRollup',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('minute', models.DateTimeField()),
                        ('count_in', models.PositiveIntegerField(default=0)),
                        ('count_out', models.PositiveIntegerField(default=0)),
                        ('camera', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='cameras.camera')),
                        ('line', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='minute_rollups', to='counting.countingline')),
                    ],
                    options={
                        'db_table': 'analytics_lineminuterollup',
                        'ordering': ['minute', 'line_id'],
                        'indexes': [models.Index(fields=['camera', 'minute'], name='analytics_l_camera__fac6c6_idx')],
                        'constraints': [models.UniqueConstraint(fields=('line', 'minute'), name='line_minute_unique')],
                    },
                ),
                migrations.CreateModel(
                    name='LineHourRollup',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('hour', models.DateTimeField()),
                        ('count_in', models.PositiveIntegerField(default=0)),
                        ('count_out', models.PositiveIntegerField(default=0)),
                        ('camera', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='cameras.camera')),
                        ('line', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='hour_rollups', to='counting.countingline')),
                    ],
                    options={
                        'db_table': 'analytics_linehourrollup',
                        'ordering': ['hour', 'line_id'],
                        'indexes': [models.Index(fields=['camera', 'hour'], name='analytics_l_camera__abef18_idx')],
                        'constraints': [models.UniqueConstraint(fields=('line', 'hour'), name='line_hour_unique')],
                    },
                ),
                migrations.CreateModel(
                    name='ZoneMinuteOccupancy',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('minute', models.DateTimeField()),
                        ('samples', models.PositiveIntegerField(default=0)),
                        ('occupancy_sum', models.FloatField(default=0.0)),
                        ('max_occupancy', models.PositiveIntegerField(default=0)),
                        ('entries', models.PositiveIntegerField(default=0)),
                        ('exits', models.PositiveIntegerField(default=0)),
                        ('camera', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='cameras.camera')),
                        ('zone', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='minute_occupancy', to='counting.zone')),
                    ],
                    options={
                        'db_table': 'analytics_zoneminuteoccupancy',
                        'ordering': ['minute', 'zone_id'],
                        'constraints': [models.UniqueConstraint(fields=('zone', 'minute'), name='zone_minute_unique')],
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(content_types_forward, content_types_backward),
    ]
