"""The runner's side of the inference service: a Detector that sends frames to it."""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from counting.inference.frames import ClientSegment
from counting.inference.protocol import (
    PROTOCOL_VERSION,
    InferenceError,
    InferenceModelError,
    InferenceUnavailable,
    recv_message,
    send_message,
)
from counting.pipeline.detectors.base import model_version
from counting.pipeline.detectors.spec import DetectorSpec
from counting.pipeline.types import Detections, ImageArray

logger = logging.getLogger(__name__)

#: Backoff between reconnection attempts after a failure: doubles up to the maximum.
BACKOFF_MIN_S = 0.5
BACKOFF_MAX_S = 5.0


class InferenceDetector:
    """A :class:`~counting.pipeline.detectors.base.Detector` served by the node's inference
    service (``counting.inference.server``) over a Unix socket and shared memory.

    The same spec gives the same boxes as the in-process detector. Connecting is lazy (the
    first :meth:`detect`); every call has a timeout. While the service is unreachable,
    :meth:`detect` raises :class:`InferenceUnavailable` at once and the next call after the
    backoff (0.5 s doubling to 5 s) tries to reconnect; a runner keeps its stream open and
    records the time as a gap. One instance serves one thread at a time (one per runner).
    """

    def __init__(self, spec: DetectorSpec, *, socket_path: str | Path, tenant: str = "",
                 camera: str = "", timeout_s: float = 10.0, hello_timeout_s: float = 120.0
                 ) -> None:
        self.spec = spec
        self.socket_path = str(socket_path)
        self.tenant = tenant
        self.camera = camera
        self.timeout_s = timeout_s
        self.hello_timeout_s = hello_timeout_s
        # What the service will report; known before it answers (the runner stores it on
        # every event from the start). The service's own answer wins when it differs.
        self.name = spec.backend_label
        self.input_size = spec.input_size or 416
        self.score_threshold = spec.score_threshold
        self.version = model_version(Path(spec.model_path), self.name, self.input_size)
        self._sock: socket.socket | None = None
        self._segment: ClientSegment | None = None
        self._seq = 0
        self._lock = threading.Lock()
        self._backoff_s = 0.0
        self._retry_at = 0.0
        self.down_since: float | None = None  # monotonic; None while connected or never tried
        self.last_error = ""

    # -- connection ------------------------------------------------------------------------
    def _connect(self) -> socket.socket:
        now = time.monotonic()
        if now < self._retry_at:
            raise InferenceUnavailable(
                f"inference service at {self.socket_path} unreachable ({self.last_error}); "
                f"reconnecting in {self._retry_at - now:.1f} s")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(min(self.timeout_s, 5.0))
            sock.connect(self.socket_path)
            if self._segment is None:
                self._segment = ClientSegment()
            sock.settimeout(self.hello_timeout_s)  # the first client of a spec waits for the load
            send_message(sock, {"op": "hello", "protocol": PROTOCOL_VERSION,
                                "tenant": self.tenant, "camera": self.camera,
                                "spec": self.spec.as_dict(), "shm": self._segment.name})
            header, _ = self._reply(sock)
        except (OSError, InferenceUnavailable) as exc:
            sock.close()
            self._failed(exc)
            raise InferenceUnavailable(
                f"inference service at {self.socket_path} unreachable: {exc}. The streams "
                "worker restarts it; frames are not analysed meanwhile") from exc
        except BaseException:
            sock.close()
            raise
        sock.settimeout(self.timeout_s)
        self.name = str(header["name"])
        self.version = str(header["version"])
        self.input_size = int(header["input_size"])
        self.score_threshold = float(header["score_threshold"])
        if self.down_since is not None:
            logger.warning("inference service at %s reachable again after %.1f s",
                           self.socket_path, time.monotonic() - self.down_since)
        self._backoff_s, self._retry_at, self.down_since, self.last_error = 0.0, 0.0, None, ""
        self._sock = sock
        return sock

    def _failed(self, exc: BaseException) -> None:
        self._backoff_s = min(BACKOFF_MAX_S, max(BACKOFF_MIN_S, self._backoff_s * 2))
        self._retry_at = time.monotonic() + self._backoff_s
        if self.down_since is None:
            self.down_since = time.monotonic()
        self.last_error = str(exc) or type(exc).__name__

    def _drop(self, exc: BaseException) -> None:
        """The connection is broken or out of step (a late reply): close it, back off."""
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.close()
        self._sock = None
        self._failed(exc)

    @staticmethod
    def _reply(sock: socket.socket) -> tuple[dict[str, Any], bytes]:
        message = recv_message(sock)
        if message is None:
            raise InferenceUnavailable("the service closed the connection")
        header, payload = message
        if header["op"] == "error":
            text = str(header.get("message", "unknown error"))
            if header.get("kind") == "model":
                raise InferenceModelError(f"the inference service cannot load the model: {text}")
            raise InferenceError(f"the inference service failed: {text}")
        return header, payload

    # -- Detector ----------------------------------------------------------------------------
    def detect(self, images: Sequence[ImageArray]) -> list[Detections]:
        """Boxes for ``images`` from the service (raises :class:`InferenceUnavailable` when it
        cannot be reached or does not answer within ``timeout_s``)."""
        if not images:
            return []
        with self._lock:
            sock = self._sock or self._connect()
            assert self._segment is not None
            layout, grown = self._segment.write(images)
            self._seq += 1
            try:
                if grown:
                    send_message(sock, {"op": "shm", "name": self._segment.name})
                    self._reply(sock)
                send_message(sock, {"op": "detect", "seq": self._seq, "frames": layout})
                header, payload = self._reply(sock)
            except (OSError, InferenceUnavailable) as exc:
                self._drop(exc)
                raise InferenceUnavailable(
                    f"inference service at {self.socket_path} did not answer: "
                    f"{type(exc).__name__}: {exc}") from exc
            if header.get("op") != "boxes" or header.get("seq") != self._seq:
                error = InferenceError(f"out-of-step reply {header!r} to request {self._seq}")
                self._drop(error)
                raise error
            return _boxes(header["counts"], payload, len(images))

    def close(self) -> None:
        """Disconnect and free the shared-memory segment."""
        with self._lock:
            if self._sock is not None:
                with contextlib.suppress(OSError):
                    self._sock.close()
                self._sock = None
            if self._segment is not None:
                self._segment.close()
                self._segment = None


def _boxes(counts: list[int], payload: bytes, expected: int) -> list[Detections]:
    total = sum(counts)
    if len(counts) != expected or len(payload) != total * 5 * 4:
        raise InferenceError(f"reply of {len(counts)} results, {len(payload)} bytes for "
                             f"{expected} frames")
    xyxy = np.frombuffer(payload, np.float32, total * 4).reshape(total, 4)
    scores = np.frombuffer(payload, np.float32, total, offset=total * 16)
    out: list[Detections] = []
    at = 0
    for n in counts:
        out.append(Detections(xyxy[at:at + n].copy(), scores[at:at + n].copy()))
        at += n
    return out
