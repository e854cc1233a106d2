"""The stream runner: one camera, one lease, one loop from frames to the ledger.

::

    LeaseKeeper.acquire ──> detector ──> StreamConnection (opens beside the loop)
        │                                     │
        v                                     v
    loop: read newest frame (<= 0.5 s) -> engine.process -> LedgerBuffer (events, zone samples)
          every  1 s : LedgerFlusher.flush (ledger_write, fenced) -> LivePublisher
          every  1 s : StopCheck (Redis stop flag, camera enabled/deleted/edited), SIGTERM
          every  2 s : LeaseKeeper.heartbeat (lost -> stop at once, without writing)
          every  2 s : HealthReporter.tick (fps received/analysed, frame age, state, reason)
          every  3 s : RulesLoader.reload (fingerprint -> engine.update_rules on change)
    exit: flush what is left, report health, release the lease

Each part has one job and is tested alone; this module only schedules them. The loop never
blocks longer than about half a second (opening a stream, DNS included, happens in a helper
thread), so the heartbeat, the stop flag and rule changes are always served in time. Database
errors never end the loop (:class:`DatabaseGuard`): ledger work waits in a bounded buffer.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from django.db import DatabaseError

from cameras.constants import CameraStatus
from cameras.models import Camera
from counting.leases import runner_identity
from counting.ledger import StaleLeaseError
from counting.pipeline.engine import CountingEngine
from counting.pipeline.sampler import FrameSampler
from counting.pipeline.sources import SourceError
from counting.runner.buffer import LedgerBuffer
from counting.runner.config import RunnerConfig
from counting.runner.connection import StreamConnection
from counting.runner.db_guard import DatabaseGuard
from counting.runner.detector import detector_version, shared_detector
from counting.runner.flusher import LedgerFlusher
from counting.runner.frames import frame_result_buffer
from counting.runner.health_reporter import HealthReporter
from counting.runner.lease import LeaseKeeper, LeaseLostError
from counting.runner.publisher import LivePublisher
from counting.runner.rules_loader import RulesLoader
from counting.runner.shutdown import shutdown_requested
from counting.runner.stop import StopCheck, stream_stop_flag_clear

logger = logging.getLogger(__name__)


class _Parts:
    """The parts of one run that exist once the camera and the detector are loaded."""

    def __init__(self, *, engine: CountingEngine, rules: RulesLoader,
                 connection: StreamConnection, publisher: LivePublisher,
                 flusher: LedgerFlusher, stop: StopCheck, model_version: str) -> None:
        self.engine = engine
        self.rules = rules
        self.connection = connection
        self.publisher = publisher
        self.flusher = flusher
        self.stop = stop
        self.model_version = model_version


class StreamRunner:
    """Processes one camera of the current tenant until stopped, disabled or taken over.

    ``run()`` returns why it ended: "disabled", "deleted", "stopped", "worker-shutdown",
    "detector-error", "lease-held" (someone else owns the camera) or "lease-lost" (taken over
    while running).
    """

    def __init__(self, *, camera_id: int, schema: str, owner: str | None = None,
                 config: RunnerConfig | None = None, detector: Any = None) -> None:
        self.camera_id = camera_id
        self.schema = schema
        self.config = config or RunnerConfig.from_settings()
        self._detector = detector
        self.stop_event = threading.Event()
        self.lease = LeaseKeeper(camera_id=camera_id, owner=owner or runner_identity(),
                                 ttl_s=self.config.lease_ttl_s)
        self.guard = DatabaseGuard(camera_id=camera_id)
        self.health = HealthReporter(camera_id=camera_id)
        self.buffer: LedgerBuffer | None = None
        self.parts: _Parts | None = None
        self._stop_reason = ""

    @property
    def owner(self) -> str:
        return self.lease.owner

    @property
    def generation(self) -> int:
        return self.lease.generation

    # -- lifecycle ---------------------------------------------------------------------------
    def run(self) -> str:
        taken = self.lease.acquire()
        if taken is None:
            return "lease-held"
        self.buffer = LedgerBuffer(camera_id=self.camera_id, generation=taken.generation,
                                   max_events=self.config.buffer_max_events)
        outcome = "stopped"
        try:
            self.health.takeover_gap_record(previous_owner=taken.previous_owner,
                                            generation=taken.generation)
            camera = Camera.objects.select_related("site").filter(pk=self.camera_id).first()
            if camera is None or not camera.enabled:
                outcome = "deleted" if camera is None else "disabled"
                return outcome
            try:
                detector = self._detector or shared_detector()
            except ValueError as exc:  # ModelError is a ValueError: the file or a setting
                outcome = "detector-error"
                self._stop_reason = (f"the detector could not be loaded: {exc}. Fix the "
                                     "COUNTING_* setting and restart the stream workers")
                logger.error("camera %s: %s", self.camera_id, self._stop_reason)
                return outcome
            self.parts = self._assemble(camera, detector, self.buffer)
            self.parts.rules.reload(force=True)
            self.parts.publisher.zones_keep(self.parts.rules.counted_zones)
            self.health.report(CameraStatus.STARTING, "connecting")
            outcome = self._loop(self.parts)
            return outcome
        except (LeaseLostError, StaleLeaseError) as exc:
            outcome = "lease-lost"
            logger.warning("camera %s: %s; stopping without further writes", self.camera_id, exc)
            return outcome
        finally:
            self._shutdown(outcome)

    def _assemble(self, camera: Camera, detector: Any, buffer: LedgerBuffer) -> _Parts:
        engine = CountingEngine(detector, detect_fps=camera.detect_fps)
        publisher = LivePublisher(schema=self.schema, camera=camera)
        connection = StreamConnection(camera=camera, config=self.config,
                                      stop_event=self.stop_event, on_state=self._state_change,
                                      on_open=lambda: engine.sampler.reset())

        def camera_changed(new: Camera) -> None:
            """URL, credentials or detect_fps edited: keep lease and tracker."""
            if new.detect_fps != connection.camera.detect_fps:
                engine.sampler = FrameSampler(new.detect_fps)
            publisher.camera = new
            connection.camera_change(new)

        return _Parts(
            engine=engine, rules=RulesLoader(camera_id=self.camera_id, engine=engine),
            connection=connection, publisher=publisher,
            flusher=LedgerFlusher(buffer=buffer, publisher=publisher, guard=self.guard,
                                  batch_events=self.config.flush_events),
            stop=StopCheck(schema=self.schema, camera_id=self.camera_id,
                           camera_stamp=camera.updated_at, on_camera_change=camera_changed),
            model_version=detector_version(detector))

    def _shutdown(self, outcome: str) -> None:
        parts = self.parts
        if parts is not None:
            parts.connection.close()
        if outcome == "lease-lost" or self.buffer is None:
            return
        try:
            if parts is not None:  # before the parts exist nothing can have been buffered
                parts.flusher.flush(final=True)
        except (LeaseLostError, StaleLeaseError):
            return
        except DatabaseError:
            logger.exception("camera %s: final flush failed; %d events not stored",
                             self.camera_id, len(self.buffer))
        try:
            if outcome == "detector-error":
                self.health.report(CameraStatus.ERROR, self._stop_reason)
            elif outcome != "deleted":
                state = CameraStatus.DISABLED if outcome == "disabled" else CameraStatus.OFFLINE
                self.health.report(state, f"stream stopped ({outcome})")
            self.lease.release()
            stream_stop_flag_clear(schema=self.schema, camera_id=self.camera_id)
        except DatabaseError:
            logger.exception("camera %s: could not release the lease; it expires in %ss",
                             self.camera_id, self.config.lease_ttl_s)

    # -- the loop ------------------------------------------------------------------------------
    def _loop(self, parts: _Parts) -> str:
        cfg, guard = self.config, self.guard
        now = time.monotonic()
        due = {"flush": now + cfg.flush_s, "stop": now, "heartbeat": now + cfg.heartbeat_s,
               "health": now + cfg.health_s, "rules": now + cfg.rules_poll_s}
        while True:
            now = time.monotonic()
            if self.stop_event.is_set():
                return "stopped"
            if shutdown_requested.is_set():
                return "worker-shutdown"
            if now >= due["stop"]:
                due["stop"] = now + cfg.stop_poll_s
                verdict = guard.run(parts.stop.check)
                if verdict:
                    return verdict
            if now >= due["heartbeat"]:
                due["heartbeat"] = now + cfg.heartbeat_s
                guard.run(self.lease.heartbeat)  # LeaseLostError ends the run
            if now >= due["rules"]:
                due["rules"] = now + cfg.rules_poll_s
                if guard.run(parts.rules.reload):
                    parts.publisher.zones_keep(parts.rules.counted_zones)
            if now >= due["flush"] or parts.flusher.due():
                due["flush"] = now + cfg.flush_s
                parts.flusher.flush()
            if now >= due["health"]:
                due["health"] = now + cfg.health_s
                guard.run(lambda: self.health.tick(parts.connection.source))
            self._step(parts)

    def _step(self, parts: _Parts) -> None:
        """Read and analyse at most one frame, or advance the connection."""
        frame = parts.connection.read()
        if frame is None:
            return
        self.health.frame_seen(frame.time)
        result = parts.engine.process(frame)
        if not result.analysed:
            return
        self.health.frame_analysed()
        assert self.buffer is not None
        occupancy = frame_result_buffer(result=result, frame_time=frame.time,
                                        buffer=self.buffer, model_version=parts.model_version)
        for zone_id, value in occupancy.items():
            parts.publisher.occupancy_set(zone_id, value)

    def _state_change(self, state: str, reason: str) -> None:
        if self.health.changed(state, reason):
            self.guard.run(lambda: self.health.report(state, reason))


def run_camera_stream(*, camera_id: int, schema: str) -> str:
    """Run the camera's stream in the current tenant until it ends; returns why it ended.

    A worker shutting down (SIGTERM, Ctrl-C) sets :data:`shutdown_requested`
    (counting/runner/shutdown.py, which owns the signal handling): the loop sees it within one
    iteration, writes the last batch and releases the lease, so another node takes the camera
    at its supervisor's next tick. No handler is installed here: a handler that set an Event
    could deadlock on the Event's own lock held by the loop's wait.
    """
    runner = StreamRunner(camera_id=camera_id, schema=schema)
    try:
        outcome = runner.run()
    except SourceError as exc:  # defensive: sources report through health, not exceptions
        logger.error("camera %s: source error %s", camera_id, exc)
        outcome = "error"
    logger.info("camera %s: stream ended (%s)", camera_id, outcome)
    return outcome
