"""The camera's live source: opened beside the loop, reopened with backoff, never blocking.

::

    no source ──> _Opener thread: check the URL (address policy, DNS) and open it
        ^              │ opened ──> source (reader thread keeps the newest frame)
        │              │ refused / failed ──> offline (or error) + backoff 1, 2, 4 ... s
        └── dropped <──┘ read failed for good, or the camera's stream settings changed

The camera becomes an openable stream in :mod:`cameras.streams` (one protocol whitelist, the
credentials, the address policy); the source receives a plain URL and FFmpeg options, and a
``reopen`` hook that does the same again before every reconnection (the name is resolved and
checked anew, never by FFmpeg). Every failure to open is told with one reason
(``STREAM_UNAVAILABLE``); the cause is logged.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping

from cameras.constants import CameraStatus
from cameras.crypto import SecretUndecryptable
from cameras.models import Camera
from cameras.streams import STREAM_UNAVAILABLE, StreamUnavailable, camera_stream_target
from cameras.url_policy import StreamUrlRefused
from counting.pipeline.sources import LiveSource, SourceReadError, open_source
from counting.pipeline.types import Frame
from counting.runner.config import RunnerConfig

StateCallback = Callable[[str, str], None]
logger = logging.getLogger(__name__)


def _reopen_hook(camera: Camera) -> Callable[[], tuple[str, Mapping[str, str]]]:
    """What the live source calls before each reconnection: the camera's target, checked now."""

    def reopen() -> tuple[str, Mapping[str, str]]:
        try:
            target = camera_stream_target(camera=camera)
        except StreamUnavailable as exc:
            logger.warning("camera %s: reconnection refused: %s", camera.pk, exc.detail)
            raise
        return target.url, target.options

    return reopen


class _Opener:
    """Opens a live source in a helper thread so the loop keeps serving its duties; a source
    opened after the runner gave up on it is closed by the helper itself."""

    def __init__(self, camera: Camera, config: RunnerConfig) -> None:
        self.result: LiveSource | None = None
        self.error: Exception | None = None
        self.refused: StreamUrlRefused | None = None
        self.abandoned = False
        self._lock = threading.Lock()
        self.done = threading.Event()
        self._thread = threading.Thread(target=self._open, args=(camera, config), daemon=True,
                                        name="source-open")
        self._thread.start()

    def _open(self, camera: Camera, config: RunnerConfig) -> None:
        try:
            target = camera_stream_target(camera=camera)
            source = open_source(target.url, live=True, ffmpeg_options=target.options,
                                 open_timeout_s=config.open_timeout_s,
                                 read_timeout_s=config.read_timeout_s,
                                 backoff_initial_s=1.0, backoff_max_s=config.reconnect_max_s,
                                 frozen_after_s=config.frozen_after_s,
                                 reopen=_reopen_hook(camera))
        except StreamUrlRefused as exc:
            logger.warning("camera %s: stream refused: %s", camera.pk,
                           getattr(exc, "detail", exc))
            self.refused = exc
            self.done.set()
            return
        except Exception as exc:  # reported as the camera's offline reason
            logger.info("camera %s: cannot open the stream: %s", camera.pk, exc)
            self.error = exc
            self.done.set()
            return
        with self._lock:
            if self.abandoned:
                source.close()
                return
            assert isinstance(source, LiveSource)
            self.result = source
        self.done.set()

    def abandon(self) -> None:
        with self._lock:
            self.abandoned = True
            if self.result is not None:
                self.result.close()
                self.result = None


class StreamConnection:
    """Holds one camera's live source for the loop.

    ``read()`` waits at most about half a second: it returns the newest frame, or None while
    the source is being opened, is backing off or has nothing new. Connection changes are
    told through ``on_state(state, reason)``; ``on_open()`` runs when a new source starts
    delivering (the runner restarts its frame sampler then).
    """

    def __init__(self, *, camera: Camera, config: RunnerConfig, stop_event: threading.Event,
                 on_state: StateCallback, on_open: Callable[[], None]) -> None:
        self.camera = camera
        self.config = config
        self.stop_event = stop_event
        self.on_state = on_state
        self.on_open = on_open
        self.source: LiveSource | None = None
        self._opener: _Opener | None = None
        self._next_open = 0.0
        self._backoff = 1.0
        # Failed opens in a row (since the first of them): after enough of them the camera
        # is ``unreachable`` and the runner ends the run instead of holding its slot.
        self.failed_opens = 0
        self._first_failure = 0.0
        self.ever_opened = False

    @property
    def unreachable(self) -> bool:
        cfg = self.config
        return (cfg.unreachable_attempts > 0 and self.failed_opens >= cfg.unreachable_attempts
                and time.monotonic() - self._first_failure >= cfg.unreachable_after_s)

    def read(self) -> Frame | None:
        if self.source is None:
            self._advance_open()
            return None
        try:
            return self.source.read(timeout_s=0.5)
        except SourceReadError as exc:
            self.drop(str(exc))
            return None

    def camera_change(self, camera: Camera) -> None:
        """The camera row was edited: reconnect at once if its stream settings changed."""
        old, self.camera = self.camera, camera
        if (old.stream_url, old.username, old.password_encrypted, old.url_secrets_encrypted) != (
                camera.stream_url, camera.username, camera.password_encrypted,
                camera.url_secrets_encrypted):
            self.drop("stream settings changed; reconnecting")
            self._next_open = 0.0

    def drop(self, reason: str) -> None:
        """Close the source and go offline; the next open waits for the backoff."""
        if self.source is not None:
            self.source.close()
            self.source = None
        self._offline(reason)

    def close(self) -> None:
        if self._opener is not None:
            self._opener.abandon()
            self._opener = None
        if self.source is not None:
            self.source.close()
            self.source = None

    def _advance_open(self) -> None:
        now = time.monotonic()
        if self._opener is None:
            if now < self._next_open:
                self.stop_event.wait(min(0.5, self._next_open - now))
                return
            self._opener = _Opener(self.camera, self.config)
            return
        if not self._opener.done.wait(0.5):
            return
        opener, self._opener = self._opener, None
        if opener.result is not None:
            self.source = opener.result
            self._backoff = 1.0
            self.failed_opens = 0
            self.ever_opened = True
            self.on_open()
            self.on_state(CameraStatus.ONLINE, "streaming")
        elif isinstance(opener.error, SecretUndecryptable):
            # a password no configured key decrypts needs a person: error, with its reason
            self._offline(str(opener.error), error=True)
        else:  # refused by the policy or not opened: one reason, not an oracle (see logs)
            if self.failed_opens == 0:
                self._first_failure = time.monotonic()
            self.failed_opens += 1
            self._offline(STREAM_UNAVAILABLE)

    def _offline(self, reason: str, error: bool = False) -> None:
        self._next_open = time.monotonic() + self._backoff
        self._backoff = min(self.config.reconnect_max_s, self._backoff * 2)
        self.on_state(CameraStatus.ERROR if error else CameraStatus.OFFLINE, reason)
