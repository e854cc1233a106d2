"""What one analysed frame leaves for the ledger: crossing events and zone samples."""

from __future__ import annotations

from datetime import UTC, datetime

from counting.ledger import LedgerEvent
from counting.pipeline.types import FrameResult
from counting.runner.buffer import LedgerBuffer


def epoch_to_utc(seconds: float) -> datetime:
    """Pipeline float seconds (epoch, live streams) to an aware UTC datetime."""
    return datetime.fromtimestamp(seconds, tz=UTC)


def frame_result_buffer(*, result: FrameResult, frame_time: float, buffer: LedgerBuffer,
                        model_version: str) -> dict[int, int]:
    """Add an analysed frame's crossings and zone samples to ``buffer``; returns each counted
    zone's occupancy after the frame."""
    moment = epoch_to_utc(frame_time)
    for event in result.events:
        buffer.add_event(LedgerEvent(
            line_id=int(event.line_key), direction=event.direction,
            track_id=int(event.track_id), occurred_at=epoch_to_utc(event.time),
            frame_index=int(event.frame_index), score=float(event.score),
            model_version=model_version, rule_version=event.rule_version))
    occupancy: dict[int, int] = {}
    for zone in result.zones:
        entries = sum(1 for e in zone.events if e.kind == "enter")
        dwells = [e.dwell for e in zone.events if e.kind == "exit"]
        buffer.add_zone_sample(int(zone.key), moment, zone.occupancy, entries, len(dwells),
                               dwells)
        occupancy[int(zone.key)] = zone.occupancy
    buffer.frame_done(moment)
    return occupancy
