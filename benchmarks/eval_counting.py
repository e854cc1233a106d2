"""Counting accuracy on PETS09-S2L1: our engine vs trackers' ByteTrack + supervision's LineZone.

    python -m benchmarks.eval_counting [--shared PATH] [--json] [--json-out FILE] [--detect-fps F]
                                       [--also-fps F [F ...]] [--random-lines N] [--random-seed S]

Ground truth per line comes from ``gt.txt`` (foot point of every annotated track, +-5 px
hysteresis, segment semantics). Both systems get the *same* detections (our PyTorch YOLOX
backend, score >= 0.3, NMS 0.45) on every frame of the video at its native 7 fps; they differ
only in tracking and counting. The baseline uses ByteTrackTracker's defaults (frame_rate set to
the sampled rate) and LineZone with the bottom-centre anchor, its in/out mapped onto our
direction convention by a synthetic probe. ``--also-fps`` scores further analysis rates on the
same detections, as a stream worker's sampler would pick them (the product's default
detect_fps is 5): one summary line each.

The six lines were drawn by hand and the engine was developed on them, so the same run also
scores ``--random-lines`` random segments (seeded; every orientation, endpoints among the
walkers, each crossed at least 6 times in the ground truth) and reports the pooled count error
sum(|in error| + |out error|) / sum(gt in + gt out), the mean line accuracy and how many lines
reach the 97 % target, for ours and the baseline.

Zones (``EVAL_ZONES``): per analysed frame, our occupancy against the number of annotated foot
points inside the polygon (mean bias, mean absolute error, share of frames exact, highest
occupancy), and entries/exits against the annotated tracks' (+-5 px band). The baseline recipe
has no zones.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.pets import (
    EVAL_LINES,
    EVAL_ZONES,
    HEIGHT,
    SIGN_MASK,
    WIDTH,
    PetsPaths,
    accuracy,
    add_input_size_argument,
    add_shared_argument,
    detect_video,
    gt_crossings,
    gt_occupancy,
    gt_zone_transitions,
    input_size_option,
    load_gt,
    pixel_line,
    pixel_polygon,
    random_lines,
)
from counting.pipeline.detectors.input_size import DEFAULT_INPUT_SIZE
from counting.pipeline.engine import CountingEngine
from counting.pipeline.specs import LineSpec, ZoneSpec
from counting.pipeline.types import Detections

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
    gt_tracks: dict[int, list[tuple[int, float, float, float, float]]],
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
    gt_tracks: dict[int, list[tuple[int, float, float, float, float]]],
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
    gt_tracks: dict[int, list[tuple[int, float, float, float, float]]],
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


def evaluate(
    paths: PetsPaths,
    detect_fps: float | None = None,
    threshold: float = 0.3,
    threads: int | None = None,
    also_fps: tuple[float, ...] = (),
    random_count: int = RANDOM_LINES,
    random_seed: int = RANDOM_SEED,
    input_size: int | None = DEFAULT_INPUT_SIZE,
) -> dict[str, Any]:
    """Run both systems and return the result table as a dict.

    ``also_fps``: further analysis rates, scored on the same detections (summaries only).
    ``random_count``: random segments scored at every rate as well (0: none).
    """
    started = time.perf_counter()
    all_dets, all_times = detect_video(
        paths.video, paths.model, threshold, threads=threads, input_size=input_size
    )
    detect_s = time.perf_counter() - started
    gt_tracks = load_gt(paths.gt)
    randoms = random_lines(gt_tracks, random_seed, random_count) if random_count > 0 else ()

    def score_random(r_dets: list[Detections], r_times: list[float], r_fps: float) -> Any:
        if not randoms:
            return None
        scored = score_random_lines(r_dets, r_times, r_fps, gt_tracks, randoms, threshold)
        return {"seed": random_seed, **scored}

    frame_of = {t: i for i, t in enumerate(all_times)}

    def score_rate(rate: float | None) -> dict[str, Any]:
        """Lines, random segments and zones on the frames analysed at ``rate``."""
        dets, times, fps = sample(all_dets, all_times, rate, NATIVE_FPS)
        rows = score_lines(dets, times, fps, gt_tracks, threshold)
        frames = [frame_of[t] for t in times]
        return {
            "frames_analysed": len(dets),
            "analysed_fps": fps,
            **summarise(rows),
            "lines": rows,
            "random_lines": score_random(dets, times, fps),
            "zones": score_zones(dets, times, frames, gt_tracks, threshold),
        }
    return {
        "video": str(paths.video),
        "score_threshold": threshold,
        "input_size": input_size,
        "detect_seconds": round(detect_s, 1),
        "target": TARGET,
        **score_rate(detect_fps),
        "other_rates": [score_rate(rate) for rate in also_fps],
    }


def format_random(random: dict[str, Any] | None) -> str:
    """One line on the random segments, or nothing."""
    if not random:
        return ""
    n = random["lines"]
    return (
        f"  random segments ({n}, seed {random['seed']}, {random['gt_crossings']} crossings): "
        f"ours count error {random['ours_error']:.1%}, mean {random['ours_mean_accuracy']:.1%}, "
        f"{random['ours_lines_at_target']}/{n} lines >= {TARGET:.0%}; baseline count error "
        f"{random['baseline_error']:.1%}, mean {random['baseline_mean_accuracy']:.1%}, "
        f"{random['baseline_lines_at_target']}/{n} lines >= {TARGET:.0%}"
    )


def format_zones_summary(zones: list[dict[str, Any]]) -> str:
    """One line: occupancy MAE and entry/exit accuracy per zone."""
    parts = [
        f"{z['zone']} MAE {z['ours_mae']:.2f} ({z['ours_bias']:+.2f}), "
        f"in/out {z['ours_transition_accuracy']:.0%}"
        for z in zones
    ]
    return "  zones, occupancy error per frame (bias) and entry/exit accuracy: " + "; ".join(parts)


def format_zones(zones: list[dict[str, Any]]) -> list[str]:
    """The zone table."""
    head = (
        f"{'zone':11} {'name':17} {'gt occ':>7} {'bias':>6} {'MAE':>5} {'exact':>6} "
        f"{'max gt/ours':>11} {'gt in/out':>10} {'ours in/out':>12} {'acc':>6}"
    )
    out = [head, "-" * len(head)]
    for z in zones:
        out.append(
            f"{z['zone']:11} {z['name']:17} {z['gt_mean_occupancy']:>7.2f} {z['ours_bias']:>+6.2f} "
            f"{z['ours_mae']:>5.2f} {z['ours_exact_share']:>6.1%} "
            f"{z['gt_max_occupancy']:>5}/{z['ours_max_occupancy']:<5} "
            f"{z['gt_entries']:>4}/{z['gt_exits']:<5} {z['ours_entries']:>6}/{z['ours_exits']:<5} "
            f"{z['ours_transition_accuracy']:>6.1%}"
        )
    return out


def format_table(result: dict[str, Any]) -> str:
    """Human-readable table."""
    head = (
        f"{'line':8} {'name':20} {'gt in/out':>10} {'ours in/out':>12} {'acc':>7} "
        f"{'baseline':>10} {'acc':>7}"
    )
    out = [head, "-" * len(head)]
    for r in result["lines"]:
        out.append(
            f"{r['line']:8} {r['name']:20} {r['gt_in']:>4}/{r['gt_out']:<5} "
            f"{r['ours_in']:>6}/{r['ours_out']:<5} {r['ours_accuracy']:>7.1%} "
            f"{r['baseline_in']:>4}/{r['baseline_out']:<5} {r['baseline_accuracy']:>7.1%}"
        )
    out.append(
        f"min accuracy: ours {result['ours_min_accuracy']:.1%}, baseline "
        f"{result['baseline_min_accuracy']:.1%} (target {result['target']:.0%}); "
        f"{result['frames_analysed']} frames at {result['analysed_fps']:g} fps, detector input "
        f"{result.get('input_size') or 'of the model'}"
    )
    if result.get("random_lines"):
        out.append(format_random(result["random_lines"]))
    if result.get("zones"):
        out.extend(["", *format_zones(result["zones"]), ""])
    for rate in result.get("other_rates", []):
        below = [
            f"{r['line']} {r['ours_in']}/{r['ours_out']} ({r['ours_accuracy']:.1%})"
            for r in rate["lines"]
            if r["ours_accuracy"] < 1.0
        ]
        out.append(
            f"at {rate['analysed_fps']:g} fps ({rate['frames_analysed']} frames): ours min "
            f"{rate['ours_min_accuracy']:.1%}, mean {rate['ours_mean_accuracy']:.1%}, baseline "
            f"min {rate['baseline_min_accuracy']:.1%}; ours below 100%: "
            f"{', '.join(below) or 'none'}"
        )
        if rate.get("random_lines"):
            out.append(format_random(rate["random_lines"]))
        if rate.get("zones"):
            out.append(format_zones_summary(rate["zones"]))
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    """CLI entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    add_shared_argument(parser)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--json-out", type=Path, default=None, help="also write the JSON result to this file"
    )
    parser.add_argument(
        "--detect-fps",
        type=float,
        default=None,
        help="analyse at this rate (default: every frame, 7 fps)",
    )
    parser.add_argument(
        "--also-fps",
        type=float,
        nargs="*",
        default=[],
        help="also score these analysis rates on the same detections (summary lines)",
    )
    parser.add_argument(
        "--random-lines",
        type=int,
        default=RANDOM_LINES,
        help=f"random segments to score at every rate (default {RANDOM_LINES}; 0: none)",
    )
    parser.add_argument("--random-seed", type=int, default=RANDOM_SEED)
    parser.add_argument("--score-threshold", type=float, default=0.3)
    parser.add_argument("--threads", type=int, default=None)
    add_input_size_argument(parser)
    args = parser.parse_args(argv)
    bad = [f for f in [args.detect_fps, *args.also_fps] if f is not None and not f > 0]
    if bad:
        print(f"error: analysis rates must be > 0 fps, got {bad}", file=sys.stderr)
        return 2
    if args.random_lines < 0:
        print(f"error: --random-lines must be >= 0, got {args.random_lines}", file=sys.stderr)
        return 2
    try:
        paths = PetsPaths.from_shared(args.shared)
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    result = evaluate(
        paths,
        args.detect_fps,
        args.score_threshold,
        args.threads,
        tuple(args.also_fps),
        args.random_lines,
        args.random_seed,
        input_size_option(args.input_size),
    )
    print(json.dumps(result, indent=2) if args.json else format_table(result))
    if args.json_out is not None:
        args.json_out.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
