"""Snapshots that cannot starve the platform: bounded, cached, one deadline, no held resources.

Grabbing a frame means DNS, a TCP/TLS connection and a camera that may never answer. Left
alone, every waiting request would hold a thread and a database connection (a few hundred
requests to a silent camera exhaust PostgreSQL's connections and stall every tenant). So:

::

    request ─> answer cached (same camera and stream settings, a few seconds)? ─> answer
       │ no
       ├─ close the database connection (nothing below needs it)
       ├─ a grab of this camera under way? wait for it up to ``wait_s`` ─> its answer, or 429
       ├─ a slot of the tenant (``per_tenant``) within ``wait_s``? else 429 + Retry-After
       ├─ a slot of the process (``per_process``) within the rest?  else 503 + Retry-After
       └─ a worker thread grabs (resolve, connect, first frame) and caches the answer; the
          request waits at most ``timeout_s`` (ONE deadline, DNS included); a worker that
          overruns keeps its slots until FFmpeg's own timeouts end it, so the bounds hold

Failures are cached too, so a silent camera costs one grab per cache period, not one per
request. Slots are per process (threads of one web process); each web process has its own.
"""

from __future__ import annotations

import hashlib
import math
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cameras.api.snapshot import Snapshot, SnapshotError, snapshot_grab
from cameras.streams import STREAM_UNAVAILABLE

if TYPE_CHECKING:
    from cameras.models import Camera


@dataclass(frozen=True)
class SnapshotLimits:
    """How many grabs at once (per tenant, per process), how long a request waits for a slot
    and for the camera, how long an answer is reused, and the largest picture."""

    per_tenant: int = 2
    per_process: int = 8
    wait_s: float = 0.5
    timeout_s: float = 5.0
    cache_s: float = 5.0
    max_pixels: int = 7680 * 4320

    @classmethod
    def from_settings(cls) -> SnapshotLimits:
        from django.conf import settings

        return cls(per_tenant=settings.API_SNAPSHOT_PER_TENANT,
                   per_process=settings.API_SNAPSHOT_PER_PROCESS,
                   wait_s=settings.API_SNAPSHOT_WAIT_S,
                   timeout_s=settings.API_SNAPSHOT_TIMEOUT_S,
                   cache_s=settings.API_SNAPSHOT_CACHE_S,
                   max_pixels=settings.API_SNAPSHOT_MAX_PIXELS)


class SnapshotBusy(Exception):
    """No slot within the wait: ``scope`` is "tenant" (answer 429) or "process" (503);
    ``retry_after_s`` is when to try again."""

    def __init__(self, message: str, *, scope: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.scope = scope
        self.retry_after_s = retry_after_s


@dataclass(frozen=True)
class SnapshotAnswer:
    """A snapshot or the error to tell (``error_code`` and ``error_message``)."""

    snapshot: Snapshot | None = None
    error_code: str = ""
    error_message: str = ""


class _Grab:
    """One grab under way, shared by the requests for the same camera."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.answer: SnapshotAnswer | None = None


class _Slots:
    """Counting semaphores per tenant and for the process, resized when the limits change."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._process: tuple[int, threading.BoundedSemaphore] | None = None
        self._tenants: dict[str, tuple[int, threading.BoundedSemaphore]] = {}
        self.grabs: dict[str, _Grab] = {}

    def _semaphore(self, slot: tuple[int, threading.BoundedSemaphore] | None,
                   size: int) -> tuple[int, threading.BoundedSemaphore]:
        if slot is None or slot[0] != size:
            return size, threading.BoundedSemaphore(size)
        return slot

    def process(self, size: int) -> threading.BoundedSemaphore:
        with self._lock:
            self._process = self._semaphore(self._process, size)
            return self._process[1]

    def tenant(self, schema: str, size: int) -> threading.BoundedSemaphore:
        with self._lock:
            self._tenants[schema] = self._semaphore(self._tenants.get(schema), size)
            return self._tenants[schema][1]


_slots = _Slots()


def _cache_key(schema: str, camera: Camera) -> str:
    settings_hash = hashlib.sha256("\x00".join((
        camera.stream_url, camera.username, camera.password_encrypted,
        camera.url_secrets_encrypted)).encode()).hexdigest()[:16]
    return f"snapshot:{schema}:{camera.pk}:{settings_hash}"


def _cache() -> Any:
    from django.core.cache import cache

    return cache


def _cached(key: str) -> SnapshotAnswer | None:
    try:
        value = _cache().get(key)
    except Exception:  # a cache outage costs a grab, not the answer
        return None
    return value if isinstance(value, SnapshotAnswer) else None


def _remember(key: str, answer: SnapshotAnswer, seconds: float) -> None:
    if seconds <= 0:
        return
    try:
        _cache().set(key, answer, timeout=seconds)
    except Exception:  # noqa: S110 (the answer is still given; only its reuse is lost)
        pass


def _grab_answer(camera: Camera, limits: SnapshotLimits) -> SnapshotAnswer:
    try:
        shot = snapshot_grab(camera=camera, timeout_s=limits.timeout_s,
                             max_pixels=limits.max_pixels)
    except SnapshotError as exc:
        return SnapshotAnswer(error_code=exc.code, error_message=str(exc))
    except Exception:  # a bug must not leave a slot taken or a request waiting
        return SnapshotAnswer(error_code="camera_unreachable", error_message=STREAM_UNAVAILABLE)
    return SnapshotAnswer(snapshot=shot)


def _close_database_connection() -> None:
    """Give the request's database connection back before the slow part (not inside a
    transaction, which would lose it: tests run in one)."""
    from django.db import connection

    if not connection.in_atomic_block:
        connection.close()


def snapshot_answer(*, camera: Camera, schema: str,
                    limits: SnapshotLimits | None = None) -> SnapshotAnswer:
    """The camera's snapshot, cached or grabbed within the limits (see the module docstring);
    raises :class:`SnapshotBusy` when no slot frees up within ``limits.wait_s``."""
    limits = limits or SnapshotLimits.from_settings()
    key = _cache_key(schema, camera)
    if (answer := _cached(key)) is not None:
        return answer
    _close_database_connection()
    retry_after = max(1, math.ceil(limits.timeout_s))

    with _slots._lock:
        running = _slots.grabs.get(key)
    if running is not None:
        if running.done.wait(limits.wait_s) and running.answer is not None:
            return running.answer
        raise SnapshotBusy("A snapshot of this camera is being taken: retry in a few seconds.",
                           scope="tenant", retry_after_s=retry_after)

    tenant_slot = _slots.tenant(schema, limits.per_tenant)
    if not tenant_slot.acquire(timeout=limits.wait_s):
        raise SnapshotBusy(
            f"Too many snapshots of this account's cameras at once (at most "
            f"{limits.per_tenant}): retry in a few seconds.",
            scope="tenant", retry_after_s=retry_after)
    process_slot = _slots.process(limits.per_process)
    if not process_slot.acquire(timeout=limits.wait_s):
        tenant_slot.release()
        raise SnapshotBusy("The service is taking many snapshots right now: retry in a few "
                           "seconds.", scope="process", retry_after_s=retry_after)

    job = _Grab()
    with _slots._lock:
        if key in _slots.grabs:  # another request started the same grab meanwhile
            job = _slots.grabs[key]
            started = False
        else:
            _slots.grabs[key] = job
            started = True
    if not started:
        process_slot.release()
        tenant_slot.release()
        if job.done.wait(limits.wait_s) and job.answer is not None:
            return job.answer
        raise SnapshotBusy("A snapshot of this camera is being taken: retry in a few seconds.",
                           scope="tenant", retry_after_s=retry_after)

    def work() -> None:
        answer = SnapshotAnswer(error_code="camera_unreachable", error_message=STREAM_UNAVAILABLE)
        try:
            answer = _grab_answer(camera, limits)
            _remember(key, answer, limits.cache_s)
        finally:
            job.answer = answer
            with _slots._lock:
                _slots.grabs.pop(key, None)
            process_slot.release()
            tenant_slot.release()
            job.done.set()

    threading.Thread(target=work, name=f"snapshot-{schema}-{camera.pk}", daemon=True).start()
    if job.done.wait(limits.timeout_s) and job.answer is not None:
        return job.answer
    return SnapshotAnswer(error_code="camera_unreachable", error_message=STREAM_UNAVAILABLE)
