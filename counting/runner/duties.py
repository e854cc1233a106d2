"""The runner's duties thread: every database and Redis chore of a run, beside the frame loop.

Every ``duties_s`` (0.2 s) it does what is due::

    ledger flush   every flush_s, or at once when a full batch waits (LedgerFlusher)
    stop check     every stop_poll_s: the Redis flag (through the gate), then the camera row
                   and the tenant (suspended) in the database
    rules          every rules_poll_s: changed rules are read here and applied by the loop
    health         every health_s, or at once on a connection change: state, rates, the
                   condition (ok / degraded / stalled) and gaps

Each database call runs under the :class:`Watchdog` and the :class:`DatabaseGuard`: a failure
closes the connection and marks the database down (the health's condition says so), and every
duty retries at its own interval; the loop meanwhile keeps analysing into the bounded buffer.

When the run ends, :meth:`Duties.finish` writes what is left within the shutdown grace: the
last batches; if the lease was lost, the buffered crossings with ``ledger_write_late``; what
cannot be written goes to the spool; losses are reported, never dropped silently.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, TypeVar

from django.db import DatabaseError, connection

from cameras.constants import CameraStatus
from counting.health import (
    HealthSnapshot,
    health_events_lost_add,
    health_gap_record,
    health_report,
)
from counting.ledger import LedgerEvent, StaleLeaseError, ledger_write_late
from counting.runner.buffer import LedgerBuffer
from counting.runner.config import RunnerConfig
from counting.runner.db_guard import DB_ERRORS, DatabaseGuard
from counting.runner.flusher import LedgerFlusher
from counting.runner.frames import epoch_to_utc
from counting.runner.gaps import GapTracker
from counting.runner.health_reporter import HealthReporter, health_condition
from counting.runner.model_watch import ModelWatcher
from counting.runner.overload import OverloadMeter
from counting.runner.publisher import LivePublisher
from counting.runner.redis_gate import RedisGate
from counting.runner.rules_loader import RulesLoader
from counting.runner.spool import spool_write
from counting.runner.state import RunnerState, thread_schema_set
from counting.runner.stop import StopCheck
from counting.runner.watchdog import Watchdog

logger = logging.getLogger(__name__)

T = TypeVar("T")


class Duties:
    """The duties thread of one run (see the module docstring)."""

    def __init__(self, *, camera_id: int, schema: str, config: RunnerConfig,
                 state: RunnerState, buffer: LedgerBuffer, flusher: LedgerFlusher,
                 stop: StopCheck, rules: RulesLoader, health: HealthReporter, gaps: GapTracker,
                 publisher: LivePublisher, guard: DatabaseGuard, watchdog: Watchdog,
                 redis: RedisGate, source: Callable[[], Any], stall_after_s: float,
                 detect_fps: Callable[[], float | None] = lambda: None,
                 models: ModelWatcher | None = None) -> None:
        self.camera_id = camera_id
        self.schema = schema
        self.config = config
        self.state = state
        self.buffer = buffer
        self.flusher = flusher
        self.stop = stop
        self.rules = rules
        self.health = health
        self.gaps = gaps
        self.publisher = publisher
        self.guard = guard  # the ledger writes' guard: its failures are the condition's
        self.duty_guard = DatabaseGuard(camera_id=camera_id)  # the other duties'
        self.watchdog = watchdog
        self.redis = redis
        self.source = source
        self.stall_after_s = stall_after_s
        self.detect_fps = detect_fps
        self.models = models
        self.overload = OverloadMeter()
        self.run_started = datetime.now(tz=UTC)
        self.outcome = ""
        self.final_deadline = 0.0
        self.final_report: tuple[str, str] | None = None
        self.late_lost = 0
        self._finish = threading.Event()
        now = time.monotonic()
        self._due = {"flush": now + config.flush_s, "flag": now, "row": now,
                     "rules": now + config.rules_poll_s, "health": now}
        self._thread = threading.Thread(target=self._run, daemon=True, name="runner-duties")

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self) -> None:
        # Stall timing starts now: the lease, the detector and the rules took their time, but
        # the stream is only being opened from here on.
        self.state.started_mono = time.monotonic()
        self.run_started = datetime.now(tz=UTC)
        self._thread.start()

    def finish(self, *, outcome: str, deadline: float,
               report: tuple[str, str] | None) -> None:
        """End the thread after its final writes (bounded by ``deadline``, monotonic)."""
        self.outcome = outcome
        self.final_deadline = deadline
        self.final_report = report
        self._finish.set()
        self._thread.join(max(0.1, deadline - time.monotonic() + 1.0))
        if self._thread.is_alive():
            logger.error("camera %s: final writes did not end in time; %d crossings unwritten",
                         self.camera_id, len(self.buffer))

    def _run(self) -> None:
        thread_schema_set(self.schema, self.camera_id)
        try:
            try:
                while not self._finish.wait(self.config.duties_s):
                    self.tick()
            except Exception:
                logger.exception("camera %s: duties thread failed; the run ends",
                                 self.camera_id)
                self.state.verdict_set("error")
                self._finish.wait()  # the loop ends and calls finish(): then the final writes
            self.final()
        except Exception:
            logger.exception("camera %s: final writes failed; %d crossings unwritten",
                             self.camera_id, len(self.buffer))
        finally:
            try:
                connection.close()
            except DatabaseError:
                pass

    # -- one tick ------------------------------------------------------------------------------
    def tick(self) -> None:
        now = time.monotonic()
        due = self._due
        if now >= due["flag"]:
            due["flag"] = now + self.config.stop_poll_s
            if verdict := self.stop.flag_check():
                self.state.verdict_set(verdict)
        if now >= due["flush"] or self.flusher.due():
            due["flush"] = now + self.config.flush_s
            self._flush()
        # While ledger writes fail the other duties still run at their own pace: a locked
        # lease row fails only the writes that touch it, and the health must say so. (In a
        # real outage each attempt fails at once, or within the connect timeout, on this
        # thread only.)
        if now >= due["row"]:
            due["row"] = now + self.config.stop_poll_s
            verdict = self._db("stop check", self.stop.row_check)
            if verdict:
                self.state.verdict_set(verdict)
        if now >= due["rules"]:
            due["rules"] = now + self.config.rules_poll_s
            rules = self._db("rules reload", self.rules.fetch)
            if rules is not None:
                self.state.rules_offer(rules)
            if self.models is not None:  # the registry's choice (a swap loads beside us)
                self._db("model choice", self.models.poll)
                self._db("model logs", self.models.logs_flush)
        if now >= due["health"] or self.state.state_dirty.is_set():
            due["health"] = now + self.config.health_s
            self.state.state_dirty.clear()
            self._health()

    def _db(self, what: str, func: Callable[[], T], limit_s: float | None = None) -> T | None:
        with self.watchdog.watch(what, limit_s=limit_s):
            return self.duty_guard.run(func)

    def _flush(self) -> None:
        if self.guard.down_since is not None and self.buffer.next_batch(
                self.config.flush_events) is None:
            # Writes failed earlier and nothing waits now: a probe says whether they would work.
            if self._db("database probe", _probe):
                self.guard.recovered()
            return
        try:
            with self.watchdog.watch("ledger flush"):
                self.flusher.flush()
        except StaleLeaseError as exc:
            logger.warning("camera %s: %s", self.camera_id, exc)
            self.state.lease_lost_set()
        except DatabaseError as exc:  # any other failure of the call: retried like an outage
            self.guard.failed(exc)

    # -- health --------------------------------------------------------------------------------
    def _condition(self) -> tuple[str, str, str]:
        return health_condition(state=self.state, stream_state=self.health.state,
                                stream_reason=self.health.reason, redis=self.redis,
                                buffered=len(self.buffer), stall_after_s=self.stall_after_s,
                                overload=self.overload.reason if self.overload.overloaded
                                else "")

    def _observe_overload(self, snapshot: HealthSnapshot, stalled: bool) -> None:
        """Judge overload from this tick's rates; open or close its gap."""
        now = time.time()
        if stalled:  # nothing analysed: the stall's own gap (from the last frame), not an
            verdict = self.overload.reset(self.state.last_analysed_wall or now)  # overload
        else:
            verdict = self.overload.tick(now=now, elapsed_s=self.health.last_elapsed_s,
                                         fps_analysed=snapshot.fps_analysed,
                                         fps_received=snapshot.fps_received,
                                         detect_fps=self.detect_fps())
        if verdict.started is not None:
            self.gaps.overload_start(started_at=epoch_to_utc(verdict.started),
                                     reason=verdict.reason)
        if verdict.ended is not None:
            self.gaps.overload_end(ended_at=epoch_to_utc(verdict.ended),
                                   analysed_share=verdict.analysed_share)

    def _observe_gaps(self, condition: str, reason: str, cause: str) -> None:
        wall = self.state.last_analysed_wall
        self.gaps.observe(stalled=condition == "stalled",
                          last_analysed=epoch_to_utc(wall) if wall else None,
                          run_started=self.run_started, cause=cause or "source",
                          reason=reason)

    def _health(self) -> None:
        snapshot = self.health.measure(self.source())
        self._observe_overload(snapshot, stalled=self._condition()[0] == "stalled")
        condition, reason, cause = self._condition()
        self._observe_gaps(condition, reason, cause)
        stats = self.flusher.stats_take()
        skipped = self.overload.skipped_take()
        snapshot = replace(snapshot, condition=condition, condition_reason=reason,
                           frames_skipped=skipped,
                           events_written=stats[0], ledger_writes=stats[1],
                           ledger_write_seconds=stats[2], ledger_write_max_s=stats[3],
                           buffered_events=len(self.buffer),
                           publish_queue=self.publisher.queued())
        reported = False

        def report() -> None:
            nonlocal reported
            health_report(camera_id=self.camera_id, snapshot=snapshot)
            reported = True
            self.gaps.write()

        self._db("health report", report)
        if not reported:
            self.flusher.stats_return(stats)
            self.overload.skipped_return(skipped)

    # -- the end of the run ----------------------------------------------------------------------
    def final(self) -> None:
        """Write what is left (see the module docstring); never raises."""
        if not self.state.lease_lost:
            self._final_flush()
        if self.state.lease_lost:
            self._late_write(self.buffer.take_all())
        left = self.buffer.take_all()
        unreported = self.buffer.lost - self.buffer.lost_reported + self.late_lost
        if left or (unreported and not self._report_lost(unreported, "at the end of the run")):
            path = spool_write(schema=self.schema, camera_id=self.camera_id,
                               generation=self.buffer.generation, events=left,
                               lost=unreported)
            if path is None:
                logger.error("camera %s: %d crossings not stored and %d losses not reported "
                             "(database unreachable, spool failed)", self.camera_id, len(left),
                             unreported)
        self.gaps.finish(analysed_share=self.overload.share())
        models = self.models
        if models is not None:
            self._db("model logs", lambda: models.logs_flush(force=True),
                     limit_s=self._left())
        if self.final_report is not None and not self.state.lease_lost:
            state, reason = self.final_report

            def report() -> None:
                self.health.report(state, reason)
                self.gaps.write()

            self._db("final health report", report, limit_s=self._left())

    def _left(self) -> float:
        return max(0.5, self.final_deadline - time.monotonic())

    def _final_flush(self) -> None:
        while self.buffer.next_batch(self.config.flush_events) is not None:
            if time.monotonic() >= self.final_deadline:
                logger.error("camera %s: final flush out of time with %d crossings left",
                             self.camera_id, len(self.buffer))
                return
            try:
                with self.watchdog.watch("final flush", limit_s=self._left()):
                    self.flusher.flush(final=True)
                self.guard.recovered()
                return
            except StaleLeaseError as exc:
                logger.warning("camera %s: %s", self.camera_id, exc)
                self.state.lease_lost_set()
                return
            except DB_ERRORS as exc:
                self.guard.failed(exc)
                time.sleep(min(0.5, self._left()))

    def _late_write(self, events: list[LedgerEvent]) -> None:
        """The lease was lost: store the run's crossings under its own generation."""
        if not events:
            return
        try:
            with self.watchdog.watch("late ledger write", limit_s=self._left()):
                result = ledger_write_late(camera_id=self.camera_id,
                                           generation=self.buffer.generation, events=events)
        except StaleLeaseError:
            logger.error("camera %s: %d late crossings refused", self.camera_id, len(events))
            self.late_lost += len(events)
            return
        except DB_ERRORS as exc:
            self.guard.failed(exc)
            self.buffer.events.extend(events)  # spooled by the caller
            return
        if result.superseded:
            self._db("late write report", lambda: health_gap_record(
                camera_id=self.camera_id, state=CameraStatus.OFFLINE,
                reason=f"{result.superseded} crossings seen after the lease was taken over "
                       "were left to the new owner", gap_seconds=None,
                details={"superseded": result.superseded,
                         "generation": self.buffer.generation}), limit_s=self._left())

    def _report_lost(self, lost: int, when: str) -> bool:
        """Add ``lost`` to the camera's health; False if the database did not answer."""
        def report() -> bool:
            health_events_lost_add(
                camera_id=self.camera_id, lost=lost,
                reason=f"{lost} crossings lost {when}: the ledger buffer overflowed or they "
                       "could not be written")
            return True

        if not self._db("losses report", report, limit_s=self._left()):
            return False
        self.buffer.lost_reported = self.buffer.lost
        self.late_lost = 0
        return True


def _probe() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return True
