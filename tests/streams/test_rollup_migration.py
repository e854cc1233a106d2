"""The rollups' move from analytics to counting keeps every stored row (migrations 0004/0005).

A fresh tenant schema is migrated to the state before the move, filled with rollup rows through
the old tables, then migrated forward as ``migrate_schemas`` does for every tenant; the rows are
read back through the new models. The whole schema lives in the test's transaction.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor

from counting.models import LineHourRollup, LineMinuteRollup, ZoneMinuteOccupancy

BEFORE_MOVE = [("analytics", "0003_line_hour_rollup"),
               ("counting", "0003_zone_ignore_detections"),
               ("contenttypes", "0002_remove_content_type_name")]
M0 = datetime(2026, 3, 29, 0, 59, tzinfo=UTC)
M1 = datetime(2026, 3, 29, 1, 0, tzinfo=UTC)
H0 = datetime(2026, 3, 29, 0, tzinfo=UTC)


def _tables(schema: str) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s", [schema])
        return {row[0] for row in cursor.fetchall()}


def _fill_old_tables(apps: Any) -> dict[str, int]:
    """Rows as the code before the move stored them (raw SQL into the analytics tables)."""
    site = apps.get_model("cameras", "Site").objects.create(name="Old site")
    camera = apps.get_model("cameras", "Camera").objects.create(
        site=site, name="Old cam", stream_url="rtsp://10.0.0.9/")
    line = apps.get_model("counting", "CountingLine").objects.create(
        camera=camera, name="Door", x1=0.5, y1=0, x2=0.5, y2=1)
    zone = apps.get_model("counting", "Zone").objects.create(
        camera=camera, name="Hall", points=[[0, 0], [1, 0], [1, 1]])
    content_type = apps.get_model("contenttypes", "ContentType")
    for model in ("lineminuterollup", "linehourrollup", "zoneminuteoccupancy"):
        content_type.objects.create(app_label="analytics", model=model)
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO analytics_lineminuterollup (line_id, camera_id, minute, count_in, "
            "count_out) VALUES (%s, %s, %s, 3, 1), (%s, %s, %s, 2, 0)",
            [line.pk, camera.pk, M0, line.pk, camera.pk, M1])
        cursor.execute(
            "INSERT INTO analytics_linehourrollup (line_id, camera_id, hour, count_in, "
            "count_out) VALUES (%s, %s, %s, 3, 1), (%s, %s, %s, 2, 0)",
            [line.pk, camera.pk, H0, line.pk, camera.pk, M1])
        cursor.execute(
            "INSERT INTO analytics_zoneminuteoccupancy (zone_id, camera_id, minute, samples, "
            "occupancy_sum, max_occupancy, entries, exits) VALUES (%s, %s, %s, 60, 90.5, 4, 2, 1)",
            [zone.pk, camera.pk, M0])
        # Check the deferred foreign keys now: a table with pending trigger events cannot be
        # renamed in the same transaction.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    return {"camera": camera.pk, "line": line.pk, "zone": zone.pk}


@pytest.mark.django_db
def test_rollup_rows_survive_the_move_to_the_counting_app() -> None:
    from django.contrib.contenttypes.models import ContentType

    schema = f"migtest_{uuid.uuid4().hex[:10]}"
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE SCHEMA {schema}")
    connection.set_schema(schema)
    # given a tenant schema migrated to just before the move, with rollups in the old tables
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE_MOVE)
    ids = _fill_old_tables(executor.loader.project_state(BEFORE_MOVE).apps)
    assert {"analytics_lineminuterollup", "analytics_zoneminuteoccupancy"} <= _tables(schema)
    # when every migration is applied, as migrate_schemas does for each tenant
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
    # then the tables carry counting's names and the old names are gone
    tables = _tables(schema)
    assert {"counting_lineminuterollup", "counting_linehourrollup",
            "counting_zoneminuteoccupancy"} <= tables
    # (analytics keeps tables of its own, such as the alerts': only the moved names must go)
    assert not {"analytics_lineminuterollup", "analytics_linehourrollup",
                "analytics_zoneminuteoccupancy"} & tables
    # and every row reads back through the counting models, unchanged
    assert sorted(LineMinuteRollup.objects.values_list(
        "line_id", "camera_id", "minute", "count_in", "count_out")) == [
        (ids["line"], ids["camera"], M0, 3, 1), (ids["line"], ids["camera"], M1, 2, 0)]
    assert sorted(LineHourRollup.objects.values_list(
        "line_id", "camera_id", "hour", "count_in", "count_out")) == [
        (ids["line"], ids["camera"], H0, 3, 1), (ids["line"], ids["camera"], M1, 2, 0)]
    zone_rows = list(ZoneMinuteOccupancy.objects.values_list(
        "zone_id", "camera_id", "minute", "samples", "occupancy_sum", "max_occupancy",
        "entries", "exits"))
    assert zone_rows == [(ids["zone"], ids["camera"], M0, 60, 90.5, 4, 2, 1)]
    # and the identity sequences and unique constraints still work under the new names
    added = LineMinuteRollup.objects.create(line_id=ids["line"], camera_id=ids["camera"],
                                            minute=datetime(2026, 3, 29, 1, 1, tzinfo=UTC))
    assert added.pk > max(LineMinuteRollup.objects.exclude(pk=added.pk)
                          .values_list("pk", flat=True))
    with pytest.raises(IntegrityError), transaction.atomic():
        LineMinuteRollup.objects.create(line_id=ids["line"], camera_id=ids["camera"], minute=M0)
    # and the content types (so the permissions) moved with the models, none left behind
    moved = set(ContentType.objects.filter(model__in=(
        "lineminuterollup", "linehourrollup", "zoneminuteoccupancy"))
        .values_list("app_label", "model"))
    assert moved == {("counting", "lineminuterollup"), ("counting", "linehourrollup"),
                     ("counting", "zoneminuteoccupancy")}
