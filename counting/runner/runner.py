"""The stream runner: one camera, one lease, one frame loop that never waits on the network.

::

    LeaseThread.start (acquire on the lease's own connection, which keeps its advisory lock)
        │
        v
    frame loop (this thread): read newest frame (<= 0.5 s) -> engine.process -> LedgerBuffer
        │   applies what the threads hand over (RunnerState): verdicts, rules, camera edits
        │
        ├── lease thread     heartbeat every 2 s (refused -> verdict "lease-lost")
        ├── duties thread    every 0.2 s: ledger flush (1 s), stop check (1 s: Redis flag,
        │                    camera row, tenant suspended), rules (3 s), health + condition +
        │                    gaps (2 s)
        ├── publisher thread live updates from a bounded queue (Redis gate: 5 s after a failure)
        └── watchdog         cancels a database call stuck > 10 s, then cuts its socket
    exit: the duties thread writes what is left (late writes after a lost lease, the spool
          when PostgreSQL is down), the lease thread releases the lease

Each part has one job and is tested alone; this module only wires them. The loop itself makes
no database, Redis or broker call once it runs: a database outage, a locked lease row or a
frozen Redis slows nothing but the thread that meets it, and shows as a degraded condition.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db import DatabaseError
from django.db import connection as db_connection

from audit.logging import log_camera_set
from cameras.constants import CameraStatus
from cameras.models import Camera
from counting.constants import GapCause
from counting.health import health_events_lost_add, health_last_frame_at
from counting.inference import InferenceError
from counting.inference.protocol import InferenceModelError
from counting.leases import lease_backoff_set, runner_identity
from counting.ledger import StaleLeaseError, ledger_write_late
from counting.pipeline.engine import CountingEngine
from counting.pipeline.sampler import FrameSampler
from counting.pipeline.sources import SourceError
from counting.runner.buffer import LedgerBuffer
from counting.runner.config import RunnerConfig
from counting.runner.connection import StreamConnection
from counting.runner.db_guard import DB_ERRORS, DatabaseGuard
from counting.runner.detector import detector_version
from counting.runner.duties import Duties
from counting.runner.flusher import LedgerFlusher
from counting.runner.frames import frame_result_buffer
from counting.runner.gaps import GapTracker
from counting.runner.health_reporter import HealthReporter
from counting.runner.lease import LeaseKeeper, LeaseLostError, LeaseThread
from counting.runner.model_watch import LoadedModel, ModelWatcher
from counting.runner.publisher import LivePublisher
from counting.runner.redis_gate import RedisGate
from counting.runner.rules_loader import RulesLoader
from counting.runner.shutdown import shutdown_requested
from counting.runner.snapshotter import Snapshotter
from counting.runner.spool import spool_files
from counting.runner.state import RunnerState
from counting.runner.stop import StopCheck, stream_stop_flag_clear
from counting.runner.watchdog import Watchdog

logger = logging.getLogger(__name__)

# Health reported when a run ends, per outcome (None: nothing, e.g. the camera is gone).
_FINAL_STATE = {"disabled": CameraStatus.DISABLED, "deleted": None, "lease-lost": None,
                "detector-error": CameraStatus.ERROR}


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

    ``run()`` returns why it ended: "disabled", "deleted", "suspended" (the tenant),
    "stopped", "worker-shutdown", "detector-error", "error", "lease-held" (someone else owns
    the camera), "lease-lost" (taken over while running) or "unreachable" (the camera could
    not be opened ``unreachable_attempts`` times in a row: the slot is freed and the lease
    says when to try again).
    """

    def __init__(self, *, camera_id: int, schema: str, owner: str | None = None,
                 config: RunnerConfig | None = None, detector: Any = None) -> None:
        self.camera_id = camera_id
        self.schema = schema
        self.config = config or RunnerConfig.from_settings()
        self._detector = detector
        # The registry's model for the camera, swapped without a restart; a detector given
        # by the caller (tests, benchmarks) runs as it is.
        self.models: ModelWatcher | None = (
            ModelWatcher(camera_id=camera_id, schema=schema) if detector is None else None)
        self.stop_event = threading.Event()
        self.state = RunnerState()
        self.lease = LeaseKeeper(camera_id=camera_id, owner=owner or runner_identity(),
                                 ttl_s=self.config.lease_ttl_s,
                                 force_after_s=self.config.lease_force_s)
        self.guard = DatabaseGuard(camera_id=camera_id, state=self.state)
        self.health = HealthReporter(camera_id=camera_id)
        self.redis = RedisGate(name=f"camera {camera_id}: Redis",
                               retry_s=self.config.redis_retry_s)
        self.watchdog: Watchdog | None = None
        self.buffer: LedgerBuffer | None = None
        self.parts: _Parts | None = None
        self.duties: Duties | None = None
        self.gaps: GapTracker | None = None
        self._lease_thread: LeaseThread | None = None
        self._stop_reason = ""
        self.snapshotter = Snapshotter(camera_id=camera_id, schema=schema)

    @property
    def owner(self) -> str:
        return self.lease.owner

    @property
    def generation(self) -> int:
        return self.lease.generation

    # -- lifecycle ---------------------------------------------------------------------------
    def run(self) -> str:
        cfg = self.config
        self.watchdog = Watchdog(cancel_after_s=cfg.db_cancel_s, cut_s=cfg.db_cut_s,
                                 name=f"db-watchdog-{self.camera_id}")
        self._lease_thread = LeaseThread(keeper=self.lease, state=self.state,
                                         schema=self.schema, watchdog=self.watchdog,
                                         interval_s=cfg.heartbeat_s)
        try:
            taken = self._lease_thread.start(timeout_s=cfg.db_cancel_s + cfg.db_cut_s + 5)
        except BaseException:
            self._lease_thread.stop(release=True, timeout_s=2)
            self.watchdog.close()
            raise
        if taken is None:
            self._lease_thread.stop(release=False, timeout_s=2)
            self.watchdog.close()
            return "lease-held"
        self.buffer = LedgerBuffer(camera_id=self.camera_id, generation=taken.generation,
                                   max_events=cfg.buffer_max_events)
        self.gaps = GapTracker(camera_id=self.camera_id, generation=taken.generation)
        outcome = "stopped"
        try:
            self._takeover_gap(taken.previous_owner, taken.generation, taken.stored_until)
            self._spool_replay()
            camera = Camera.objects.select_related("site").filter(pk=self.camera_id).first()
            if camera is None or not camera.enabled:
                outcome = "deleted" if camera is None else "disabled"
                return outcome
            try:
                detector, version = self._initial_detector()
            except (ValueError, OSError) as exc:  # ModelError is a ValueError
                outcome = "detector-error"
                self._stop_reason = (f"the detector could not be loaded: {exc}. Fix the "
                                     "registry model's file on this node or the COUNTING_* "
                                     "setting; the camera starts again on its next dispatch")
                logger.error("camera %s: %s", self.camera_id, self._stop_reason)
                return outcome
            self.parts = self._assemble(camera, detector, self.buffer, version)
            self.parts.rules.reload(force=True)
            self.parts.publisher.zones_keep(self.parts.rules.counted_zones)
            self.guard.run(lambda: self.health.report(CameraStatus.STARTING, "connecting"))
            self.duties = self._duties(self.parts, self.buffer, self.gaps, camera)
            self.parts.publisher.start()
            self.duties.start()
            # The loop makes no database call: its thread's connection (used to set the run
            # up) would only sit idle for hours. The duties and lease threads hold the run's
            # connections; what this thread needs at the end reconnects.
            if not db_connection.in_atomic_block:  # (a test's transaction stays open)
                db_connection.close()
            outcome = self._loop(self.parts)
            return outcome
        except (LeaseLostError, StaleLeaseError) as exc:
            outcome = "lease-lost"
            self.state.lease_lost_set()
            logger.warning("camera %s: %s; stopping", self.camera_id, exc)
            return outcome
        finally:
            self._shutdown(outcome)

    def _initial_detector(self) -> tuple[Any, str]:
        """The detector to start with and the version its crossings store."""
        if self.models is None:
            return self._detector, detector_version(self._detector)
        loaded = self.models.load_initial()
        return self.models.timed(loaded), loaded.version

    def _assemble(self, camera: Camera, detector: Any, buffer: LedgerBuffer,
                  model_version: str) -> _Parts:
        engine = CountingEngine(detector, detect_fps=camera.detect_fps)
        publisher = LivePublisher(schema=self.schema, camera=camera, gate=self.redis)
        connection = StreamConnection(camera=camera, config=self.config,
                                      stop_event=self.stop_event, on_state=self._state_change,
                                      on_open=lambda: engine.sampler.reset())
        return _Parts(
            engine=engine, rules=RulesLoader(camera_id=self.camera_id, engine=engine),
            connection=connection, publisher=publisher,
            flusher=LedgerFlusher(buffer=buffer, publisher=publisher, guard=self.guard,
                                  batch_events=self.config.flush_events),
            stop=StopCheck(schema=self.schema, camera_id=self.camera_id,
                           camera_stamp=camera.updated_at,
                           on_camera_change=self.state.camera_offer, gate=self.redis),
            model_version=model_version)

    def _duties(self, parts: _Parts, buffer: LedgerBuffer, gaps: GapTracker,
                camera: Camera) -> Duties:
        assert self.watchdog is not None
        # At a low detect_fps a few frame intervals pass between analyses by design.
        stall_after_s = max(self.config.stall_after_s, 3.0 / max(camera.detect_fps, 0.01))
        return Duties(camera_id=self.camera_id, schema=self.schema, config=self.config,
                      state=self.state, buffer=buffer, flusher=parts.flusher, stop=parts.stop,
                      rules=parts.rules, health=self.health, gaps=gaps,
                      publisher=parts.publisher, guard=self.guard, watchdog=self.watchdog,
                      redis=self.redis, source=lambda: parts.connection.source,
                      stall_after_s=stall_after_s,
                      detect_fps=lambda: parts.engine.sampler.detect_fps, models=self.models)

    def _takeover_gap(self, previous_owner: str, generation: int,
                      stored_until: datetime | None) -> None:
        """The previous owner died (its lease went stale): from the last frame whose crossings
        it stored until this run's first analysed frame, nothing is counted: a gap."""
        if not previous_owner:
            return
        assert self.gaps is not None
        self.guard.run(lambda: self.health.takeover_gap_record(previous_owner=previous_owner,
                                                               generation=generation))
        last = stored_until or self.guard.run(
            lambda: health_last_frame_at(camera_id=self.camera_id))
        self.gaps.open(started_at=last or datetime.now(tz=UTC), cause=GapCause.RUNNER,
                       reason=f"runner {previous_owner} stopped answering; taken over by "
                              f"generation {generation}")

    def _spool_replay(self) -> None:
        """Write what earlier runs of the camera on this host spooled (database down when
        they ended), then delete their files."""
        for spooled in spool_files(schema=self.schema, camera_id=self.camera_id):
            try:
                if spooled.events:
                    ledger_write_late(camera_id=self.camera_id, generation=spooled.generation,
                                      events=spooled.events)
                if spooled.lost:
                    health_events_lost_add(
                        camera_id=self.camera_id, lost=spooled.lost,
                        reason=f"{spooled.lost} crossings lost by the run of generation "
                               f"{spooled.generation} (reported from its spool file)")
            except StaleLeaseError as exc:
                logger.error("camera %s: spool file %s refused (%s); removed", self.camera_id,
                             spooled.path, exc)
            except DB_ERRORS as exc:
                logger.error("camera %s: spool file %s not written yet (%s)", self.camera_id,
                             spooled.path, exc)
                return
            spooled.path.unlink(missing_ok=True)

    def _shutdown(self, outcome: str) -> None:
        cfg = self.config
        # Everything below fits in the worker's shutdown grace, with a second to spare.
        deadline = time.monotonic() + max(1.0, cfg.shutdown_grace_s - 1.5)
        parts = self.parts
        if parts is not None:
            parts.connection.close()
            close = getattr(parts.engine.detector, "close", None)
            if self._detector is None and callable(close):
                close()  # the run's own inference client (socket, shared memory)
        self.snapshotter.stop(timeout_s=0.5)
        lost = outcome == "lease-lost" or self.state.lease_lost
        if outcome == "unreachable" and parts is not None and not lost:
            self._backoff_set(parts.connection)
        if self.duties is not None:
            self.duties.finish(outcome=outcome, deadline=deadline, report=self._final_report(
                outcome))
            lost = lost or self.state.lease_lost
        elif outcome == "detector-error":
            self.guard.run(lambda: self.health.report(CameraStatus.ERROR, self._stop_reason))
        if parts is not None:
            parts.publisher.stop(timeout_s=max(0.2, min(1.0, deadline - time.monotonic())))
        if self._lease_thread is not None:
            self._lease_thread.stop(release=not lost,
                                    timeout_s=max(0.5, deadline - time.monotonic() + 0.5))
        if not lost:
            self.redis.call(lambda: stream_stop_flag_clear(schema=self.schema,
                                                           camera_id=self.camera_id), None)
        if self.watchdog is not None:
            self.watchdog.close()

    def _backoff_set(self, connection: StreamConnection) -> None:
        """The camera could not be reached: record when the supervisor may try it again."""
        cfg = self.config
        until = self.guard.run(lambda: lease_backoff_set(
            camera_id=self.camera_id, owner=self.owner, generation=self.generation,
            connected=connection.ever_opened, base_s=cfg.unreachable_backoff_s,
            max_s=cfg.unreachable_backoff_max_s))
        if until is None:
            self._stop_reason = "unreachable, next try at the supervisor's next tick"
        else:
            local = until.astimezone(_site_zone(connection.camera))
            self._stop_reason = f"unreachable, next try at {local:%H:%M:%S %Z}"
        logger.warning("camera %s: %d attempts to connect failed; run ended (%s)",
                       self.camera_id, connection.failed_opens, self._stop_reason)

    def _final_report(self, outcome: str) -> tuple[str, str] | None:
        if outcome in _FINAL_STATE and _FINAL_STATE[outcome] is None:
            return None
        if outcome == "unreachable":
            return CameraStatus.OFFLINE, self._stop_reason or "unreachable"
        if outcome == "detector-error":
            return CameraStatus.ERROR, self._stop_reason
        state = _FINAL_STATE.get(outcome, CameraStatus.OFFLINE)
        assert state is not None
        why = "tenant suspended" if outcome == "suspended" else outcome
        return state, f"stream stopped ({why})"

    # -- the loop ------------------------------------------------------------------------------
    def _loop(self, parts: _Parts) -> str:
        state = self.state
        while True:
            state.loop_alive()
            if self.stop_event.is_set():
                return "stopped"
            if shutdown_requested.is_set():
                return "worker-shutdown"
            if state.verdict is not None:
                return state.verdict
            if parts.connection.unreachable:
                return "unreachable"  # free the slot; the supervisor retries after a backoff
            rules = state.rules_take()
            if rules is not None:
                parts.rules.apply(rules)
                parts.publisher.zones_keep(parts.rules.counted_zones)
                logger.info("camera %s: rules reloaded (%d lines, %d zones, %d masks)",
                            self.camera_id, len(rules.lines), len(rules.zones), len(rules.masks))
            camera = state.camera_take()
            if camera is not None:
                self._camera_changed(parts, camera)
            loaded = self.models.take() if self.models is not None else None
            if loaded is not None:
                self._model_changed(parts, loaded)
            self._step(parts)

    def _model_changed(self, parts: _Parts, loaded: LoadedModel) -> None:
        """The registry chose another model: the next frame is detected with it (tracks and
        counts go on) and its crossings carry its version."""
        assert self.models is not None
        previous, old = parts.model_version, parts.engine.detector
        parts.engine.detector = self.models.timed(loaded)
        close = getattr(old, "close", None)
        if callable(close):
            close()  # the previous inference client (a local detector stays shared)
        parts.model_version = loaded.version
        logger.info("camera %s: detector model switched from %s to %s", self.camera_id,
                    previous, loaded.version)

    def _camera_changed(self, parts: _Parts, camera: Camera) -> None:
        """URL, credentials or detect_fps edited: keep lease and tracker."""
        if camera.detect_fps != parts.connection.camera.detect_fps:
            parts.engine.sampler = FrameSampler(camera.detect_fps)
        parts.publisher.camera = camera
        parts.connection.camera_change(camera)

    def _step(self, parts: _Parts) -> None:
        """Read and analyse at most one frame, or advance the connection."""
        frame = parts.connection.read()
        if frame is None:
            return
        self.health.frame_seen(frame.time)
        try:
            result = parts.engine.process(frame)
        except InferenceError as exc:
            # The node's inference service is gone, restarting or failed on the frame: the
            # stream stays open, the client reconnects with backoff, and the health tick turns
            # the time without analysis into a "detector" gap.
            if self.state.detector_down_since is None:
                logger.warning("camera %s: %s", self.camera_id, exc)
            self.state.detector_failed(exc)
            return
        except InferenceModelError as exc:  # the service cannot load this camera's model
            self._stop_reason = (f"{exc}. Fix the COUNTING_* setting (or the camera's model) "
                                 "and restart the stream workers")
            logger.error("camera %s: %s", self.camera_id, self._stop_reason)
            self.state.verdict_set("detector-error")
            return
        if self.state.detector_down_since is not None:
            logger.warning("camera %s: inference service answering again", self.camera_id)
            self.state.detector_ok()
        if not result.analysed:
            return
        self.health.frame_analysed()
        self.state.frame_analysed(frame.time)
        self.snapshotter.offer(frame.image, frame.time)  # the editor's picture, off the loop
        assert self.buffer is not None
        occupancy = frame_result_buffer(result=result, frame_time=frame.time,
                                        buffer=self.buffer, model_version=parts.model_version)
        for zone_id, value in occupancy.items():
            parts.publisher.occupancy_set(zone_id, value)

    def _state_change(self, state: str, reason: str) -> None:
        if self.health.changed(state, reason):
            self.state.state_dirty.set()  # the duties thread reports it at its next tick


def _site_zone(camera: Camera) -> tzinfo:
    """The camera's site's time zone (UTC if it cannot be read), for times shown to people."""
    try:
        return ZoneInfo(camera.site.timezone)
    except (ZoneInfoNotFoundError, ValueError, AttributeError, DatabaseError):
        return UTC


def run_camera_stream(*, camera_id: int, schema: str) -> str:
    """Run the camera's stream in the current tenant until it ends; returns why it ended.

    A worker shutting down (SIGTERM, Ctrl-C) sets :data:`shutdown_requested`
    (counting/runner/shutdown.py, which owns the signal handling): the loop sees it within one
    iteration, writes the last batch and releases the lease, so another node takes the camera
    at its supervisor's next tick. No handler is installed here: a handler that set an Event
    could deadlock on the Event's own lock held by the loop's wait.
    """
    runner = StreamRunner(camera_id=camera_id, schema=schema)
    log_camera_set(camera_id)
    try:
        outcome = runner.run()
    except SourceError as exc:  # defensive: sources report through health, not exceptions
        logger.error("camera %s: source error %s", camera_id, exc)
        outcome = "error"
    except DatabaseError as exc:  # the lease could not even be asked for
        logger.error("camera %s: database unavailable at start (%s); the supervisor retries",
                     camera_id, exc)
        outcome = "error"
    logger.info("camera %s: stream ended (%s)", camera_id, outcome)
    return outcome
