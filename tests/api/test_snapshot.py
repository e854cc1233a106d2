"""The snapshot endpoint against a real local MJPEG server, a closed port and a silent one."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import cv2
import numpy as np
import pytest
from django.test import override_settings

from cameras.streams import STREAM_UNAVAILABLE

BOUNDARY = "frame"


def _frame(index: int) -> bytes:
    image = np.zeros((120, 160, 3), dtype=np.uint8)
    image[:, :, 1] = 40 * index % 255
    cv2.rectangle(image, (20 + index, 30), (60 + index, 90), (255, 255, 255), -1)
    ok, buffer = cv2.imencode(".jpg", image)
    assert ok
    return buffer.tobytes()


class _MjpegHandler(BaseHTTPRequestHandler):
    """Serves multipart/x-mixed-replace JPEG frames, like many IP cameras."""

    def do_GET(self) -> None:  # noqa: N802 (http.server naming)
        self.send_response(200)
        self.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY}")
        self.end_headers()
        try:
            for index in range(50):
                jpeg = _frame(index)
                self.wfile.write(f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\n"
                                 f"Content-Length: {len(jpeg)}\r\n\r\n".encode() + jpeg + b"\r\n")
                time.sleep(0.04)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        return


@pytest.fixture
def mjpeg_server() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _MjpegHandler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


@pytest.fixture
def silent_server() -> Iterator[int]:
    """Accepts connections and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    yield listener.getsockname()[1]
    listener.close()


def _closed_port() -> int:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return int(port)


def _camera_at(world: Any, in_tenant: Any, url: str) -> Any:
    from cameras.models import Camera

    with in_tenant(world.tenant):
        Camera.objects.filter(pk=world.camera.pk).update(stream_url=url)
    return world.camera


@override_settings(CAMERA_URL_ALLOW_LOOPBACK=True)
def test_a_snapshot_is_a_jpeg_of_the_current_frame(world_a: Any, in_tenant: Any,
                                                   api_client: Any, mjpeg_server: int) -> None:
    # given a camera streaming MJPEG from a local server (loopback allowed in this deployment)
    camera = _camera_at(world_a, in_tenant, f"http://127.0.0.1:{mjpeg_server}/video.mjpg")

    # when a Viewer granted the camera's site asks for a snapshot
    response = api_client("a", world_a.viewer_granted).get(
        f"/api/v1/cameras/{camera.pk}/snapshot/")

    # then a decodable JPEG of the stream's size comes back
    assert response.status_code == 200, response.content[:300]
    assert response["Content-Type"] == "image/jpeg"
    image = cv2.imdecode(np.frombuffer(response.content, np.uint8), cv2.IMREAD_COLOR)
    assert image.shape == (120, 160, 3)


@override_settings(CAMERA_URL_ALLOW_LOOPBACK=True)
def test_an_unreachable_camera_is_a_502(world_a: Any, in_tenant: Any, api_client: Any) -> None:
    # given a camera whose port is closed
    camera = _camera_at(world_a, in_tenant, f"http://127.0.0.1:{_closed_port()}/video.mjpg")
    # when a snapshot is asked for
    response = api_client("a", world_a.owner).get(f"/api/v1/cameras/{camera.pk}/snapshot/")
    # then the answer says the camera could not be reached, in the one message of every failure
    assert response.status_code == 502
    assert response.json()["error"] == {
        "code": "camera_unreachable", "message": STREAM_UNAVAILABLE, "fields": {}}


@override_settings(CAMERA_URL_ALLOW_LOOPBACK=True, API_SNAPSHOT_TIMEOUT_S=1.0)
def test_a_silent_camera_gets_the_same_answer_as_an_unreachable_one(
        world_a: Any, in_tenant: Any, api_client: Any, silent_server: int) -> None:
    # given a camera that accepts the connection and never answers
    camera = _camera_at(world_a, in_tenant, f"http://127.0.0.1:{silent_server}/video.mjpg")
    # when a snapshot is asked for
    response = api_client("a", world_a.owner).get(f"/api/v1/cameras/{camera.pk}/snapshot/")
    # then the answer does not tell a silent port from a closed one (no oracle)
    assert response.status_code == 502
    assert response.json()["error"] == {
        "code": "camera_unreachable", "message": STREAM_UNAVAILABLE, "fields": {}}


def test_the_url_policy_is_checked_again_at_connect_time(world_a: Any, in_tenant: Any,
                                                         api_client: Any,
                                                         mjpeg_server: int) -> None:
    # given a camera saved while loopback was allowed, and a deployment that now refuses it
    camera = _camera_at(world_a, in_tenant, f"http://127.0.0.1:{mjpeg_server}/video.mjpg")
    # when a snapshot is asked for
    response = api_client("a", world_a.owner).get(f"/api/v1/cameras/{camera.pk}/snapshot/")
    # then it is refused with the one message of every failure (the cause is only logged)
    assert response.status_code == 502
    assert response.json()["error"]["message"] == STREAM_UNAVAILABLE


@pytest.mark.parametrize("url", [
    "file:///etc/passwd",  # a local file
    "/etc/passwd",  # a path where a URL is expected
    "concat:http://127.0.0.1/a|file:///etc/passwd",  # an FFmpeg pseudo-protocol
])
@override_settings(CAMERA_URL_ALLOW_LOOPBACK=True)
def test_a_snapshot_never_opens_local_files(world_a: Any, in_tenant: Any, api_client: Any,
                                            url: str) -> None:
    # given a camera whose stored URL points at a local file (written past the validators)
    camera = _camera_at(world_a, in_tenant, url)
    # when a snapshot is asked for
    response = api_client("a", world_a.owner).get(f"/api/v1/cameras/{camera.pk}/snapshot/")
    # then it is refused by the URL policy, before FFmpeg sees it
    assert response.status_code == 502
    assert response.content[:3] != b"\xff\xd8\xff"


def test_the_snapshot_opener_makes_ffmpeg_refuse_local_files(tmp_path: Any) -> None:
    from cameras.api.snapshot import SnapshotError, snapshot_from_target
    from cameras.streams import StreamTarget, stream_ffmpeg_options

    # given a real local video that FFmpeg could decode
    video = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter.fourcc(*"MJPG"), 4.0, (64, 48))
    for _ in range(4):
        writer.write(np.full((48, 64, 3), 128, np.uint8))
    writer.release()
    # when the snapshot opener is handed it with the options every stream open uses
    target = StreamTarget(url=f"file:{video}",
                          options=stream_ffmpeg_options("http://cam.example/video.mjpg"))
    # then FFmpeg refuses the file protocol and no frame comes back
    with pytest.raises(SnapshotError, match="could not be reached"):
        snapshot_from_target(target=target, timeout_s=2.0)
