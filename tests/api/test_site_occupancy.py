"""Site occupancy from the entrances: never below zero, zero after closing, resets recorded."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.api import factories

OPEN = datetime(2026, 3, 2, 9, tzinfo=UTC)  # a Monday, open 09:00-17:00 UTC


def _write(in_tenant: Any, tenant: Any, camera: Any,
           crossings: list[tuple[Any, str, datetime]]) -> None:
    from counting.leases import lease_acquire
    from counting.ledger import LedgerBatch, LedgerEvent, ledger_write

    events = tuple(LedgerEvent(line_id=line.pk, direction=direction, track_id=i,
                               frame_index=i, occurred_at=at)
                   for i, (line, direction, at) in enumerate(crossings))
    with in_tenant(tenant):
        lease = lease_acquire(camera_id=camera.pk, owner="tests", ttl_s=60)
        assert lease is not None
        result = ledger_write(LedgerBatch(camera_id=camera.pk, generation=lease.generation,
                                          seq=1, events=events))
        assert len(result.inserted) == len(events)


@pytest.fixture
def shop_day(tenant_a: Any, in_tenant: Any) -> dict[str, Any]:
    """An 8-hour day: 600 visitors through an entrance whose "out" direction enters, 2 % of
    their exits missed, 3 exits counted at opening of people whose entry was not, and an
    ordinary line that must not count."""
    with in_tenant(tenant_a):
        site = factories.SiteFactory(timezone="UTC", opening_hours={
            "mon": [["09:00", "17:00"]], "tue": [["09:00", "17:00"]]})
        camera = factories.CameraFactory(site=site)
        door = factories.LineFactory(camera=camera, name="door", entrance="out")
        aisle = factories.LineFactory(camera=camera, name="aisle")
    rng = random.Random(7)
    crossings: list[tuple[Any, str, datetime]] = [
        (door, "in", OPEN + timedelta(seconds=5 + i)) for i in range(3)]
    missed = 0
    for _ in range(600):
        enter = OPEN + timedelta(seconds=rng.uniform(120, 7 * 3600))
        leave = min(enter + timedelta(seconds=rng.uniform(60, 2400)),
                    OPEN + timedelta(hours=8, seconds=-1))
        crossings.append((door, "out", enter))
        crossings.append((aisle, "in", enter + timedelta(seconds=1)))
        if rng.random() < 0.02:
            missed += 1
        else:
            crossings.append((door, "in", leave))
    _write(in_tenant, tenant_a, camera, crossings)
    return {"site": site, "missed": missed, "door": door}


def test_occupancy_never_negative_and_zero_after_closing(
        shop_day: dict[str, Any], owner_of: Any, api_client: Any, tenant_a: Any,
        in_tenant: Any) -> None:
    site = shop_day["site"]
    with in_tenant(tenant_a):
        owner = owner_of("a")
    # when the day's occupancy is read per minute, from the morning to the next morning
    body = api_client("a", owner).get("/api/v1/site-occupancy/", {
        "site": site.pk, "from": "2026-03-02T08:00:00", "to": "2026-03-03T08:00:00",
        "bucket": "minute"})
    assert body.status_code == 200, body.content[:300]
    results = body.json()["results"]

    # then it is never below zero, zero before opening and from closing on
    assert all(p["occupancy"] >= 0 and p["max"] >= 0 for p in results)
    assert all(p["occupancy"] == 0 for p in results[:60])  # 08:00-09:00
    assert all(p["occupancy"] == 0 and p["max"] == 0 for p in results[9 * 60:])  # from 17:00
    assert max(p["max"] for p in results) > 20
    # the 3 exits at opening were ignored, not subtracted
    assert results[60]["clamped"] == 3 and results[60]["occupancy"] == 0
    # entering is the entrance's "out" direction: 600 people, the aisle does not count
    assert sum(p["entering"] for p in results) == 600
    assert sum(p["leaving"] for p in results) == 600 - shop_day["missed"] + 3
    # and the closing reset removed exactly the people whose exit was missed
    resets = body.json()["resets"]
    assert shop_day["missed"] > 0
    assert resets == [{"at": "2026-03-02T17:00:00Z", "kind": "closing",
                       "removed": shop_day["missed"], "actor": "", "reason": ""}]
    assert results[9 * 60]["removed"] == shop_day["missed"]


def test_manual_reset_needs_the_permission_and_is_recorded(
        shop_day: dict[str, Any], world_a: Any, in_tenant: Any, api_client: Any) -> None:
    from guardian.shortcuts import assign_perm

    from analytics.models import OccupancyReset
    from audit.models import AuditEvent

    site = shop_day["site"]
    with in_tenant(world_a.tenant):
        assign_perm("cameras.view_site", world_a.viewer_granted, site)
    # given a Viewer who may view the site: the reset is refused and nothing is recorded
    refused = api_client("a", world_a.viewer_granted).post(
        "/api/v1/site-occupancy/reset/", {"site": site.pk}, format="json")
    assert refused.status_code == 403
    assert "permission" in refused.json()["error"]["message"]
    # and a user who may not view it gets 404
    hidden = api_client("a", world_a.viewer).post(
        "/api/v1/site-occupancy/reset/", {"site": site.pk}, format="json")
    assert hidden.status_code == 404
    with in_tenant(world_a.tenant):
        assert OccupancyReset.objects.count() == 0
        assert not AuditEvent.objects.filter(action="site_occupancy.reset").exists()

    # when a Manager resets it (now: nobody inside, the day is long closed)
    done = api_client("a", world_a.manager).post(
        "/api/v1/site-occupancy/reset/", {"site": site.pk, "reason": "count at night"},
        format="json")

    # then it is recorded with what it removed and audited
    assert done.status_code == 201, done.content
    assert done.json()["removed"] == 0 and done.json()["kind"] == "manual"
    with in_tenant(world_a.tenant):
        event = AuditEvent.objects.get(action="site_occupancy.reset")
        assert event.target_id == str(site.pk) and event.after == {"occupancy": 0,
                                                                    "reason": "count at night"}


def test_manual_reset_during_the_day_removes_the_drift(
        shop_day: dict[str, Any], world_a: Any, in_tenant: Any) -> None:
    from analytics.footfall import site_footfall_sources
    from analytics.site_occupancy import site_occupancy_reset, site_occupancy_series

    site = shop_day["site"]
    noon = OPEN + timedelta(hours=3)
    with in_tenant(world_a.tenant):
        sources = site_footfall_sources(user=world_a.owner, site=site).sources
        before = site_occupancy_series(site=site, sources=sources, bucket="minute",
                                       start=noon - timedelta(minutes=1), end=noon, now=noon)
        # when the Owner resets at noon
        reset = site_occupancy_reset(actor=world_a.owner, site=site, sources=sources, now=noon)
        after = site_occupancy_series(site=site, sources=sources, bucket="hour",
                                      start=OPEN, end=OPEN + timedelta(hours=9),
                                      now=OPEN + timedelta(days=1))
    # then the reset removed what was inside, occupancy restarts from zero at noon, and the
    # closing reset removes less (or as much, if nobody missed entered after noon)
    assert before.current > 0 and reset.removed == before.current
    kinds = [(r.kind, r.at) for r in after.resets]
    assert kinds == [("manual", noon), ("closing", OPEN + timedelta(hours=8))]
    assert after.points[3].removed == reset.removed
    assert after.resets[1].removed <= shop_day["missed"]
    assert all(p.occupancy >= 0 for p in after.points)
    assert after.points[8].occupancy == 0


def test_site_page_shows_occupancy_drift_and_resets_by_permission(
        shop_day: dict[str, Any], world_a: Any, in_tenant: Any, client_for: Any) -> None:
    from analytics.models import OccupancyReset

    site = shop_day["site"]
    with in_tenant(world_a.tenant):
        from guardian.shortcuts import assign_perm
        assign_perm("cameras.view_site", world_a.viewer_granted, site)
    manager, viewer = client_for("a"), client_for("a")
    with in_tenant(world_a.tenant):
        manager.force_login(world_a.manager)
        viewer.force_login(world_a.viewer_granted)

    # given the site page seen by a Manager and by a Viewer of the site
    page = manager.get(f"/sites/{site.pk}/")
    seen = viewer.get(f"/sites/{site.pk}/")
    # then both see people inside and the drift table, only the Manager the reset button
    assert page.status_code == 200 and seen.status_code == 200
    text = page.content.decode()
    assert "People inside now" in text and "through 1 entrance since" in text
    assert "Reset to zero now" in text and "Reset to zero now" not in seen.content.decode()
    assert page.context["people"]["drift"]["removed"][-1] == 0  # today: nothing yet
    # when the Viewer posts a reset anyway, then 403 and nothing is recorded
    refused = viewer.post(f"/sites/{site.pk}/occupancy/reset/", {"reason": "x"})
    assert refused.status_code == 403 and b"Nothing was changed" in refused.content
    # when the Manager resets, then it is recorded and the page says what it removed
    done = manager.post(f"/sites/{site.pk}/occupancy/reset/", {"reason": "evening count"})
    assert done.status_code == 302 and done["Location"].endswith("?reset=0")
    with in_tenant(world_a.tenant):
        assert OccupancyReset.objects.filter(site=site, reason="evening count").count() == 1
    after = manager.get(done["Location"])
    assert "Occupancy reset to zero; it removed 0." in after.content.decode()
    assert "manual reset by manager@tenant-a.test" in after.content.decode()
