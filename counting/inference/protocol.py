"""The wire format between stream runners and the inference service (a Unix stream socket).

One message is ``!II`` (header length, payload length), a UTF-8 JSON header, then the payload
bytes. Headers are small (an operation, a sequence number, frame offsets and shapes); payloads
carry the boxes and scores of a reply (float32). Frames never cross the socket: they are in the
client's shared-memory segment (:mod:`counting.inference.frames`).

Operations (client -> service, each answered once, in order):

- ``hello {protocol, tenant, camera, spec, shm}`` -> ``ready {name, version, input_size,
  score_threshold}``: loads the spec's model if no client loaded it yet;
- ``shm {name}`` -> ``ok``: the client's segment was replaced by a larger one;
- ``detect {seq, frames: [[offset, height, width], ...]}`` -> ``boxes {seq, counts}`` with
  payload ``xyxy (sum(counts), 4) float32`` then ``scores (sum(counts),) float32``;
- ``stats`` -> ``stats {...}`` (batches, frames, clients, models; for benchmarks and ops).

Any operation may be answered ``error {message, kind}`` instead (``kind`` "model": the model
cannot be loaded; "request": a malformed request; "detector": the detector failed).
"""

from __future__ import annotations

import json
import socket
import struct
from typing import Any

PROTOCOL_VERSION = 1
_PREFIX = struct.Struct("!II")
MAX_HEADER = 1 << 20
MAX_PAYLOAD = 64 << 20


class InferenceError(RuntimeError):
    """The inference service answered with an error, or broke the protocol."""


class InferenceUnavailable(InferenceError):
    """The inference service cannot be reached or did not answer in time (it is down, starting
    or restarting). The client reconnects by itself on a later call, with backoff."""


class InferenceModelError(ValueError):
    """The service cannot load the requested model (the file or a setting is wrong). A
    ValueError, like :class:`~counting.pipeline.detectors.base.ModelError`."""


def send_message(sock: socket.socket, header: dict[str, Any], payload: bytes = b"") -> None:
    """Send one message (blocking; the socket's timeout applies)."""
    head = json.dumps(header, separators=(",", ":")).encode()
    sock.sendall(_PREFIX.pack(len(head), len(payload)) + head + payload)


def recv_message(sock: socket.socket) -> tuple[dict[str, Any], bytes] | None:
    """Receive one message; None when the peer closed the connection cleanly between
    messages. Raises :class:`InferenceError` on a malformed message, ``OSError`` (including
    ``TimeoutError``) when the socket fails."""
    prefix = _recv_exact(sock, _PREFIX.size, allow_eof=True)
    if prefix is None:
        return None
    head_len, payload_len = _PREFIX.unpack(prefix)
    if head_len > MAX_HEADER or payload_len > MAX_PAYLOAD:
        raise InferenceError(f"message too large (header {head_len}, payload {payload_len})")
    head = _recv_exact(sock, head_len)
    payload = _recv_exact(sock, payload_len) if payload_len else b""
    assert head is not None and payload is not None
    try:
        header = json.loads(head)
    except ValueError as exc:
        raise InferenceError(f"malformed message header: {exc}") from exc
    if not isinstance(header, dict) or not isinstance(header.get("op"), str):
        raise InferenceError("malformed message header: no operation")
    return header, payload


def _recv_exact(sock: socket.socket, n: int, allow_eof: bool = False) -> bytes | None:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            if allow_eof and not buf:
                return None
            raise ConnectionResetError("the peer closed the connection in a message")
        buf += chunk
    return bytes(buf)
