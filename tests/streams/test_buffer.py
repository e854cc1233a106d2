"""The runner's bounded ledger buffer (pure logic: no database involved)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from counting.ledger import LedgerEvent
from counting.runner.buffer import LedgerBuffer

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def _event(i: int) -> LedgerEvent:
    return LedgerEvent(line_id=1, direction="in", track_id=i,
                       occurred_at=T0 + timedelta(seconds=i), frame_index=i)


def test_a_failed_batch_is_retried_unchanged_while_new_events_wait_behind_it() -> None:
    buffer = LedgerBuffer(camera_id=1, generation=7, max_events=100)
    for i in range(3):
        buffer.add_event(_event(i))
    first = buffer.next_batch(limit=10)
    assert first is not None and first.seq == 1 and len(first.events) == 3
    # the write failed: new events arrive, the retry is the very same batch
    buffer.add_event(_event(3))
    assert buffer.next_batch(limit=10) is first
    buffer.done()
    second = buffer.next_batch(limit=10)
    assert second is not None and (second.seq, [e.track_id for e in second.events]) == (2, [3])


def test_an_overflowing_buffer_drops_the_oldest_and_counts_the_loss() -> None:
    buffer = LedgerBuffer(camera_id=1, generation=1, max_events=3)
    for i in range(5):
        buffer.add_event(_event(i))
    assert buffer.lost == 2
    batch = buffer.next_batch(limit=10)
    assert batch is not None and [e.track_id for e in batch.events] == [2, 3, 4]


def test_zone_samples_are_merged_per_zone_and_minute() -> None:
    buffer = LedgerBuffer(camera_id=1, generation=1, max_events=3)
    buffer.add_zone_sample(5, T0, 2, 1, 0)
    buffer.add_zone_sample(5, T0 + timedelta(seconds=30), 4, 0, 1)
    buffer.add_zone_sample(5, T0 + timedelta(seconds=60), 1, 0, 0)
    batch = buffer.next_batch(limit=10)
    assert batch is not None
    assert [(z.minute, z.samples, z.occupancy_sum, z.max_occupancy, z.entries, z.exits)
            for z in batch.zones] == [(T0, 2, 6.0, 4, 1, 1),
                                      (T0 + timedelta(minutes=1), 1, 1.0, 1, 0, 0)]


def test_a_full_buffer_keeps_the_batch_in_flight_and_drops_the_new_event() -> None:
    buffer = LedgerBuffer(camera_id=1, generation=1, max_events=2)
    buffer.add_event(_event(0))
    buffer.add_event(_event(1))
    in_flight = buffer.next_batch(limit=10)  # its write fails: it must be retried unchanged
    buffer.add_event(_event(2))
    assert buffer.lost == 1 and len(buffer) == 2
    assert buffer.next_batch(limit=10) is in_flight
