"""Sources: file frame times, errors, open timeout, and a live MJPEG stream over HTTP."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import cv2
import numpy as np
import pytest

from cameras.streams import stream_ffmpeg_options
from counting.pipeline.sources import (
    FileSource,
    LiveSource,
    SourceNotFoundError,
    SourceOpenError,
    UnsupportedSourceError,
    _redact,
    frame_fingerprint,
    open_source,
)


@pytest.fixture
def small_video(tmp_path: Path) -> Path:
    """A 12-frame 64x48 MJPG AVI at 4 fps."""
    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), 4.0, (64, 48))
    for i in range(12):
        writer.write(np.full((48, 64, 3), i * 20, np.uint8))
    writer.release()
    return path


def test_file_frame_times_come_from_timestamps(small_video: Path) -> None:
    # given a 4 fps file
    # when read
    with open_source(small_video, live=False) as src:
        assert isinstance(src, FileSource)
        frames = list(src)
    # then 12 frames with consecutive indices and PTS 0, 0.25, 0.5, ...
    assert [f.index for f in frames] == list(range(12))
    assert [f.time for f in frames] == pytest.approx([i / 4 for i in range(12)])
    assert frames[0].size == (64, 48)


def test_pets_frame_times(pets_video: Path) -> None:
    # given the 7 fps PETS video when read then frame n is at n/7 s
    with FileSource(pets_video) as src:
        times = [f.time for f, _ in zip(src, range(8), strict=False)]
        assert (src.fps, src.frame_count) == (7.0, 795)
    assert times == pytest.approx([i / 7 for i in range(8)])


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SourceNotFoundError, match="video file not found"):
        open_source(tmp_path / "missing.mp4", live=False)


def test_file_that_is_not_a_video(tmp_path: Path) -> None:
    bad = tmp_path / "notes.mp4"
    bad.write_text("hello")
    with pytest.raises(SourceOpenError, match="cannot decode"):
        open_source(bad, live=False)


@pytest.mark.parametrize(
    ("uri", "live", "message"),
    [
        ("ftp://cam.example/stream", True, "unsupported stream scheme 'ftp'"),  # not allowed
        ("file:///etc/passwd", True, "unsupported stream scheme 'file'"),  # local files
        ("/tmp/video.mp4", True, "unsupported stream scheme"),  # a path where a URL is expected
        ("rtsp://cam.example/stream", False, "is a URL"),  # a URL opened as a file
    ],
)
def test_bad_schemes(uri: str, live: bool, message: str) -> None:
    with pytest.raises(UnsupportedSourceError, match=message):
        open_source(uri, live=live)


def test_credentials_are_redacted() -> None:
    assert _redact("rtsp://admin:secret@10.0.0.5:554/s") == "rtsp://***@10.0.0.5:554/s"


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A TCP server that accepts connections and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    conns: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conns.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join()
    for c in conns:
        c.close()
    server.close()


@pytest.mark.parametrize("scheme", ["http", "rtsp"])
def test_open_times_out_on_a_silent_server(silent_server: int, scheme: str) -> None:
    # given a server that accepts and never answers
    started = time.monotonic()
    # when opened with a 1 s timeout then opening fails with a clear error
    with pytest.raises(SourceOpenError, match="timed out after 1s"):
        url = f"{scheme}://127.0.0.1:{silent_server}/stream"
        open_source(url, open_timeout_s=1.0, read_timeout_s=1.0,
                    ffmpeg_options=stream_ffmpeg_options(url))
    # (generous bound: only that it does not hang for FFmpeg's own default minutes)
    assert time.monotonic() - started < 10.0


class _MJPEGHandler(BaseHTTPRequestHandler):
    """Serves an endless multipart MJPEG stream; frames stop changing after ``frozen_after``."""

    fps = 30.0
    frozen_after = 10**9
    drop_after = 10**9  # close the connection after this many frames

    def do_GET(self) -> None:  # noqa: N802 (http.server API)
        self.send_response(200)
        self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
        self.end_headers()
        i = 0
        try:
            while i < self.drop_after:
                value = min(i, self.frozen_after) * 7 % 256
                image = np.full((48, 64, 3), value, np.uint8)
                cv2.putText(
                    image,
                    str(min(i, self.frozen_after)),
                    (2, 30),
                    cv2.FONT_HERSHEY_SIMPLEX,
                    0.8,
                    (255, 255, 255),
                    2,
                )
                ok, jpg = cv2.imencode(".jpg", image)
                assert ok
                self.wfile.write(
                    b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: "
                    + str(len(jpg)).encode()
                    + b"\r\n\r\n"
                    + jpg.tobytes()
                    + b"\r\n"
                )
                i += 1
                time.sleep(1.0 / self.fps)
        except (BrokenPipeError, ConnectionResetError):
            return

    def log_message(self, *args: object) -> None:
        return


@pytest.fixture
def mjpeg_server() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _MJPEGHandler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_live_mjpeg_keeps_only_the_newest_frame(mjpeg_server: ThreadingHTTPServer) -> None:
    # given a 30 fps MJPEG stream
    url = f"http://127.0.0.1:{mjpeg_server.server_address[1]}/video.mjpg"
    src = open_source(url, live=True, open_timeout_s=5, read_timeout_s=5,
                      ffmpeg_options=stream_ffmpeg_options(url))
    assert isinstance(src, LiveSource)
    try:
        first = src.read(timeout_s=5)
        # when the consumer is slow (0.5 s between reads)
        time.sleep(0.5)
        second = src.read(timeout_s=5)
        health = src.health()
    finally:
        started = time.monotonic()
        src.close()
        closed_in = time.monotonic() - started
    # then it gets the newest frame, the backlog is counted as dropped, times are wall clock
    assert first is not None and second is not None
    assert second.index - first.index > 5
    assert health.frames_dropped >= second.index - first.index - 1
    assert health.state == "streaming" and health.reconnects == 0
    assert abs(second.time - time.time()) < 5
    # and close() stops the reader promptly
    assert closed_in < 6
    assert src.health().state == "closed"
    assert src.read(timeout_s=0.1) is None


def test_live_frozen_stream_is_detected(mjpeg_server: ThreadingHTTPServer) -> None:
    # given a stream whose picture stops changing after a few frames
    _MJPEGHandler.frozen_after = 3
    try:
        url = f"http://127.0.0.1:{mjpeg_server.server_address[1]}/video.mjpg"
        with LiveSource(url, ffmpeg_options=stream_ffmpeg_options(url), open_timeout_s=5,
                        read_timeout_s=5, frozen_after_s=0.5) as src:
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and not src.health().frozen:
                src.read(timeout_s=1)
            health = src.health()
    finally:
        _MJPEGHandler.frozen_after = 10**9
    # then the source reports it frozen
    assert health.frozen and health.state == "frozen"


def test_live_source_reconnects_after_a_drop(mjpeg_server: ThreadingHTTPServer) -> None:
    # given a stream that closes the connection every 10 frames
    _MJPEGHandler.drop_after = 10
    try:
        url = f"http://127.0.0.1:{mjpeg_server.server_address[1]}/video.mjpg"
        with LiveSource(
            url, ffmpeg_options=stream_ffmpeg_options(url), open_timeout_s=5, read_timeout_s=2,
            backoff_initial_s=0.05, backoff_max_s=0.2
        ) as src:
            deadline = time.monotonic() + 10
            received = 0
            while time.monotonic() < deadline and src.health().reconnects < 2:
                if src.read(timeout_s=1) is not None:
                    received += 1
            health = src.health()
    finally:
        _MJPEGHandler.drop_after = 10**9
    # then it reconnected and frames kept coming
    assert health.reconnects >= 2
    assert health.frames_received >= 15 and received > 0


def test_frame_fingerprint_changes_with_content() -> None:
    a = np.zeros((360, 480, 3), np.uint8)
    b = a.copy()
    b[::16, ::16] = 1
    assert frame_fingerprint(a) == frame_fingerprint(a.copy())
    assert frame_fingerprint(a) != frame_fingerprint(b)


@pytest.mark.parametrize(
    "options",
    [
        None,  # no options at all: FFmpeg would accept every protocol
        {"rtsp_transport": "tcp"},  # options without a whitelist
        {"protocol_whitelist": ""},  # an empty whitelist is no whitelist
        {"protocol_whitelist": "http,tcp,FILE"},  # a whitelist that lets FFmpeg read files
    ],
)
def test_live_source_refuses_options_that_allow_local_files(options: dict[str, str] | None
                                                            ) -> None:
    # given a live URL and FFmpeg options without a network-only whitelist
    # when opened then it is refused before any connection is made
    with pytest.raises(UnsupportedSourceError, match="protocol_whitelist"):
        LiveSource("http://127.0.0.1:9/video.mjpg", ffmpeg_options=options, open_timeout_s=1)


def test_the_stream_whitelist_makes_ffmpeg_refuse_local_files(small_video: Path) -> None:
    import av

    # given a local video that FFmpeg opens when the file protocol is allowed
    with av.open(f"file:{small_video}", options={"protocol_whitelist": "file"}) as container:
        assert container.streams.video
    # when it is opened with the options every live open uses
    # then FFmpeg itself refuses the file protocol
    for uri in (f"file:{small_video}", str(small_video), f"concat:{small_video}"):
        with pytest.raises(av.error.FFmpegError):
            av.open(uri, options=stream_ffmpeg_options("rtsp://cam.example/s"), timeout=2)


def test_live_decoding_gives_the_pixels_file_decoding_gives(pets_video: Path) -> None:
    import av

    from counting.pipeline.sources import _LiveStream

    # given the first PETS frames read by the file source (OpenCV)
    with FileSource(pets_video) as src:
        expected = [f.image for f, _ in zip(src, range(20), strict=False)]
    # when the same file is decoded by the live path's decoder (PyAV, its BGR conversion)
    stream = _LiveStream(av.open(f"file:{pets_video}", options={"protocol_whitelist": "file"}))
    try:
        got = [stream.read() for _ in range(20)]
    finally:
        stream.close()
    # then every frame has exactly the same pixels, so live counts match count_video's
    assert all(g is not None and np.array_equal(g, e) for g, e in zip(got, expected,
                                                                      strict=True))
