"""Resilience of a running stream: rule edits applied without a restart, and a PostgreSQL
outage survived with events buffered and written once the database is back."""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from django_tenants.utils import tenant_context

from tests.streams.conftest import (
    camera_simulator,
    cameras_stop_all,
    dispatch,
    free_port,
    health_of,
    make_camera,
    queue_delete,
    stream_worker,
    wait_for,
    worker_log,
)

pytestmark = pytest.mark.slow


class TcpProxy:
    """A real TCP proxy in front of PostgreSQL that the test can cut and restore: while cut,
    every connection is closed and new ones are refused, as when the database host is down."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.port = free_port()
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()
        self._server: socket.socket | None = None
        self.down = False
        self.restore()

    def restore(self) -> None:
        self.down = False
        server = socket.socket()
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", self.port))
        server.listen(64)
        self._server = server
        threading.Thread(target=self._accept, args=(server,), daemon=True).start()

    def _accept(self, server: socket.socket) -> None:
        while True:
            try:
                client, _ = server.accept()
            except OSError:
                return
            if self.down:
                client.close()
                return
            try:
                upstream = socket.create_connection(self.upstream)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def cut(self) -> None:
        assert self._server is not None
        self.down = True
        try:  # wakes the thread blocked in accept(); close() alone would not on Linux
            self._server.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._server.close()
        with self._lock:
            conns, self._conns = self._conns, []
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            conn.close()


@pytest.fixture(scope="module")
def db_proxy(live_db: None) -> Iterator[TcpProxy]:
    from django.db import connection

    params = connection.settings_dict
    proxy = TcpProxy((params["HOST"] or "127.0.0.1", int(params["PORT"] or 5432)))
    yield proxy
    proxy.cut()


@pytest.fixture(scope="module")
def proxied_worker(db_proxy: TcpProxy, stream_tenant: Any, streams_queue: str) -> Any:
    from django.db import connection

    params = connection.settings_dict
    url = f"postgres://{params['USER'] or 'postgres'}@127.0.0.1:{db_proxy.port}/{params['NAME']}"
    with stream_worker(streams_queue, extra_env={"DATABASE_URL": url,
                                                 "COUNTING_RULES_POLL_S": "3"}) as process:
        yield process


def _reloads(queue: str, camera_id: int) -> list[str]:
    pattern = rf"camera {camera_id}: rules reloaded \((\d+) lines, (\d+) zones, \d+ masks\)"
    return [f"{m.group(1)}/{m.group(2)}" for m in re.finditer(pattern, worker_log(queue))]


def test_editing_lines_takes_effect_within_10s_without_a_restart(
        pets_video: Path, proxied_worker: Any, stream_tenant: Any, streams_queue: str,
        settings: Any, allow_loopback: None) -> None:
    from counting.models import CameraLease, CountEvent
    from counting.services import counting_line_create, counting_line_update

    with camera_simulator(pets_video, frames=200) as url:
        # given a camera streaming with no lines
        camera = make_camera(stream_tenant, url, detect_fps=5.0, lines=False)
        dispatch(stream_tenant, streams_queue, settings)
        wait_for(lambda: getattr(health_of(stream_tenant, camera.pk), "state", "") == "online",
                 60, message="the camera online")
        with tenant_context(stream_tenant):
            generation = CameraLease.objects.get(camera=camera).generation
            # when a line is drawn
            line = counting_line_create(actor=None, camera=camera, name="door", x1=0.5, y1=0,
                                        x2=0.5, y2=1)
        drawn = time.monotonic()
        # then the running stream uses it within 10 s, and later counts with it
        wait_for(lambda: _reloads(streams_queue, camera.pk) == ["1/0"], 10.0,
                 message="the new line to be loaded")
        assert time.monotonic() - drawn <= 10.0
        with tenant_context(stream_tenant):
            wait_for(lambda: CountEvent.objects.filter(line=line).exists(), 90,
                     message="a crossing of the new line")
            # when the line is disabled, it is dropped within 10 s too
            counting_line_update(actor=None, line=line, enabled=False)
        wait_for(lambda: _reloads(streams_queue, camera.pk) == ["1/0", "0/0"], 10.0,
                 message="the disabled line to be dropped")
        # and all of it happened in the same run: no restart, same lease generation
        with tenant_context(stream_tenant):
            assert CameraLease.objects.get(camera=camera).generation == generation
        cameras_stop_all(stream_tenant)


def test_events_wait_in_the_buffer_while_postgresql_is_unreachable(
        pets_video: Path, proxied_worker: Any, db_proxy: TcpProxy, stream_tenant: Any,
        streams_queue: str, settings: Any, allow_loopback: None) -> None:
    from counting.models import CountEvent

    with camera_simulator(pets_video, frames=280) as url:
        # given a camera counting two lines through the proxied database connection
        camera = make_camera(stream_tenant, url, detect_fps=5.0)
        dispatch(stream_tenant, streams_queue, settings)
        wait_for(lambda: getattr(health_of(stream_tenant, camera.pk), "state", "") == "online",
                 60, message="the camera online")
        # when PostgreSQL becomes unreachable for 15 s while people keep crossing
        db_proxy.cut()
        cut_at = datetime.now(tz=UTC)
        time.sleep(15)
        db_proxy.restore()
        restored_at = datetime.now(tz=UTC)
        # then the crossings seen during the outage are stored once it is back
        with tenant_context(stream_tenant):
            during = CountEvent.objects.filter(camera=camera, occurred_at__gte=cut_at,
                                               occurred_at__lt=restored_at)
            wait_for(lambda: during.exists(), 15, message="events of the outage to be stored",
                     )
            recorded = list(during.values_list("occurred_at", "recorded_at"))
            assert all(r >= restored_at for _, r in recorded), (cut_at, restored_at, recorded,
                                                                worker_log(streams_queue)[-4000:])
            assert health_of(stream_tenant, camera.pk).events_lost == 0
            # and the stream kept its lease (nobody else took over) and stays online
            assert health_of(stream_tenant, camera.pk).state == "online"
        cameras_stop_all(stream_tenant)


def test_an_overflowing_buffer_counts_and_shows_the_loss_in_camera_health(
        pets_video: Path, db_proxy: TcpProxy, stream_tenant: Any, settings: Any,
        allow_loopback: None) -> None:
    import uuid

    from django.db import connection

    from counting.models import CameraHealthEvent

    params = connection.settings_dict
    url_db = f"postgres://{params['USER'] or 'postgres'}@127.0.0.1:{db_proxy.port}/" \
             f"{params['NAME']}"
    queue = f"test-streams-{uuid.uuid4().hex[:8]}"
    with camera_simulator(pets_video, frames=280) as url, \
            stream_worker(queue, extra_env={"DATABASE_URL": url_db,
                                            "COUNTING_BUFFER_MAX_EVENTS": "1"}):
        # given a camera whose runner may buffer a single event
        camera = make_camera(stream_tenant, url, detect_fps=5.0)
        dispatch(stream_tenant, queue, settings)
        wait_for(lambda: getattr(health_of(stream_tenant, camera.pk), "state", "") == "online",
                 60, message="the camera online")
        # when PostgreSQL is unreachable for longer than the buffer lasts
        db_proxy.cut()
        time.sleep(20)
        db_proxy.restore()
        # then the loss is counted in the camera's health with an explanatory event
        wait_for(lambda: health_of(stream_tenant, camera.pk).events_lost > 0, 15,
                 message="the loss in camera health")
        with tenant_context(stream_tenant):
            event = CameraHealthEvent.objects.get(camera_id=camera.pk,
                                                  details__has_key="events_lost")
        lost = health_of(stream_tenant, camera.pk).events_lost
        assert event.details == {"events_lost": lost}
        assert event.reason == (f"{lost} events lost: ledger buffer overflowed while the "
                                "database was unreachable")
        assert "ledger buffer full" in worker_log(queue)
        cameras_stop_all(stream_tenant)
    queue_delete(queue)


def test_a_worker_that_cannot_load_the_detector_says_why_in_camera_health(
        pets_video: Path, stream_tenant: Any, settings: Any, tmp_path: Path,
        allow_loopback: None) -> None:
    import uuid

    queue = f"test-streams-{uuid.uuid4().hex[:8]}"
    missing = tmp_path / "moved" / "yolox_nano.onnx"
    with camera_simulator(pets_video, frames=100) as url, \
            stream_worker(queue, extra_env={"COUNTING_MODEL_PATH": str(missing)}):
        # given a stream worker whose model file is not where the settings say
        camera = make_camera(stream_tenant, url, detect_fps=5.0)
        # when it is given the camera
        dispatch(stream_tenant, queue, settings)
        # then the camera's health is an error that names the file and the fix, and the worker
        # logs the same, instead of a bare traceback
        wait_for(lambda: getattr(health_of(stream_tenant, camera.pk), "state", "") == "error",
                 60, message="the camera in error")
        reason = health_of(stream_tenant, camera.pk).reason
        assert f"model file not found: {missing}" in reason
        assert ("Fix the registry model's file on this node or the COUNTING_* setting; the "
                "camera starts again on its next dispatch") in reason
        assert "the detector could not be loaded" in worker_log(queue)
        cameras_stop_all(stream_tenant)
    queue_delete(queue)
