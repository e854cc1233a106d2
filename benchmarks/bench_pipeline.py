"""Pipeline speed on PETS09-S2L1; prints one JSON object.

    python -m benchmarks.bench_pipeline [--shared PATH] [--threads N [N ...]] [--batches N [N ...]]
        [--frames N] [--precisions float32 bfloat16]

Measures: decode fps; detector latency per frame for the PyTorch backend (batch 1 and batches
of 2, 4 and 8) and ONNX Runtime at each thread count (1 and 2 by default), sampled in
alternating blocks so that both see the same machine load, each torch figure's ratio to ORT's,
and the two backends' best batch-1 latencies compared; torch in bfloat16 too (``torch_bf16``
keys) where the CPU has AMX tiles, or when ``--precisions`` asks for it;
tracker and counter cost per frame; end-to-end fps (decode -> sampler -> detector -> tracker
-> 6 lines + 1 zone, at the first thread count, the product's default of 1) and its ratio to
the detector-only time. Wall-clock numbers on a shared machine are noisy: medians and minimums
are both reported.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from benchmarks.pets import (
    EVAL_LINES,
    HEIGHT,
    WIDTH,
    PetsPaths,
    add_input_size_argument,
    add_shared_argument,
    input_size_option,
)
from counting.pipeline.detectors import create_detector
from counting.pipeline.detectors.precision import has_native_bfloat16
from counting.pipeline.engine import CountingEngine
from counting.pipeline.sources import FileSource
from counting.pipeline.specs import ZoneSpec
from counting.pipeline.types import Detections, ImageArray

ZONE = ZoneSpec(
    key="centre", name="centre", points=((0.3, 0.3), (0.7, 0.3), (0.7, 0.8), (0.3, 0.8))
)


def _stats(samples_ms: list[float]) -> dict[str, float]:
    return {
        "median_ms": round(statistics.median(samples_ms), 2),
        "min_ms": round(min(samples_ms), 2),
        "mean_ms": round(statistics.fmean(samples_ms), 2),
    }


def bench_decode(paths: PetsPaths) -> tuple[dict[str, Any], list[ImageArray]]:
    """Decode the whole video once; returns stats and the frames."""
    started = time.perf_counter()
    with FileSource(paths.video) as src:
        frames = [f.image for f in src]
    elapsed = time.perf_counter() - started
    return {"frames": len(frames), "fps": round(len(frames) / elapsed, 1)}, frames


def bench_detectors(
    paths: PetsPaths,
    frames: list[ImageArray],
    threads: int,
    rounds: int,
    batches: Sequence[int],
    input_size: int | None,
    precisions: Sequence[str] = ("float32",),
) -> dict[str, Any]:
    """Latency per frame of torch in each precision (batch 1 and each batch size) and ONNX
    Runtime (batch 1: the exported model has a fixed batch of 1), in alternating blocks, on the
    same model and input size; each torch figure's ratio to ORT's median. Keys: ``torch``,
    ``torch_batch4``...; ``torch_bf16``, ``torch_bf16_batch4``... for bfloat16."""
    torch_dets = {
        "torch" if p == "float32" else "torch_bf16": create_detector(
            paths.model, backend="torch", threads=threads, input_size=input_size, precision=p)
        for p in precisions
    }
    ort_det = create_detector(
        paths.model, backend="onnxruntime", threads=threads, input_size=input_size
    )
    picks = [frames[i] for i in np.linspace(0, len(frames) - 1, rounds).astype(int)]
    samples: dict[str, list[float]] = {name: [] for name in (*torch_dets, "onnxruntime")}
    samples.update({f"{name}_batch{b}": [] for name in torch_dets for b in batches})
    backends = [*torch_dets.items(), ("onnxruntime", ort_det)]
    for image in picks[:3]:  # warm-up: allocator, oneDNN primitive caches
        for _, det in backends:
            det.detect([image])
    for det in torch_dets.values():
        for b in batches:
            det.detect(picks[:b])
    # Alternate blocks of frames between backends: both see the same machine load, and one
    # backend's idle worker threads never compete with the other's within a block.
    block = max([8, *batches])
    for start in range(0, len(picks), block):
        chunk = picks[start : start + block]
        for name, det in backends:
            det.detect(chunk[:1])
            for image in chunk:
                t0 = time.perf_counter()
                det.detect([image])
                samples[name].append((time.perf_counter() - t0) * 1000)
        for name, det in torch_dets.items():
            for b in batches:
                for i in range(0, len(chunk) - b + 1, b):
                    t0 = time.perf_counter()
                    det.detect(chunk[i : i + b])
                    samples[f"{name}_batch{b}"].append((time.perf_counter() - t0) * 1000 / b)
    out: dict[str, Any] = {k: _stats(v) for k, v in samples.items() if v}
    ort = out["onnxruntime"]
    for name in torch_dets:
        out[f"{name}_vs_onnxruntime_median"] = round(out[name]["median_ms"] / ort["median_ms"], 2)
        out[f"{name}_vs_onnxruntime_min"] = round(out[name]["min_ms"] / ort["min_ms"], 2)
        for b in batches:
            if f"{name}_batch{b}" in out:
                out[f"{name}_batch{b}_vs_onnxruntime_median"] = round(
                    out[f"{name}_batch{b}"]["median_ms"] / ort["median_ms"], 2
                )
    out["threads"] = threads
    return out


def best_of(by_threads: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Each backend at its fastest thread count (batch 1), and torch's ratio to ORT."""
    best: dict[str, Any] = {}
    for backend in ("torch", "torch_bf16", "onnxruntime"):
        if not all(backend in row for row in by_threads.values()):
            continue
        key = min(by_threads, key=lambda k: by_threads[k][backend]["median_ms"])
        best[backend] = {"median_ms": by_threads[key][backend]["median_ms"], "at": key}
    for backend in ("torch", "torch_bf16"):
        if backend in best:
            best[f"{backend}_vs_onnxruntime_median"] = round(
                best[backend]["median_ms"] / best["onnxruntime"]["median_ms"], 2)
    return best


def bench_tracking(paths: PetsPaths, frames: list[ImageArray], threads: int) -> dict[str, Any]:
    """Tracker and counter cost per frame over the whole video (ORT detections, precomputed)."""
    det = create_detector(paths.model, backend="onnxruntime", threads=threads)
    dets: list[Detections] = [det.detect([f])[0] for f in frames]
    engine = CountingEngine(None, lines=EVAL_LINES, zones=[ZONE])
    track_ms, count_ms = [], []
    for i, d in enumerate(dets):
        r = engine.process_detections(i, i / 7.0, (WIDTH, HEIGHT), d)
        track_ms.append(r.timings["track_s"] * 1000)
        count_ms.append(r.timings["count_s"] * 1000)
    return {
        "tracker": _stats(track_ms),
        "counters_6_lines_1_zone": _stats(count_ms),
        "mean_detections_per_frame": round(float(np.mean([len(d) for d in dets])), 1),
    }


def bench_end_to_end(
    paths: PetsPaths, threads: int, limit: int | None, input_size: int | None
) -> dict[str, Any]:
    """File -> engine.process on every frame with the torch detector."""
    detector = create_detector(
        paths.model, backend="torch", threads=threads, input_size=input_size
    )
    engine = CountingEngine(detector, lines=EVAL_LINES, zones=[ZONE], detect_fps=None)
    with FileSource(paths.video) as src:
        first = src.read()
        assert first is not None
        engine.process(first)  # warm-up outside the timing
        detect_s = other_s = 0.0
        n = 0
        started = time.perf_counter()
        for frame in src:
            result = engine.process(frame)
            detect_s += result.timings.get("detect_s", 0.0)
            n += 1
            if limit is not None and n >= limit:
                break
        total_s = time.perf_counter() - started
    other_s = total_s - detect_s
    return {
        "frames": n,
        "seconds": round(total_s, 2),
        "fps": round(n / total_s, 1),
        "detector_seconds": round(detect_s, 2),
        "pipeline_overhead_seconds": round(other_s, 2),
        "end_to_end_over_detector_only": round(total_s / detect_s, 3),
    }


def main(argv: list[str] | None = None) -> int:
    """CLI entry point."""
    parser = argparse.ArgumentParser(description="PETS pipeline benchmark (JSON)")
    add_shared_argument(parser)
    parser.add_argument(
        "--threads", type=int, nargs="+", default=[1, 2], help="CPU thread counts to compare"
    )
    parser.add_argument("--rounds", type=int, default=64, help="detector latency samples")
    parser.add_argument(
        "--batches", type=int, nargs="+", default=[2, 4, 8], help="torch batch sizes"
    )
    parser.add_argument("--frames", type=int, default=None, help="end-to-end frame limit")
    parser.add_argument(
        "--precisions", nargs="+", choices=["float32", "bfloat16"], default=None,
        help="torch precisions to time (default: float32, and bfloat16 where the CPU has AMX)")
    add_input_size_argument(parser)
    args = parser.parse_args(argv)
    precisions = args.precisions or (
        ["float32", "bfloat16"] if has_native_bfloat16() else ["float32"])
    input_size = input_size_option(args.input_size)
    try:
        paths = PetsPaths.from_shared(args.shared)
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    decode, frames = bench_decode(paths)
    detector = {
        f"threads_{n}": bench_detectors(paths, frames, n, args.rounds, args.batches, input_size,
                                        precisions)
        for n in args.threads
    }
    result = {
        "input_size": input_size,
        "decode": decode,
        "detector": {**detector, "best": best_of(detector)},
        "tracking": bench_tracking(paths, frames, args.threads[0]),
        "end_to_end": bench_end_to_end(paths, args.threads[0], args.frames, input_size),
    }
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
