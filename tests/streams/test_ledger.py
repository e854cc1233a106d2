"""The ledger: idempotent batches, rollups equal to the events, fencing of stale owners."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db.models import F

from cameras.services import camera_create, site_create
from counting.leases import lease_acquire, lease_heartbeat, lease_release
from counting.ledger import LedgerBatch, LedgerEvent, StaleLeaseError, ZoneMinute, ledger_write
from counting.models import (
    CameraLease,
    CountEvent,
    LineHourRollup,
    LineMinuteRollup,
    ZoneMinuteOccupancy,
)
from counting.services import counting_line_create, zone_create

T0 = datetime(2026, 3, 29, 0, 59, 58, tzinfo=UTC)  # a batch straddling a minute boundary


@pytest.fixture
def rules(tenant_a: Any, in_tenant: Any) -> Any:
    with in_tenant(tenant_a):
        site = site_create(actor=None, name="Ledger site")
        camera = camera_create(actor=None, site=site, name="Ledger cam",
                               stream_url="rtsp://10.9.9.9/")
        line = counting_line_create(actor=None, camera=camera, name="Door", x1=0.5, y1=0,
                                    x2=0.5, y2=1)
        zone = zone_create(actor=None, camera=camera, name="Z",
                           points=[[0, 0], [1, 0], [1, 1]])
        yield camera, line, zone


def _events(line_id: int) -> tuple[LedgerEvent, ...]:
    return (
        LedgerEvent(line_id=line_id, direction="in", track_id=1, occurred_at=T0, frame_index=10),
        LedgerEvent(line_id=line_id, direction="out", track_id=2,
                    occurred_at=T0 + timedelta(seconds=1), frame_index=17),
        LedgerEvent(line_id=line_id, direction="in", track_id=3,
                    occurred_at=T0 + timedelta(seconds=3), frame_index=31),
    )


def test_replaying_the_same_batch_stores_it_once(rules: Any) -> None:
    camera, line, zone = rules
    # given a lease and one batch of three events and a zone sample
    taken = lease_acquire(camera_id=camera.pk, owner="w1", ttl_s=10)
    assert taken is not None
    zone_minute = ZoneMinute(zone_id=zone.pk, minute=T0, samples=5, occupancy_sum=10,
                             max_occupancy=3, entries=1, exits=0)
    batch = LedgerBatch(camera_id=camera.pk, generation=taken.generation, seq=1,
                        events=_events(line.pk), zones=(zone_minute,))
    # when it is written twice (a retry after a lost commit acknowledgement)
    first = ledger_write(batch)
    second = ledger_write(batch)
    # then the events, rollups and zone samples are stored once
    assert (len(first.inserted), first.applied) == (3, True)
    assert (len(second.inserted), second.applied) == (0, False)
    assert CountEvent.objects.filter(camera=camera).count() == 3
    rollups = sorted(LineMinuteRollup.objects.filter(line=line)
                     .values_list("minute", "count_in", "count_out"))
    assert rollups == [(T0.replace(second=0), 1, 1), (T0.replace(minute=0, hour=1, second=0),
                                                      1, 0)]
    stored = ZoneMinuteOccupancy.objects.get(zone=zone)
    assert (stored.samples, stored.occupancy_sum, stored.max_occupancy) == (5, 10.0, 3)


def test_the_same_events_in_a_later_batch_are_not_counted_again(rules: Any) -> None:
    camera, line, _ = rules
    taken = lease_acquire(camera_id=camera.pk, owner="w1", ttl_s=10)
    assert taken is not None
    events = _events(line.pk)
    ledger_write(LedgerBatch(camera_id=camera.pk, generation=taken.generation, seq=1,
                             events=events[:2]))
    # when a later batch repeats two events and adds one
    result = ledger_write(LedgerBatch(camera_id=camera.pk, generation=taken.generation, seq=2,
                                      events=events))
    # then only the new one is stored and rolled up
    assert (len(result.inserted), result.duplicates) == (1, 2)
    assert CountEvent.objects.filter(camera=camera).count() == 3
    totals = [(r.count_in, r.count_out) for r in LineMinuteRollup.objects.filter(line=line)]
    assert sum(i for i, _ in totals) == 2 and sum(o for _, o in totals) == 1


def test_a_stale_owner_cannot_write_after_a_takeover(rules: Any) -> None:
    camera, line, _ = rules
    # given owner 1 whose heartbeat went stale and owner 2 who took the camera over
    old = lease_acquire(camera_id=camera.pk, owner="w1", ttl_s=10)
    assert old is not None
    assert lease_acquire(camera_id=camera.pk, owner="w2", ttl_s=10) is None  # still live
    CameraLease.objects.filter(camera=camera).update(  # w1 stopped heartbeating 60 s ago
        heartbeat_at=F("heartbeat_at") - timedelta(seconds=60))
    new = lease_acquire(camera_id=camera.pk, owner="w2", ttl_s=10)
    assert new is not None and new.generation == old.generation + 1
    assert new.previous_owner == "w1"
    # when the old owner writes, heartbeats or releases
    with pytest.raises(StaleLeaseError):
        ledger_write(LedgerBatch(camera_id=camera.pk, generation=old.generation, seq=1,
                                 events=_events(line.pk)))
    # then nothing was stored and its heartbeat and release are refused
    assert CountEvent.objects.filter(camera=camera).count() == 0
    assert lease_heartbeat(camera_id=camera.pk, owner="w1", generation=old.generation) is False
    assert lease_release(camera_id=camera.pk, owner="w1", generation=old.generation) is False
    assert lease_heartbeat(camera_id=camera.pk, owner="w2", generation=new.generation) is True


def test_a_released_lease_is_free_and_its_generation_cannot_write(rules: Any) -> None:
    camera, line, _ = rules
    taken = lease_acquire(camera_id=camera.pk, owner="w1", ttl_s=10)
    assert taken is not None
    assert lease_release(camera_id=camera.pk, owner="w1", generation=taken.generation)
    with pytest.raises(StaleLeaseError):
        ledger_write(LedgerBatch(camera_id=camera.pk, generation=taken.generation, seq=1,
                                 events=_events(line.pk)))
    again = lease_acquire(camera_id=camera.pk, owner="w3", ttl_s=10)
    assert again is not None and again.previous_owner == ""


def test_rollups_rebuilt_from_the_ledger_equal_the_incremental_ones(rules: Any) -> None:
    from counting.rollups import line_rollups_rebuild

    camera, line, _ = rules
    taken = lease_acquire(camera_id=camera.pk, owner="w1", ttl_s=10)
    assert taken is not None
    ledger_write(LedgerBatch(camera_id=camera.pk, generation=taken.generation, seq=1,
                             events=_events(line.pk)))
    incremental = sorted(LineMinuteRollup.objects.filter(camera=camera)
                         .values_list("line_id", "minute", "count_in", "count_out"))
    # when the rollups are rebuilt from the events
    written = line_rollups_rebuild(camera_id=camera.pk, start=T0 - timedelta(hours=1),
                                   end=T0 + timedelta(hours=1))
    # then they are the same rows
    assert written == 2
    assert sorted(LineMinuteRollup.objects.filter(camera=camera)
                  .values_list("line_id", "minute", "count_in", "count_out")) == incremental
    # and the hour rollups, kept beside the minutes, hold exactly the sums of their minutes
    hours = [(line.pk, datetime(2026, 3, 29, 0, tzinfo=UTC), 1, 1),
             (line.pk, datetime(2026, 3, 29, 1, tzinfo=UTC), 1, 0)]
    assert sorted(LineHourRollup.objects.filter(camera=camera)
                  .values_list("line_id", "hour", "count_in", "count_out")) == hours


def test_hour_rollups_follow_the_inserted_events_only(rules: Any) -> None:
    camera, line, _ = rules
    taken = lease_acquire(camera_id=camera.pk, owner="w1", ttl_s=10)
    assert taken is not None
    for seq in (1, 2):  # the second batch repeats the first: nothing new to add
        ledger_write(LedgerBatch(camera_id=camera.pk, generation=taken.generation, seq=seq,
                                 events=_events(line.pk)))
    assert sorted(LineHourRollup.objects.filter(camera=camera)
                  .values_list("hour", "count_in", "count_out")) == [
        (datetime(2026, 3, 29, 0, tzinfo=UTC), 1, 1),
        (datetime(2026, 3, 29, 1, tzinfo=UTC), 1, 0)]


def test_the_health_sweep_marks_cameras_without_a_live_owner_offline(rules: Any) -> None:
    from counting.health import HealthSnapshot, health_report
    from counting.models import CameraHealth
    from counting.tasks import health_sweep

    camera, _, _ = rules
    # given a camera reported online by a runner whose lease then expired
    lease_acquire(camera_id=camera.pk, owner="w1", ttl_s=10)
    health_report(camera_id=camera.pk, snapshot=HealthSnapshot(state="online"))
    CameraLease.objects.filter(camera=camera).update(
        heartbeat_at=F("heartbeat_at") - timedelta(seconds=60))
    # when the sweep runs
    health_sweep.run()
    # then the camera shows offline with the reason
    health = CameraHealth.objects.get(camera=camera)
    assert health.state == "offline" and health.reason.startswith("no stream worker owns")
