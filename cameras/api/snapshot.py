"""One JPEG frame from a camera's stream, grabbed on demand with a short timeout.

The URL is checked against the URL policy again right before connecting (its host may resolve
elsewhere now than when it was saved), FFmpeg is limited to network protocols, and credentials
travel only inside the URL handed to OpenCV, never in errors or logs.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from cameras.url_policy import StreamUrlRefused, validate_stream_url

SNAPSHOT_TIMEOUT_S = 5.0
JPEG_QUALITY = 85
MAX_WIDTH = 1920
_FFMPEG_OPTIONS = (
    "protocol_whitelist;tcp,tls,rtp,udp,rtsp,rtsps,http,https,crypto|rtsp_transport;tcp"
)
_ENV = "OPENCV_FFMPEG_CAPTURE_OPTIONS"
_OPEN_LOCK = threading.Lock()


class SnapshotError(Exception):
    """The frame could not be grabbed; ``timed_out`` tells a timeout from a refusal."""

    def __init__(self, message: str, *, timed_out: bool = False) -> None:
        super().__init__(message)
        self.timed_out = timed_out


@dataclass(frozen=True)
class Snapshot:
    """A JPEG image and its size."""

    jpeg: bytes
    width: int
    height: int


def _with_credentials(url: str, username: str, password: str) -> str:
    if not username:
        return url
    parts = urlsplit(url)
    userinfo = quote(username, safe="") + (":" + quote(password, safe="") if password else "")
    return parts._replace(netloc=f"{userinfo}@{parts.netloc}").geturl()


def snapshot_grab(*, url: str, username: str = "", password: str = "",
                  timeout_s: float = SNAPSHOT_TIMEOUT_S) -> Snapshot:
    """Connect, read one frame and encode it as JPEG, or raise ``SnapshotError``."""
    import cv2  # heavy: imported only when a snapshot is asked for

    try:
        validate_stream_url(url)
    except StreamUrlRefused as exc:
        raise SnapshotError(str(exc)) from exc
    started = time.monotonic()
    params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, int(timeout_s * 1000),
              cv2.CAP_PROP_READ_TIMEOUT_MSEC, int(timeout_s * 1000)]
    with _OPEN_LOCK:  # the options travel through a process-wide environment variable
        previous = os.environ.get(_ENV)
        os.environ[_ENV] = _FFMPEG_OPTIONS
        try:
            capture = cv2.VideoCapture(_with_credentials(url, username, password),
                                       cv2.CAP_FFMPEG, params)
        finally:
            if previous is None:
                os.environ.pop(_ENV, None)
            else:
                os.environ[_ENV] = previous
    try:
        ok, image = (capture.read() if capture.isOpened() else (False, None))
    finally:
        capture.release()
    elapsed = time.monotonic() - started
    if not ok or image is None:
        timed_out = elapsed >= timeout_s * 0.9
        raise SnapshotError(
            "The camera did not send a frame in time." if timed_out else
            "The camera could not be reached or sent no decodable video: check its URL, "
            "network and credentials.", timed_out=timed_out)
    height, width = image.shape[:2]
    if width > MAX_WIDTH:
        height = int(height * MAX_WIDTH / width)
        width = MAX_WIDTH
        image = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
    encoded, buffer = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not encoded:
        raise SnapshotError("The frame could not be encoded as JPEG.")
    return Snapshot(jpeg=buffer.tobytes(), width=width, height=height)
