"""The stream runner's parts, each alone: lease keeper, rules loader, stop check, ledger
flusher, live publisher, health reporter, frame results and the stream connection."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import cv2
import numpy as np
import pytest

from cameras.constants import CameraStatus
from cameras.models import Camera
from cameras.services import camera_create, camera_status_set, camera_update, site_create
from cameras.streams import STREAM_UNAVAILABLE
from counting.ledger import LedgerEvent
from counting.models import CameraHealth, CameraHealthEvent, CameraLease, CountEvent
from counting.pipeline.engine import CountingEngine
from counting.pipeline.types import CrossingEvent, FrameResult, ZoneEvent, ZoneState
from counting.runner.buffer import LedgerBuffer
from counting.runner.config import RunnerConfig
from counting.runner.connection import StreamConnection
from counting.runner.db_guard import DatabaseGuard
from counting.runner.flusher import LedgerFlusher
from counting.runner.frames import frame_result_buffer
from counting.runner.health_reporter import HealthReporter
from counting.runner.lease import LeaseKeeper, LeaseLostError
from counting.runner.publisher import LivePublisher
from counting.runner.redis_gate import RedisGate
from counting.runner.rules_loader import RulesLoader
from counting.runner.stop import StopCheck, stream_stop_flag_clear, stream_stop_request
from counting.services import counting_line_create, zone_create
from tests.api.conftest import api_client, world_a  # noqa: F401 - fixtures of the API case

T0 = datetime(2026, 3, 29, 10, 0, 0, tzinfo=UTC)


@pytest.fixture
def camera(tenant_a: Any, in_tenant: Any) -> Iterator[Camera]:
    with in_tenant(tenant_a):
        site = site_create(actor=None, name="Parts site")
        yield camera_create(actor=None, site=site, name="Parts cam",
                            stream_url="rtsp://10.9.9.9/")


class RecordingPublisher(LivePublisher):
    """A publisher that records what it would send instead of sending it."""

    def __init__(self, camera: Camera) -> None:
        super().__init__(schema="tenant_a", camera=camera)
        self.sent: list[tuple[list[LedgerEvent], dict[int, int]]] = []

    def publish(self, events: list[LedgerEvent]) -> None:
        self.published_occupancy = dict(self.occupancy)
        self.sent.append((list(events), dict(self.occupancy)))


# -- lease keeper ------------------------------------------------------------------------------
def test_lease_keeper_holds_heartbeats_loses_and_releases(camera: Camera) -> None:
    # given a keeper that takes a free lease
    first = LeaseKeeper(camera_id=camera.pk, owner="w1", ttl_s=30)
    taken = first.acquire()
    assert taken is not None and taken.previous_owner == ""
    assert first.generation == taken.generation >= 1
    # then another owner cannot take it while it is live, and the heartbeat goes through
    assert LeaseKeeper(camera_id=camera.pk, owner="w2", ttl_s=30).acquire() is None
    first.heartbeat()
    # when its heartbeat goes stale and another owner takes over
    CameraLease.objects.filter(camera_id=camera.pk).update(heartbeat_at=datetime(2020, 1, 1,
                                                                                  tzinfo=UTC))
    second = LeaseKeeper(camera_id=camera.pk, owner="w2", ttl_s=30)
    again = second.acquire()
    assert again is not None and again.previous_owner == "w1"
    assert second.generation == first.generation + 1
    # then the first keeper's heartbeat says it lost the camera, and it cannot release it
    with pytest.raises(LeaseLostError):
        first.heartbeat()
    assert first.release() is False
    # and the owner's release frees it at once
    assert second.release() is True
    assert CameraLease.objects.get(camera_id=camera.pk).owner == ""


# -- rules loader ------------------------------------------------------------------------------
def test_rules_loader_applies_stored_rules_only_when_they_change(camera: Camera) -> None:
    # given a camera with a line, a counted zone and a mask
    line = counting_line_create(actor=None, camera=camera, name="Door", x1=0.5, y1=0, x2=0.5,
                                y2=1)
    zone = zone_create(actor=None, camera=camera, name="Hall", points=[[0, 0], [1, 0], [1, 1]])
    zone_create(actor=None, camera=camera, name="Poster", points=[[0, 0], [0.1, 0], [0, 0.1]],
                ignore_detections=True)
    engine = CountingEngine(None)
    loader = RulesLoader(camera_id=camera.pk, engine=engine)
    # when loaded
    assert loader.reload(force=True) is True
    # then the engine counts the line and the zone; the mask counts nothing
    assert [c.spec.key for c in engine.lines] == [str(line.pk)]
    assert [z.spec.key for z in engine.zones] == [str(zone.pk)]
    assert loader.counted_zones == {zone.pk}
    # and polling again without a change applies nothing
    version = engine.rule_set_version
    assert loader.reload() is False
    assert engine.rule_set_version == version
    # when a line is added, it is applied at the next poll
    added = counting_line_create(actor=None, camera=camera, name="Gate", x1=0, y1=0.5, x2=1,
                                 y2=0.5)
    assert loader.reload() is True
    assert [c.spec.key for c in engine.lines] == [str(line.pk), str(added.pk)]


# -- stop check --------------------------------------------------------------------------------
def test_stop_check_stops_a_suspended_tenants_stream(camera: Camera, tenant_a: Any) -> None:
    # given a running camera of an active tenant
    check = StopCheck(schema="tenant_a", camera_id=camera.pk, camera_stamp=camera.updated_at,
                      on_camera_change=lambda c: None)
    assert check.check() is None
    # when the tenant is suspended (the platform's service sets is_active)
    type(tenant_a).objects.filter(pk=tenant_a.pk).update(is_active=False)
    # then the next check ends the stream
    assert check.check() == "suspended"


def test_stop_check_goes_on_from_the_database_while_redis_is_down(
        camera: Camera, settings: Any, tmp_path: Any) -> None:
    from tests.chaos.faults import redis_process

    with redis_process(tmp_path) as server:
        settings.REDIS_URL = server.url(0)
        gate = RedisGate(retry_s=60)
        check = StopCheck(schema="tenant_a", camera_id=camera.pk,
                          camera_stamp=camera.updated_at, on_camera_change=lambda c: None,
                          gate=gate)
        stream_stop_request(schema="tenant_a", camera_id=camera.pk)
        assert check.check() == "stopped"
        # given Redis stopped: the flag cannot be read, the gate closes
        server.stop()
        assert check.flag_check() is None
        assert gate.down and not gate.open()
        # then the check still answers from the database, the gate staying shut meanwhile
        Camera.objects.filter(pk=camera.pk).update(enabled=False)
        assert check.check() == "disabled"
        assert not gate.open()
        # and once Redis is back and the interval passed, the flag is read again
        server.start()
        gate._closed_until = 0.0  # the retry interval has passed
        stream_stop_request(schema="tenant_a", camera_id=camera.pk)
        assert check.flag_check() == "stopped" and not gate.down


def test_stop_check_verdicts_and_camera_edits(camera: Camera) -> None:
    schema = "tenant_a"
    changes: list[Camera] = []
    check = StopCheck(schema=schema, camera_id=camera.pk, camera_stamp=camera.updated_at,
                      on_camera_change=changes.append)
    # given an enabled, unchanged camera: go on
    assert check.check() is None and changes == []
    # when its detect_fps is edited: go on, and the edit is handed over once
    camera_update(actor=None, camera=camera, detect_fps=3.0)
    assert check.check() is None
    assert [c.detect_fps for c in changes] == [3.0]
    assert check.check() is None and len(changes) == 1
    # when a stop is requested (Redis flag): stop
    stream_stop_request(schema=schema, camera_id=camera.pk)
    try:
        assert check.check() == "stopped"
    finally:
        stream_stop_flag_clear(schema=schema, camera_id=camera.pk)
    # when disabled, then deleted
    Camera.objects.filter(pk=camera.pk).update(enabled=False)
    assert check.check() == "disabled"
    Camera.objects.filter(pk=camera.pk).delete()
    assert check.check() == "deleted"


# -- ledger flusher and live publisher -----------------------------------------------------------
def test_flusher_writes_fenced_batches_publishes_after_commit_and_reports_losses(
        camera: Camera, django_capture_on_commit_callbacks: Any) -> None:
    # given a lease, a buffer holding three crossings, and a loss from an earlier overflow
    line = counting_line_create(actor=None, camera=camera, name="Door", x1=0.5, y1=0, x2=0.5,
                                y2=1)
    keeper = LeaseKeeper(camera_id=camera.pk, owner="w1", ttl_s=30)
    assert keeper.acquire() is not None
    buffer = LedgerBuffer(camera_id=camera.pk, generation=keeper.generation, max_events=100)
    for track in (1, 2, 3):
        buffer.add_event(LedgerEvent(line_id=line.pk, direction="in", track_id=track,
                                     occurred_at=T0, frame_index=track))
    buffer.lost = 4
    publisher = RecordingPublisher(camera)
    publisher.occupancy_set(7, 2)
    publisher.published_occupancy = {7: 2}  # already shown: only commits publish below
    flusher = LedgerFlusher(buffer=buffer, publisher=publisher,
                            guard=DatabaseGuard(camera_id=camera.pk), batch_events=2)
    assert flusher.due()  # a full batch waits
    # when flushed (not final)
    with django_capture_on_commit_callbacks(execute=True):
        flusher.flush()
    # then the events are stored in batches of two, each published after its commit
    assert CountEvent.objects.filter(camera=camera).count() == 3
    assert [(len(events), zones) for events, zones in publisher.sent] == [(2, {7: 2}),
                                                                          (1, {7: 2})]
    # and the loss is counted once in the camera's health
    assert CameraHealth.objects.get(camera_id=camera.pk).events_lost == 4
    # when flushed as the run ends: what came since is written
    buffer.add_event(LedgerEvent(line_id=line.pk, direction="out", track_id=4,
                                 occurred_at=T0, frame_index=4))
    with django_capture_on_commit_callbacks(execute=True):
        flusher.flush(final=True)
    assert CountEvent.objects.filter(camera=camera).count() == 4
    assert len(buffer) == 0
    assert CameraHealth.objects.get(camera_id=camera.pk).events_lost == 4
    # and the metrics' numbers since the last health report: 4 events in 3 transactions
    written, writes, seconds, longest = flusher.stats_take()
    assert (written, writes) == (4, 3)
    assert longest is not None and 0 < longest <= seconds
    assert flusher.stats_take() == (0, 0, 0.0, None)  # taken: the next report starts at zero
    flusher.stats_return((written, writes, seconds, longest))  # a report that failed
    assert flusher.stats_take() == (written, writes, seconds, longest)
    # when only the occupancy changes, a flush publishes it without events
    publisher.occupancy_set(7, 0)
    flusher.flush()
    assert publisher.sent[-1] == ([], {7: 0})


def test_each_batch_records_how_far_analysis_is_stored(camera: Camera) -> None:
    # given a lease and frames analysed without any crossing
    keeper = LeaseKeeper(camera_id=camera.pk, owner="w1", ttl_s=30)
    assert keeper.acquire() is not None
    buffer = LedgerBuffer(camera_id=camera.pk, generation=keeper.generation, max_events=10)
    flusher = LedgerFlusher(buffer=buffer, publisher=RecordingPublisher(camera),
                            guard=DatabaseGuard(camera_id=camera.pk), batch_events=10)
    buffer.frame_done(T0)
    # when flushed, the (empty) batch still moves the lease's stored_until
    flusher.flush()
    assert CameraLease.objects.get(camera=camera).stored_until == T0
    # and with nothing new analysed, no batch is written at all
    assert buffer.next_batch(10) is None
    # and a takeover learns it (the next owner's gap starts there)
    CameraLease.objects.filter(camera=camera).update(heartbeat_at=datetime(2020, 1, 1,
                                                                            tzinfo=UTC))
    taken = LeaseKeeper(camera_id=camera.pk, owner="w2", ttl_s=30).acquire()
    assert taken is not None and taken.stored_until == T0


def test_publisher_forgets_zones_that_no_longer_count(camera: Camera) -> None:
    publisher = RecordingPublisher(camera)
    publisher.occupancy_set(1, 3)
    publisher.occupancy_set(2, 1)
    publisher.zones_keep({2})
    publisher.publish_occupancy_if_changed()
    assert publisher.sent == [([], {2: 1})]
    publisher.publish_occupancy_if_changed()  # nothing new: nothing sent
    assert len(publisher.sent) == 1


# -- frames --------------------------------------------------------------------------------------
def test_an_analysed_frame_becomes_ledger_events_and_zone_samples() -> None:
    # given a frame result with one crossing and a zone with one entry
    crossing = CrossingEvent(line_key="5", line_name="Door", track_id=9, direction="in",
                             time=T0.timestamp() + 0.5, frame_index=42, score=0.8,
                             rule_version="r1")
    entry = ZoneEvent(zone_key="7", zone_name="Hall", track_id=9, kind="enter",
                      time=T0.timestamp(), frame_index=42, dwell=0.0, rule_version="z1")
    zone = ZoneState(key="7", name="Hall", occupancy=2, entries=1, exits=0, events=(entry,))
    result = FrameResult(frame_index=42, time=T0.timestamp(), analysed=True,
                         events=(crossing,), zones=(zone,))
    buffer = LedgerBuffer(camera_id=1, generation=1, max_events=10)
    # when buffered
    occupancy = frame_result_buffer(result=result, frame_time=T0.timestamp(), buffer=buffer,
                                    model_version="m")
    # then the crossing is a ledger event in UTC and the zone a sample of its minute
    assert list(buffer.events) == [LedgerEvent(
        line_id=5, direction="in", track_id=9, occurred_at=T0.replace(microsecond=500000),
        frame_index=42, score=0.8, model_version="m", rule_version="r1")]
    (bucket,) = buffer.zones.values()
    assert (bucket.zone_id, bucket.minute, bucket.entries, bucket.max_occupancy) == (7, T0, 1, 2)
    assert occupancy == {7: 2}


# -- health reporter -----------------------------------------------------------------------------
def test_health_reporter_mirrors_state_changes_on_the_camera(camera: Camera) -> None:
    reporter = HealthReporter(camera_id=camera.pk)
    stamp = Camera.objects.get(pk=camera.pk).updated_at
    # a takeover from nobody records no gap; from a dead owner it does
    reporter.takeover_gap_record(previous_owner="", generation=1)
    assert not CameraHealthEvent.objects.filter(camera_id=camera.pk).exists()
    reporter.takeover_gap_record(previous_owner="host:1:ab", generation=2)
    gap = CameraHealthEvent.objects.get(camera_id=camera.pk)
    assert gap.details == {"previous_owner": "host:1:ab", "generation": 2}
    # a state change is remembered once
    assert reporter.changed(CameraStatus.ONLINE, "streaming") is True
    assert reporter.changed(CameraStatus.ONLINE, "streaming") is False
    # a tick without a source reports the remembered state with zero rates
    reporter.frame_analysed()
    reporter.tick(None)
    health = CameraHealth.objects.get(camera_id=camera.pk)
    assert (health.state, health.reason, health.fps_received) == ("online", "streaming", 0.0)
    assert health.fps_analysed > 0
    # and the camera shows it, through its own service, without looking edited
    camera.refresh_from_db()
    assert (camera.status, camera.status_reason) == ("online", "streaming")
    assert camera.updated_at == stamp


def test_camera_status_set_refuses_unknown_states(camera: Camera) -> None:
    with pytest.raises(ValueError, match="unknown camera status"):
        camera_status_set(camera_id=camera.pk, status="sleeping")
    camera_status_set(camera_id=camera.pk, status=CameraStatus.FROZEN, reason="x" * 600)
    camera.refresh_from_db()
    assert (camera.status, len(camera.status_reason)) == ("frozen", 500)


# -- stream connection ---------------------------------------------------------------------------
class _Mjpeg(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server API)
        self.send_response(200)
        self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
        self.end_headers()
        try:
            for i in range(200):
                ok, jpg = cv2.imencode(".jpg", np.full((48, 64, 3), i % 250, np.uint8))
                self.wfile.write(b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: "
                                 + str(len(jpg)).encode() + b"\r\n\r\n" + jpg.tobytes()
                                 + b"\r\n")
                time.sleep(0.05)
        except (BrokenPipeError, ConnectionResetError):
            return

    def log_message(self, *args: object) -> None:
        return


@pytest.fixture
def mjpeg_port() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Mjpeg)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield int(server.server_address[1])
    server.shutdown()
    server.server_close()


def _config() -> RunnerConfig:
    config = RunnerConfig.from_settings()
    config.open_timeout_s = config.read_timeout_s = 3.0
    return config


def _read_until(connection: StreamConnection, seconds: float) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        frame = connection.read()
        if frame is not None:
            return frame
    return None


def test_connection_opens_through_cameras_streams_and_reads_frames(
        camera: Camera, mjpeg_port: int, settings: Any) -> None:
    # given a camera streaming MJPEG from loopback, allowed on this deployment
    settings.CAMERA_URL_ALLOW_LOOPBACK = True
    Camera.objects.filter(pk=camera.pk).update(
        stream_url=f"http://127.0.0.1:{mjpeg_port}/video.mjpg")
    camera.refresh_from_db()
    states: list[tuple[str, str]] = []
    opened: list[bool] = []
    connection = StreamConnection(camera=camera, config=_config(),
                                  stop_event=threading.Event(),
                                  on_state=lambda s, r: states.append((s, r)),
                                  on_open=lambda: opened.append(True))
    try:
        # when read until a frame arrives
        frame = _read_until(connection, 10)
        # then the stream opened (online, sampler reset) and frames are BGR images
        assert frame is not None and frame.image.shape == (48, 64, 3)
        assert states == [("online", "streaming")] and opened == [True]
        # when the camera's URL is edited, the source is dropped and reopened
        edited = Camera.objects.get(pk=camera.pk)
        edited.stream_url = f"http://127.0.0.1:{mjpeg_port}/other.mjpg"
        connection.camera_change(edited)
        assert connection.source is None
        assert states[-1] == ("offline", "stream settings changed; reconnecting")
        assert _read_until(connection, 10) is not None
        assert states[-1] == ("online", "streaming")
    finally:
        connection.close()


def test_connection_reports_a_refused_url_as_offline_without_its_cause_and_backs_off(
        camera: Camera, settings: Any) -> None:
    # given a camera on loopback, which this deployment refuses
    settings.CAMERA_URL_ALLOW_LOOPBACK = False
    Camera.objects.filter(pk=camera.pk).update(stream_url="http://127.0.0.1:9/video.mjpg")
    camera.refresh_from_db()
    states: list[tuple[str, str]] = []
    connection = StreamConnection(camera=camera, config=_config(),
                                  stop_event=threading.Event(),
                                  on_state=lambda s, r: states.append((s, r)),
                                  on_open=lambda: None)
    # when the loop reads
    assert _read_until(connection, 2) is None
    connection.close()
    # then the camera is offline with the one reason of every failure to open (a status
    # reason must not tell what an address is), and no source was opened
    assert states and states[0] == ("offline", STREAM_UNAVAILABLE)
    assert connection.source is None


# -- lease: takeover needs the owner's session gone ------------------------------------------------
def _owner_session(camera: Camera) -> Any:
    """A connection of its own holding the lease's advisory lock, as a live owner's heartbeat
    connection does."""
    import psycopg

    from tests.chaos.faults import django_conninfo

    conn = psycopg.connect(django_conninfo(), autocommit=True)
    conn.execute("SET search_path = tenant_a, public")
    held = conn.execute("SELECT pg_try_advisory_lock(hashtext('counting-lease:' || "
                        "current_schema()), %s)", [camera.pk]).fetchone()
    assert held == (True,)
    return conn


def test_a_stale_heartbeat_is_not_enough_while_the_owner_session_lives(camera: Camera) -> None:
    # given an owner whose heartbeat is stale (slow, row locked...) but whose session holds
    # the lease's lock
    CameraLease.objects.create(camera=camera, owner="w1", generation=3,
                               heartbeat_at=datetime(2020, 1, 1, tzinfo=UTC))
    owner = _owner_session(camera)
    try:
        # when another runner tries to take the camera: refused (slow is not silent)
        taker = LeaseKeeper(camera_id=camera.pk, owner="w2", ttl_s=10)
        assert taker.acquire() is None
        assert CameraLease.objects.get(camera=camera).generation == 3
    finally:
        owner.close()  # the owner's process dies: PostgreSQL ends its session and the lock
    # then the same attempt succeeds, with the next generation
    taken = wait_for_value(lambda: LeaseKeeper(camera_id=camera.pk, owner="w2",
                                               ttl_s=10).acquire())
    assert (taken.generation, taken.previous_owner) == (4, "w1")


def test_a_session_that_holds_the_lock_without_heartbeating_for_long_is_ended(
        camera: Camera) -> None:
    from counting.leases import lease_lock_holder

    # given a lock holder whose heartbeat is older than the force threshold
    CameraLease.objects.create(camera=camera, owner="w1", generation=1,
                               heartbeat_at=datetime(2020, 1, 1, tzinfo=UTC))
    owner = _owner_session(camera)
    pid = owner.info.backend_pid
    try:
        assert lease_lock_holder(camera_id=camera.pk) == pid
        # when a taker allowed to force comes
        taker = LeaseKeeper(camera_id=camera.pk, owner="w2", ttl_s=10, force_after_s=90)
        taken = taker.acquire()
        # then the stale session was ended and the camera taken
        assert taken is not None and taken.generation == 2
        assert lease_lock_holder(camera_id=camera.pk) != pid
    finally:
        owner.close()


def wait_for_value(func: Any, timeout_s: float = 5.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        value = func()
        if value is not None or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


# -- late writes after a lost lease ----------------------------------------------------------------
def test_late_events_are_written_idempotently_up_to_the_new_owners_start(
        camera: Camera) -> None:
    from counting.ledger import StaleLeaseError, ledger_write_late

    line = counting_line_create(actor=None, camera=camera, name="Door", x1=0.5, y1=0, x2=0.5,
                                y2=1)
    # given generation 1 lost the lease to generation 2, which started at T0 + 10 s
    CameraLease.objects.create(camera=camera, owner="w2", generation=2,
                               acquired_at=T0.replace(second=10), heartbeat_at=T0)
    events = [LedgerEvent(line_id=line.pk, direction="in", track_id=t,
                          occurred_at=T0.replace(second=s), frame_index=t)
              for t, s in ((1, 2), (2, 9), (3, 12))]
    # when the old owner writes its buffered crossings late
    result = ledger_write_late(camera_id=camera.pk, generation=1, events=events)
    # then those before the takeover are stored under generation 1, the later one is left
    # to the new owner
    assert len(result.inserted) == 2 and result.superseded == 1
    assert list(CountEvent.objects.filter(camera=camera).values_list(
        "track_id", "lease_generation")) == [(1, 1), (2, 1)]
    # and a replay stores nothing twice
    again = ledger_write_late(camera_id=camera.pk, generation=1, events=events)
    assert (len(again.inserted), again.duplicates) == (0, 2)
    # and a generation the camera never had is refused
    with pytest.raises(StaleLeaseError):
        ledger_write_late(camera_id=camera.pk, generation=5, events=events)


# -- spool -----------------------------------------------------------------------------------------
def test_spooled_crossings_round_trip(settings: Any, tmp_path: Any) -> None:
    from counting.runner.spool import spool_files, spool_write

    settings.COUNTING_SPOOL_DIR = tmp_path / "spool"
    event = LedgerEvent(line_id=5, direction="out", track_id=9, occurred_at=T0,
                        frame_index=42, score=0.5, model_version="m", rule_version="r")
    # given a run that ended with one crossing unwritten and two losses unreported
    path = spool_write(schema="tenant_a", camera_id=7, generation=3, events=[event], lost=2)
    assert path is not None
    # then the camera's next run finds exactly that (and not other cameras' files)
    spool_write(schema="tenant_a", camera_id=8, generation=1, events=[], lost=1)
    (found,) = spool_files(schema="tenant_a", camera_id=7)
    assert (found.generation, found.events, found.lost) == (3, (event,), 2)


# -- redis gate ------------------------------------------------------------------------------------
def test_redis_gate_leaves_redis_alone_after_a_failure(private_redis_url: Any) -> None:
    import redis as redis_lib

    url, server = private_redis_url
    gate = RedisGate(retry_s=60)
    client = redis_lib.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
    assert gate.call(lambda: client.ping(), False) is True
    server.stop()
    calls: list[int] = []

    def ping() -> Any:
        calls.append(1)
        return client.ping()

    # the first call meets the outage and closes the gate
    assert gate.call(ping, False) is False and gate.down
    # the next ones within the interval do not touch Redis
    assert [gate.call(ping, False) for _ in range(3)] == [False] * 3
    assert len(calls) == 1


@pytest.fixture
def private_redis_url(tmp_path: Any) -> Iterator[tuple[str, Any]]:
    from tests.chaos.faults import redis_process

    with redis_process(tmp_path) as server:
        yield server.url(0), server


# -- publisher queue -------------------------------------------------------------------------------
def test_the_publisher_queue_is_bounded_and_keeps_the_newest(camera: Camera) -> None:
    publisher = LivePublisher(schema="tenant_a", camera=camera, queue_size=2)
    # given more messages than the queue holds (no sender thread running)
    for n in range(5):
        publisher.occupancy_set(1, n)
        publisher.publish([])
    # then the oldest were dropped and counted, the newest wait
    assert publisher.dropped == 3
    assert [publisher._queue.get_nowait()[1] for _ in range(2)] == [{1: 3}, {1: 4}]


def test_the_publisher_skips_sending_while_redis_is_down_and_resyncs(camera: Camera) -> None:
    gate = RedisGate(retry_s=60)
    gate.failed("down")
    publisher = LivePublisher(schema="tenant_a", camera=camera, gate=gate)
    assert publisher.send([], {}) is False
    assert (publisher.skipped, publisher._resync) == (1, True)


# -- watchdog --------------------------------------------------------------------------------------
def test_the_watchdog_cuts_a_call_stuck_on_a_stalled_network() -> None:
    import psycopg

    from counting.runner.watchdog import Watchdog
    from tests.chaos.faults import django_conninfo, tcp_proxy

    params = dict(item.split("=", 1) for item in django_conninfo().split())
    with tcp_proxy((params["host"], int(params["port"]))) as proxy:
        conn = psycopg.connect(f"host=127.0.0.1 port={proxy.port} dbname={params['dbname']} "
                               f"user={params['user']}", autocommit=True, connect_timeout=3)
        watchdog = Watchdog(cancel_after_s=0.5, cut_s=0.5, poll_s=0.05)
        try:
            assert conn.execute("SELECT 1").fetchone() == (1,)
            # given the network to the database stops delivering (no error, just silence)
            proxy.stall()
            # when a query runs under the watchdog
            with pytest.raises(psycopg.OperationalError), watchdog.watch("probe", raw=conn):
                conn.execute("SELECT 1")
            # then the cancel did not get through, and the socket was cut: the call failed
            # instead of hanging
            assert (watchdog.cancels, watchdog.cuts) == (1, 1)
        finally:
            proxy.forward()
            watchdog.close()
            conn.close()


# -- health condition and gaps ---------------------------------------------------------------------
def test_health_condition_tells_stalled_degraded_and_ok() -> None:
    from counting.runner.health_reporter import health_condition
    from counting.runner.state import RunnerState

    state = RunnerState()
    gate = RedisGate()

    def condition() -> tuple[str, str, str]:
        return health_condition(state=state, stream_state="offline",
                                stream_reason="connection refused", redis=gate, buffered=7,
                                stall_after_s=3.0)

    # nothing analysed for longer than the threshold: stalled, with the source's reason
    state.started_mono -= 10
    state.loop_alive()
    assert condition()[0] == "stalled" and "connection refused" in condition()[1]
    assert condition()[2] == "source"
    # analysing, but the database is down and Redis too: degraded, both named
    state.frame_analysed(T0.timestamp())
    state.db_failed(RuntimeError("connection refused"))
    gate.failed("down")
    kind, reason, _ = condition()
    assert kind == "degraded"
    assert "database writes failing" in reason and "7 crossings wait" in reason
    assert "Redis unreachable" in reason
    # all well again: ok
    state.db_ok()
    gate.succeeded()
    assert condition() == ("ok", "", "")
    # the loop itself blocked: stalled, cause loop
    state.loop_alive_mono -= 10
    assert condition()[0] == "stalled" and condition()[2] == "loop"


def test_gaps_are_recorded_with_start_and_end(camera: Camera) -> None:
    from counting.models import CameraGap
    from counting.runner.gaps import GapTracker

    tracker = GapTracker(camera_id=camera.pk, generation=4)
    start = T0
    # given analysis stalls after a frame at T0
    tracker.observe(stalled=True, last_analysed=start, run_started=start, cause="source",
                    reason="no frame analysed for 3 s: connection refused")
    tracker.write()
    gap = CameraGap.objects.get(camera=camera)
    assert (gap.started_at, gap.ended_at, gap.cause, gap.lease_generation) == (
        start, None, "source", 4)
    # when frames are analysed again 17 s later
    tracker.observe(stalled=False, last_analysed=start.replace(second=17), run_started=start,
                    cause="", reason="")
    tracker.write()
    gap.refresh_from_db()
    # then the gap is closed with its true end
    assert gap.ended_at == start.replace(second=17) and gap.seconds == 17.0


def test_overload_meter_judges_sustained_short_rates_and_measures_the_share() -> None:
    from counting.runner.overload import OverloadMeter

    meter = OverloadMeter(sustain_s=10.0, clear_s=4.0)
    t = T0.timestamp()

    def tick(analysed: float, received: float = 7.0, detect: float | None = 30.0) -> Any:
        nonlocal t
        t += 2.0
        return meter.tick(now=t, elapsed_s=2.0, fps_analysed=analysed, fps_received=received,
                          detect_fps=detect)

    # the sampler's own rounding (3.5 of 4 due) and a camera slower than its detect rate
    # (2 of 2 received) are not overload
    assert not any(tick(3.5, detect=4.0).overloaded for _ in range(10))
    assert not any(tick(2.0, received=2.0).overloaded for _ in range(10))
    # a source that sends (almost) nothing is not judged: that is a stall, not overload
    assert not any(tick(0.0, received=0.2).overloaded for _ in range(10))
    # 0.7 of 7 for less than 10 s: not yet; from 10 s on: overloaded since the first short tick
    first_short = t
    verdicts = [tick(0.7) for _ in range(5)]
    assert [v.overloaded for v in verdicts] == [False] * 4 + [True]
    assert verdicts[-1].started == first_short
    # the frames due but not analysed in the stretch so far: 5 ticks x 2 s x (7 - 0.7)
    taken = meter.skipped_take()
    assert abs(taken - 63) <= 1
    meter.skipped_return(taken)  # a report that failed: reported with the next one
    assert abs(meter.skipped_take() - 63) <= 1
    assert verdicts[-1].reason.startswith("analysing 0.7 of 7 frames per second: the machine "
                                          "is overloaded")
    # one full tick in between does not end it; it belongs to the stretch
    assert tick(7.0).overloaded and tick(0.7).overloaded
    # 4 s of full ticks end it where they began; the share is of the stretch only
    recovered_at = t
    assert tick(7.0).overloaded
    ended = tick(7.0)
    assert not ended.overloaded and ended.ended == recovered_at
    # stretch: 6 short ticks of 0.7 and one full tick of 7, over 7 ticks of 7 due
    assert ended.analysed_share == pytest.approx((6 * 0.7 + 7.0) / (7 * 7.0))
    # a stall during an overload ends it at once
    for _ in range(5):
        tick(1.0)
    assert meter.overloaded
    stopped = meter.reset(t)
    assert stopped.ended == t and stopped.analysed_share == pytest.approx(1 / 7)
    assert not meter.overloaded


def test_an_overload_is_a_gap_with_the_share_analysed_and_degrades_health(
        camera: Camera) -> None:
    from datetime import timedelta

    from counting.models import CameraGap
    from counting.runner.gaps import GapTracker
    from counting.runner.health_reporter import health_condition
    from counting.runner.state import RunnerState

    state = RunnerState()
    state.frame_analysed(T0.timestamp())
    reason = "analysing 0.7 of 7 frames per second: the machine is overloaded"
    assert health_condition(state=state, stream_state="online", stream_reason="streaming",
                            redis=RedisGate(), buffered=0, stall_after_s=3.0,
                            overload=reason) == ("degraded", reason, "")
    tracker = GapTracker(camera_id=camera.pk, generation=2)
    tracker.overload_start(started_at=T0, reason=reason)
    # frames analysed during an overload do not close its gap
    tracker.observe(stalled=False, last_analysed=T0 + timedelta(seconds=5), run_started=T0,
                    cause="", reason="")
    tracker.write()
    gap = CameraGap.objects.get(camera=camera)
    assert (gap.cause, gap.ended_at, gap.analysed_share) == ("overload", None, None)
    tracker.overload_end(ended_at=T0 + timedelta(seconds=40), analysed_share=0.25)
    tracker.write()
    gap.refresh_from_db()
    assert (gap.seconds, gap.analysed_share, gap.seconds_unanalysed) == (40.0, 0.25, 30.0)
    # a stall during an overload: the overload gap ends where the stall's begins
    tracker.overload_start(started_at=T0 + timedelta(seconds=60), reason=reason)
    tracker.observe(stalled=True, last_analysed=T0 + timedelta(seconds=70), run_started=T0,
                    cause="source", reason="no frame analysed for 3 s: connection refused")
    tracker.write()
    overload, stall = CameraGap.objects.filter(camera=camera, started_at__gt=T0).order_by(
        "started_at")
    assert (overload.cause, overload.seconds, overload.analysed_share) == ("overload", 10.0,
                                                                           None)
    assert (stall.cause, stall.started_at, stall.ended_at) == (
        "source", T0 + timedelta(seconds=70), None)
    # an overload right after the stall starts where the stall ended, not inside it
    tracker.observe(stalled=False, last_analysed=T0 + timedelta(seconds=80), run_started=T0,
                    cause="", reason="")
    tracker.overload_start(started_at=T0 + timedelta(seconds=79), reason=reason)
    tracker.write()
    latest = CameraGap.objects.filter(camera=camera).order_by("-started_at").first()
    assert latest is not None
    assert (latest.cause, latest.started_at) == ("overload", T0 + timedelta(seconds=80))


def test_camera_health_api_shows_condition_and_recent_gaps(
        camera: Camera, tenant_a: Any) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from counting.health import HealthSnapshot, health_gap_open, health_report
    from counting.selectors import camera_gaps_recent, camera_health_condition

    health_report(camera_id=camera.pk, snapshot=HealthSnapshot(
        state="online", reason="streaming", condition="degraded",
        condition_reason="database unreachable for 12 s"))
    health_gap_open(camera_id=camera.pk, started_at=T0, ended_at=T0.replace(second=15),
                    cause="runner", reason="runner w1 stopped answering")
    health = CameraHealth.objects.get(camera_id=camera.pk)
    # a fresh report: the runner's own condition
    shown = camera_health_condition(health=health, camera_enabled=True)
    assert (shown.condition, shown.reason) == ("degraded", "database unreachable for 12 s")
    # a report much older than the health interval: stalled, whatever the runner said last
    later = timezone.now() + timedelta(minutes=5)
    shown = camera_health_condition(health=health, camera_enabled=True, now=later)
    assert shown.condition == "stalled" and "no report from the stream runner" in shown.reason
    # a disabled camera is not stalled for being silent
    assert camera_health_condition(health=health, camera_enabled=False,
                                   now=later).condition == "degraded"
    (gap,) = camera_gaps_recent(camera_id=camera.pk)
    assert (gap.cause, gap.seconds) == ("runner", 15.0)


def test_the_health_endpoint_answers_condition_and_gaps(
        world_a: Any, api_client: Any, in_tenant: Any) -> None:  # noqa: F811 (fixtures)
    from counting.health import HealthSnapshot, health_gap_open, health_report

    with in_tenant(world_a.tenant):
        for _ in range(2):  # frames skipped by an overloaded runner add up report by report
            health_report(camera_id=world_a.camera.pk, snapshot=HealthSnapshot(
                state="online", reason="streaming", condition="stalled",
                condition_reason="no frame analysed for 9 s: connection refused",
                frames_skipped=12))
        health_gap_open(camera_id=world_a.camera.pk, started_at=T0, cause="source",
                        reason="no frame analysed for 3 s: connection refused")
    body = api_client("a", world_a.owner).get(
        f"/api/v1/cameras/{world_a.camera.pk}/health/").json()
    assert (body["condition"], body["condition_reason"]) == (
        "stalled", "no frame analysed for 9 s: connection refused")
    assert body["frames_skipped"] == 24
    assert body["recent_gaps"] == [{
        "started_at": "2026-03-29T10:00:00Z", "ended_at": None, "seconds": None,
        "cause": "source", "reason": "no frame analysed for 3 s: connection refused",
        "analysed_share": None, "seconds_unanalysed": None}]


def test_a_new_run_writes_what_an_earlier_run_spooled(camera: Camera, settings: Any,
                                                      tmp_path: Any) -> None:
    from counting.runner.runner import StreamRunner
    from counting.runner.spool import spool_files, spool_write

    settings.COUNTING_SPOOL_DIR = tmp_path
    line = counting_line_create(actor=None, camera=camera, name="Door", x1=0.5, y1=0, x2=0.5,
                                y2=1)
    # given generation 1 ended with the database down: one crossing and 2 losses spooled
    spool_write(schema="tenant_a", camera_id=camera.pk, generation=1, lost=2, events=[
        LedgerEvent(line_id=line.pk, direction="in", track_id=1, occurred_at=T0,
                    frame_index=1)])
    CameraLease.objects.create(camera=camera, owner="w2", generation=2,
                               acquired_at=T0.replace(minute=5), heartbeat_at=T0)
    # when the camera's next run starts on this host
    StreamRunner(camera_id=camera.pk, schema="tenant_a")._spool_replay()
    # then the crossing is stored under its own generation, the losses are reported, and the
    # file is gone
    assert list(CountEvent.objects.filter(camera=camera).values_list(
        "track_id", "lease_generation")) == [(1, 1)]
    assert CameraHealth.objects.get(camera_id=camera.pk).events_lost == 2
    assert spool_files(schema="tenant_a", camera_id=camera.pk) == []


@pytest.mark.slow
def test_a_runner_without_its_inference_service_records_a_detector_gap_and_reconnects(
        camera: Camera, shared_dir: Any, tmp_path: Any) -> None:
    from types import SimpleNamespace

    from counting.inference import InferenceDetector
    from counting.inference.server import InferenceServer
    from counting.models import CameraGap
    from counting.pipeline.detectors import DetectorSpec
    from counting.pipeline.types import Frame
    from counting.runner.gaps import GapTracker
    from counting.runner.health_reporter import health_condition
    from counting.runner.runner import StreamRunner
    from counting.runner.snapshotter import Snapshotter

    # given a runner whose detector is a client of an inference service that is not running
    sock = tmp_path / "inference.sock"
    spec = DetectorSpec(model_path=str(shared_dir / "models" / "yolox_nano.onnx"))
    detector = InferenceDetector(spec, socket_path=sock, tenant="tenant_a",
                                 camera=str(camera.pk), timeout_s=60)
    runner = StreamRunner(camera_id=camera.pk, schema="tenant_a", detector=detector)
    runner.snapshotter = Snapshotter(camera_id=camera.pk, schema="tenant_a", interval_s=0)
    runner.buffer = LedgerBuffer(camera_id=camera.pk, generation=1, max_events=100)
    image = np.zeros((360, 480, 3), np.uint8)
    count = iter(range(10_000))
    parts: Any = SimpleNamespace(
        connection=SimpleNamespace(read=lambda: Frame(image, next(count), time.time())),
        engine=CountingEngine(detector), model_version=detector.version)
    gaps = GapTracker(camera_id=camera.pk, generation=1)

    def condition() -> tuple[str, str, str]:
        return health_condition(state=runner.state, stream_state="online",
                                stream_reason="streaming", redis=RedisGate(), buffered=0,
                                stall_after_s=3.0)

    # when the loop steps: the stream stays open, the frame is not analysed
    runner._step(parts)
    assert runner.state.detector_down_since is not None
    assert runner.state.last_analysed_mono is None
    assert condition()[0] == "degraded" and "inference service unavailable" in condition()[1]
    # then once nothing was analysed for the stall threshold: stalled, a "detector" gap
    runner.state.started_mono -= 10
    kind, reason, cause = condition()
    assert (kind, cause) == ("stalled", "detector") and "inference service" in reason
    gaps.observe(stalled=True, last_analysed=None, run_started=T0, cause=cause, reason=reason)
    gaps.write()
    gap = CameraGap.objects.get(camera=camera)
    assert (gap.cause, gap.started_at, gap.ended_at) == ("detector", T0, None)

    # when the service comes (back), the runner reconnects by itself after its backoff
    server = InferenceServer(sock, threads=1)
    server.bind()
    serving = threading.Thread(target=server.serve_forever, daemon=True)
    serving.start()
    try:
        deadline = time.monotonic() + 180
        while runner.state.last_analysed_mono is None and time.monotonic() < deadline:
            runner._step(parts)
            time.sleep(0.1)
        # then frames are analysed again, health is ok and the gap is closed
        runner.state.loop_alive()  # (the loop does this around each step)
        assert runner.state.last_analysed_mono is not None
        assert runner.state.detector_down_since is None and condition() == ("ok", "", "")
        gaps.observe(stalled=False, last_analysed=datetime.now(tz=UTC), run_started=T0,
                     cause="", reason="")
        gaps.write()
        gap.refresh_from_db()
        assert gap.ended_at is not None and gap.cause == "detector"
    finally:
        detector.close()
        server.stop()
        serving.join(timeout=10)
