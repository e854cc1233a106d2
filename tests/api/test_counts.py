"""Counts from the API equal sums over the ledger, in the site's timezone, across DST."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from analytics.series import bucket_bounds
from tests.api import factories

PARIS = ZoneInfo("Europe/Paris")


def _ledger(in_tenant: Any, tenant: Any, camera: Any, lines: list[Any], start: datetime,
            hours: int, count: int, seed: int) -> None:
    """Write ``count`` crossings over ``hours`` through the real ledger (events + rollups)."""
    from counting.leases import lease_acquire
    from counting.ledger import LedgerBatch, LedgerEvent, ledger_write

    rng = random.Random(seed)
    events = tuple(
        LedgerEvent(line_id=rng.choice(lines).pk, direction=rng.choice(["in", "out"]),
                    track_id=i, frame_index=i,
                    occurred_at=start + timedelta(seconds=rng.uniform(0, hours * 3600)))
        for i in range(count))
    with in_tenant(tenant):
        lease = lease_acquire(camera_id=camera.pk, owner="tests", ttl_s=60)
        assert lease is not None
        result = ledger_write(LedgerBatch(camera_id=camera.pk, generation=lease.generation,
                                          seq=1, events=events))
        assert len(result.inserted) == count


def _ledger_sum(in_tenant: Any, tenant: Any, line_ids: list[int], start: datetime,
                end: datetime) -> tuple[int, int]:
    from counting.models import CountEvent

    with in_tenant(tenant):
        rows = CountEvent.objects.filter(line_id__in=line_ids, occurred_at__gte=start,
                                         occurred_at__lt=end)
        return (rows.filter(direction="in").count(), rows.filter(direction="out").count())


@pytest.mark.parametrize(("day", "hours_that_day"), [("2026-03-29", 23), ("2026-10-25", 25)],
                         ids=["spring-forward", "fall-back"])
@pytest.mark.parametrize("bucket", ["minute", "hour", "day"])
def test_counts_equal_ledger_sums_across_dst(day: str, hours_that_day: int, bucket: str,
                                             tenant_a: Any, in_tenant: Any, owner_of: Any,
                                             api_client: Any) -> None:
    # given a Paris site whose two lines counted crossings around a daylight-saving change
    with in_tenant(tenant_a):
        site = factories.SiteFactory(timezone="Europe/Paris")
        camera = factories.CameraFactory(site=site)
        lines = [factories.LineFactory(camera=camera), factories.LineFactory(camera=camera)]
        owner = owner_of("a")
    local_day = datetime.fromisoformat(day).replace(tzinfo=PARIS)
    window_start = local_day - timedelta(days=1)
    _ledger(in_tenant, tenant_a, camera, lines, window_start.astimezone(UTC), 72, 900, seed=5)
    if bucket == "minute":  # two hours around the change (minute series are capped at 2 days)
        query_from, query_to = f"{day}T00:30:00", f"{day}T03:30:00"
    else:
        query_from = window_start.date().isoformat() + "T00:00:00"
        query_to = (local_day + timedelta(days=2)).date().isoformat() + "T00:00:00"

    # when the Owner asks for the camera's counts (local times, no offset)
    response = api_client("a", owner).get(
        "/api/v1/counts/", {"camera": camera.pk, "from": query_from, "to": query_to,
                            "bucket": bucket})

    # then every bucket equals the ledger's sum over the same window
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["timezone"] == "Europe/Paris" and body["bucket"] == bucket
    line_ids = [line.pk for line in lines]
    for point in body["results"]:
        start, end = datetime.fromisoformat(point["start"]), datetime.fromisoformat(point["end"])
        assert (point["count_in"], point["count_out"]) == _ledger_sum(
            in_tenant, tenant_a, line_ids, start, end), point
    whole = _ledger_sum(in_tenant, tenant_a, line_ids,
                        datetime.fromisoformat(body["start"]), datetime.fromisoformat(body["end"]))
    assert (body["total"]["count_in"], body["total"]["count_out"]) == whole
    assert sum(whole) > 0
    # and the daylight-saving day has 23 or 25 hours
    if bucket == "day":
        lengths = [datetime.fromisoformat(p["end"]) - datetime.fromisoformat(p["start"])
                   for p in body["results"]]
        assert lengths == [timedelta(hours=24), timedelta(hours=hours_that_day),
                           timedelta(hours=24)]
    if bucket == "hour":
        assert len(body["results"]) == 24 + hours_that_day + 24
    if bucket == "minute":
        assert len(body["results"]) == (3 * 60 + (60 if hours_that_day == 25 else -60))


def test_hourly_buckets_on_the_autumn_night_repeat_one_oclock() -> None:
    # given the night Paris goes back from 03:00 (+02:00) to 02:00 (+01:00)
    start = datetime(2026, 10, 25, 0, 0, tzinfo=PARIS)
    end = datetime(2026, 10, 25, 5, 0, tzinfo=PARIS)

    # when the hours are bucketed
    labels = [lower.isoformat() for lower, _ in bucket_bounds(bucket="hour", start=start,
                                                              end=end, tz=PARIS)]

    # then 02:00 appears twice, with each offset, and the range has 6 real hours
    assert labels == ["2026-10-25T00:00:00+02:00", "2026-10-25T01:00:00+02:00",
                      "2026-10-25T02:00:00+02:00", "2026-10-25T02:00:00+01:00",
                      "2026-10-25T03:00:00+01:00", "2026-10-25T04:00:00+01:00"]


def test_empty_buckets_are_zero_and_a_half_hour_zone_keeps_local_hours(
        tenant_a: Any, in_tenant: Any, owner_of: Any, api_client: Any) -> None:
    # given a line in Kolkata (+05:30) with one rollup
    with in_tenant(tenant_a):
        site = factories.SiteFactory(timezone="Asia/Kolkata")
        line = factories.LineFactory(camera=factories.CameraFactory(site=site))
        factories.RollupFactory(line=line, minute=datetime(2026, 5, 1, 4, 45, tzinfo=UTC),
                                count_in=3, count_out=2)
        owner = owner_of("a")

    # when three local hours are asked for
    body = api_client("a", owner).get("/api/v1/counts/", {
        "line": line.pk, "from": "2026-05-01T09:00:00", "to": "2026-05-01T12:00:00"}).json()

    # then the hours are local hours, and only the one with data is non-zero
    assert [(p["start"], p["count_in"], p["count_out"]) for p in body["results"]] == [
        ("2026-05-01T09:00:00+05:30", 0, 0),
        ("2026-05-01T10:00:00+05:30", 3, 2),
        ("2026-05-01T11:00:00+05:30", 0, 0),
    ]


def test_occupancy_series(tenant_a: Any, in_tenant: Any, owner_of: Any,
                          api_client: Any) -> None:
    # given a zone with two minutes of samples in one UTC hour
    with in_tenant(tenant_a):
        zone = factories.ZoneFactory(camera=factories.CameraFactory(
            site=factories.SiteFactory(timezone="UTC")))
        factories.OccupancyFactory(zone=zone, minute=datetime(2026, 5, 1, 10, 1, tzinfo=UTC),
                                   samples=10, occupancy_sum=20.0, max_occupancy=4, entries=2)
        factories.OccupancyFactory(zone=zone, minute=datetime(2026, 5, 1, 10, 2, tzinfo=UTC),
                                   samples=10, occupancy_sum=40.0, max_occupancy=6, exits=1)
        owner = owner_of("a")

    # when its hourly occupancy is asked for
    body = api_client("a", owner).get("/api/v1/occupancy/", {
        "zone": zone.pk, "from": "2026-05-01T09:00:00Z", "to": "2026-05-01T11:00:00Z"}).json()

    # then the average is over samples, the maximum is the peak, empty hours are zero
    assert [(p["avg"], p["max"], p["entries"], p["exits"]) for p in body["results"]] == [
        (0.0, 0, 0, 0), (3.0, 6, 2, 1)]
