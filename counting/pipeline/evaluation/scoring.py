"""Scoring counts against the reference footage's ground truth: our engine, and the
open-source recipe (trackers' ByteTrack + supervision's LineZone) as the baseline.

One module for ``make eval`` (benchmarks/eval_counting.py) and the model registry's
evaluation at registration, so a registered model's numbers are ``make eval``'s numbers.
``evaluate`` runs the detection pass in a process pool (:mod:`.parallel`: the same boxes as a
serial pass) and scores the analysis rates in the same pool.
"""

from __future__ import annotations

import time
import warnings
from typing import Any

import numpy as np

from counting.pipeline.detectors.input_size import DEFAULT_INPUT_SIZE
from counting.pipeline.engine import CountingEngine
from counting.pipeline.evaluation.parallel import detect_video_parallel, pool_map
from counting.pipeline.evaluation.pets import (
    EVAL_LINES,
    EVAL_ZONES,
    HEIGHT,
    SIGN_MASK,
    WIDTH,
    PetsPaths,
    accuracy,
    gt_crossings,
    gt_occupancy,
    gt_zone_transitions,
    load_gt,
    pixel_line,
    pixel_polygon,
    random_lines,
)
from counting.pipeline.evaluation.progress import Progress
from counting.pipeline.specs import LineSpec, ZoneSpec
from counting.pipeline.types import Detections

Tracks = dict[int, list[tuple[int, float, float, float, float]]]

TARGET = 0.97
NATIVE_FPS = 7.0  # PETS09-S2L1's frame rate
RANDOM_LINES = 200
RANDOM_SEED = 2026


def run_ours(
    dets: list[Detections], times: list[float], lines: tuple[LineSpec, ...], threshold: float
) -> dict[str, tuple[int, int]]:
    """Our tracker + counters on precomputed detections."""
    engine = CountingEngine(None, lines=lines)
    # Same low-score split as create_detector would configure for this threshold.
    engine.tracker.low_score = threshold
    for i, (d, t) in enumerate(zip(dets, times, strict=True)):
        engine.process_detections(i, t, (WIDTH, HEIGHT), d)
    engine.finish()
    return {c.spec.key: (c.count_in, c.count_out) for c in engine.lines}


def _sv_line_mapping() -> bool:
    """True when LineZone's in_count means our "in" (left -> right of start->end)."""
    import supervision as sv

    zone = sv.LineZone(
        sv.Point(0, 0), sv.Point(100, 0), triggering_anchors=[sv.Position.BOTTOM_CENTER]
    )
    # Our left of a rightward line is above it (y < 0): move from above to below.
    for i, y in enumerate((-30.0, -20.0, 20.0, 30.0)):
        zone.trigger(
            sv.Detections(
                xyxy=np.array([[45.0, y - 10, 55.0, y]]),
                confidence=np.array([0.9]),
                class_id=np.array([0]),
                tracker_id=np.array([1]),
            )
        )
        del i
    return bool(zone.in_count == 1)


def run_baseline(
    dets: list[Detections], fps: float, lines: tuple[LineSpec, ...]
) -> dict[str, tuple[int, int]]:
    """Roboflow trackers' ByteTrack + supervision LineZone (bottom-centre anchor)."""
    import supervision as sv
    from trackers import ByteTrackTracker

    same = _sv_line_mapping()
    tracker = ByteTrackTracker(frame_rate=fps)
    zones = {}
    for spec in lines:
        (x1, y1), (x2, y2) = pixel_line(spec)
        zones[spec.key] = sv.LineZone(
            sv.Point(x1, y1), sv.Point(x2, y2), triggering_anchors=[sv.Position.BOTTOM_CENTER]
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for d in dets:
            sd = sv.Detections(
                xyxy=d.xyxy.astype(np.float64),
                confidence=d.scores,
                class_id=np.zeros(len(d), dtype=int),
            )
            tracked = tracker.update(sd)
            for zone in zones.values():
                zone.trigger(tracked)
    return {
        k: ((z.in_count, z.out_count) if same else (z.out_count, z.in_count))
        for k, z in zones.items()
    }


def sample(
    dets: list[Detections], times: list[float], detect_fps: float | None, native_fps: float
) -> tuple[list[Detections], list[float], float]:
    """The frames a stream worker at ``detect_fps`` would analyse (all of them by default)."""
    if detect_fps is None or detect_fps >= native_fps:
        return dets, times, native_fps
    from counting.pipeline.sampler import FrameSampler

    sampler = FrameSampler(detect_fps)
    keep = [i for i, t in enumerate(times) if sampler.accept(t)]
    return [dets[i] for i in keep], [times[i] for i in keep], detect_fps


def score_lines(
    dets: list[Detections],
    times: list[float],
    fps: float,
    gt_tracks: Tracks,
    threshold: float,
) -> list[dict[str, Any]]:
    """Ground truth, our counts and the baseline's, per evaluation line."""
    ours = run_ours(dets, times, EVAL_LINES, threshold)
    base = run_baseline(dets, fps, EVAL_LINES)
    rows = []
    for spec in EVAL_LINES:
        gi, go = gt_crossings(gt_tracks, *pixel_line(spec))
        oi, oo = ours[spec.key]
        bi, bo = base[spec.key]
        rows.append(
            {
                "line": spec.key,
                "name": spec.name,
                "gt_in": gi,
                "gt_out": go,
                "ours_in": oi,
                "ours_out": oo,
                "ours_accuracy": round(accuracy(gi, go, oi, oo), 4),
                "baseline_in": bi,
                "baseline_out": bo,
                "baseline_accuracy": round(accuracy(gi, go, bi, bo), 4),
            }
        )
    return rows


def score_random_lines(
    dets: list[Detections],
    times: list[float],
    fps: float,
    gt_tracks: Tracks,
    lines: tuple[LineSpec, ...],
    threshold: float,
) -> dict[str, Any]:
    """Pooled count error, mean accuracy and lines at target over many lines, both systems."""
    truth = {spec.key: gt_crossings(gt_tracks, *pixel_line(spec)) for spec in lines}
    total = sum(gi + go for gi, go in truth.values())
    out: dict[str, Any] = {"lines": len(lines), "gt_crossings": total}
    for system, counts in (
        ("ours", run_ours(dets, times, lines, threshold)),
        ("baseline", run_baseline(dets, fps, lines)),
    ):
        errors = sum(
            abs(counts[k][0] - gi) + abs(counts[k][1] - go) for k, (gi, go) in truth.items()
        )
        acc = [accuracy(*truth[k], *counts[k]) for k in truth]
        out[f"{system}_error"] = round(errors / total, 4)
        out[f"{system}_mean_accuracy"] = round(sum(acc) / len(acc), 4)
        out[f"{system}_lines_at_target"] = sum(1 for a in acc if a >= TARGET)
    return out


def score_zones(
    dets: list[Detections],
    times: list[float],
    frames: list[int],
    gt_tracks: Tracks,
    threshold: float,
) -> list[dict[str, Any]]:
    """Our zone occupancy and entries/exits against the annotation, per evaluation zone, and
    the left half once more with the sign that the detector takes for a person masked."""
    left = next(z for z in EVAL_ZONES if z.key == "left")
    masked = ZoneSpec(key="left_masked", name="left, sign masked", points=left.points)
    plain = CountingEngine(None, zones=EVAL_ZONES)
    with_mask = CountingEngine(None, zones=[masked], masks=[SIGN_MASK])
    ours: dict[str, list[int]] = {spec.key: [] for spec in (*EVAL_ZONES, masked)}
    for engine in (plain, with_mask):
        engine.tracker.low_score = threshold
        for frame, d, t in zip(frames, dets, times, strict=True):
            for zone in engine.process_detections(frame, t, (WIDTH, HEIGHT), d).zones:
                ours[zone.key].append(zone.occupancy)
    rows = []
    for spec, counter in zip((*EVAL_ZONES, masked), plain.zones + with_mask.zones, strict=True):
        polygon = pixel_polygon(spec)
        truth_by_frame = gt_occupancy(gt_tracks, polygon)
        truth = np.array([truth_by_frame.get(f, 0) for f in frames])
        diff = np.array(ours[spec.key]) - truth
        gi, go = gt_zone_transitions(gt_tracks, polygon)
        rows.append(
            {
                "zone": spec.key,
                "name": spec.name,
                "gt_mean_occupancy": round(float(truth.mean()), 2),
                "ours_bias": round(float(diff.mean()), 2),
                "ours_mae": round(float(np.abs(diff).mean()), 2),
                "ours_exact_share": round(float((diff == 0).mean()), 3),
                "gt_max_occupancy": int(truth.max()),
                "ours_max_occupancy": counter.max_occupancy,
                "gt_entries": gi,
                "gt_exits": go,
                "ours_entries": counter.entries,
                "ours_exits": counter.exits,
                "ours_transition_accuracy": round(
                    accuracy(gi, go, counter.entries, counter.exits), 4
                ),
            }
        )
    return rows


def summarise(rows: list[dict[str, Any]]) -> dict[str, float]:
    """Worst and mean line accuracy of ours, worst of the baseline."""
    ours = [r["ours_accuracy"] for r in rows]
    return {
        "ours_min_accuracy": min(ours),
        "ours_mean_accuracy": round(sum(ours) / len(ours), 4),
        "baseline_min_accuracy": min(r["baseline_accuracy"] for r in rows),
    }


def score_rate(
    all_dets: list[Detections],
    all_times: list[float],
    rate: float | None,
    gt_tracks: Tracks,
    randoms: tuple[LineSpec, ...],
    random_seed: int,
    threshold: float,
) -> dict[str, Any]:
    """Lines, random segments and zones on the frames analysed at ``rate`` (None: all)."""
    dets, times, fps = sample(all_dets, all_times, rate, NATIVE_FPS)
    rows = score_lines(dets, times, fps, gt_tracks, threshold)
    frame_of = {t: i for i, t in enumerate(all_times)}
    frames = [frame_of[t] for t in times]
    random = None
    if randoms:
        random = {"seed": random_seed,
                  **score_random_lines(dets, times, fps, gt_tracks, randoms, threshold)}
    return {
        "frames_analysed": len(dets),
        "analysed_fps": fps,
        **summarise(rows),
        "lines": rows,
        "random_lines": random,
        "zones": score_zones(dets, times, frames, gt_tracks, threshold),
    }


def _score_rate_job(args: tuple[Any, ...]) -> dict[str, Any]:
    return score_rate(*args)


def evaluate(
    paths: PetsPaths,
    detect_fps: float | None = None,
    threshold: float = 0.3,
    threads: int | None = None,
    also_fps: tuple[float, ...] = (),
    random_count: int = RANDOM_LINES,
    random_seed: int = RANDOM_SEED,
    input_size: int | None = DEFAULT_INPUT_SIZE,
    workers: int | None = None,
    progress: Progress | None = None,
    backend: str = "torch",
    precision: str = "float32",
) -> dict[str, Any]:
    """Run both systems and return the result table as a dict.

    ``also_fps``: further analysis rates, scored on the same detections (summaries only).
    ``random_count``: random segments scored at every rate as well (0: none).
    ``workers``: processes for the detection pass and the scoring of the rates (None: one
    per core; 1: serial, in this process); ``threads``: detector threads in each (None: one
    when there are several workers, torch's default otherwise). The numbers do not depend on
    ``workers`` (tests/pipeline/test_evaluation_parallel.py).
    """
    started = time.perf_counter()
    all_dets, all_times = detect_video_parallel(
        paths.video, paths.model, threshold, backend=backend, threads=threads,
        input_size=input_size, workers=workers, progress=progress, precision=precision)
    detect_s = time.perf_counter() - started
    gt_tracks = load_gt(paths.gt)
    randoms = random_lines(gt_tracks, random_seed, random_count) if random_count > 0 else ()
    rates = (detect_fps, *also_fps)
    scored = pool_map(_score_rate_job, [
        (all_dets, all_times, rate, gt_tracks, randoms, random_seed, threshold) for rate in rates
    ], workers=workers, progress=progress, label="scoring rates")
    return {
        "video": str(paths.video),
        "score_threshold": threshold,
        "input_size": input_size,
        "precision": precision,
        "detect_seconds": round(detect_s, 1),
        "target": TARGET,
        **scored[0],
        "other_rates": scored[1:],
    }


def reference_score(
    dets: list[Detections],
    times: list[float],
    gt_tracks: Tracks,
    lines: tuple[LineSpec, ...],
    threshold: float,
) -> dict[str, Any]:
    """Our counts only (no baseline) on ``lines``: the pooled count error
    sum(|in error| + |out error|) / sum(gt in + gt out), the mean and worst line accuracy.
    The registry ranks models by ``count_error`` (lower is better)."""
    counts = run_ours(dets, times, lines, threshold)
    truth = {spec.key: gt_crossings(gt_tracks, *pixel_line(spec)) for spec in lines}
    total = sum(gi + go for gi, go in truth.values())
    errors = sum(abs(counts[k][0] - gi) + abs(counts[k][1] - go) for k, (gi, go) in truth.items())
    acc = [accuracy(*truth[k], *counts[k]) for k in truth]
    return {
        "lines": len(lines),
        "gt_crossings": total,
        "count_error": round(errors / total, 4) if total else 0.0,
        "mean_accuracy": round(sum(acc) / len(acc), 4),
        "min_accuracy": round(min(acc), 4),
    }
