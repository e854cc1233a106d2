"""Series comparisons (previous period, same weekday) and totals across sites per local day."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.api import factories
from tests.api.test_footfall import _write


def test_compare_with_previous_period_and_same_weekday(
        tenant_a: Any, in_tenant: Any, owner_of: Any, api_client: Any) -> None:
    # given a Paris line that counted 2 on Mon 2 March, 5 on Mon 23 Feb and 3 on Sun 1 March
    with in_tenant(tenant_a):
        camera = factories.CameraFactory(site=factories.SiteFactory(timezone="Europe/Paris"))
        line = factories.LineFactory(camera=camera)
        owner = owner_of("a")
    at = datetime(2026, 3, 2, 10, tzinfo=UTC)
    _write(in_tenant, tenant_a, camera,
           [(line, "in", at + timedelta(seconds=i)) for i in range(2)]
           + [(line, "in", at - timedelta(days=7, seconds=-i)) for i in range(5)]
           + [(line, "in", at - timedelta(days=1, seconds=-i)) for i in range(3)])
    client = api_client("a", owner)
    query = {"line": line.pk, "from": "2026-03-02", "to": "2026-03-03", "bucket": "day"}

    # when Monday is compared with the previous period and the same weekday
    previous = client.get("/api/v1/counts/", {**query, "compare": "previous"}).json()
    weekday = client.get("/api/v1/counts/", {**query, "compare": "weekday"}).json()
    hourly = client.get("/api/v1/counts/", {**query, "bucket": "hour",
                                            "compare": "weekday"}).json()

    # then the previous period is Sunday and the same weekday is the Monday before
    assert previous["total"]["count_in"] == 2
    assert previous["compare"]["start"] == "2026-03-01T00:00:00+01:00"
    assert previous["compare"]["total"]["count_in"] == 3
    assert weekday["compare"]["start"] == "2026-02-23T00:00:00+01:00"
    assert weekday["compare"]["total"]["count_in"] == 5
    assert [p["count_in"] for p in hourly["compare"]["results"]][11] == 5  # 11:00 local
    assert len(hourly["compare"]["results"]) == 24


def test_totals_across_sites_use_each_sites_local_day(
        tenant_a: Any, in_tenant: Any, owner_of: Any, api_client: Any) -> None:
    # given a Paris site and a Kolkata site, each with a crossing at 20:00 UTC on 2 March:
    # Paris's 2 March (21:00 local), Kolkata's 3 March (01:30 local)
    with in_tenant(tenant_a):
        paris = factories.CameraFactory(site=factories.SiteFactory(timezone="Europe/Paris"))
        kolkata = factories.CameraFactory(site=factories.SiteFactory(timezone="Asia/Kolkata"))
        paris_door = factories.LineFactory(camera=paris, entrance="in")
        kolkata_door = factories.LineFactory(camera=kolkata, entrance="in")
        factories.LineFactory(camera=kolkata)  # not an entrance: not counted
        owner = owner_of("a")
    at = datetime(2026, 3, 2, 20, tzinfo=UTC)
    _write(in_tenant, tenant_a, paris, [(paris_door, "in", at)])
    _write(in_tenant, tenant_a, kolkata, [(kolkata_door, "in", at), (kolkata_door, "out", at)])

    # when the footfall of all sites is asked per local day
    body = api_client("a", owner).get("/api/v1/counts/sites/", {
        "from": "2026-03-02", "to": "2026-03-04"}).json()

    # then each crossing lands on its own site's local day
    assert body["results"] == [
        {"day": "2026-03-02", "count_in": 1, "count_out": 0},
        {"day": "2026-03-03", "count_in": 1, "count_out": 1}]
    assert paris.site_id in body["sites"] and kolkata.site_id in body["sites"]


def test_dates_out_of_the_calendar_are_refused(tenant_a: Any, in_tenant: Any, owner_of: Any,
                                               api_client: Any) -> None:
    # given a site open on Mondays; when year 1 or 9999 is asked for, then 400 naming the field
    with in_tenant(tenant_a):
        site = factories.SiteFactory(opening_hours={"mon": [["09:00", "17:00"]]})
        owner = owner_of("a")
    client = api_client("a", owner)
    for path, query in (
            ("/api/v1/counts/", {"site": site.pk, "from": "0001-01-01", "to": "0001-01-03",
                                 "hours": "open"}),
            ("/api/v1/site-occupancy/", {"site": site.pk, "from": "9999-12-29",
                                         "to": "9999-12-30"}),
            ("/api/v1/counts/sites/", {"from": "0001-01-01", "to": "0001-01-02"})):
        response = client.get(path, query)
        assert response.status_code == 400, (path, response.content[:200])
        assert "between 1970 and 2999" in str(response.json()["error"]["fields"])
