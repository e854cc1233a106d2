"""Camera health: the runner's latest view of a stream, state changes and processing gaps.

``CameraHealth`` holds the latest numbers (one row per camera, upserted every few seconds);
every state change and every gap (a crash, a takeover, a database outage that lost events) is
appended to ``CameraHealthEvent``. The camera's own ``status``/``status_reason`` mirror the
state so lists of cameras show it without a join; cameras owns that column and writes it
(:func:`cameras.services.camera_status_set`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from cameras.services import camera_status_set
from counting.constants import HealthCondition
from counting.models import CameraGap, CameraHealth, CameraHealthEvent


@dataclass(frozen=True, slots=True)
class HealthSnapshot:
    """The numbers a runner reports (rates are per second over the last report interval)."""

    state: str
    reason: str = ""
    last_frame_at: datetime | None = None
    fps_received: float = 0.0
    fps_analysed: float = 0.0
    frame_age_s: float | None = None
    frames_dropped: int = 0
    reconnects: int = 0
    condition: str = HealthCondition.OK
    condition_reason: str = ""
    # Since the last report (added to the stored totals): events stored, ledger transactions
    # and their summed duration; the longest one of them (None: no write in the interval).
    events_written: int = 0
    ledger_writes: int = 0
    ledger_write_seconds: float = 0.0
    ledger_write_max_s: float | None = None
    # Right now: crossings waiting in the ledger buffer, messages waiting to be published.
    buffered_events: int = 0
    publish_queue: int = 0
    # Since the last report (added to the total): frames due at the camera's detect rate that
    # an overloaded runner could not analyse (counting/runner/overload.py).
    frames_skipped: int = 0


def health_report(*, camera_id: int, snapshot: HealthSnapshot) -> bool:
    """Store the latest health; on a state change also append an event and mirror the state
    on the camera. Returns True when the state changed."""
    with transaction.atomic():
        health, created = CameraHealth.objects.select_for_update().get_or_create(
            camera_id=camera_id)
        changed = created or health.state != snapshot.state
        health.state = snapshot.state
        health.reason = snapshot.reason[:500]
        health.last_frame_at = snapshot.last_frame_at or health.last_frame_at
        health.fps_received = snapshot.fps_received
        health.fps_analysed = snapshot.fps_analysed
        health.frame_age_s = snapshot.frame_age_s
        health.frames_dropped = snapshot.frames_dropped
        health.reconnects = snapshot.reconnects
        health.condition = snapshot.condition
        health.condition_reason = snapshot.condition_reason[:500]
        health.events_written += snapshot.events_written
        health.frames_skipped += snapshot.frames_skipped
        health.ledger_writes += snapshot.ledger_writes
        health.ledger_write_seconds += snapshot.ledger_write_seconds
        health.ledger_write_max_s = snapshot.ledger_write_max_s
        health.buffered_events = snapshot.buffered_events
        health.publish_queue = snapshot.publish_queue
        health.save()
        if changed:
            CameraHealthEvent.objects.create(camera_id=camera_id, occurred_at=timezone.now(),
                                             state=snapshot.state,
                                             reason=snapshot.reason[:500])
            camera_status_set(camera_id=camera_id, status=snapshot.state,
                              reason=snapshot.reason)
    return changed


def health_gap_record(*, camera_id: int, state: str, reason: str,
                      gap_seconds: float | None, details: dict[str, Any] | None = None) -> None:
    """Append a gap in processing (e.g. a takeover after the previous owner died)."""
    CameraHealthEvent.objects.create(camera_id=camera_id, occurred_at=timezone.now(),
                                     state=state, reason=reason[:500], gap_seconds=gap_seconds,
                                     details=details or {})


def health_takeover_count(*, camera_id: int) -> None:
    """Count one lease takeover of the camera (a runner took it from one that stopped)."""
    with transaction.atomic():
        health, _ = CameraHealth.objects.select_for_update().get_or_create(camera_id=camera_id)
        health.lease_takeovers += 1
        health.save(update_fields=["lease_takeovers", "updated_at"])


def health_events_lost_add(*, camera_id: int, lost: int, reason: str) -> None:
    """Add events lost to a buffer overflow to the camera's health and log it as a gap."""
    with transaction.atomic():
        health, _ = CameraHealth.objects.select_for_update().get_or_create(camera_id=camera_id)
        health.events_lost += lost
        health.save(update_fields=["events_lost", "updated_at"])
        CameraHealthEvent.objects.create(camera_id=camera_id, occurred_at=timezone.now(),
                                         state=health.state, reason=reason[:500],
                                         details={"events_lost": lost})


def health_last_frame_at(*, camera_id: int) -> datetime | None:
    """When the camera's last frame was seen by any runner (None if never)."""
    return (CameraHealth.objects.filter(camera_id=camera_id)
            .values_list("last_frame_at", flat=True).first())


def health_gap_open(*, camera_id: int, started_at: datetime, cause: str, reason: str,
                    generation: int = 0, ended_at: datetime | None = None,
                    analysed_share: float | None = None) -> int:
    """Record a gap in the camera's analysis (open while ``ended_at`` is None); returns its id.

    An open gap of the camera from an earlier run (its runner died before closing it) is
    closed at ``started_at`` first, so at most one gap per camera is open.
    """
    CameraGap.objects.filter(camera_id=camera_id, ended_at__isnull=True).update(
        ended_at=started_at)
    gap = CameraGap.objects.create(camera_id=camera_id, started_at=started_at,
                                   ended_at=ended_at, cause=cause, reason=reason[:500],
                                   lease_generation=generation, analysed_share=analysed_share)
    return int(gap.pk)


def health_gap_close(*, gap_id: int, ended_at: datetime,
                     analysed_share: float | None = None) -> None:
    """The camera's frames are analysed again (in full) from ``ended_at``; an overload gap
    says which share of the frames due was analysed while it lasted."""
    CameraGap.objects.filter(pk=gap_id, ended_at__isnull=True).update(
        ended_at=ended_at, analysed_share=analysed_share)
