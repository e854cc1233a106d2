"""Fair shares of /counts/: whole hours from the hour rollups (same answers as before, far
fewer rows), a row quota per query (400 query_too_large) and a time limit (503 query_timeout)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest
from django.db import connection

from analytics.series import bucket_bounds, line_count_series, series_rows_estimate
from tests.api import factories
from tests.api.series_reference import old_line_count_series

# Half-hour and quarter-hour offsets, with and without daylight saving (St John's -03:30/-02:30,
# Lord Howe +10:30/+11:00 moves by 30 minutes), and a whole-hour zone with DST.
ZONES = ["Asia/Kolkata", "Asia/Kathmandu", "America/St_Johns", "Australia/Lord_Howe",
         "Europe/Paris", "UTC"]


def _crossings(line_ids: list[int], start: datetime, days: int, count: int,
               seed: int) -> list[tuple[int, str, datetime]]:
    rng = random.Random(seed)
    return [(rng.choice(line_ids), rng.choice(["in", "out"]),
             start + timedelta(seconds=rng.uniform(0, days * 86400))) for _ in range(count)]


def _store(camera_id: int, crossings: list[tuple[int, str, datetime]]) -> None:
    """Minute and hour rollups through the one module that computes them."""
    from counting.rollups import line_rollups_add

    with connection.cursor() as cursor:
        line_rollups_add(cursor, camera_id=camera_id, crossings=crossings)


@pytest.mark.parametrize("zone", ZONES)
def test_series_equal_the_old_computation_on_dst_and_offset_zones(
        zone: str, tenant_a: Any, in_tenant: Any) -> None:
    # given two lines of a site in ``zone`` with crossings over 75 days around both DST changes
    # of the year (spring in the north is autumn in the south)
    tz = ZoneInfo(zone)
    with in_tenant(tenant_a):
        camera = factories.CameraFactory(site=factories.SiteFactory(timezone=zone))
        lines = [factories.LineFactory(camera=camera).pk, factories.LineFactory(camera=camera).pk]
        for first_day in (datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 9, 25, tzinfo=UTC)):
            _store(camera.pk, _crossings(lines, first_day, 45, 6000, seed=len(zone)))
        rng = random.Random(zone)
        windows: list[tuple[str, datetime, datetime]] = [
            # whole local days and a whole year
            ("day", datetime(2026, 3, 1, tzinfo=tz), datetime(2026, 5, 1, tzinfo=tz)),
            ("day", datetime(2026, 9, 20, tzinfo=tz), datetime(2026, 11, 20, tzinfo=tz)),
            ("day", datetime(2025, 12, 1, tzinfo=tz), datetime(2027, 1, 1, tzinfo=tz)),
            ("hour", datetime(2026, 3, 25, tzinfo=tz), datetime(2026, 4, 10, tzinfo=tz)),
            ("hour", datetime(2026, 10, 1, tzinfo=tz), datetime(2026, 11, 5, tzinfo=tz)),
        ]
        # and windows starting and ending at odd minutes
        for _ in range(12):
            lower = datetime(2026, 3, 1, tzinfo=UTC) + timedelta(minutes=rng.randrange(250000))
            bucket = rng.choice(["hour", "day"])
            span = timedelta(minutes=rng.randrange(30, 60 * 24 * (20 if bucket == "hour" else 90)))
            windows.append((bucket, lower.astimezone(tz), (lower + span).astimezone(tz)))

        # when the new and the old computation answer every window
        for bucket, start, end in windows:
            new = line_count_series(line_ids=lines, bucket=bucket,  # type: ignore[arg-type]
                                    start=start, end=end, tz=tz)
            old = old_line_count_series(line_ids=lines, bucket=bucket,  # type: ignore[arg-type]
                                        start=start, end=end, tz=tz)

            # then they are equal, bucket by bucket
            assert new == old, (zone, bucket, start, end)
        assert sum(p.count_in + p.count_out for p in new) >= 0
        total = line_count_series(line_ids=lines, bucket="day", tz=tz,
                                  start=datetime(2026, 2, 27, tzinfo=tz),
                                  end=datetime(2026, 11, 20, tzinfo=tz))
        assert sum(p.count_in + p.count_out for p in total) == 12000


def test_three_years_daily_at_half_hour_reads_few_rows() -> None:
    # given a three-year daily series of one line at +05:30 (whole-hour rollups unusable before)
    tz = ZoneInfo("Asia/Kolkata")
    bounds = bucket_bounds(bucket="day", start=datetime(2024, 1, 1, tzinfo=tz),
                           end=datetime(2027, 1, 1, tzinfo=tz), tz=tz)
    days = len(bounds)

    # when its rows are estimated
    rows = series_rows_estimate(keys=1, bucket="day", bounds=bounds)

    # then it is 23 whole hours plus the 60 minutes of the hour cut by midnight, per day
    assert rows == days * (23 + 60)
    assert rows < 92_000 < days * 1440


def _quota(tenant: Any, **values: Any) -> None:
    from tenants.models import Tenant

    Tenant.objects.filter(pk=tenant.pk).update(**values)


def test_a_series_over_the_row_quota_is_refused_with_advice(
        tenant_a: Any, in_tenant: Any, owner_of: Any, api_client: Any) -> None:
    # given a tenant whose plan allows 50,000 rows per query and a site with two lines
    from tenants.models import Plan

    plan = Plan.objects.create(code="small-q", name="Small", query_rows_quota=50_000)
    _quota(tenant_a, plan=plan, query_rows_quota=None)
    with in_tenant(tenant_a):
        camera = factories.CameraFactory(site=factories.SiteFactory(timezone="Asia/Kolkata"))
        line = factories.LineFactory(camera=camera)
        factories.LineFactory(camera=camera)
        owner = owner_of("a")
    client = api_client("a", owner)
    # (hours at +05:30: every local hour is cut, so 60 minute rows an hour; a day series
    # reads the day rollups, a few hundred rows, and fits any quota)
    query = {"from": "2026-01-01T00:00:00", "to": "2026-02-10T00:00:00", "bucket": "hour"}

    # when the site (2 x 57,600 rows) and then one line (57,600 rows) are asked for
    site_answer = client.get("/api/v1/counts/", {"site": camera.site_id, **query})
    # and the tenant's own override raises its share
    _quota(tenant_a, query_rows_quota=100_000)
    line_answer = client.get("/api/v1/counts/", {"line": line.pk, **query})

    # then the site is refused with what to do, and the line fits the tenant's override
    assert site_answer.status_code == 400, site_answer.content
    error = site_answer.json()["error"]
    assert error["code"] == "query_too_large"
    assert "50,000" in error["message"] and "larger bucket" in error["message"]
    assert line_answer.status_code == 200, line_answer.content


def test_a_series_the_database_does_not_finish_in_time_is_a_503(
        tenant_a: Any, in_tenant: Any, owner_of: Any, api_client: Any,
        settings: Any) -> None:
    # given a Paris line whose hour and day rollups another session holds locked, and a 0.3 s
    # limit
    settings.SERIES_STATEMENT_TIMEOUT_S = 0.3
    with in_tenant(tenant_a):
        line = factories.LineFactory(camera=factories.CameraFactory(
            site=factories.SiteFactory(timezone="Europe/Paris")))
        owner = owner_of("a")
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    with psycopg.connect(**params) as other:
        schema = tenant_a.schema_name
        other.execute(f'LOCK TABLE "{schema}".counting_linehourrollup, '
                      f'"{schema}".counting_linedayrollup IN ACCESS EXCLUSIVE MODE')

        # when its daily counts are asked for
        answer = api_client("a", owner).get("/api/v1/counts/", {
            "line": line.pk, "from": "2026-01-01", "to": "2026-02-01", "bucket": "day"})
        other.rollback()

    # then the query is stopped and the answer says so (and what to do)
    assert answer.status_code == 503, answer.content
    error = answer.json()["error"]
    assert error["code"] == "query_timeout" and "try again" in error["message"].lower()
