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
from pathlib import Path
from typing import Any

from benchmarks.pets import (
    PetsPaths,
    add_input_size_argument,
    add_precision_argument,
    add_shared_argument,
    input_size_option,
)
from counting.pipeline.evaluation.progress import Progress
from counting.pipeline.evaluation.scoring import (  # noqa: F401  (re-exported for the tests)
    NATIVE_FPS,
    RANDOM_LINES,
    RANDOM_SEED,
    TARGET,
    evaluate,
    run_baseline,
    run_ours,
    sample,
    score_lines,
    score_random_lines,
    score_zones,
    summarise,
)


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
        f"{result.get('input_size') or 'of the model'}, {result.get('precision', 'float32')}"
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
    parser.add_argument("--threads", type=int, default=None,
                        help="detector threads per worker (default: 1 with several workers)")
    parser.add_argument("--workers", type=int, default=0,
                        help="processes for detection and scoring (default 0: one per core; "
                        "1: serial, in this process)")
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    add_input_size_argument(parser)
    add_precision_argument(parser)
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
    if args.workers < 0:
        print(f"error: --workers must be >= 0, got {args.workers}", file=sys.stderr)
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
        workers=args.workers or None,
        progress=Progress(sys.stderr, quiet=args.quiet),
        precision=args.precision,
    )
    print(json.dumps(result, indent=2) if args.json else format_table(result))
    if args.json_out is not None:
        args.json_out.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
