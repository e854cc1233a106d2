"""The stream runner under faults: one live PETS stream per case, on one real worker whose
PostgreSQL goes through a proxy the test controls and whose Redis is the test's own.

Every case plays the same 40 s segment once, injects its fault while the stream runs, waits
until everything analysed is stored (the lease's ``stored_until`` reaches the end of the clip),
and compares the stored counts with ``count_video`` on the same frames: whatever is missing
must equal what the system itself reported, i.e. the crossings of ``count_video`` that fall in
a recorded gap plus ``events_lost``, within the jitter of a live stream. An overload gap (the
machine too busy to analyse every frame due) is analysed in part, so its crossings may or may
not be stored: up to their number times the share not analysed may be missing on top.

Measured numbers are printed (``-s``): crossings stored with a time inside the outage (the
loop kept analysing), gap lengths, losses.
"""

from __future__ import annotations

import math
import os
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.chaos.faults import RedisProcess, TcpProxy, lease_row_locked, redis_process, tcp_proxy
from tests.chaos.reference import Counts
from tests.streams.conftest import (
    camera_simulator,
    cameras_stop_all,
    dispatch,
    health_of,
    lease_of,
    line_counts,
    make_camera,
    simulator_status,
    stream_worker,
    wait_for,
    worker_log,
)

pytestmark = pytest.mark.slow

FPS = 7.0  # PETS09-S2L1's frame rate: the simulator plays frame n at t0 + n / FPS
DROPPED_LIMIT = 280 // 50  # as tests/streams/test_stream_e2e.py allows live sampling
DROPPED_PER_CROSSING = 30  # beyond that, ~4 s of frames not analysed may hide one crossing


# -- fixtures shared by every case ---------------------------------------------------------------
@pytest.fixture(scope="module")
def chaos_redis(tmp_path_factory: Any) -> Iterator[RedisProcess]:
    with redis_process(tmp_path_factory.mktemp("redis")) as server:
        yield server


@pytest.fixture(scope="module")
def chaos_proxy(live_db: None) -> Iterator[TcpProxy]:
    from django.db import connection

    params = connection.settings_dict
    with tcp_proxy((params["HOST"] or "127.0.0.1", int(params["PORT"] or 5432))) as proxy:
        yield proxy


@pytest.fixture(scope="module")
def chaos_worker(chaos_proxy: TcpProxy, chaos_redis: RedisProcess, stream_tenant: Any,
                 streams_queue: str) -> Iterator[Any]:
    """One stream worker for every case: its database through the proxy, its Redis (stop
    flags, live sequence numbers, channel layer) the test's own."""
    from tests.chaos.conftest import proxied_database_url

    env = {"DATABASE_URL": proxied_database_url(chaos_proxy),
           "REDIS_URL": chaos_redis.url(0), "TEST_CHANNELS_REDIS_URL": chaos_redis.url(2)}
    with stream_worker(streams_queue, extra_env=env) as process:
        yield process


@dataclass(frozen=True)
class Reference:
    """count_video on the segment: counts per line and direction, and each crossing's time in
    the video (seconds from its first frame)."""

    counts: Counts
    crossings: list[tuple[str, str, float]]


@pytest.fixture(scope="module")
def reference(pets_segment_280: Path) -> Reference:
    from tests.chaos.reference import count_video_result

    result = count_video_result(pets_segment_280)
    counts = {line["name"]: {"in": line["in"], "out": line["out"]} for line in result["lines"]}
    crossings = [(e["line"], e["direction"], float(e["time"])) for e in result["events"]]
    assert sum(sum(c.values()) for c in counts.values()) >= 10  # a meaningful clip
    return Reference(counts=counts, crossings=crossings)


@pytest.fixture(autouse=True)
def _everything_back(chaos_proxy: TcpProxy, chaos_redis: RedisProcess,
                     stream_tenant: Any) -> Iterator[None]:
    yield
    chaos_proxy.forward()
    if chaos_redis.frozen:
        chaos_redis.thaw()
    if not chaos_redis.running:
        chaos_redis.start()
    cameras_stop_all(stream_tenant, timeout=30)


# -- one live stream -------------------------------------------------------------------------------
class LiveClip:
    """The segment played once, live, to a camera's runner; maps video time to wall time."""

    def __init__(self, url: str, camera: Any) -> None:
        self.url = url
        self.camera = camera
        self.t0: float | None = None  # wall time (epoch) of frame 0

    def position(self) -> int:
        status = simulator_status(self.url) or {}
        position = int(status.get("position", -1))
        if position >= 0:
            estimate = time.time() - (position + 0.5) / FPS
            self.t0 = estimate if self.t0 is None else min(self.t0, estimate)
        return position

    def wait_frame(self, frame: int, timeout_s: float = 120) -> None:
        wait_for(lambda: self.position() >= frame, timeout_s, interval=0.1,
                 message=f"frame {frame} on air")

    def wall(self, video_s: float) -> datetime:
        assert self.t0 is not None
        return datetime.fromtimestamp(self.t0 + video_s, tz=UTC)


def _stored_until(tenant: Any, camera_id: int) -> datetime | None:
    from django_tenants.utils import tenant_context

    from counting.models import CameraLease

    with tenant_context(tenant):
        return CameraLease.objects.filter(camera_id=camera_id).values_list(
            "stored_until", flat=True).first()


def _gaps(tenant: Any, camera_id: int) -> list[Any]:
    from django_tenants.utils import tenant_context

    from counting.models import CameraGap

    with tenant_context(tenant):
        return list(CameraGap.objects.filter(camera_id=camera_id).order_by("started_at"))


def _events_between(tenant: Any, camera_id: int, start: datetime, end: datetime) -> int:
    from django_tenants.utils import tenant_context

    from counting.models import CountEvent

    with tenant_context(tenant):
        return CountEvent.objects.filter(camera_id=camera_id, occurred_at__gte=start,
                                         occurred_at__lt=end).count()


@dataclass
class Outcome:
    stored: Counts
    expected: Counts  # the reference minus the crossings in recorded gaps (not overload)
    in_gaps: int
    lost: int
    dropped: int
    gaps: list[Any]
    conditions: list[tuple[str, str]]
    # The reference's crossings inside overload gaps times the share not analysed: the loss
    # the system reported as time (an estimate: which of them were missed cannot be known).
    overload: float = 0.0

    def check(self, context: str) -> None:
        jitter = 2 + (2 if self.dropped else 0)
        if self.dropped > DROPPED_LIMIT:
            # The machine could not analyse every frame (other work on its cores): live
            # sampling skipped frames, which health reports as dropped frames; a track may miss
            # its crossing in them. Allow one crossing per DROPPED_PER_CROSSING reported drops.
            jitter += self.dropped // DROPPED_PER_CROSSING
        missing = extra = 0
        for name, directions in self.expected.items():
            for direction, want in directions.items():
                got = self.stored.get(name, {}).get(direction, 0)
                missing += max(0, want - got)
                extra += max(0, got - want)
        assert extra <= jitter, f"{extra} crossings beyond the reference: {self} {context}"
        # missing crossings are those reported lost, plus at most those the reported overload
        # time can hide
        assert -jitter <= missing - self.lost <= jitter + math.ceil(self.overload), (
            f"{missing} crossings missing but {self.lost} reported lost and "
            f"{self.overload:.1f} in overload time: {self} {context}")


def play_with_fault(*, tenant: Any, queue: str, settings: Any, segment: Path,
                    reference: Reference, fault: Callable[[LiveClip], None],
                    fault_frame: int = 35) -> Outcome:
    """Play the segment to a new camera, run ``fault`` from ``fault_frame`` on, wait until
    everything analysed is stored, and collect what the system says."""
    conditions: list[tuple[str, str]] = []
    dropped = [0]
    with camera_simulator(segment, loops=1, start_on_connect=True, quality=95) as url:
        camera = make_camera(tenant, url, detect_fps=30.0)  # analyse every frame
        clip = LiveClip(url, camera)
        assert dispatch(tenant, queue, settings) == [camera.pk]
        clip.wait_frame(fault_frame)
        fault(clip)
        wait_for(lambda: (simulator_status(url) or {}).get("finished"), 120,
                 message="the clip to be played")
        last_frame = clip.wall(279 / FPS) - timedelta(seconds=1.0)

        def stored() -> bool:
            health = health_of(tenant, camera.pk)
            if health is not None:
                conditions.append((health.condition, health.condition_reason))
                dropped[0] = max(dropped[0], int(health.frames_dropped))
            until = _stored_until(tenant, camera.pk)
            return until is not None and until >= last_frame

        wait_for(stored, 90, interval=0.5, message="everything analysed to be stored")
        time.sleep(1.0)
    cameras_stop_all(tenant, timeout=30)
    health = health_of(tenant, camera.pk)
    gaps = _gaps(tenant, camera.pk)
    expected = {name: dict(directions) for name, directions in reference.counts.items()}
    in_gaps = 0
    overload = 0.0
    end_of_clip = clip.wall(280 / FPS)
    # (the source gap after the clip ended, the simulator refusing, covers no crossing)
    inside = [g for g in gaps if g.started_at < end_of_clip - timedelta(seconds=1)]
    for line, direction, video_s in reference.crossings:
        at = clip.wall(video_s)
        for g in inside:
            if not g.started_at <= at < (g.ended_at or end_of_clip):
                continue
            if g.cause == "overload":  # analysed in part: counted maybe, reported as time
                overload += 1.0 - (g.analysed_share or 0.0)
            else:  # nothing analysed: the crossing cannot be stored
                expected[line][direction] -= 1
                in_gaps += 1
            break
    return Outcome(stored=line_counts(tenant, camera.pk), expected=expected, in_gaps=in_gaps,
                   lost=int(health.events_lost),
                   dropped=max(dropped[0], int(health.frames_dropped)), gaps=inside,
                   conditions=conditions, overload=overload)


def _report(name: str, outcome: Outcome, **numbers: Any) -> None:
    gaps = [(g.cause, round(g.seconds or -1, 1)) for g in outcome.gaps]
    print(f"\n[chaos] {name}: stored={outcome.stored} expected={outcome.expected} "
          f"in_gaps={outcome.in_gaps} lost={outcome.lost} dropped={outcome.dropped} "
          f"overload={outcome.overload:.1f} "
          f"gaps={gaps} " + " ".join(f"{k}={v}" for k, v in numbers.items()))


# -- the cases -------------------------------------------------------------------------------------
def test_redis_stopped_for_20s_counting_goes_on(
        chaos_worker: Any, chaos_redis: RedisProcess, reference: Reference,
        pets_segment_280: Path, stream_tenant: Any, streams_queue: str, settings: Any,
        allow_loopback: None) -> None:
    seen: dict[str, Any] = {}

    def fault(clip: LiveClip) -> None:
        chaos_redis.stop()
        seen["start"] = datetime.now(tz=UTC)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:  # health shows the outage while it lasts
            health = health_of(stream_tenant, clip.camera.pk)
            if health is not None and "Redis unreachable" in health.condition_reason:
                seen["degraded"] = health.condition
            time.sleep(0.5)
        seen["end"] = datetime.now(tz=UTC)
        chaos_redis.start()
        seen["camera"] = clip.camera.pk

    outcome = play_with_fault(tenant=stream_tenant, queue=streams_queue, settings=settings,
                              segment=pets_segment_280, reference=reference, fault=fault)
    during = _events_between(stream_tenant, seen["camera"], seen["start"], seen["end"])
    _report("redis stopped 20 s", outcome, stored_during_outage=during)
    # then the runner kept counting (crossings of the outage are stored), said it was degraded,
    # and lost nothing
    assert seen.get("degraded") == "degraded", outcome.conditions
    assert outcome.lost == 0 and outcome.in_gaps == 0
    outcome.check(worker_log(streams_queue)[-3000:])


def test_redis_frozen_counting_goes_on(
        chaos_worker: Any, chaos_redis: RedisProcess, reference: Reference,
        pets_segment_280: Path, stream_tenant: Any, streams_queue: str, settings: Any,
        allow_loopback: None) -> None:
    def fault(clip: LiveClip) -> None:
        chaos_redis.freeze()  # SIGSTOP: the port accepts, nothing answers
        time.sleep(12)
        chaos_redis.thaw()

    outcome = play_with_fault(tenant=stream_tenant, queue=streams_queue, settings=settings,
                              segment=pets_segment_280, reference=reference, fault=fault)
    _report("redis frozen 12 s", outcome)
    assert outcome.lost == 0 and outcome.in_gaps == 0
    outcome.check(worker_log(streams_queue)[-3000:])


def test_postgresql_refused_for_30s_events_wait_and_are_written(
        chaos_worker: Any, chaos_proxy: TcpProxy, reference: Reference, pets_segment_280: Path,
        stream_tenant: Any, streams_queue: str, settings: Any, allow_loopback: None) -> None:
    seen: dict[str, Any] = {}

    def fault(clip: LiveClip) -> None:
        seen["camera"] = clip.camera.pk
        seen["start"] = datetime.now(tz=UTC)
        chaos_proxy.refuse()
        time.sleep(30)
        chaos_proxy.forward()
        seen["end"] = datetime.now(tz=UTC)

    outcome = play_with_fault(tenant=stream_tenant, queue=streams_queue, settings=settings,
                              segment=pets_segment_280, reference=reference, fault=fault,
                              fault_frame=14)
    during = _events_between(stream_tenant, seen["camera"], seen["start"], seen["end"])
    _report("postgresql refused 30 s", outcome, stored_during_outage=during)
    # then crossings of the outage were analysed then and written afterwards, none lost
    assert during > 0
    assert outcome.lost == 0 and outcome.in_gaps == 0
    outcome.check(worker_log(streams_queue)[-3000:])


def test_postgresql_stalled_behind_the_proxy_events_wait_and_are_written(
        chaos_worker: Any, chaos_proxy: TcpProxy, reference: Reference, pets_segment_280: Path,
        stream_tenant: Any, streams_queue: str, settings: Any, allow_loopback: None) -> None:
    seen: dict[str, Any] = {}

    def fault(clip: LiveClip) -> None:
        seen["camera"] = clip.camera.pk
        seen["start"] = datetime.now(tz=UTC)
        chaos_proxy.stall()  # connections stay open, nothing is delivered, no error
        time.sleep(20)
        chaos_proxy.forward()
        seen["end"] = datetime.now(tz=UTC)

    outcome = play_with_fault(tenant=stream_tenant, queue=streams_queue, settings=settings,
                              segment=pets_segment_280, reference=reference, fault=fault,
                              fault_frame=14)
    during = _events_between(stream_tenant, seen["camera"], seen["start"], seen["end"])
    _report("postgresql stalled 20 s", outcome, stored_during_outage=during)
    assert during > 0
    assert outcome.lost == 0 and outcome.in_gaps == 0
    outcome.check(worker_log(streams_queue)[-3000:])


def test_the_lease_row_locked_for_40s_is_no_takeover(
        chaos_worker: Any, reference: Reference, pets_segment_280: Path, stream_tenant: Any,
        streams_queue: str, settings: Any, allow_loopback: None) -> None:
    from django_tenants.utils import tenant_context

    from counting.leases import lease_acquire

    seen: dict[str, Any] = {}

    def fault(clip: LiveClip) -> None:
        camera_id = clip.camera.pk
        seen["camera"] = camera_id
        seen["generation"] = lease_of(stream_tenant, camera_id)["generation"]
        with lease_row_locked(stream_tenant.schema_name, camera_id):
            deadline = time.monotonic() + 40
            while time.monotonic() < deadline:
                health = health_of(stream_tenant, camera_id)
                if health is not None and "lease heartbeat failing" in health.condition_reason:
                    seen["degraded"] = health.condition
                time.sleep(0.5)
        # the moment the lock goes, the heartbeat is 40 s old: a would-be taker comes at once
        with tenant_context(stream_tenant):
            seen["taken"] = lease_acquire(camera_id=camera_id, owner="chaos-taker", ttl_s=10)

    outcome = play_with_fault(tenant=stream_tenant, queue=streams_queue, settings=settings,
                              segment=pets_segment_280, reference=reference, fault=fault,
                              fault_frame=14)
    _report("lease row locked 40 s", outcome, taker=seen.get("taken"))
    # then nobody took the camera (the owner was slow, not silent): same generation
    assert seen["taken"] is None
    assert seen.get("degraded") == "degraded", outcome.conditions
    with tenant_context(stream_tenant):
        from counting.models import CountEvent

        generations = set(CountEvent.objects.filter(camera_id=seen["camera"]).values_list(
            "lease_generation", flat=True))
    assert generations == {seen["generation"]}
    assert outcome.lost == 0 and outcome.in_gaps == 0
    outcome.check(worker_log(streams_queue)[-3000:])


def test_kill_9_during_a_flush_records_the_gap_and_counts_the_rest(
        chaos_worker: Any, reference: Reference, pets_segment_280: Path, stream_tenant: Any,
        streams_queue: str, settings: Any, allow_loopback: None) -> None:
    from tests.chaos.faults import RowLockHolder, django_conninfo

    seen: dict[str, Any] = {}

    def fault(clip: LiveClip) -> None:
        camera_id = clip.camera.pk
        lease = lease_of(stream_tenant, camera_id)
        seen["generation"] = lease["generation"]
        child = int(lease["owner"].split(":")[1])
        # hold the lease row so that the runner's next flush waits on its fence...
        from counting.models import CameraLease

        holder = RowLockHolder(django_conninfo(), stream_tenant.schema_name,
                               CameraLease._meta.db_table, "camera_id = %s", (camera_id,))
        try:
            wait_for(lambda: _flush_waiting(holder), 10, interval=0.1,
                     message="a flush waiting on the lease row")
            # ... and kill the runner's process in the middle of it
            os.kill(child, signal.SIGKILL)
        finally:
            holder.release()
        killed = time.monotonic()
        while time.monotonic() - killed < 40:  # the supervisor ticks
            dispatch(stream_tenant, streams_queue, settings)
            lease = lease_of(stream_tenant, camera_id)
            if lease["owner"] and lease["generation"] > seen["generation"]:
                seen["took_over_after"] = round(time.monotonic() - killed, 1)
                break
            time.sleep(1.0)

    outcome = play_with_fault(tenant=stream_tenant, queue=streams_queue, settings=settings,
                              segment=pets_segment_280, reference=reference, fault=fault,
                              fault_frame=42)
    _report("kill -9 during a flush", outcome, took_over_after=seen.get("took_over_after"))
    # then another runner took over, and the time nobody counted is a recorded gap
    assert "took_over_after" in seen, worker_log(streams_queue)[-3000:]
    (gap,) = [g for g in outcome.gaps if g.cause == "runner"]
    assert gap.ended_at is not None and 0 < gap.seconds <= 40
    assert outcome.in_gaps > 0 or gap.seconds < 5  # the gap's crossings are the losses
    outcome.check(worker_log(streams_queue)[-3000:])


def _flush_waiting(holder: Any) -> bool:
    """True when another session waits on a lock while updating the lease (the fence)."""
    import psycopg

    with psycopg.connect(holder.conn.info.dsn, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
            "AND query LIKE '%%last_batch_seq%%' AND pid <> pg_backend_pid()").fetchone()
    return bool(row and row[0])


def test_a_suspended_tenants_stream_stops_within_10s_without_any_stop_flag(
        chaos_worker: Any, chaos_redis: RedisProcess, pets_segment_280: Path,
        stream_tenant: Any, streams_queue: str, settings: Any, allow_loopback: None) -> None:
    from tenants.models import Tenant

    with camera_simulator(pets_segment_280, loops=1, start_on_connect=True) as url:
        camera = make_camera(stream_tenant, url, detect_fps=5.0)
        assert dispatch(stream_tenant, streams_queue, settings) == [camera.pk]
        wait_for(lambda: getattr(health_of(stream_tenant, camera.pk), "fps_analysed", 0) > 0,
                 90, message="the camera to be analysed")
        # given Redis down, so that no stop flag can reach the runner
        chaos_redis.stop()
        try:
            # when the tenant is marked inactive (as the suspend service does first)
            Tenant.objects.filter(pk=stream_tenant.pk).update(is_active=False)
            suspended_at = time.monotonic()
            # then the runner sees it itself and releases the lease within 10 s
            wait_for(lambda: lease_of(stream_tenant, camera.pk)["owner"] == "", 10,
                     interval=0.2, message="the suspended tenant's stream to stop")
            stopped_after = time.monotonic() - suspended_at
        finally:
            Tenant.objects.filter(pk=stream_tenant.pk).update(is_active=True)
            chaos_redis.start()
    health = health_of(stream_tenant, camera.pk)
    print(f"\n[chaos] tenant suspended: stream stopped after {stopped_after:.1f} s "
          f"({health.state}: {health.reason})")
    assert health.reason == "stream stopped (tenant suspended)"
