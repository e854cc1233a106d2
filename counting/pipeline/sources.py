"""Frame sources: video files (read at their own pace) and live streams (newest frame only).

Live streams (``rtsp``, ``rtsps``, ``http``/``https`` MJPEG or HLS) are demuxed and decoded by
FFmpeg through PyAV, with

* the FFmpeg options the caller gives for that one open (``av.open(url, options=...)``): above
  all a protocol whitelist, so a stream cannot make FFmpeg open local files or other
  protocols. The caller decides them (the project: :mod:`cameras.streams`, which also checks
  the address policy); a live source refuses to open without a ``protocol_whitelist`` or with
  one that allows ``file``. Nothing process-wide (no environment variable) is changed;
* open and read timeouts (PyAV's ``timeout=(open, read)``, FFmpeg's interrupt callback);
* a reader thread that keeps only the newest frame, so analysis never lags behind the camera
  (older unconsumed frames are counted as dropped);
* reconnection with capped exponential backoff, and health counters including a cheap
  frozen-stream detector (a CRC of a sparse pixel grid);
* a ``reopen`` hook called before every reconnection, which returns the URL and options of
  that open (the project checks the address policy again there and pins the address the name
  resolves to now) or raises to refuse it. A failed reopen is told in health as one uniform
  reason, so health and status do not tell what is reachable; the cause is logged.

Frames are converted to BGR with swscale's bicubic filter, as OpenCV's FFmpeg backend does, so
a live frame has the same pixels as the same frame read from a file by :class:`FileSource`
(checked on PETS H.264 and MJPEG: identical arrays).

Video files are read by OpenCV's FFmpeg backend through an explicit ``file:`` URL: the name can
never be taken for another protocol (``concat:``...), and FFmpeg's own default for the file
protocol limits what a file may refer to (``file``, ``crypto``, ``data``).
"""

from __future__ import annotations

import logging
import threading
import time
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import av
import cv2
import numpy as np
from av.video.reformatter import VideoReformatter

from counting.pipeline.types import Frame, ImageArray

logger = logging.getLogger(__name__)

LIVE_SCHEMES = frozenset({"rtsp", "rtsps", "http", "https"})
REOPEN_FAILED_REASON = "reconnecting: the stream could not be opened again"

# What to open next: the URL and the FFmpeg options of one open.
OpenSpec = tuple[str, Mapping[str, str]]
ReopenHook = Callable[[], OpenSpec]

State = Literal["connecting", "streaming", "reconnecting", "frozen", "failed", "closed"]


class SourceError(RuntimeError):
    """Base class of every source failure; the message says what to check."""


class SourceNotFoundError(SourceError):
    """A video file does not exist."""


class UnsupportedSourceError(SourceError):
    """The URL scheme is not allowed (live: rtsp, rtsps, http, https only), or the FFmpeg
    options of a live open carry no protocol whitelist or one that allows local files."""


class SourceOpenError(SourceError):
    """FFmpeg could not open the source (unreachable, timeout, not a video)."""


class SourceReadError(SourceError):
    """A live source failed for good (reconnection attempts exhausted)."""


def _redact(url: str) -> str:
    """Drop credentials from a URL before it reaches logs or error messages: the userinfo and
    every query value (cameras take ``?user=..&pwd=..``; which names are secret is not this
    module's business, so none is shown)."""
    parts = urlsplit(url)
    if parts.username or parts.password:
        host = parts.hostname or ""
        if ":" in host:
            host = f"[{host}]"
        if parts.port:
            host = f"{host}:{parts.port}"
        parts = parts._replace(netloc=f"***@{host}")
    if parts.query:
        parts = parts._replace(query="&".join(
            piece.partition("=")[0] + ("=***" if "=" in piece else "")
            for piece in parts.query.split("&")))
    return parts.geturl()


def _file_capture(path: Path, timeout_s: float) -> cv2.VideoCapture:
    params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, int(timeout_s * 1000),
              cv2.CAP_PROP_READ_TIMEOUT_MSEC, int(timeout_s * 1000)]
    return cv2.VideoCapture(f"file:{path.resolve()}", cv2.CAP_FFMPEG, params)


def _checked_live_options(options: Mapping[str, str] | None, url: str) -> dict[str, str]:
    """The caller's FFmpeg options, refused when they would let FFmpeg read local files."""
    whitelist = (options or {}).get("protocol_whitelist", "")
    protocols = {p.strip().lower() for p in whitelist.split(",") if p.strip()}
    if not protocols or "file" in protocols:
        raise UnsupportedSourceError(
            f"refusing to open {_redact(url)}: live streams need FFmpeg options with a "
            "protocol_whitelist of network protocols only (no 'file'); see cameras.streams"
        )
    return dict(options or {})


class FileSource:
    """A video file read frame by frame at its own pace; ``Frame.time`` is the frame's PTS."""

    def __init__(self, path: str | Path, open_timeout_s: float = 10.0) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise SourceNotFoundError(f"video file not found: {self.path}")
        self._cap = _file_capture(self.path, open_timeout_s)
        if not self._cap.isOpened():
            raise SourceOpenError(f"cannot decode video file {self.path} (not a supported video?)")
        self.fps = float(self._cap.get(cv2.CAP_PROP_FPS)) or 0.0
        self.frame_count = int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT))
        self.width = int(self._cap.get(cv2.CAP_PROP_FRAME_WIDTH))
        self.height = int(self._cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        self._index = 0
        self._last_time = -1.0

    def read(self) -> Frame | None:
        """Next frame, or None at the end of the file."""
        ok, image = self._cap.read()
        if not ok or image is None:
            return None
        t = float(self._cap.get(cv2.CAP_PROP_POS_MSEC)) / 1000.0
        if not np.isfinite(t) or t <= self._last_time:
            # Missing/non-monotonic PTS: fall back to the nominal frame period.
            t = self._last_time + (1.0 / self.fps if self.fps > 0 else 0.04)
            t = max(t, 0.0)
        self._last_time = t
        frame = Frame(image=np.asarray(image, dtype=np.uint8), index=self._index, time=t)
        self._index += 1
        return frame

    def __iter__(self) -> Iterator[Frame]:
        while (frame := self.read()) is not None:
            yield frame

    def close(self) -> None:
        """Release the decoder."""
        self._cap.release()

    def __enter__(self) -> FileSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass(frozen=True, slots=True)
class SourceHealth:
    """A snapshot of a live source's health (all times are epoch seconds)."""

    state: State
    reason: str
    frames_received: int
    frames_delivered: int
    frames_dropped: int
    reconnects: int
    last_frame_time: float | None
    frozen: bool
    frozen_for_s: float


def frame_fingerprint(image: ImageArray) -> int:
    """A cheap content hash (CRC32 of a ~32x32 pixel grid) used to detect frozen streams."""
    h, w = image.shape[:2]
    grid = image[:: max(1, h // 32), :: max(1, w // 32)]
    return zlib.crc32(np.ascontiguousarray(grid).data)


class _LiveStream:
    """One open connection: the PyAV container and the iterator of its decoded frames."""

    def __init__(self, container: Any) -> None:
        self.container = container
        self._frames = self._decode(container, container.streams.video[0])
        # One converter per connection: PyAV's per-frame to_ndarray() builds a new swscale
        # context for every frame, which costs a third of the decode rate.
        self._reformatter = VideoReformatter()

    @staticmethod
    def _decode(container: Any, stream: Any) -> Iterator[Any]:
        for packet in container.demux(stream):
            try:
                frames = packet.decode()
            except av.error.InvalidDataError:
                continue  # one damaged packet: the decoder resynchronises on the next ones
            yield from frames

    def read(self) -> ImageArray | None:
        """The next decoded frame as BGR, or None when the stream ended, failed or timed out."""
        try:
            frame = next(self._frames)
        except (StopIteration, av.error.FFmpegError, OSError):
            return None
        # Bicubic like OpenCV's FFmpeg backend, so live pixels equal file pixels.
        bgr = self._reformatter.reformat(frame, format="bgr24", interpolation="BICUBIC")
        return np.asarray(bgr.to_ndarray(), dtype=np.uint8)

    def close(self) -> None:
        try:
            self.container.close()
        except (av.error.FFmpegError, OSError):  # already broken: nothing left to release
            pass


class LiveSource:
    """A live stream read by a background thread that keeps only the newest frame.

    Iterating yields frames as they arrive (never a backlog); ``Frame.time`` is the wall clock
    at reception. When the stream drops, the thread reconnects with exponential backoff
    (``backoff_initial_s`` doubling up to ``backoff_max_s``); ``max_reconnects`` consecutive
    failures (None: unlimited) end the iteration with :class:`SourceReadError`. ``close()``
    stops the thread promptly (at most one open/read timeout while FFmpeg is blocked).
    ``ffmpeg_options`` are given to FFmpeg on every (re)open; they must carry a
    ``protocol_whitelist`` without ``file``. When ``reopen`` is given, every reconnection
    first calls it for the URL and options of that open (checked the same way); an exception
    from it counts as a failed reconnection (its message is logged, not shown).
    """

    def __init__(
        self,
        url: str,
        *,
        ffmpeg_options: Mapping[str, str] | None,
        open_timeout_s: float = 10.0,
        read_timeout_s: float = 10.0,
        backoff_initial_s: float = 1.0,
        backoff_max_s: float = 30.0,
        max_reconnects: int | None = None,
        frozen_after_s: float = 30.0,
        reopen: ReopenHook | None = None,
    ) -> None:
        scheme = urlsplit(url).scheme.lower()
        if scheme not in LIVE_SCHEMES:
            raise UnsupportedSourceError(
                f"unsupported stream scheme {scheme or '(none)'!r} in {_redact(url)}; "
                f"use one of {', '.join(sorted(LIVE_SCHEMES))} (files need live=False)"
            )
        self.ffmpeg_options = _checked_live_options(ffmpeg_options, url)
        self.url = url
        self.reopen = reopen
        self.open_timeout_s = open_timeout_s
        self.read_timeout_s = read_timeout_s
        self.backoff_initial_s = backoff_initial_s
        self.backoff_max_s = backoff_max_s
        self.max_reconnects = max_reconnects
        self.frozen_after_s = frozen_after_s
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._latest: Frame | None = None
        self._state: State = "connecting"
        self._reason = ""
        self._received = self._delivered = self._dropped = self._reconnects = 0
        self._last_time: float | None = None
        self._fingerprint: int | None = None
        self._same_since: float | None = None
        self._cap = self._open()  # the first open raises to the caller
        self._set_state("streaming", "")
        self._thread = threading.Thread(target=self._run, name="live-source", daemon=True)
        self._thread.start()

    def _open(self) -> _LiveStream:
        started = time.monotonic()
        container: Any = None
        try:
            container = av.open(self.url, options=dict(self.ffmpeg_options),
                                timeout=(self.open_timeout_s, self.read_timeout_s))
            if not container.streams.video:
                raise ValueError("no video stream")
            stream = _LiveStream(container)
        except (av.error.FFmpegError, OSError, ValueError) as exc:
            if container is not None:
                container.close()
            waited = time.monotonic() - started
            raise SourceOpenError(
                f"cannot open stream {_redact(self.url)} after {waited:.1f}s (unreachable, "
                f"timed out after {self.open_timeout_s:g}s, wrong credentials or not a video)"
            ) from exc
        return stream

    def _renew_target(self) -> None:
        """Ask the ``reopen`` hook what to open now (it may refuse)."""
        if self.reopen is None:
            return
        try:
            url, options = self.reopen()
        except Exception as exc:  # the hook's refusal, whatever its type
            raise SourceOpenError(f"reopening {_redact(self.url)} refused: {exc}") from exc
        if urlsplit(url).scheme.lower() not in LIVE_SCHEMES:
            raise UnsupportedSourceError(f"reopen returned an unsupported URL {_redact(url)}")
        self.ffmpeg_options = _checked_live_options(options, url)
        self.url = url

    def _set_state(self, state: State, reason: str) -> None:
        with self._cond:
            self._state, self._reason = state, reason
            self._cond.notify_all()

    def _run(self) -> None:
        cap: _LiveStream | None = self._cap
        failures = 0
        while not self._stop.is_set():
            if cap is None:
                delay = min(self.backoff_max_s, self.backoff_initial_s * (2 ** (failures - 1)))
                if self._stop.wait(delay):
                    break
                try:
                    self._renew_target()
                    cap = self._open()
                except SourceError as exc:
                    failures += 1
                    logger.info("%s", exc)
                    self._set_state("reconnecting", REOPEN_FAILED_REASON)
                    if self.max_reconnects is not None and failures > self.max_reconnects:
                        self._set_state("failed", f"gave up after {failures - 1} reconnects")
                        break
                    continue
                with self._cond:
                    self._reconnects += 1
                self._set_state("streaming", "reconnected")
            image = cap.read()
            if self._stop.is_set():
                break
            if image is None:
                cap.close()
                cap = None
                failures += 1
                self._set_state("reconnecting", "read failed or timed out; reconnecting")
                if self.max_reconnects is not None and failures > self.max_reconnects:
                    self._set_state("failed", f"gave up after {failures - 1} reconnects")
                    break
                continue
            failures = 0
            self._publish(image)
        if cap is not None:
            cap.close()

    def _publish(self, image: ImageArray) -> None:
        now = time.time()
        fp = frame_fingerprint(image)
        with self._cond:
            if fp != self._fingerprint:
                self._fingerprint, self._same_since = fp, now
            frozen = self._same_since is not None and now - self._same_since >= self.frozen_after_s
            if frozen and self._state == "streaming":
                self._state, self._reason = (
                    "frozen",
                    f"identical frames for {self.frozen_after_s:g}s",
                )
            elif not frozen and self._state == "frozen":
                self._state, self._reason = "streaming", "frames changing again"
            if self._latest is not None:
                self._dropped += 1  # replaced before anyone consumed it
            self._latest = Frame(image=image, index=self._received, time=now)
            self._received += 1
            self._last_time = now
            self._cond.notify_all()

    def read(self, timeout_s: float | None = None) -> Frame | None:
        """The newest unseen frame; waits up to ``timeout_s`` (None: until one arrives or the
        source closes). Returns None on timeout or after ``close()``."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        with self._cond:
            while self._latest is None:
                if self._state in ("closed", "failed"):
                    if self._state == "failed":
                        raise SourceReadError(f"stream {_redact(self.url)} failed: {self._reason}")
                    return None
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return None
                self._cond.wait(remaining if remaining is not None else 1.0)
            frame, self._latest = self._latest, None
            self._delivered += 1
            return frame

    def __iter__(self) -> Iterator[Frame]:
        while (frame := self.read()) is not None:
            yield frame

    def health(self) -> SourceHealth:
        """Current counters and state."""
        with self._cond:
            now = time.time()
            frozen = self._state == "frozen"
            return SourceHealth(
                state=self._state,
                reason=self._reason,
                frames_received=self._received,
                frames_delivered=self._delivered,
                frames_dropped=self._dropped,
                reconnects=self._reconnects,
                last_frame_time=self._last_time,
                frozen=frozen,
                frozen_for_s=(now - self._same_since) if frozen and self._same_since else 0.0,
            )

    def close(self) -> None:
        """Stop the reader thread and release the stream."""
        self._stop.set()
        self._set_state("closed", "closed by caller")
        # FFmpeg returns from a blocking read or open within its timeout at the latest.
        self._thread.join(timeout=max(self.read_timeout_s, self.open_timeout_s) + 1.0)

    def __enter__(self) -> LiveSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_source(
    uri: str | Path,
    live: bool = True,
    open_timeout_s: float = 10.0,
    read_timeout_s: float = 10.0,
    ffmpeg_options: Mapping[str, str] | None = None,
    reopen: ReopenHook | None = None,
    **live_options: float | int | None,
) -> FileSource | LiveSource:
    """Open a live stream (``live=True``: rtsp/rtsps/http/https URLs only, opened with
    ``ffmpeg_options``, which must carry a network-only protocol whitelist) or a video file
    (``live=False``: a local path). Raises a :class:`SourceError` subclass on failure."""
    if not live:
        text = str(uri)
        if "://" in text:
            raise UnsupportedSourceError(
                f"{_redact(text)} is a URL; open streams with live=True, files by path"
            )
        return FileSource(text, open_timeout_s=open_timeout_s)
    return LiveSource(
        str(uri),
        ffmpeg_options=ffmpeg_options,
        open_timeout_s=open_timeout_s,
        read_timeout_s=read_timeout_s,
        reopen=reopen,
        **live_options,  # type: ignore[arg-type]
    )
