"""Servers and a DNS resolver for the network security tests (tests/security/test_net_*.py).

``ScriptedResolver`` is named by ``CAMERA_URL_RESOLVER``: its answers per host are a script
(first answer, then the next ...; the last one repeats), so a test can rebind a name between
the check at save time and the one at connect time. The camera server records every request
(path, Host header), so a test sees where connections really went.
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import cv2
import numpy as np
import pytest

RESOLVER_PATH = "tests.security.net_fixtures.scripted_resolve"


class ScriptedResolver:
    """Answers per host from a script; every call is recorded."""

    def __init__(self) -> None:
        self.script: dict[str, list[list[str]]] = {}
        self.calls: list[str] = []
        self._lock = threading.Lock()

    def set(self, host: str, *answers: list[str]) -> None:
        with self._lock:
            self.script[host] = [list(a) for a in answers]

    def __call__(self, host: str, port: int) -> list[str]:
        with self._lock:
            self.calls.append(host)
            answers = self.script.get(host)
            if not answers:
                return [host]  # an address literal answers itself
            return answers.pop(0) if len(answers) > 1 else answers[0]


RESOLVER = ScriptedResolver()


def scripted_resolve(host: str, port: int) -> list[str]:
    return RESOLVER(host, port)


@pytest.fixture
def resolver(settings: Any) -> Iterator[ScriptedResolver]:
    """The scripted resolver, installed as the deployment's resolver for this test."""
    settings.CAMERA_URL_RESOLVER = RESOLVER_PATH
    RESOLVER.script.clear()
    RESOLVER.calls.clear()
    yield RESOLVER
    RESOLVER.script.clear()


def jpeg(width: int = 64, height: int = 48, value: int = 90) -> bytes:
    ok, buffer = cv2.imencode(".jpg", np.full((height, width, 3), value, np.uint8))
    assert ok
    return bytes(buffer.tobytes())


def forged_jpeg(width: int, height: int) -> bytes:
    """A small real JPEG whose frame header announces ``width`` x ``height`` (a decompression
    bomb's header: a few hundred bytes that would decode to hundreds of megabytes)."""
    data = bytearray(jpeg())
    i = 2
    while i < len(data):
        marker = data[i + 1]
        (length,) = struct.unpack(">H", data[i + 2:i + 4])
        if marker in (0xC0, 0xC1, 0xC2):
            data[i + 5:i + 9] = struct.pack(">HH", height, width)
            return bytes(data)
        i += 2 + length
    raise AssertionError("no frame header in the JPEG")


@dataclass
class CameraServer:
    """A local HTTP camera: MJPEG at any path, ``/redirect`` answers 302 to ``redirect_to``;
    frames are ``frame`` (bytes), the connection is closed after ``frames`` frames."""

    port: int = 0
    requests: list[tuple[str, str]] = field(default_factory=list)
    redirect_to: str = ""
    frame: bytes = b""
    frames: int = 200
    lock: threading.Lock = field(default_factory=threading.Lock)

    def paths(self) -> list[str]:
        with self.lock:
            return [path for path, _ in self.requests]


def _handler(state: CameraServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server API)
            with state.lock:
                state.requests.append((self.path, self.headers.get("Host", "")))
            if self.path.startswith("/redirect"):
                self.send_response(302)
                self.send_header("Location", state.redirect_to)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
            self.end_headers()
            data = state.frame or jpeg()
            try:
                for _ in range(state.frames):
                    self.wfile.write(b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: "
                                     + str(len(data)).encode() + b"\r\n\r\n" + data + b"\r\n")
                    time.sleep(0.03)
            except (BrokenPipeError, ConnectionResetError):
                return

        def log_message(self, *args: object) -> None:
            return

    return Handler


def _serve(state: CameraServer) -> Iterator[CameraServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    server.daemon_threads = True
    state.port = int(server.server_address[1])
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def camera_server() -> Iterator[CameraServer]:
    yield from _serve(CameraServer())


@pytest.fixture
def second_server() -> Iterator[CameraServer]:
    yield from _serve(CameraServer())


@dataclass
class SilentServer:
    """Accepts TCP connections and never answers; counts them."""

    port: int
    accepted: int = 0


@pytest.fixture
def silent_server() -> Iterator[SilentServer]:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(256)
    listener.settimeout(0.2)
    state = SilentServer(port=int(listener.getsockname()[1]))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
                state.accepted += 1
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield state
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    listener.close()
