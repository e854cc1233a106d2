"""Real servers on loopback for alert tests: an SMTP server (aiosmtpd) and HTTP receivers that
record every request and answer with scripted statuses (webhooks, Twilio's REST API)."""

from __future__ import annotations

import email
import email.policy
import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ReceivedMail:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    at: float

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    def part(self, content_type: str) -> str:
        for part in self.message.walk():
            if part.get_content_type() == content_type:
                return str(part.get_content())
        return ""


class SmtpRecorder:
    """aiosmtpd handler keeping every message it accepts."""

    def __init__(self) -> None:
        self.messages: list[ReceivedMail] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        parsed = email.message_from_bytes(envelope.original_content or envelope.content,
                                          policy=email.policy.default)
        with self.lock:
            self.messages.append(ReceivedMail(envelope.mail_from, list(envelope.rcpt_tos),
                                              parsed, time.monotonic()))  # type: ignore[arg-type]
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[ReceivedMail]:
        with self.lock:
            return [m for m in self.messages if address in m.rcpt_tos]

    def clear(self) -> None:
        with self.lock:
            self.messages.clear()


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    status: int
    at: float

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class HttpRecorder:
    """A threaded HTTP server: answers each path with the next scripted status (then 200)."""

    port: int = 0
    requests: list[Request] = field(default_factory=list)
    scripts: dict[str, list[int]] = field(default_factory=dict)
    bodies: dict[str, Callable[[Request], bytes]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def on(self, path: str) -> list[Request]:
        with self.lock:
            return [r for r in self.requests if r.path == path]

    def script(self, path: str, statuses: list[int]) -> None:
        with self.lock:
            self.scripts[path] = list(statuses)


def _handler(recorder: HttpRecorder) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            with recorder.lock:
                script = recorder.scripts.get(self.path) or []
                status = script.pop(0) if script else 200
                request = Request("POST", self.path, {k.lower(): v for k, v in
                                                      self.headers.items()}, body, status,
                                  time.monotonic())
                recorder.requests.append(request)
                make_body = recorder.bodies.get(self.path.split("?")[0])
            payload = make_body(request) if make_body and status < 300 else (
                b'{"ok": true}' if status < 300 else b'{"error": "scripted failure"}')
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            return

    return Handler


def http_recorder_start() -> tuple[HttpRecorder, ThreadingHTTPServer]:
    recorder = HttpRecorder()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(recorder))
    recorder.port = int(server.server_address[1])
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return recorder, server


def twilio_message_body(request: Request) -> bytes:
    """What Twilio's Messages endpoint answers (the fields the client library reads)."""
    from urllib.parse import parse_qs

    form = {k: v[0] for k, v in parse_qs(request.body.decode()).items()}
    return json.dumps({"sid": "SM" + "0" * 32, "status": "queued", "to": form.get("To"),
                       "from": form.get("From"), "body": form.get("Body"),
                       "num_segments": "1", "direction": "outbound-api"}).encode()
