"""The stream runner: one camera, one lease, one loop from frames to the ledger.

::

    lease_acquire ──> detector ──> open source (background thread, never blocks the loop)
        │                              │
        │        ┌─────────────────────┘
        v        v
    loop: read newest frame (<= 0.5 s) -> engine.process -> buffer events / zone samples
          every  1 s : flush a batch (ledger_write, fenced by the generation) -> publish
          every  1 s : stop check (camera.enabled, deleted, Redis stop flag, SIGTERM)
          every  2 s : heartbeat (lost -> stop at once, without writing)
          every  2 s : health (fps received/analysed, frame age, state, reason)
          every  3 s : rules fingerprint -> engine.update_rules on change
    exit: flush what is left, release the lease, report health

The loop never blocks longer than about half a second (opening a stream is done by a helper
thread), so the heartbeat, the stop flag and rule changes are always served in time. Database
errors never end the loop: ledger work waits in a bounded buffer (:mod:`.buffer`).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, connection

from cameras.models import Camera
from cameras.url_policy import StreamUrlRefused, validate_stream_url
from counting.constants import HealthState
from counting.health import (
    HealthSnapshot,
    health_events_lost_add,
    health_gap_record,
    health_last_frame_at,
    health_report,
)
from counting.leases import (
    lease_acquire,
    lease_heartbeat,
    lease_release,
    runner_identity,
)
from counting.ledger import LedgerEvent, StaleLeaseError, WriteResult, ledger_write
from counting.live.publish import publish_camera_counts
from counting.pipeline.engine import CountingEngine
from counting.pipeline.sampler import FrameSampler
from counting.pipeline.sources import LiveSource, SourceError, SourceReadError, open_source
from counting.runner.buffer import LedgerBuffer
from counting.runner.rules import (
    engine_rules,
    epoch_to_utc,
    shared_detector,
    stream_url_with_credentials,
)
from counting.selectors import camera_rules_enabled, camera_rules_fingerprint
from tenants.redis_keys import redis_client, tenant_key

logger = logging.getLogger(__name__)

DB_ERRORS = (OperationalError, InterfaceError)


class LeaseLostError(RuntimeError):
    """Another runner took the camera over; this one must stop without writing."""


def stop_flag_key(schema: str, camera_id: int) -> str:
    """Redis key asking the camera's runner to stop (set by :func:`stream_stop_request`)."""
    return tenant_key(schema, "camera", camera_id, "stream-stop")


def stream_stop_request(*, schema: str, camera_id: int) -> None:
    """Ask the camera's runner to stop at its next check (within a second); the flag expires
    so a later runner is not stopped by it."""
    redis_client().set(stop_flag_key(schema, camera_id), "1", ex=30)


@dataclass
class RunnerConfig:
    """Timings of the loop (seconds); defaults from settings."""

    lease_ttl_s: float
    heartbeat_s: float
    stop_poll_s: float
    rules_poll_s: float
    health_s: float
    flush_s: float
    flush_events: int
    buffer_max_events: int
    open_timeout_s: float
    read_timeout_s: float
    reconnect_max_s: float
    frozen_after_s: float

    @classmethod
    def from_settings(cls) -> RunnerConfig:
        s = settings
        return cls(lease_ttl_s=s.COUNTING_LEASE_TTL_S, heartbeat_s=s.COUNTING_HEARTBEAT_S,
                   stop_poll_s=s.COUNTING_STOP_POLL_S, rules_poll_s=s.COUNTING_RULES_POLL_S,
                   health_s=s.COUNTING_HEALTH_S, flush_s=s.COUNTING_FLUSH_S,
                   flush_events=s.COUNTING_FLUSH_EVENTS,
                   buffer_max_events=s.COUNTING_BUFFER_MAX_EVENTS,
                   open_timeout_s=s.COUNTING_OPEN_TIMEOUT_S,
                   read_timeout_s=s.COUNTING_READ_TIMEOUT_S,
                   reconnect_max_s=s.COUNTING_RECONNECT_MAX_S,
                   frozen_after_s=s.COUNTING_FROZEN_AFTER_S)


class _Opener:
    """Opens a live source in a helper thread so the loop keeps serving its duties; a source
    opened after the runner gave up on it is closed by the helper itself."""

    def __init__(self, url: str, config: RunnerConfig) -> None:
        self.result: LiveSource | None = None
        self.error: Exception | None = None
        self.abandoned = False
        self._lock = threading.Lock()
        self.done = threading.Event()
        self._thread = threading.Thread(target=self._open, args=(url, config), daemon=True,
                                        name="source-open")
        self._thread.start()

    def _open(self, url: str, config: RunnerConfig) -> None:
        try:
            source = open_source(url, live=True, open_timeout_s=config.open_timeout_s,
                                 read_timeout_s=config.read_timeout_s,
                                 backoff_initial_s=1.0, backoff_max_s=config.reconnect_max_s,
                                 frozen_after_s=config.frozen_after_s)
        except Exception as exc:  # reported as the camera's offline reason
            self.error = exc
            self.done.set()
            return
        with self._lock:
            if self.abandoned:
                source.close()
                return
            assert isinstance(source, LiveSource)
            self.result = source
        self.done.set()

    def abandon(self) -> None:
        with self._lock:
            self.abandoned = True
            if self.result is not None:
                self.result.close()
                self.result = None


class StreamRunner:
    """Processes one camera of the current tenant until stopped, disabled or taken over.

    ``run()`` returns why it ended: "disabled", "deleted", "stopped", "lease-held" (someone
    else owns the camera) or "lease-lost" (taken over while running).
    """

    def __init__(self, *, camera_id: int, schema: str, owner: str | None = None,
                 config: RunnerConfig | None = None, detector: Any = None) -> None:
        self.camera_id = camera_id
        self.schema = schema
        self.owner = owner or runner_identity()
        self.config = config or RunnerConfig.from_settings()
        self._detector = detector
        self.stop_event = threading.Event()
        self.generation = 0
        self.engine: CountingEngine | None = None
        self.buffer: LedgerBuffer | None = None
        self.source: LiveSource | None = None
        self._opener: _Opener | None = None
        self._state: str = HealthState.STARTING
        self._reason = ""
        self._rules_fp: Any = None
        self._camera_stamp: Any = None
        self._model_version = ""
        self._stop_reason = ""
        self._zone_occupancy: dict[int, int] = {}
        self._published_occupancy: dict[int, int] = {}
        self._received_mark = (0, time.monotonic())
        self._analysed = 0
        self._analysed_mark = 0
        self._last_frame_wall: float | None = None
        self._db_down_since: float | None = None
        self._next_open = 0.0
        self._open_backoff = 1.0
        self.camera: Camera | None = None

    # -- lifecycle ---------------------------------------------------------------------------
    def run(self) -> str:
        taken = lease_acquire(camera_id=self.camera_id, owner=self.owner,
                              ttl_s=self.config.lease_ttl_s)
        if taken is None:
            return "lease-held"
        self.generation = taken.generation
        self.buffer = LedgerBuffer(camera_id=self.camera_id, generation=self.generation,
                                   max_events=self.config.buffer_max_events)
        outcome = "stopped"
        try:
            self._record_takeover_gap(taken.previous_owner)
            camera = Camera.objects.select_related("site").filter(pk=self.camera_id).first()
            if camera is None or not camera.enabled:
                outcome = "deleted" if camera is None else "disabled"
                return outcome
            self.camera = camera
            self._camera_stamp = camera.updated_at
            try:
                detector = self._detector or shared_detector()
            except ValueError as exc:  # ModelError is a ValueError: the file or a setting
                outcome = "detector-error"
                self._stop_reason = (f"the detector could not be loaded: {exc}. Fix the "
                                     "COUNTING_* setting and restart the stream workers")
                logger.error("camera %s: %s", self.camera_id, self._stop_reason)
                return outcome
            self._model_version = str(getattr(detector, "version", "") or
                                      getattr(detector, "name", ""))[:64]
            self.engine = CountingEngine(detector, detect_fps=camera.detect_fps)
            self._reload_rules(force=True)
            self._report(HealthState.STARTING, "connecting")
            outcome = self._loop()
            return outcome
        except (LeaseLostError, StaleLeaseError) as exc:
            outcome = "lease-lost"
            logger.warning("camera %s: %s; stopping without further writes", self.camera_id, exc)
            return outcome
        finally:
            self._shutdown(outcome)

    def _record_takeover_gap(self, previous_owner: str) -> None:
        if not previous_owner:
            return  # the lease was free or released cleanly: no one was interrupted
        last = health_last_frame_at(camera_id=self.camera_id)
        gap = (datetime.now(tz=UTC) - last).total_seconds() if last else None
        health_gap_record(
            camera_id=self.camera_id, state=HealthState.STARTING,
            reason=f"taken over from {previous_owner} after its heartbeat stopped",
            gap_seconds=gap,
            details={"previous_owner": previous_owner, "generation": self.generation})

    def _shutdown(self, outcome: str) -> None:
        if self._opener is not None:
            self._opener.abandon()
        if self.source is not None:
            self.source.close()
            self.source = None
        if outcome == "lease-lost" or self.buffer is None:
            return
        try:
            self._flush(final=True)
        except (LeaseLostError, StaleLeaseError):
            return
        except DatabaseError:
            logger.exception("camera %s: final flush failed; %d events not stored",
                             self.camera_id, len(self.buffer))
        try:
            if outcome == "detector-error":
                self._report(HealthState.ERROR, self._stop_reason, force=True)
            elif outcome != "deleted":
                state = HealthState.DISABLED if outcome == "disabled" else HealthState.OFFLINE
                self._report(state, f"stream stopped ({outcome})", force=True)
            lease_release(camera_id=self.camera_id, owner=self.owner,
                          generation=self.generation)
            redis_client().delete(stop_flag_key(self.schema, self.camera_id))
        except DatabaseError:
            logger.exception("camera %s: could not release the lease; it expires in %ss",
                             self.camera_id, self.config.lease_ttl_s)

    # -- the loop ------------------------------------------------------------------------------
    def _loop(self) -> str:
        cfg = self.config
        now = time.monotonic()
        due = {"flush": now + cfg.flush_s, "stop": now, "heartbeat": now + cfg.heartbeat_s,
               "health": now + cfg.health_s, "rules": now + cfg.rules_poll_s}
        while True:
            now = time.monotonic()
            if self.stop_event.is_set():
                return "stopped"
            if now >= due["stop"]:
                due["stop"] = now + cfg.stop_poll_s
                verdict = self._guarded(self._stop_verdict)
                if verdict:
                    return verdict
            if now >= due["heartbeat"]:
                due["heartbeat"] = now + cfg.heartbeat_s
                alive = self._guarded(lambda: lease_heartbeat(
                    camera_id=self.camera_id, owner=self.owner, generation=self.generation))
                if alive is False:
                    raise LeaseLostError("heartbeat refused: the lease was taken over")
            if now >= due["rules"]:
                due["rules"] = now + cfg.rules_poll_s
                self._guarded(self._reload_rules)
            assert self.buffer is not None
            if now >= due["flush"] or len(self.buffer.events) >= cfg.flush_events:
                due["flush"] = now + cfg.flush_s
                self._flush()
            if now >= due["health"]:
                due["health"] = now + cfg.health_s
                self._guarded(self._health_tick)
            self._step()

    def _step(self) -> None:
        """Read and analyse at most one frame, or advance the connection state."""
        if self.source is None:
            self._advance_open()
            return
        try:
            frame = self.source.read(timeout_s=0.5)
        except SourceReadError as exc:
            self._drop_source(str(exc))
            return
        if frame is None:
            return
        self._last_frame_wall = frame.time
        assert self.engine is not None and self.buffer is not None
        result = self.engine.process(frame)
        if not result.analysed:
            return
        self._analysed += 1
        moment = epoch_to_utc(frame.time)
        for event in result.events:
            self.buffer.add_event(LedgerEvent(
                line_id=int(event.line_key), direction=event.direction,
                track_id=int(event.track_id), occurred_at=epoch_to_utc(event.time),
                frame_index=int(event.frame_index), score=float(event.score),
                model_version=self._model_version, rule_version=event.rule_version))
        for zone in result.zones:
            entries = sum(1 for e in zone.events if e.kind == "enter")
            exits = sum(1 for e in zone.events if e.kind == "exit")
            self.buffer.add_zone_sample(int(zone.key), moment, zone.occupancy, entries, exits)
            self._zone_occupancy[int(zone.key)] = zone.occupancy

    def _advance_open(self) -> None:
        now = time.monotonic()
        if self._opener is None:
            if now < self._next_open:
                self.stop_event.wait(min(0.5, self._next_open - now))
                return
            assert self.camera is not None
            try:
                validate_stream_url(self.camera.stream_url)
            except StreamUrlRefused as exc:
                self._set_offline(f"stream URL refused: {exc}", error=True)
                return
            self._opener = _Opener(stream_url_with_credentials(self.camera), self.config)
            return
        if not self._opener.done.wait(0.5):
            return
        opener, self._opener = self._opener, None
        if opener.result is not None:
            self.source = opener.result
            self._open_backoff = 1.0
            assert self.engine is not None
            self.engine.sampler.reset()
            self._state_change(HealthState.ONLINE, "streaming")
            return
        self._set_offline(str(opener.error or "could not open the stream"))

    def _set_offline(self, reason: str, error: bool = False) -> None:
        self._next_open = time.monotonic() + self._open_backoff
        self._open_backoff = min(self.config.reconnect_max_s, self._open_backoff * 2)
        self._state_change(HealthState.ERROR if error else HealthState.OFFLINE, reason)

    def _drop_source(self, reason: str) -> None:
        if self.source is not None:
            self.source.close()
            self.source = None
        self._set_offline(reason)

    def _state_change(self, state: str, reason: str) -> None:
        if (state, reason) != (self._state, self._reason):
            self._state, self._reason = state, reason
            self._guarded(lambda: self._report(state, reason, force=True))

    # -- duties ---------------------------------------------------------------------------------
    def _guarded(self, func: Any) -> Any:
        """Run a database duty; a database outage is logged once and returns None."""
        try:
            result = func()
        except DB_ERRORS as exc:
            self._db_failed(exc)
            return None
        self._db_recovered()
        return result

    def _db_failed(self, exc: Exception) -> None:
        if self._db_down_since is None:
            self._db_down_since = time.monotonic()
            logger.error("camera %s: database unreachable (%s); buffering ledger writes",
                         self.camera_id, exc)
        try:
            connection.close()  # the next query reconnects (and re-sets the tenant schema)
        except DatabaseError:
            pass

    def _db_recovered(self) -> None:
        if self._db_down_since is not None:
            down = time.monotonic() - self._db_down_since
            self._db_down_since = None
            logger.warning("camera %s: database back after %.1fs", self.camera_id, down)

    def _stop_verdict(self) -> str | None:
        if redis_client().get(stop_flag_key(self.schema, self.camera_id)):
            return "stopped"
        row = (Camera.objects.filter(pk=self.camera_id)
               .values_list("enabled", "updated_at").first())
        if row is None:
            return "deleted"
        enabled, updated_at = row
        if not enabled:
            return "disabled"
        if updated_at != self._camera_stamp:
            self._apply_camera_change()
        return None

    def _apply_camera_change(self) -> None:
        """URL, credentials or detect_fps edited: reopen the stream, keep lease and tracker."""
        camera = Camera.objects.select_related("site").get(pk=self.camera_id)
        old = self.camera
        self.camera, self._camera_stamp = camera, camera.updated_at
        assert self.engine is not None
        if old is None or old.detect_fps != camera.detect_fps:
            self.engine.sampler = FrameSampler(camera.detect_fps)
        if old is None or (old.stream_url, old.username, old.password_encrypted) != (
                camera.stream_url, camera.username, camera.password_encrypted):
            self._drop_source("stream settings changed; reconnecting")
            self._next_open = 0.0

    def _reload_rules(self, force: bool = False) -> None:
        fingerprint = camera_rules_fingerprint(camera_id=self.camera_id)
        if not force and fingerprint == self._rules_fp:
            return
        lines, zones = camera_rules_enabled(camera_id=self.camera_id)
        assert self.engine is not None
        line_specs, zone_specs, mask_specs = engine_rules(list(lines), list(zones))
        self.engine.update_rules(lines=line_specs, zones=zone_specs, masks=mask_specs)
        self._rules_fp = fingerprint
        counted = {int(z.key) for z in zone_specs}
        self._zone_occupancy = {k: v for k, v in self._zone_occupancy.items() if k in counted}
        if not force:
            logger.info("camera %s: rules reloaded (%d lines, %d zones, %d masks)",
                        self.camera_id, len(line_specs), len(zone_specs), len(mask_specs))

    def _flush(self, final: bool = False) -> None:
        assert self.buffer is not None
        while (batch := self.buffer.next_batch(self.config.flush_events)) is not None:
            try:
                ledger_write(batch, on_commit=self._published)
            except DB_ERRORS as exc:
                if final:
                    raise
                self._db_failed(exc)
                return
            self.buffer.done()
            self._db_recovered()
            if self.buffer.lost > self.buffer.lost_reported:
                lost = self.buffer.lost - self.buffer.lost_reported
                health_events_lost_add(
                    camera_id=self.camera_id, lost=lost,
                    reason=f"{lost} events lost: ledger buffer overflowed while the database "
                           "was unreachable")
                self.buffer.lost_reported = self.buffer.lost
            if not final and not self.buffer.events:
                break
        if not final and self._zone_occupancy != self._published_occupancy:
            # Occupancy changed but no batch carried it to the browsers yet.
            self._publish([])

    def _published(self, result: WriteResult) -> None:
        self._publish(result.inserted)

    def _publish(self, events: list[LedgerEvent]) -> None:
        assert self.camera is not None
        self._published_occupancy = dict(self._zone_occupancy)
        publish_camera_counts(schema=self.schema, camera_id=self.camera_id,
                              site_id=self.camera.site_id, site_tz=self.camera.site.timezone,
                              events=events, zones=dict(self._zone_occupancy))

    def _health_tick(self) -> None:
        now_mono = time.monotonic()
        received = frozen = 0
        dropped = reconnects = 0
        if self.source is not None:
            h = self.source.health()
            received, dropped, reconnects = h.frames_received, h.frames_dropped, h.reconnects
            frozen = h.frozen
            if h.state in ("reconnecting", "failed"):
                self._state, self._reason = HealthState.OFFLINE, h.reason or h.state
            elif frozen:
                self._state, self._reason = HealthState.FROZEN, h.reason
            else:
                self._state, self._reason = HealthState.ONLINE, "streaming"
        last_received, last_mark = self._received_mark
        elapsed = max(1e-6, now_mono - last_mark)
        fps_received = max(0, received - last_received) / elapsed
        fps_analysed = (self._analysed - self._analysed_mark) / elapsed
        self._received_mark, self._analysed_mark = (received, now_mono), self._analysed
        age = (time.time() - self._last_frame_wall) if self._last_frame_wall else None
        self._report(self._state, self._reason, fps_received=fps_received,
                     fps_analysed=fps_analysed, frame_age_s=age, frames_dropped=dropped,
                     reconnects=reconnects)

    def _report(self, state: str, reason: str, force: bool = False, **numbers: Any) -> None:
        last = epoch_to_utc(self._last_frame_wall) if self._last_frame_wall else None
        health_report(camera_id=self.camera_id, snapshot=HealthSnapshot(
            state=state, reason=reason, last_frame_at=last, **numbers))


def run_camera_stream(*, camera_id: int, schema: str) -> str:
    """Run the camera's stream in the current tenant until it ends; returns why it ended.

    SIGTERM (a worker shutting down) stops the loop cleanly: the last batch is written and the
    lease released, so another node takes the camera at its supervisor's next tick.
    """
    import signal

    runner = StreamRunner(camera_id=camera_id, schema=schema)
    previous: Any = None
    in_main = threading.current_thread() is threading.main_thread()
    if in_main:
        previous = signal.signal(signal.SIGTERM, lambda *_: runner.stop_event.set())
    try:
        outcome = runner.run()
    except SourceError as exc:  # defensive: sources report through health, not exceptions
        logger.error("camera %s: source error %s", camera_id, exc)
        outcome = "error"
    finally:
        if in_main:
            signal.signal(signal.SIGTERM, previous or signal.SIG_DFL)
    logger.info("camera %s: stream ended (%s)", camera_id, outcome)
    return outcome
