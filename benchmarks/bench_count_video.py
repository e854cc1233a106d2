"""Whole-process speed: ``manage.py count_video`` against the peer recipe on PETS09-S2L1.

    python -m benchmarks.bench_count_video [--shared PATH] [--rounds 3] [--input-size 480]
        [--variants default serial bf16 peer]

Each contender is a fresh subprocess counting the whole video with the same three lines
(x=240, y=200, the diagonal), so start-up (Python, Django, torch, model load) is included:

- ``default``: ``count_video`` as shipped (every core, batches of 4, pipelined stages);
- ``serial``: ``count_video --threads 1 --batch 1`` (one frame per detector call on one thread,
  what count_video did before it used every core);
- ``bf16``: ``count_video --precision bfloat16`` (as ``default``, the detector in bfloat16:
  fast on CPUs with AMX tiles, slow elsewhere);
- ``peer``: ``benchmarks.peer_count_video`` (ONNX Runtime with its default options, trackers'
  ByteTrack, supervision's LineZone).

The machine is shared and loaded, so the contenders run in alternating rounds (the order
rotates every round) and the report gives per-round ratios against the peer and their median,
plus the median wall time of each contender. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.pets import (
    EVAL_LINES,
    REPO,
    PetsPaths,
    add_input_size_argument,
    add_shared_argument,
)

LINES = [
    f"{spec.key}:{spec.start[0]},{spec.start[1]},{spec.end[0]},{spec.end[1]}"
    for spec in EVAL_LINES[:3]
]


def command(variant: str, paths: PetsPaths, input_size: int) -> list[str]:
    """The argv of one contender."""
    line_args = [arg for line in LINES for arg in ("--line", line)]
    common = [str(paths.video), *line_args, "--model", str(paths.model)]
    size = ["--input-size", str(input_size)]
    if variant == "peer":
        return [sys.executable, "-m", "benchmarks.peer_count_video", *common, *size, "--json"]
    extra = {"default": [], "serial": ["--threads", "1", "--batch", "1"],
             "bf16": ["--precision", "bfloat16"]}[variant]
    return [sys.executable, "manage.py", "count_video", *common, *size, *extra, "--json"]


def run_once(argv: list[str]) -> dict[str, Any]:
    """Run one contender; its wall time and the counts it printed."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    started = time.perf_counter()
    proc = subprocess.run(
        argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=1800, check=False
    )
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed:\n{proc.stderr[-2000:]}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    return {
        "wall_s": round(wall, 2),
        "counting_s": out["seconds"],
        "counts": {line["name"]: [line["in"], line["out"]] for line in out["lines"]},
    }


def main(argv: list[str] | None = None) -> int:
    """CLI entry point."""
    parser = argparse.ArgumentParser(description="count_video vs the peer recipe (JSON)")
    add_shared_argument(parser)
    add_input_size_argument(parser)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--variants", nargs="+", default=["default", "serial", "peer"],
        choices=["default", "serial", "bf16", "peer"],
    )
    args = parser.parse_args(argv)
    try:
        paths = PetsPaths.from_shared(Path(args.shared))
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    variants: list[str] = args.variants
    rounds: list[dict[str, Any]] = []
    for r in range(args.rounds):
        order = variants[r % len(variants):] + variants[: r % len(variants)]
        row = {v: run_once(command(v, paths, args.input_size)) for v in order}
        rounds.append(row)
        print(json.dumps({"round": r, "order": order, **row}), file=sys.stderr, flush=True)
    result: dict[str, Any] = {
        "input_size": args.input_size, "lines": LINES, "cores": os.cpu_count()
    }
    for v in variants:
        result[v] = {
            "median_wall_s": round(statistics.median(row[v]["wall_s"] for row in rounds), 2),
            "wall_s": [row[v]["wall_s"] for row in rounds],
            "counts": rounds[-1][v]["counts"],
        }
    if "peer" in variants:
        for v in variants:
            if v == "peer":
                continue
            per_round = [row[v]["wall_s"] / row["peer"]["wall_s"] for row in rounds]
            result[f"{v}_vs_peer"] = {
                "per_round": [round(x, 2) for x in per_round],
                "median": round(statistics.median(per_round), 2),
            }
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
