"""Retention removes exactly the rows past each kind's cut-off, keeps the hour totals, and
reports and audits what it removed."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.api import factories

NOW = datetime(2026, 6, 20, 12, 0, tzinfo=UTC)
# Overrides of tenant A's plan: events 10 days, minutes 5, health 3 -> cut-offs at UTC midnight.
EVENTS_CUT = datetime(2026, 6, 10, tzinfo=UTC)
MINUTES_CUT = datetime(2026, 6, 15, tzinfo=UTC)
HEALTH_CUT = datetime(2026, 6, 17, tzinfo=UTC)


def _write(camera: Any, lines: list[Any], start: datetime, hours: int, count: int, seq: int,
           rng: random.Random) -> None:
    from counting.leases import lease_acquire, lease_unlock
    from counting.ledger import LedgerBatch, LedgerEvent, ledger_write

    events = tuple(
        LedgerEvent(line_id=rng.choice(lines).pk, direction=rng.choice(["in", "out"]),
                    track_id=seq * 10_000 + i, frame_index=seq * 10_000 + i,
                    occurred_at=start + timedelta(seconds=rng.uniform(0, hours * 3600)))
        for i in range(count))
    lease = lease_acquire(camera_id=camera.pk, owner="tests", ttl_s=60)
    assert lease is not None
    try:
        ledger_write(LedgerBatch(camera_id=camera.pk, generation=lease.generation, seq=1,
                                 events=events))
    finally:
        lease_unlock(camera_id=camera.pk)


def _hour_totals(camera: Any) -> list[tuple[Any, ...]]:
    from counting.models import LineHourRollup

    return list(LineHourRollup.objects.filter(camera=camera).order_by("line_id", "hour")
                .values_list("line_id", "hour", "count_in", "count_out"))


@pytest.mark.django_db
def test_retention_removes_exactly_what_is_past_each_cutoff_and_keeps_the_totals(
        tenant_a: Any, in_tenant: Any) -> None:
    from audit.models import AuditEvent
    from counting.integrity import tenant_check
    from counting.models import (
        CameraHealthEvent,
        CountEvent,
        LineMinuteRollup,
        RetentionMark,
        ZoneMinuteOccupancy,
    )
    from counting.retention import retention_enforce

    # given tenant A keeps events 10 days, minutes 5 and health 3 (its own overrides)
    tenant_a.retention_days, tenant_a.minute_retention_days = 10, 5
    tenant_a.health_retention_days, tenant_a.audit_retention_days = 3, 2916  # 8 years
    tenant_a.save()
    rng = random.Random(7)
    with in_tenant(tenant_a):
        camera = factories.CameraFactory()
        other = factories.CameraFactory()
        lines = [factories.LineFactory(camera=camera), factories.LineFactory(camera=camera)]
        zone = factories.ZoneFactory(camera=camera)
        # and crossings on both sides of each cut-off (2 hours before to 2 hours after)
        _write(camera, lines, EVENTS_CUT - timedelta(hours=2), 4, 300, 1, rng)
        _write(camera, lines, MINUTES_CUT - timedelta(hours=2), 4, 200, 2, rng)
        _write(other, [factories.LineFactory(camera=other)], EVENTS_CUT - timedelta(hours=1),
               2, 50, 3, rng)
        # and one old crossing whose hour rollup is missing (damage: it must stay)
        orphan = factories.CountEventFactory(line=lines[0],
                                             occurred_at=datetime(2026, 6, 1, 8, tzinfo=UTC))
        factories.OccupancyFactory(zone=zone, minute=datetime(2026, 6, 1, 8, tzinfo=UTC))
        for moment in (HEALTH_CUT - timedelta(minutes=1), HEALTH_CUT,
                       HEALTH_CUT + timedelta(hours=5)):
            CameraHealthEvent.objects.create(camera=camera, occurred_at=moment, state="online")
        hours_before = _hour_totals(camera)
        events_after = set(CountEvent.objects.filter(occurred_at__gte=EVENTS_CUT)
                           .values_list("id", flat=True))
        events_before = CountEvent.objects.filter(occurred_at__lt=EVENTS_CUT).count()
        minutes_after = set(LineMinuteRollup.objects.filter(minute__gte=MINUTES_CUT)
                            .values_list("id", flat=True))
        minutes_before = LineMinuteRollup.objects.filter(minute__lt=MINUTES_CUT).count()
        audit_before = AuditEvent.objects.count()

        # when retention runs (in batches of 7 rows)
        report = retention_enforce(tenant=tenant_a, now=NOW, batch=7)

        # then every event before the cut-off is gone but the unrolled one, and none after it
        assert set(CountEvent.objects.values_list("id", flat=True)) == events_after | {orphan.pk}
        assert report.removed["events"] == events_before - 1 > 0
        assert report.kept_without_rollup == {"events": 1, "minutes": 0}
        # and the minutes likewise, while the hour totals are unchanged
        assert set(LineMinuteRollup.objects.values_list("id", flat=True)) == minutes_after
        assert report.removed["minutes"] == minutes_before > 0
        assert _hour_totals(camera) == hours_before
        # and zone occupancy minutes are kept (nothing coarser holds them)
        assert ZoneMinuteOccupancy.objects.filter(zone=zone).count() == 1
        # and health events before their cut-off only
        assert sorted(CameraHealthEvent.objects.values_list("occurred_at", flat=True)) == [
            HEALTH_CUT, HEALTH_CUT + timedelta(hours=5)]
        assert report.removed["health"] == 1
        # and the run is audited once with what it removed, and marked per kind
        audited = AuditEvent.objects.filter(action="retention.enforce").get()
        assert audited.after["removed"] == report.removed
        assert AuditEvent.objects.count() == audit_before + 1
        assert dict(RetentionMark.objects.values_list("kind", "removed_before")) == {
            "events": EVENTS_CUT, "minutes": MINUTES_CUT, "health": HEALTH_CUT,
            "audit": datetime(2018, 6, 26, tzinfo=UTC)}
        # and the integrity check does not take the removed rows for damage
        assert [p for p in tenant_check(tenant_a.schema_name)
                if p.check.startswith("rollup")] == []

        # when it runs again, nothing more goes and nothing more is audited
        again = retention_enforce(tenant=tenant_a, now=NOW, batch=7)
        assert again.total == 0
        assert AuditEvent.objects.count() == audit_before + 1


@pytest.mark.django_db
def test_retention_is_shown_on_the_account_page_and_in_the_api(
        tenant_a: Any, owner_of: Any, logged_in: Any, in_tenant: Any) -> None:
    # given tenant A's plan-default retention with its own override of minute counts
    tenant_a.minute_retention_days = 30
    tenant_a.save()
    with in_tenant(tenant_a):
        owner = owner_of("a")
    client = logged_in("a", owner)

    # when the owner opens the account page and asks the API who they are
    page = client.get("/account/")
    me = client.get("/api/v1/me/")

    # then both say how long each kind is kept
    assert page.status_code == 200
    html = page.content.decode()
    assert "How long your data is kept" in html and "30 days" in html and "400 days" in html
    assert me.status_code == 200
    assert me.json()["retention"] == {
        "crossing_events_days": 400, "minute_counts_days": 30, "health_events_days": 90,
        "audit_events_days": 730, "hour_and_day_counts_days": None,
        "zone_occupancy_minutes_days": None}
