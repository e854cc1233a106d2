"""The partitioned ledger (counting 0020, tenants/partitions.py): monthly partitions made
ahead, the idempotency key with the partition key, the default partition reported and emptied,
retention dropping whole months, and the conversion of a table with rows both ways."""

from __future__ import annotations

import importlib
import random
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from tests.api import factories
from tests.data.test_retention import _hour_totals, _write

TABLES = ("counting_countevent", "counting_lineminuterollup", "counting_zoneminuteoccupancy")


def _events(camera: Any) -> list[tuple[Any, ...]]:
    from counting.models import CountEvent

    return list(CountEvent.objects.filter(camera=camera).order_by("id").values_list(
        "id", "idempotency_key", "occurred_at", "line_id", "direction"))


def _primary_key(schema: str, table: str) -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = "
                       "%s::regclass AND contype = 'p'", [f'"{schema}"."{table}"'])
        return str(cursor.fetchone()[0])


@pytest.mark.django_db
def test_the_ledger_is_partitioned_by_month_with_months_made_ahead(
        tenant_a: Any, in_tenant: Any) -> None:
    from counting.leases import lease_acquire, lease_unlock
    from counting.ledger import LedgerBatch, LedgerEvent, ledger_write
    from counting.models import CountEvent
    from tenants.partitions import PREMAKE, is_partitioned, partitions_of

    schema = tenant_a.schema_name
    # given a tenant made as every tenant is: its ledger and minute tables are partitioned
    assert all(is_partitioned(schema, table) for table in TABLES)
    # with monthly partitions well ahead of now and the partition key in the primary key
    last = partitions_of(schema, "counting_countevent")[-1]
    assert last.end >= datetime.now(UTC) + timedelta(days=31 * (PREMAKE - 1))
    assert _primary_key(schema, "counting_countevent") == "PRIMARY KEY (id, occurred_at)"
    with in_tenant(tenant_a):
        camera = factories.CameraFactory()
        line = factories.LineFactory(camera=camera)
        moment = datetime.now(UTC).replace(microsecond=0)
        events = (LedgerEvent(line_id=line.pk, direction="in", track_id=1, frame_index=1,
                              occurred_at=moment),)
        lease = lease_acquire(camera_id=camera.pk, owner="tests", ttl_s=60)
        assert lease is not None
        try:
            # when the same crossing is written twice in two batches
            first = ledger_write(LedgerBatch(camera_id=camera.pk, generation=lease.generation,
                                             seq=1, events=events))
            second = ledger_write(LedgerBatch(camera_id=camera.pk, generation=lease.generation,
                                              seq=2, events=events))
        finally:
            lease_unlock(camera_id=camera.pk)
        # then it is stored once, in its month's partition
        assert (len(first.inserted), len(second.inserted), second.duplicates) == (1, 0, 1)
        assert CountEvent.objects.filter(camera=camera).count() == 1


@pytest.mark.django_db
def test_an_event_whose_month_has_no_partition_is_kept_reported_and_moved(
        tenant_a: Any, in_tenant: Any) -> None:
    from counting.integrity import tenant_check
    from counting.models import CountEvent
    from tenants.partitions import default_rows, partitions_maintain, partitions_of

    schema = tenant_a.schema_name
    far = datetime(2090, 3, 4, 5, 6, tzinfo=UTC)
    with in_tenant(tenant_a):
        # given a crossing far beyond the partitions made ahead
        camera = factories.CameraFactory()
        _write(camera, [factories.LineFactory(camera=camera)], far, 1, 3, 1, random.Random(1))

        # then it is stored (in the default partition) and check_integrity names it
        assert CountEvent.objects.filter(camera=camera, occurred_at__gte=far).count() == 3
        assert default_rows(schema)["counting_countevent"] == 3
        found = [p for p in tenant_check(schema) if p.check == "default_partition"]
        assert len(found) == 2 and "counting_countevent" in found[0].detail + found[1].detail

        # when the maintenance runs, the rows move into a partition of their own month
        moved = partitions_maintain(schema)
        assert moved["counting_countevent"] == 3
        assert default_rows(schema)["counting_countevent"] == 0
        assert any(p.start <= far < p.end for p in partitions_of(schema, "counting_countevent"))
        assert CountEvent.objects.filter(camera=camera, occurred_at__gte=far).count() == 3
        assert [p for p in tenant_check(schema) if p.check == "default_partition"] == []


@pytest.mark.django_db
def test_retention_removes_exactly_what_it_should_across_a_partition_boundary_and_keeps_the_totals(  # noqa: E501
        tenant_a: Any, in_tenant: Any) -> None:
    from counting.models import CountEvent, LineMinuteRollup
    from counting.retention import retention_enforce
    from tenants.partitions import partitions_maintain, partitions_of

    schema = tenant_a.schema_name
    # given events and minutes kept 20 days, and crossings from 20 May to 12 June 2026, in
    # their months' partitions (May's wholly before the cut-off, June's across it)
    tenant_a.retention_days = tenant_a.minute_retention_days = 20
    tenant_a.save()
    now = datetime(2026, 6, 25, 9, tzinfo=UTC)
    cutoff = datetime(2026, 6, 5, tzinfo=UTC)
    rng = random.Random(11)
    with in_tenant(tenant_a):
        camera = factories.CameraFactory()
        lines = [factories.LineFactory(camera=camera), factories.LineFactory(camera=camera)]
        for seq, day in enumerate((20, 25, 31), start=1):
            _write(camera, lines, datetime(2026, 5, day, 10, tzinfo=UTC), 6, 40, seq, rng)
        for seq, day in enumerate((2, 4, 5, 12), start=4):
            _write(camera, lines, datetime(2026, 6, day, 10, tzinfo=UTC), 6, 40, seq, rng)
        partitions_maintain(schema)
        months = {p.start.month: p.name for p in partitions_of(schema, "counting_countevent")
                  if p.start.year == 2026}
        assert {5, 6} <= set(months)
        hours_before = _hour_totals(camera)
        kept = {row for row in _events(camera) if row[2] >= cutoff}
        may = CountEvent.objects.filter(occurred_at__lt=datetime(2026, 6, 1, tzinfo=UTC)).count()
        june_before = CountEvent.objects.filter(occurred_at__gte=datetime(2026, 6, 1, tzinfo=UTC),
                                                occurred_at__lt=cutoff).count()
        minutes_kept = set(LineMinuteRollup.objects.filter(minute__gte=cutoff)
                           .values_list("id", flat=True))

        # when retention runs
        report = retention_enforce(tenant=tenant_a, now=now, batch=25)

        # then May went as a whole partition and June's rows before the cut-off one by one
        remaining = {p.name for p in partitions_of(schema, "counting_countevent")}
        assert months[5] not in remaining and months[6] in remaining
        assert report.partitions_dropped["events"] == may > 0
        assert report.removed["events"] == may + june_before and june_before > 0
        # and exactly the events from the cut-off on are left, the hour totals unchanged
        assert set(_events(camera)) == kept
        assert set(LineMinuteRollup.objects.values_list("id", flat=True)) == minutes_kept
        assert _hour_totals(camera) == hours_before


@pytest.mark.django_db
def test_the_migration_converts_tables_with_rows_both_ways(tenant_a: Any, in_tenant: Any) -> None:
    from django.db import connection

    from counting.leases import lease_acquire, lease_unlock
    from counting.ledger import LedgerBatch, LedgerEvent, ledger_write
    from counting.models import LineMinuteRollup
    from tenants.partitions import is_partitioned

    migration = importlib.import_module("counting.migrations.0020_ledger_partitioned")
    editor = SimpleNamespace(connection=connection)
    schema = tenant_a.schema_name
    with in_tenant(tenant_a):
        # given crossings over two months in the ledger
        camera = factories.CameraFactory()
        lines = [factories.LineFactory(camera=camera)]
        _write(camera, lines, datetime(2026, 4, 28, tzinfo=UTC), 100, 60, 1, random.Random(3))
        events, minutes = _events(camera), LineMinuteRollup.objects.count()

        # when the migration is reversed: plain tables, the same rows, the old keys
        migration.backward(None, editor)
        assert not any(is_partitioned(schema, table) for table in TABLES)
        assert _events(camera) == events and LineMinuteRollup.objects.count() == minutes
        assert _primary_key(schema, "counting_countevent") == "PRIMARY KEY (id)"

        # and applied again: partitioned, the same rows, and the ledger writes as before
        migration.forward(None, editor)
        assert all(is_partitioned(schema, table) for table in TABLES)
        assert _events(camera) == events and LineMinuteRollup.objects.count() == minutes
        assert _primary_key(schema, "counting_countevent") == "PRIMARY KEY (id, occurred_at)"
        lease = lease_acquire(camera_id=camera.pk, owner="tests", ttl_s=60)
        assert lease is not None
        again = (LedgerEvent(line_id=lines[0].pk, direction="in", track_id=7, frame_index=7,
                             occurred_at=datetime(2026, 4, 29, tzinfo=UTC)),)
        try:
            written = [ledger_write(LedgerBatch(camera_id=camera.pk, generation=lease.generation,
                                                seq=seq, events=again)) for seq in (2, 3)]
        finally:
            lease_unlock(camera_id=camera.pk)
        assert [len(w.inserted) for w in written] == [1, 0]
        assert max(row[0] for row in _events(camera)) > max(row[0] for row in events)
