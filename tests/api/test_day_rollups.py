"""Local-day rollups: kept by the ledger, equal to the hour path, rebuilt on a timezone change."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.api import factories
from tests.api.test_counts import _ledger


def _both(line_ids: list[int], tz: ZoneInfo, bucket: str) -> tuple[list[Any], list[Any]]:
    from analytics.series import CountSources, count_series

    start, end = datetime(2026, 10, 20, tzinfo=tz), datetime(2026, 11, 3, tzinfo=tz)
    sources = CountSources(lines=tuple(line_ids[:1]), lines_swapped=tuple(line_ids[1:]))
    query: dict[str, Any] = {"sources": sources, "bucket": bucket, "start": start, "end": end,
                             "tz": tz}
    return (count_series(**query, day_rollups=True), count_series(**query, day_rollups=False))


@pytest.mark.parametrize("zone", ["Europe/Paris", "Asia/Kolkata"])
def test_day_rollups_equal_the_hour_path_and_follow_a_timezone_change(
        zone: str, tenant_a: Any, in_tenant: Any, owner_of: Any) -> None:
    from cameras.services import site_update
    from counting.models import LineDayRollup

    # given two lines (one an entrance read the other way) that counted 1,500 crossings over
    # two weeks around the autumn change, written through the ledger
    with in_tenant(tenant_a):
        site = factories.SiteFactory(timezone=zone)
        camera = factories.CameraFactory(site=site)
        lines = [factories.LineFactory(camera=camera),
                 factories.LineFactory(camera=camera, entrance="out")]
    start = datetime(2026, 10, 19, 12, tzinfo=UTC)
    _ledger(in_tenant, tenant_a, camera, lines, start, 15 * 24, 1500, seed=3)
    ids = [line.pk for line in lines]
    with in_tenant(tenant_a):
        # then days, weeks and months from the day rollups equal those from hours and minutes
        for bucket in ("day", "week", "month"):
            days, hours = _both(ids, ZoneInfo(zone), bucket)
            assert days == hours and sum(p.count_in + p.count_out for p in days) > 0
        assert LineDayRollup.objects.filter(line_id__in=ids).count() == 2 * 16

        # when the site moves to a half-hour timezone (or from it to a whole-hour one)
        other = "America/St_Johns" if zone == "Europe/Paris" else "Europe/London"
        site_update(actor=owner_of("a"), site=site, timezone=other)

        # then the day rollups are rebuilt in the new local days
        days, hours = _both(ids, ZoneInfo(other), "day")
        assert days == hours
        rows = LineDayRollup.objects.filter(line_id__in=ids)
        assert sum(r.count_in + r.count_out for r in rows) == 1500


@pytest.mark.parametrize("zone", ["Europe/Paris", "Asia/Kolkata"])
def test_the_backfill_migration_gives_the_days_the_ledger_keeps(
        zone: str, tenant_a: Any, in_tenant: Any) -> None:
    import importlib

    from django.db import connection, transaction

    from counting.models import LineDayRollup

    backfill = importlib.import_module("counting.migrations.0017_line_day_backfill")
    # given two lines that counted over two weeks around the autumn change (hours cut by a
    # +05:30 midnight included), their day rollups kept by the ledger
    with in_tenant(tenant_a):
        site = factories.SiteFactory(timezone=zone)
        camera = factories.CameraFactory(site=site)
        lines = [factories.LineFactory(camera=camera), factories.LineFactory(camera=camera)]
    _ledger(in_tenant, tenant_a, camera, lines, datetime(2026, 10, 19, 12, tzinfo=UTC),
            15 * 24, 900, seed=5)
    ids = [line.pk for line in lines]
    with in_tenant(tenant_a), transaction.atomic():
        rows = LineDayRollup.objects.filter(line_id__in=ids)
        kept = sorted(rows.values_list("line_id", "day", "count_in", "count_out"))
        assert sum(r[2] + r[3] for r in kept) == 900
        # when they are lost (as for data older than migration 0015) and the migration runs
        rows.delete()
        with connection.cursor() as cursor:
            cursor.execute(backfill.BACKFILL_SQL)
        # then every day is back with the ledger's numbers
        assert sorted(rows.values_list("line_id", "day", "count_in", "count_out")) == kept
        transaction.set_rollback(True)  # other tests' lines were refilled too: leave them be
