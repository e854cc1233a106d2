"""One JPEG frame from a camera's stream, grabbed on demand within one deadline.

The camera is turned into something openable by :mod:`cameras.streams`, as for the stream
runner: the URL is checked against the address policy again right before connecting and only
the checked address is connected to, FFmpeg gets the protocol and demuxer whitelists and no
redirects for this open only, and credentials travel only inside the URL handed to FFmpeg,
never in errors or logs.

The frame's size is checked BEFORE it is decoded: for JPEG and PNG frames (MJPEG cameras) from
the packet's header (:mod:`cameras.api.image_headers`), for other codecs from the stream's
parameters; FFmpeg's decoders also get ``max_pixels`` (during probing too), so a picture above
the limit is never allocated in the web process.

Who may call it, how many at once, and caching: :mod:`cameras.api.snapshot_gate`.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cameras.api.image_headers import ImageHeaderError, image_size
from cameras.crypto import SecretUndecryptable
from cameras.streams import (
    STREAM_UNAVAILABLE,
    StreamTarget,
    StreamUnavailable,
    camera_stream_target,
)

if TYPE_CHECKING:
    from cameras.models import Camera

logger = logging.getLogger(__name__)

SNAPSHOT_TIMEOUT_S = 5.0
MAX_PIXELS = 7680 * 4320  # 8K UHD: beyond any camera a tenant counts people with
JPEG_QUALITY = 85
MAX_WIDTH = 1920
# Between reads of a stream (after the open): a camera that stalls mid-stream is given up on
# at the deadline at the latest.
_READ_TIMEOUT_CAP_S = 2.0


class SnapshotError(Exception):
    """The frame could not be grabbed; ``code`` says which kind of failure for the API
    (``camera_unreachable`` for every connection failure, told with one message)."""

    def __init__(self, message: str, *, code: str = "camera_unreachable") -> None:
        super().__init__(message)
        self.code = code


class SnapshotTooLarge(SnapshotError):
    """The camera's picture is larger than the pixel limit; it was not decoded."""

    def __init__(self, width: int, height: int, max_pixels: int) -> None:
        super().__init__(
            f"The camera's picture is {width} x {height} pixels, more than the {max_pixels} "
            "pixels a snapshot may have: lower the stream's resolution on the camera.",
            code="camera_image_too_large")


@dataclass(frozen=True)
class Snapshot:
    """A JPEG image and its size."""

    jpeg: bytes
    width: int
    height: int


def snapshot_grab(*, camera: Camera, timeout_s: float = SNAPSHOT_TIMEOUT_S,
                  max_pixels: int = MAX_PIXELS) -> Snapshot:
    """Check the camera's URL now, connect to the checked address, read one frame and encode
    it as JPEG, all within ``timeout_s``; or raise :class:`SnapshotError`."""
    started = time.monotonic()
    try:
        target = camera_stream_target(camera=camera)
    except StreamUnavailable as exc:
        logger.warning("snapshot of camera %s refused: %s", camera.pk, exc.detail)
        raise SnapshotError(STREAM_UNAVAILABLE) from exc
    except SecretUndecryptable as exc:  # a removed key: say so, never a 500
        raise SnapshotError(str(exc)) from exc
    remaining = timeout_s - (time.monotonic() - started)
    if remaining <= 0:
        raise SnapshotError(STREAM_UNAVAILABLE)
    return snapshot_from_target(target=target, timeout_s=remaining, max_pixels=max_pixels)


def _check_size(width: int, height: int, max_pixels: int) -> None:
    if width * height > max_pixels:
        raise SnapshotTooLarge(width, height, max_pixels)


def _check_packet(packet: Any, codec: str, max_pixels: int) -> None:
    """Refuse a JPEG/PNG packet whose header announces more than ``max_pixels``."""
    if codec not in ("mjpeg", "png"):
        return
    try:
        width, height = image_size(bytes(packet))
    except ImageHeaderError as exc:
        raise SnapshotError(STREAM_UNAVAILABLE) from exc
    _check_size(width, height, max_pixels)


def _decode_packet(packet: Any) -> list[Any]:
    """Decode one packet (the only place a snapshot decodes pixels)."""
    return list(packet.decode())


def snapshot_from_target(*, target: StreamTarget, timeout_s: float,
                         max_pixels: int = MAX_PIXELS) -> Snapshot:
    """Read the first frame of an already checked stream and encode it as JPEG."""
    import av  # heavy: imported only when a snapshot is asked for
    import cv2

    deadline = time.monotonic() + timeout_s
    image: Any = None
    limit = {"max_pixels": str(max_pixels)}
    try:
        with av.open(target.url, options=dict(target.options),
                     timeout=(timeout_s, min(timeout_s, _READ_TIMEOUT_CAP_S)),
                     stream_options=[limit],  # type: ignore[list-item]  # stub: dicts
                     ) as container:
            if container.streams.video:
                stream = container.streams.video[0]
                context = stream.codec_context
                context.options = dict(limit)
                if context.width and context.height:
                    _check_size(context.width, context.height, max_pixels)
                for packet in container.demux(stream):
                    if packet.size == 0:
                        continue
                    _check_packet(packet, context.name, max_pixels)
                    frames = _decode_packet(packet)
                    if frames:
                        # Bicubic as OpenCV's FFmpeg backend and the stream runner convert.
                        image = frames[0].to_ndarray(format="bgr24", interpolation="BICUBIC")
                        break
                    if time.monotonic() > deadline:
                        break
    except (av.error.FFmpegError, OSError) as exc:
        logger.info("snapshot of %s failed: %s", target.display_url, exc)
        image = None
    if image is None:
        raise SnapshotError(STREAM_UNAVAILABLE)
    height, width = image.shape[:2]
    if width > MAX_WIDTH:
        height = int(height * MAX_WIDTH / width)
        width = MAX_WIDTH
        image = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
    encoded, buffer = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not encoded:
        raise SnapshotError("The frame could not be encoded as JPEG.", code="snapshot_failed")
    return Snapshot(jpeg=buffer.tobytes(), width=width, height=height)
