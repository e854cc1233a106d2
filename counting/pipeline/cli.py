"""The database-free ``count_video`` implementation: parse rule specs, run, return a dict.

The Django management command is a thin wrapper around :func:`run_count_video`; everything
here raises :class:`CountVideoError` (a ``ValueError``) with a message that says what is wrong
and how to fix it.
"""

from __future__ import annotations

import logging
import math
import os
import sys
import time
from collections.abc import Generator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from counting.pipeline.detectors.base import DEFAULT_SCORE_THRESHOLD, ModelError, create_detector
from counting.pipeline.detectors.input_size import DEFAULT_INPUT_SIZE, check_input_size
from counting.pipeline.detectors.precision import resolve_precision
from counting.pipeline.engine import CountingEngine
from counting.pipeline.offline import OfflineCounter
from counting.pipeline.sources import FileSource, LiveSource, SourceError, open_source
from counting.pipeline.specs import LineSpec, MaskSpec, ZoneSpec
from counting.pipeline.types import CrossingEvent, Frame, FrameResult, Point

logger = logging.getLogger(__name__)

LINE_HELP = "NAME:x1,y1,x2,y2 (normalised 0..1), e.g. door:0.5,0,0.5,1"
ZONE_HELP = "NAME:x1,y1;x2,y2;x3,y3[;...] (normalised 0..1), e.g. till:0.1,0.1;0.4,0.1;0.4,0.5"
IGNORE_HELP = "NAME:x1,y1;x2,y2;x3,y3[;...] (normalised 0..1), e.g. sign:0,0.15;0.1,0.15;0.1,0.3"
#: Analysed frames per detector call when counting a file (see docs/pipeline.md, "count_video").
DEFAULT_BATCH = 4


_Polygon = TypeVar("_Polygon", ZoneSpec, MaskSpec)


class CountVideoError(ValueError):
    """Bad arguments or an unusable source/model; the message explains the fix."""


def _split_name(option: str, text: str, help_text: str) -> tuple[str, str]:
    name, sep, coords = text.partition(":")
    name = name.strip()
    if not sep or not name or not coords.strip():
        raise CountVideoError(f"{option} {text!r}: expected {help_text}")
    return name, coords


def _numbers(option: str, text: str, raw: str, count: int | None, help_text: str) -> list[float]:
    try:
        values = [float(v) for v in raw.split(",")]
    except ValueError:
        raise CountVideoError(
            f"{option} {text!r}: coordinates must be numbers; expected {help_text}"
        ) from None
    if count is not None and len(values) != count:
        raise CountVideoError(
            f"{option} {text!r}: expected {count} numbers, got {len(values)}; use {help_text}"
        )
    for v in values:
        if not math.isfinite(v) or not 0.0 <= v <= 1.0:
            raise CountVideoError(
                f"{option} {text!r}: {v} is outside 0..1; coordinates are "
                "fractions of the frame width/height"
            )
    return values


def parse_line(text: str) -> LineSpec:
    """``NAME:x1,y1,x2,y2`` -> LineSpec (the name is also the key)."""
    name, coords = _split_name("--line", text, LINE_HELP)
    x1, y1, x2, y2 = _numbers("--line", text, coords, 4, LINE_HELP)
    try:
        return LineSpec(key=name, name=name, start=(x1, y1), end=(x2, y2))
    except ValueError as exc:
        raise CountVideoError(f"--line {text!r}: {exc}") from None


def _parse_polygon(option: str, text: str, help_text: str, spec_type: type[_Polygon]) -> _Polygon:
    """``NAME:x1,y1;x2,y2;...`` -> ``spec_type(key=NAME, name=NAME, points=...)``."""
    name, coords = _split_name(option, text, help_text)
    points: list[Point] = []
    for chunk in coords.split(";"):
        if not chunk.strip():
            continue
        x, y = _numbers(option, text, chunk, 2, help_text)
        points.append((x, y))
    try:
        return spec_type(key=name, name=name, points=tuple(points))
    except ValueError as exc:
        raise CountVideoError(f"{option} {text!r}: {exc}") from None


def parse_zone(text: str) -> ZoneSpec:
    """``NAME:x1,y1;x2,y2;...`` -> ZoneSpec."""
    return _parse_polygon("--zone", text, ZONE_HELP, ZoneSpec)


def parse_mask(text: str) -> MaskSpec:
    """``NAME:x1,y1;x2,y2;...`` -> MaskSpec (``--ignore``)."""
    return _parse_polygon("--ignore", text, IGNORE_HELP, MaskSpec)


def parse_rules(
    lines: Sequence[str], zones: Sequence[str]
) -> tuple[list[LineSpec], list[ZoneSpec]]:
    """Parse and cross-check all ``--line``/``--zone`` values."""
    if not lines and not zones:
        raise CountVideoError(
            f"nothing to count: give at least one --line {LINE_HELP} or --zone {ZONE_HELP}"
        )
    line_specs = [parse_line(t) for t in lines]
    zone_specs = [parse_zone(t) for t in zones]
    _refuse_repeated_names("line", [s.name for s in line_specs])
    _refuse_repeated_names("zone", [s.name for s in zone_specs])
    return line_specs, zone_specs


def _refuse_repeated_names(kind: str, names: list[str]) -> None:
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise CountVideoError(
            f"duplicate {kind} name(s) {', '.join(dupes)}; give each {kind} a distinct NAME"
        )


def _is_url(source: str) -> bool:
    return "://" in source


def run_count_video(
    source: str,
    lines: Sequence[str] = (),
    zones: Sequence[str] = (),
    model_path: str | Path | None = None,
    detect_fps: float | None = None,
    score_threshold: float = DEFAULT_SCORE_THRESHOLD,
    threads: int | None = None,
    backend: str = "torch",
    device: str | None = None,
    progress: bool = False,
    max_seconds: float | None = None,
    open_timeout_s: float = 10.0,
    ignore: Sequence[str] = (),
    input_size: int | None = DEFAULT_INPUT_SIZE,
    ffmpeg_options: Mapping[str, str] | None = None,
    batch: int | None = None,
    precision: str = "float32",
    workers: int | None = None,
) -> dict[str, Any]:
    """Count a video file or a stream URL and return the summary dict (see ``--json``).

    ``max_seconds`` bounds a live stream (wall clock); files are read to the end. ``ignore``:
    regions whose detections are dropped (``--ignore``). ``input_size``: the detector's square
    input side (``--input-size``; None for the model's own). ``ffmpeg_options``: how a stream
    URL is opened (its protocol whitelist; ``manage.py count_video`` passes the project's).
    ``precision``: float32, bfloat16 or auto (``--precision``; see
    :mod:`~counting.pipeline.detectors.precision`).

    A file is counted in three pipelined stages (:class:`~counting.pipeline.offline.
    OfflineCounter`: decode thread, ``batch`` analysed frames per detector call on ``workers``
    threads, tracking in frame order), with the same counts as one frame at a time. With the
    torch backend on a CPU and neither ``threads`` nor ``workers`` given, every core this
    process may use runs its own batches on one thread (``workers`` = cores, ``threads`` = 1);
    ``threads`` alone keeps one worker with that many intra-op threads. Elsewhere (ONNX
    Runtime, a GPU, a stream) one worker runs ``threads`` (default: every core); a stream is
    analysed frame by frame as it arrives. ``progress`` shows frames done/total, fps and ETA
    on stderr when it is a terminal (nothing otherwise).
    """
    line_specs, zone_specs = parse_rules(lines, zones)
    mask_specs = [parse_mask(t) for t in ignore]
    _refuse_repeated_names("ignore region", [m.name for m in mask_specs])
    if detect_fps is not None and not (math.isfinite(detect_fps) and detect_fps > 0):
        raise CountVideoError(f"--detect-fps must be a positive number, got {detect_fps}")
    if input_size is not None:
        try:
            check_input_size(input_size)
        except ValueError as exc:
            raise CountVideoError(f"--input-size: {exc}") from None
    if model_path is None:
        raise CountVideoError("no model: pass --model PATH (the yolox_nano.onnx file)")
    if backend not in ("torch", "onnxruntime"):
        raise CountVideoError(f"--backend must be torch or onnxruntime, got {backend!r}")
    if threads is not None and threads < 1:
        raise CountVideoError(f"--threads must be 1 or more, got {threads}")
    try:
        resolve_precision(precision, backend)
    except ValueError as exc:
        raise CountVideoError(f"--precision: {exc}") from None
    if batch is not None and batch < 1:
        raise CountVideoError(f"--batch must be 1 or more, got {batch}")
    if workers is not None and workers < 1:
        raise CountVideoError(f"--workers must be 1 or more, got {workers}")
    live = _is_url(source)
    if backend != "torch" or live:
        workers = 1
    elif workers is None:
        workers = available_cores() if threads is None else 1
    if threads is None:
        threads = 1 if workers > 1 else available_cores()
    # Open the (cheap to check) source first so a typo fails before the model loads.
    try:
        src: FileSource | LiveSource = open_source(
            source,
            live=live,
            open_timeout_s=open_timeout_s,
            read_timeout_s=open_timeout_s,
            ffmpeg_options=ffmpeg_options,
        )
    except SourceError as exc:
        raise CountVideoError(str(exc)) from None
    try:
        detector = create_detector(
            model_path,
            backend=backend,  # type: ignore[arg-type]
            score_threshold=score_threshold,
            device=device,
            threads=threads,
            input_size=input_size,
            precision=precision,
        )
    except (ModelError, ValueError) as exc:
        src.close()
        raise CountVideoError(str(exc)) from None
    engine = CountingEngine(
        detector, lines=line_specs, zones=zone_specs, detect_fps=detect_fps, masks=mask_specs
    )
    events: list[CrossingEvent] = []
    frames = analysed = 0
    last_time = 0.0
    started = time.perf_counter()
    bar = _progress_bar(src) if progress else None
    results: Generator[FrameResult, None, None]
    if isinstance(src, FileSource):
        if getattr(getattr(detector, "device", None), "type", "cpu") != "cpu":
            workers = 1  # a GPU runs one batch at a time
        results = OfflineCounter(engine, batch=batch or DEFAULT_BATCH, workers=workers).run(src)
    else:
        results = (engine.process(frame) for frame in _frames(src, max_seconds))
    try:
        for result in results:
            frames += 1
            last_time = result.time
            if result.analysed:
                analysed += 1
                events.extend(result.events)
            if bar is not None:
                bar.update(1)
    finally:
        results.close()  # stops and joins the decode and detect threads before the source closes
        src.close()
        if bar is not None:
            bar.close()
    events.extend(engine.finish())
    elapsed = time.perf_counter() - started
    return {
        "lines": [
            {
                "name": c.spec.name,
                "in": c.count_in,
                "out": c.count_out,
                "rule_version": c.rule_version,
            }
            for c in engine.lines
        ],
        "zones": [
            {
                "name": z.spec.name,
                "entries": z.entries,
                "exits": z.exits,
                "max_occupancy": z.max_occupancy,
            }
            for z in engine.zones
        ],
        "events": [
            {
                "line": e.line_name,
                "track": e.track_id,
                "direction": e.direction,
                "frame": e.frame_index,
                "time": round(e.time, 3),
            }
            for e in events
        ],
        "frames": frames,
        "analysed_frames": analysed,
        "video_seconds": round(last_time, 3) if isinstance(src, FileSource) else None,
        "seconds": round(elapsed, 3),
        "fps": round(frames / elapsed, 2) if elapsed > 0 else 0.0,
        "detector": getattr(detector, "version", ""),
    }


def _frames(src: FileSource | LiveSource, max_seconds: float | None) -> Any:
    deadline = None if max_seconds is None else time.monotonic() + max_seconds
    if isinstance(src, FileSource):
        yield from src
        return
    while deadline is None or time.monotonic() < deadline:
        remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
        frame: Frame | None = src.read(timeout_s=remaining)
        if frame is None:
            if src.health().state == "closed":
                return
            continue
        yield frame


def available_cores() -> int:
    """CPU cores this process may run on (its affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _progress_bar(src: FileSource | LiveSource) -> Any:
    """frames done/total, fps and ETA on stderr; disabled (prints nothing) unless a terminal."""
    from tqdm import tqdm

    total = src.frame_count if isinstance(src, FileSource) and src.frame_count > 0 else None
    return tqdm(
        total=total, unit="frame", file=sys.stderr, dynamic_ncols=True, disable=None,
        mininterval=0.5,
    )


def format_summary(result: dict[str, Any]) -> str:
    """The readable (non-JSON) summary."""
    out = [
        f"{result['frames']} frames ({result['analysed_frames']} analysed) in "
        f"{result['seconds']:.1f}s, {result['fps']:.1f} fps"
    ]
    for line in result["lines"]:
        out.append(f"line {line['name']}: in {line['in']}, out {line['out']}")
    for zone in result["zones"]:
        out.append(
            f"zone {zone['name']}: entries {zone['entries']}, exits {zone['exits']}, "
            f"max occupancy {zone['max_occupancy']}"
        )
    return "\n".join(out)
