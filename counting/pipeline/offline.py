"""Counting a video file on all cores: decode, batched detection and tracking in three stages.

::

    decode thread          batch thread + `workers` detector   caller's thread
    FileSource -> sampler  -> batches of `batch` analysed  ->  process_detections in frame
    (cv2 releases the GIL)    frames, one detector call each   order, progress callback
                              (torch's operators release the
                              GIL; each worker thread runs its
                              own batch)

The stages hand frames over through bounded queues, so at most a few batches are in flight and
memory does not grow with the video. With several workers, batches are detected side by side
(each worker thread with the detector's intra-op thread count) and tracked in their order: one
single-threaded worker per core beats one worker splitting each operator over the cores (no
OpenMP wake-up per operator; docs/pipeline.md). Tracking and counting see exactly the frames,
times and detections the serial loop (``engine.process`` per frame) sees, in the same order;
only the detector is called on batches, whose boxes match single frames to float rounding
(``tests/pipeline/test_offline.py`` checks the counts on a PETS segment).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Generator, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import TypeVar

from counting.pipeline.engine import CountingEngine
from counting.pipeline.types import Detections, Frame, FrameResult

_POLL_S = 0.1  # how often a blocked stage looks at the stop flag
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class _Failed:
    """An exception raised in a stage, carried to the caller's thread."""

    error: BaseException


@dataclass(frozen=True, slots=True)
class _Batch:
    """Frames in order, whether the sampler took each, and the detections of those it took
    (being computed by a worker until the future is done)."""

    frames: list[Frame]
    accepted: list[bool]
    detections: Future[list[Detections]]


class OfflineCounter:
    """Runs a :class:`CountingEngine` over a finite frame iterable in three pipelined stages.

    ``batch`` analysed frames go to the detector at a time (the engine's detector, shared by
    ``workers`` threads that each detect a batch; the torch detector sets its own intra-op
    thread count in the thread that calls it). Frames the engine's sampler skips pass through
    in order and come out with ``analysed=False``. The results are yielded in frame order by
    :meth:`run`; an exception in any stage stops the others and is raised in the caller's
    thread.
    """

    def __init__(self, engine: CountingEngine, batch: int = 4, queue_batches: int = 3,
                 workers: int = 1) -> None:
        if engine.detector is None:
            raise ValueError("OfflineCounter needs an engine with a detector")
        if batch < 1:
            raise ValueError(f"batch must be >= 1, got {batch}")
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        self.engine = engine
        self.batch = batch
        self.workers = workers
        # None closes a queue. Batches in flight: the queue's and one being tracked per worker.
        self._frames: queue.Queue[Frame | _Failed | None] = queue.Queue(batch * queue_batches)
        self._batches: queue.Queue[_Batch | _Failed | None] = queue.Queue(
            max(queue_batches, workers + 1))
        self._stop = threading.Event()

    # -- stages ----------------------------------------------------------------------------
    def _put(self, q: queue.Queue[_T], item: _T) -> bool:
        """Put unless stopping; False when the run was stopped."""
        while not self._stop.is_set():
            try:
                q.put(item, timeout=_POLL_S)
                return True
            except queue.Full:
                continue
        return False

    def _get(self, q: queue.Queue[_T]) -> _T:
        """The next item; None (which also closes a queue) when the run was stopped."""
        while True:
            try:
                return q.get(timeout=_POLL_S)
            except queue.Empty:
                if self._stop.is_set():
                    return None  # type: ignore[return-value]  # both queues carry None

    def _decode(self, frames: Iterable[Frame]) -> None:
        try:
            for frame in frames:
                if not self._put(self._frames, frame):
                    return
            self._put(self._frames, None)
        except BaseException as exc:  # carried to the caller, whatever it is
            self._put(self._frames, _Failed(exc))

    def _detect(self, pool: ThreadPoolExecutor) -> None:
        detector = self.engine.detector
        assert detector is not None
        sampler = self.engine.sampler
        pending: list[Frame] = []
        accepted: list[bool] = []
        try:
            while True:
                item = self._get(self._frames)
                if self._stop.is_set():
                    return
                if isinstance(item, _Failed):
                    self._put(self._batches, item)
                    return
                if item is not None:
                    pending.append(item)
                    accepted.append(sampler.accept(item.time))
                if pending and (item is None or sum(accepted) >= self.batch):
                    images = [f.image for f, a in zip(pending, accepted, strict=True) if a]
                    detections: Future[list[Detections]] = (
                        pool.submit(detector.detect, images) if images else _done([]))
                    if not self._put(self._batches, _Batch(pending, accepted, detections)):
                        return
                    pending, accepted = [], []
                if item is None:
                    self._put(self._batches, None)
                    return
        except BaseException as exc:  # carried to the caller, whatever it is
            self._put(self._batches, _Failed(exc))

    # -- the caller's side -----------------------------------------------------------------
    def run(self, frames: Iterable[Frame]) -> Generator[FrameResult, None, None]:
        """Yield one :class:`FrameResult` per input frame, in order (tracked and counted)."""
        pool = ThreadPoolExecutor(self.workers, thread_name_prefix="count-detect")
        workers = [
            threading.Thread(target=self._decode, args=(frames,), name="count-decode", daemon=True),
            threading.Thread(target=self._detect, args=(pool,), name="count-batch", daemon=True),
        ]
        for worker in workers:
            worker.start()
        try:
            while True:
                item = self._get(self._batches)
                if item is None:
                    break
                if isinstance(item, _Failed):
                    raise item.error
                yield from self._track(item)
        finally:
            self._stop.set()
            for worker in workers:
                worker.join()
            pool.shutdown(wait=True, cancel_futures=True)

    def _detections(self, batch: _Batch) -> list[Detections]:
        """The batch's detections once its worker is done (a worker's exception is raised)."""
        while True:
            try:
                return batch.detections.result(timeout=_POLL_S)
            except FutureTimeout:
                if self._stop.is_set():
                    raise RuntimeError("counting stopped") from None

    def _track(self, batch: _Batch) -> Iterator[FrameResult]:
        found = iter(self._detections(batch))
        for frame, analysed in zip(batch.frames, batch.accepted, strict=True):
            if not analysed:
                yield FrameResult(frame_index=frame.index, time=frame.time, analysed=False)
                continue
            yield self.engine.process_detections(frame.index, frame.time, frame.size, next(found))


def _done(value: list[Detections]) -> Future[list[Detections]]:
    """A future already holding ``value`` (a batch with no analysed frame)."""
    future: Future[list[Detections]] = Future()
    future.set_result(value)
    return future


