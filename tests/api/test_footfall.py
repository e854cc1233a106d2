"""Footfall definitions: a site's counts come from its entrances only; opening hours filter."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.api import factories

DAY = datetime(2026, 3, 2, tzinfo=UTC)  # a Monday


def _write(in_tenant: Any, tenant: Any, camera: Any, crossings: list[tuple[Any, str, datetime]],
           seq: int = 1) -> None:
    """Store crossings through the real ledger (events and rollups in one transaction)."""
    from counting.leases import lease_acquire
    from counting.ledger import LedgerBatch, LedgerEvent, ledger_write

    events = tuple(LedgerEvent(line_id=line.pk, direction=direction, track_id=i,
                               frame_index=i, occurred_at=at)
                   for i, (line, direction, at) in enumerate(crossings))
    with in_tenant(tenant):
        lease = lease_acquire(camera_id=camera.pk, owner="tests", ttl_s=60)
        assert lease is not None
        result = ledger_write(LedgerBatch(camera_id=camera.pk, generation=lease.generation,
                                          seq=seq, events=events))
        assert len(result.inserted) == len(events)


def test_site_footfall_counts_the_entrance_only(tenant_a: Any, in_tenant: Any, owner_of: Any,
                                                api_client: Any) -> None:
    # given a site with two ordinary lines and one entrance whose "out" direction enters
    with in_tenant(tenant_a):
        site = factories.SiteFactory(timezone="UTC")
        camera = factories.CameraFactory(site=site)
        aisle = factories.LineFactory(camera=camera, name="aisle")
        till = factories.LineFactory(camera=camera, name="till")
        door = factories.LineFactory(camera=camera, name="door", entrance="out")
        owner = owner_of("a")
    at = DAY + timedelta(hours=10)
    _write(in_tenant, tenant_a, camera,
           [(aisle, "in", at + timedelta(seconds=i)) for i in range(7)]
           + [(till, "out", at + timedelta(seconds=i)) for i in range(5)]
           + [(door, "out", at + timedelta(seconds=i)) for i in range(3)]  # 3 people enter
           + [(door, "in", at + timedelta(minutes=5, seconds=i)) for i in range(2)])  # 2 leave
    client = api_client("a", owner)
    query = {"from": "2026-03-02T00:00:00", "to": "2026-03-03T00:00:00", "bucket": "day"}

    # when the site's counts and the lines' own counts are read
    site_body = client.get("/api/v1/counts/", {"site": site.pk, **query}).json()
    aisle_body = client.get("/api/v1/counts/", {"line": aisle.pk, **query}).json()
    door_body = client.get("/api/v1/counts/", {"line": door.pk, **query}).json()

    # then the site counts the entrance only, read in its entering direction...
    assert site_body["total"] == {"count_in": 3, "count_out": 2}
    assert site_body["footfall"] == {"basis": "entrances", "entrances": [
        {"type": "line", "id": door.pk, "name": "door", "entering": "out"}]}
    # ...and the other lines (and the entrance itself) keep their own counts
    assert aisle_body["total"] == {"count_in": 7, "count_out": 0}
    assert door_body["total"] == {"count_in": 2, "count_out": 3}
    assert "footfall" not in aisle_body


def test_site_without_entrances_sums_all_lines_and_says_so(
        tenant_a: Any, in_tenant: Any, owner_of: Any, api_client: Any) -> None:
    # given a site whose lines are not marked as entrances
    with in_tenant(tenant_a):
        camera = factories.CameraFactory(site=factories.SiteFactory(timezone="UTC"))
        first, second = factories.LineFactory(camera=camera), factories.LineFactory(camera=camera)
        owner = owner_of("a")
    at = DAY + timedelta(hours=9)
    _write(in_tenant, tenant_a, camera, [(first, "in", at), (second, "in", at),
                                         (second, "out", at + timedelta(seconds=1))])

    # when the site's counts are read
    body = api_client("a", owner).get("/api/v1/counts/", {
        "site": camera.site_id, "from": "2026-03-02", "to": "2026-03-03", "bucket": "day"}).json()

    # then they are the sum of all lines, based on "all_lines"
    assert body["total"] == {"count_in": 2, "count_out": 1}
    assert body["footfall"] == {"basis": "all_lines", "entrances": []}


def test_zone_entrance_counts_its_entries(tenant_a: Any, in_tenant: Any, owner_of: Any,
                                          api_client: Any) -> None:
    # given a site whose only entrance is a zone (its entries enter the site)
    with in_tenant(tenant_a):
        camera = factories.CameraFactory(site=factories.SiteFactory(timezone="UTC"))
        factories.LineFactory(camera=camera)
        zone = factories.ZoneFactory(camera=camera, entrance="in")
        factories.OccupancyFactory(zone=zone, minute=DAY + timedelta(hours=11), entries=4,
                                   exits=1)
        owner = owner_of("a")

    # when the site's counts are read
    body = api_client("a", owner).get("/api/v1/counts/", {
        "site": camera.site_id, "from": "2026-03-02", "to": "2026-03-03", "bucket": "hour"}).json()

    # then the zone's entries and exits are the site's in and out
    assert body["total"] == {"count_in": 4, "count_out": 1}
    assert body["results"][11]["count_in"] == 4


def test_opening_hours_filter(tenant_a: Any, in_tenant: Any, owner_of: Any,
                              api_client: Any) -> None:
    # given a Kolkata site (+05:30) open 09:30-18:00 on Mondays with crossings before, during
    # and after opening
    with in_tenant(tenant_a):
        site = factories.SiteFactory(timezone="Asia/Kolkata",
                                     opening_hours={"mon": [["09:30", "18:00"]]})
        camera = factories.CameraFactory(site=site)
        line = factories.LineFactory(camera=camera)
        owner = owner_of("a")
    local_midnight_utc = datetime(2026, 3, 1, 18, 30, tzinfo=UTC)  # Mon 00:00 +05:30
    minutes = [9 * 60 + 29, 9 * 60 + 30, 12 * 60, 17 * 60 + 59, 18 * 60, 23 * 60]
    _write(in_tenant, tenant_a, camera,
           [(line, "in", local_midnight_utc + timedelta(minutes=m, seconds=10)) for m in minutes])
    client = api_client("a", owner)
    query = {"line": line.pk, "from": "2026-03-02T00:00:00", "to": "2026-03-03T00:00:00"}

    # when counts are read per hour and per day, with all hours and opening hours only
    every = client.get("/api/v1/counts/", {**query, "bucket": "day"}).json()
    day_open = client.get("/api/v1/counts/", {**query, "bucket": "day", "hours": "open"}).json()
    hour_open = client.get("/api/v1/counts/", {**query, "bucket": "hour", "hours": "open"}).json()

    # then only 09:30, 12:00 and 17:59 count when open
    assert every["total"]["count_in"] == 6 and every["hours"] == "all"
    assert day_open["total"]["count_in"] == 3 and day_open["hours"] == "open"
    assert [p["count_in"] for p in hour_open["results"]] == (
        [0] * 9 + [1, 0, 0, 1, 0, 0, 0, 0, 1] + [0] * 6)


def test_entrance_is_validated_and_audited(world_a: Any, in_tenant: Any,
                                           api_client: Any) -> None:
    from audit.models import AuditEvent

    client = api_client("a", world_a.owner)
    # given a line; when a wrong entrance is sent, then 400 and nothing changes
    bad = client.patch(f"/api/v1/lines/{world_a.line.pk}/", {"entrance": "sideways"},
                       format="json")
    assert bad.status_code == 400 and "entrance" in bad.json()["error"]["fields"]
    # when it is marked as an entrance, then it is saved, versioned and audited
    good = client.patch(f"/api/v1/lines/{world_a.line.pk}/", {"entrance": "in"}, format="json")
    assert good.status_code == 200 and good.json()["entrance"] == "in"
    with in_tenant(world_a.tenant):
        event = AuditEvent.objects.filter(action="counting_line.update").latest("id")
        assert event.before["entrance"] == "" and event.after["entrance"] == "in"
    # and a mask cannot be an entrance
    mask = client.patch(f"/api/v1/zones/{world_a.zone.pk}/",
                        {"ignore_detections": True, "entrance": "in"}, format="json")
    assert mask.status_code == 400
    assert "cannot be an entrance" in str(mask.json()["error"]["fields"]["entrance"])


def test_dashboard_and_site_page_count_the_entrances_too(
        tenant_a: Any, in_tenant: Any, owner_of: Any) -> None:
    from analytics.portal.selectors import site_summaries

    # given a site whose entrance ("out" enters) and an ordinary line counted today
    now = datetime.now(tz=UTC)
    with in_tenant(tenant_a):
        site = factories.SiteFactory(timezone="UTC")
        camera = factories.CameraFactory(site=site)
        aisle = factories.LineFactory(camera=camera)
        door = factories.LineFactory(camera=camera, entrance="out")
        plain = factories.CameraFactory(site=factories.SiteFactory(timezone="UTC"))
        other = factories.LineFactory(camera=plain)
        owner = owner_of("a")
    at = max(now.replace(hour=0, minute=0, second=0, microsecond=0), now - timedelta(minutes=5))
    _write(in_tenant, tenant_a, camera, [(aisle, "in", at), (door, "out", at),
                                         (door, "out", at), (door, "in", at)])
    _write(in_tenant, tenant_a, plain, [(other, "in", at)])

    # when the dashboard's summaries are read
    with in_tenant(tenant_a):
        summaries = {s.site.pk: s for s in site_summaries(user=owner, now=now)}

    # then the site with an entrance counts its 2 entries, the other site all its lines
    assert sum(summaries[site.pk].today.counts) == 2
    assert sum(summaries[plain.site_id].today.counts) == 1
