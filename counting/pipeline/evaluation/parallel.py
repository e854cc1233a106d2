"""The evaluation's process pool: a video's detection pass spread over processes, and a map
over independent scoring jobs.

Frames are dealt round-robin (frame ``i`` to worker ``i % n``): every worker decodes the whole
video (cheap next to detection) and detects only its own frames at batch 1, so each frame gets
exactly the computation of a serial pass with the same detector threads and the merged result
is identical to it. Workers are spawned (no forked torch or database state) and report each
frame to the parent through a queue for :class:`~.progress.Progress`.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from counting.pipeline.detectors.input_size import DEFAULT_INPUT_SIZE
from counting.pipeline.evaluation.progress import Progress
from counting.pipeline.types import Detections

T = TypeVar("T")
R = TypeVar("R")

_ticks: Any = None  # the worker's end of the progress queue (set by _init)


def default_workers() -> int:
    """One worker per core this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def _init(ticks: Any) -> None:
    global _ticks
    _ticks = ticks


def _detect_share(video: Path, model: Path, threshold: float, backend: str,
                  threads: int | None, input_size: int | None, index: int, workers: int,
                  limit: int | None, precision: str = "float32"
                  ) -> list[tuple[int, float, Detections]]:
    """Worker ``index`` of ``workers``: (frame, time, detections) of its frames."""
    from counting.pipeline.detectors import create_detector
    from counting.pipeline.sources import FileSource

    detector = create_detector(model, backend=backend,  # type: ignore[arg-type]
                               score_threshold=threshold, threads=threads,
                               input_size=input_size, precision=precision)
    out = []
    with FileSource(video) as src:
        for i, frame in enumerate(src):
            if limit is not None and i >= limit:
                break
            if i % workers != index:
                continue
            out.append((i, frame.time, detector.detect([frame.image])[0]))
            if _ticks is not None:
                _ticks.put(1)
    return out


def count_frames(video: Path, limit: int | None = None) -> int:
    """Frames in the video (from the container when it says, else by decoding)."""
    import av

    with av.open(str(video)) as container:
        stream = container.streams.video[0]
        frames = stream.frames or sum(1 for _ in container.decode(stream))
    return min(frames, limit) if limit is not None else frames


def detect_video_parallel(
    video: Path,
    model: Path,
    score_threshold: float,
    *,
    backend: str = "torch",
    threads: int | None = None,
    input_size: int | None = DEFAULT_INPUT_SIZE,
    workers: int | None = None,
    progress: Progress | None = None,
    limit: int | None = None,
    precision: str = "float32",
) -> tuple[list[Detections], list[float]]:
    """Detections and PTS of the first ``limit`` frames (all by default), as
    ``detect_video`` returns them, computed by ``workers`` processes (None: one per core;
    1: in this process). ``threads`` defaults to 1 per worker when there are several."""
    n = workers or default_workers()
    if n > 1 and threads is None:
        threads = 1
    if progress is not None:
        progress.start("detecting", count_frames(video, limit))
    if n == 1:
        parts = [_detect_share(video, model, score_threshold, backend, threads, input_size,
                               0, 1, limit, precision)]
        if progress is not None:
            progress.advance(len(parts[0]))
    else:
        parts = _in_pool(n, progress, lambda pool: [
            pool.submit(_detect_share, video, model, score_threshold, backend, threads,
                        input_size, k, n, limit, precision) for k in range(n)])
    if progress is not None:
        progress.finish()
    merged = sorted((row for part in parts for row in part), key=lambda row: row[0])
    return [row[2] for row in merged], [row[1] for row in merged]


def pool_map(fn: Callable[[T], R], items: Sequence[T], *, workers: int | None = None,
             progress: Progress | None = None, label: str = "jobs") -> list[R]:
    """``[fn(item) for item in items]`` over a spawned process pool (in order); in this
    process when there is one item or one worker. ``fn`` must be a module-level function."""
    n = min(workers or default_workers(), len(items))
    if progress is not None:
        progress.start(label, len(items))
    if n <= 1:
        results = []
        for item in items:
            results.append(fn(item))
            if progress is not None:
                progress.advance()
    else:
        results = _in_pool(n, None, lambda pool: [pool.submit(fn, item) for item in items],
                           each=progress)
    if progress is not None:
        progress.finish()
    return results


def _in_pool(n: int, progress: Progress | None, submit: Callable[[Any], list[Any]],
             each: Progress | None = None) -> list[Any]:
    """Run what ``submit`` queues on a pool of ``n`` spawned workers; forwards the workers'
    ticks to ``progress`` (and one tick per finished job to ``each``)."""
    ctx = mp.get_context("spawn")
    ticks = ctx.Queue() if progress is not None else None
    done = threading.Event()

    def pump() -> None:
        assert progress is not None and ticks is not None
        while not done.is_set():
            try:
                progress.advance(ticks.get(timeout=0.1))
            except queue.Empty:
                continue

    pumper = threading.Thread(target=pump, daemon=True) if progress is not None else None
    if pumper is not None:
        pumper.start()
    try:
        with ProcessPoolExecutor(max_workers=n, mp_context=ctx, initializer=_init,
                                 initargs=(ticks,)) as pool:
            futures = submit(pool)
            if each is not None:
                for future in futures:
                    future.add_done_callback(lambda _f: each.advance())
            results = [future.result() for future in futures]
    finally:
        done.set()
        if pumper is not None:
            pumper.join(timeout=1)
        if ticks is not None and progress is not None:
            while True:  # ticks that arrived after the pump's last look
                try:
                    progress.advance(ticks.get_nowait())
                except queue.Empty:
                    break
    return results
