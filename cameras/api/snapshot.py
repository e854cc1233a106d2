"""One JPEG frame from a camera's stream, grabbed on demand with a short timeout.

The camera is turned into something openable by :mod:`cameras.streams`, as for the stream
runner: the URL is checked against the address policy again right before connecting (its host
may resolve elsewhere now than when it was saved), FFmpeg gets the one protocol whitelist for
this open only, and credentials travel only inside the URL handed to FFmpeg, never in errors or
logs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cameras.streams import StreamTarget, camera_stream_target
from cameras.url_policy import StreamUrlRefused

if TYPE_CHECKING:
    from cameras.models import Camera

SNAPSHOT_TIMEOUT_S = 5.0
JPEG_QUALITY = 85
MAX_WIDTH = 1920


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


def snapshot_grab(*, camera: Camera, timeout_s: float = SNAPSHOT_TIMEOUT_S) -> Snapshot:
    """Connect to the camera, read one frame and encode it as JPEG, or raise
    ``SnapshotError``."""
    try:
        target = camera_stream_target(camera=camera)
    except StreamUrlRefused as exc:
        raise SnapshotError(str(exc)) from exc
    return snapshot_from_target(target=target, timeout_s=timeout_s)


def snapshot_from_target(*, target: StreamTarget, timeout_s: float) -> Snapshot:
    """Read the first frame of an already checked stream and encode it as JPEG."""
    import av  # heavy: imported only when a snapshot is asked for
    import cv2

    started = time.monotonic()
    image: Any = None
    try:
        with av.open(target.url, options=dict(target.options),
                     timeout=(timeout_s, timeout_s)) as container:
            if container.streams.video:
                for frame in container.decode(container.streams.video[0]):
                    # Bicubic as OpenCV's FFmpeg backend and the stream runner convert.
                    image = frame.to_ndarray(format="bgr24", interpolation="BICUBIC")
                    break
    except (av.error.FFmpegError, OSError):
        image = None
    elapsed = time.monotonic() - started
    if image is None:
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
