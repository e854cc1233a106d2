"""The history page and its CSV equal /api/v1/counts/ for the same range, DST days included."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from analytics.series import bucket_bounds
from tests.api import factories
from tests.api.test_counts import _ledger

PARIS = ZoneInfo("Europe/Paris")


@pytest.fixture
def counted(tenant_a: Any, in_tenant: Any, people: Any) -> Any:
    """A Paris camera with two lines that counted 900 crossings from 24 to 26 October 2026
    (the night of the 25th has 25 hours), and a zone."""
    with in_tenant(tenant_a):
        site = factories.SiteFactory(name="History site", timezone="Europe/Paris")
        camera = factories.CameraFactory(site=site, name="History cam")
        lines = [factories.LineFactory(camera=camera, name="Door"),
                 factories.LineFactory(camera=camera, name="Gate")]
        zone = factories.ZoneFactory(camera=camera, name="Floor")
    start = datetime(2026, 10, 24, tzinfo=PARIS).astimezone(UTC)
    _ledger(in_tenant, tenant_a, camera, lines, start, 73, 900, seed=13)
    return {"site": site, "camera": camera, "lines": lines, "zone": zone}


def _csv(response: Any) -> list[dict[str, str]]:
    assert response.status_code == 200, response.content[:500]
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    return list(csv.DictReader(io.StringIO(response.content.decode())))


def _api(client: Any, **params: Any) -> dict[str, Any]:
    response = client.get("/api/v1/counts/", params)
    assert response.status_code == 200, response.content[:500]
    return response.json()


@pytest.mark.parametrize(("bucket", "buckets"), [("hour", 24 + 25 + 24), ("day", 3)])
def test_page_and_csv_equal_the_api_across_the_autumn_change(
        bucket: str, buckets: int, counted: Any, people: Any, logged_in: Any) -> None:
    client = logged_in("a", people.owner)
    camera = counted["camera"]
    query = {"series": [f"camera:{camera.pk}"], "range": "custom", "start": "2026-10-24",
             "end": "2026-10-26", "bucket": bucket}
    page = client.get("/history/", query)
    assert page.status_code == 200
    text = page.content.decode()
    assert "Sun 25 Oct 2026 has 25 hours in Europe/Paris (daylight-saving time ends)." in text
    rows = _csv(client.get("/history/export.csv", query))
    api = _api(client, camera=camera.pk, **{"from": "2026-10-24T00:00:00",
                                            "to": "2026-10-27T00:00:00", "bucket": bucket})
    assert len(rows) == len(api["results"]) == buckets
    assert [(r["bucket_start"], int(r["History cam in"]), int(r["History cam out"]))
            for r in rows] == [(p["start"], p["count_in"], p["count_out"])
                               for p in api["results"]]
    assert sum(int(r["History cam in"]) + int(r["History cam out"]) for r in rows) == 900
    # the page shows the same numbers: the chart's data and the total
    assert f'data-total-in="camera:{camera.pk}" data-num="{api["total"]["count_in"]}"' in text
    chart = page.context["chart"]
    assert chart["datasets"][0]["data"] == [p["count_in"] for p in api["results"]]
    if bucket == "day":
        assert [r["label"] for r in rows] == ["Sat 24 Oct 2026", "Sun 25 Oct 2026 (25 h)",
                                              "Mon 26 Oct 2026"]
    else:
        # the hour that happens twice is told apart by its offset
        assert "Sun 25 Oct 02:00 (UTC+02:00)" in text and "Sun 25 Oct 02:00 (UTC+01:00)" in text


def test_lines_zones_and_the_previous_period(counted: Any, people: Any, logged_in: Any) -> None:
    client = logged_in("a", people.owner)
    door, gate = counted["lines"]
    query = {"series": [f"line:{door.pk}", f"line:{gate.pk}", f"zone:{counted['zone'].pk}"],
             "range": "custom", "start": "2026-10-25", "end": "2026-10-26", "bucket": "day",
             "compare": "on"}
    rows = _csv(client.get("/history/export.csv", query))
    assert list(rows[0]) == [
        "bucket_start", "bucket_end", "label",
        "History cam · Door in", "History cam · Door out",
        "History cam · Door in (previous period)", "History cam · Door out (previous period)",
        "History cam · Gate in", "History cam · Gate out",
        "History cam · Gate in (previous period)", "History cam · Gate out (previous period)",
        "History cam · Floor avg occupancy", "History cam · Floor max occupancy",
        "History cam · Floor entries", "History cam · Floor median dwell s",
        "History cam · Floor p90 dwell s", "History cam · Floor avg occupancy (previous period)",
        "History cam · Floor max occupancy (previous period)",
        "History cam · Floor entries (previous period)",
        "History cam · Floor median dwell s (previous period)",
        "History cam · Floor p90 dwell s (previous period)"]
    for line, name in ((door, "Door"), (gate, "Gate")):
        now = _api(client, line=line.pk, **{"from": "2026-10-25T00:00:00",
                                            "to": "2026-10-27T00:00:00", "bucket": "day"})
        before = _api(client, line=line.pk, **{"from": "2026-10-23T00:00:00",
                                               "to": "2026-10-25T00:00:00", "bucket": "day"})
        assert [int(r[f"History cam · {name} in"]) for r in rows] == [
            p["count_in"] for p in now["results"]]
        assert [int(r[f"History cam · {name} in (previous period)"]) for r in rows] == [
            p["count_in"] for p in before["results"]]
    page = client.get("/history/", query).content.decode()
    assert "Compared with Fri 23 Oct 2026 – Sat 24 Oct 2026." in page


def test_week_and_month_buckets_start_on_monday_and_the_first_at_local_midnight() -> None:
    start = datetime(2026, 10, 21, 15, tzinfo=PARIS)  # a Wednesday
    end = datetime(2026, 11, 3, tzinfo=PARIS)
    weeks = bucket_bounds(bucket="week", start=start, end=end, tz=PARIS)
    assert [(a.isoformat(), b.isoformat()) for a, b in weeks] == [
        ("2026-10-19T00:00:00+02:00", "2026-10-26T00:00:00+01:00"),  # 7 days and 1 hour
        ("2026-10-26T00:00:00+01:00", "2026-11-02T00:00:00+01:00"),
        ("2026-11-02T00:00:00+01:00", "2026-11-09T00:00:00+01:00")]
    months = bucket_bounds(bucket="month", start=start, end=datetime(2027, 1, 5, tzinfo=PARIS),
                           tz=PARIS)
    assert [a.date() for a, _ in months] == [date(2026, 10, 1), date(2026, 11, 1),
                                            date(2026, 12, 1), date(2027, 1, 1)]
    assert months[-1][1].date() == date(2027, 2, 1)


def test_week_bucket_equals_the_api(counted: Any, people: Any, logged_in: Any) -> None:
    client = logged_in("a", people.owner)
    site = counted["site"]
    rows = _csv(client.get("/history/export.csv", {
        "series": [f"site:{site.pk}"], "range": "custom", "start": "2026-10-20",
        "end": "2026-10-27", "bucket": "week"}))
    api = _api(client, site=site.pk, **{"from": "2026-10-20T00:00:00",
                                        "to": "2026-10-28T00:00:00", "bucket": "week"})
    assert [(r["bucket_start"], r["bucket_end"], int(r["History site in"])) for r in rows] == [
        (p["start"], p["end"], p["count_in"]) for p in api["results"]]
    assert rows[0]["label"] == "Week of Mon 19 Oct 2026"
    assert sum(int(r["History site in"]) + int(r["History site out"]) for r in rows) == 900


def test_a_viewer_sees_only_what_was_granted(counted: Any, people: Any, logged_in: Any,
                                             tenant_a: Any, in_tenant: Any) -> None:
    from guardian.shortcuts import assign_perm

    with in_tenant(tenant_a):
        assign_perm("view_camera", people.viewer, counted["camera"])
    client = logged_in("a", people.viewer)
    page = client.get("/history/").content.decode()
    assert "History cam" in page and "PB site" not in page
    assert f"site:{counted['site'].pk}" not in page and "(whole site)" not in page
    denied = client.get("/history/", {"series": [f"camera:{people.camera.pk}"]})
    assert denied.status_code == 400
    assert "is not one of the available choices" in denied.content.decode()
    denied_csv = client.get("/history/export.csv", {"series": [f"site:{counted['site'].pk}"]})
    assert denied_csv.status_code == 400 and b"History" not in denied_csv.content
    nothing = logged_in("a", people.granted).get("/history/").content.decode()
    assert "History cam" not in nothing


def test_wrong_queries_say_what_to_change(counted: Any, people: Any, logged_in: Any,
                                          tenant_a: Any, in_tenant: Any) -> None:
    client = logged_in("a", people.owner)
    camera = counted["camera"]
    missing = client.get("/history/", {"series": [f"camera:{camera.pk}"], "range": "custom"})
    assert missing.status_code == 400
    assert "Give the first day of a custom range." in missing.content.decode()
    reversed_days = client.get("/history/", {"series": [f"camera:{camera.pk}"],
                                             "range": "custom", "start": "2026-10-26",
                                             "end": "2026-10-20"})
    assert "The last day must not be before the first day." in reversed_days.content.decode()
    too_long = client.get("/history/", {"series": [f"camera:{camera.pk}"], "range": "custom",
                                        "start": "2026-01-01", "end": "2026-06-30",
                                        "bucket": "hour"})
    assert too_long.status_code == 400
    assert "A hour series covers at most 93 days" in too_long.content.decode()
    with in_tenant(tenant_a):
        tokyo = factories.SiteFactory(name="Tokyo", timezone="Asia/Tokyo")
    mixed = client.get("/history/", {"series": [f"camera:{camera.pk}", f"site:{tokyo.pk}"]})
    assert mixed.status_code == 400
    assert "different timezones (Asia/Tokyo, Europe/Paris)" in mixed.content.decode()


def test_the_default_view_is_the_last_seven_days_of_the_first_site(
        counted: Any, people: Any, logged_in: Any) -> None:
    page = logged_in("a", people.owner).get("/history/")
    assert page.status_code == 200
    report = page.context["report"]
    assert report.bucket == "day" and len(report.rows()) == 7
    assert report.period.last - report.period.first == timedelta(days=6)
