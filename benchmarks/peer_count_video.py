"""The peer recipe as a whole process: YOLOX-Nano in ONNX Runtime, trackers' ByteTrack and
supervision's LineZone, the way a user of those libraries would write it (ONNX Runtime's
default session options: all cores; OpenCV decode; the model README's letterbox and decode).

    python -m benchmarks.peer_count_video VIDEO --model M --line NAME:x1,y1,x2,y2 [...]
        [--input-size 480] [--json]

``benchmarks.bench_count_video`` runs it against ``manage.py count_video`` on the same video
and lines. It prints the same summary keys as ``count_video --json`` (lines, frames, seconds).
The letterbox, decode and NMS are our ONNX Runtime reference's numpy functions, so the boxes
are the ones the counting comparison in ``make eval`` gives the baseline.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import cv2
import numpy as np


def _lines(specs: list[str], width: int, height: int) -> list[tuple[str, Any]]:
    import supervision as sv

    out = []
    for text in specs:
        name, _, coords = text.partition(":")
        x1, y1, x2, y2 = (float(v) for v in coords.split(","))
        zone = sv.LineZone(
            sv.Point(x1 * width, y1 * height),
            sv.Point(x2 * width, y2 * height),
            triggering_anchors=[sv.Position.BOTTOM_CENTER],
        )
        out.append((name, zone))
    return out


def run(video: str, model: str, lines: list[str], input_size: int | None) -> dict[str, Any]:
    """Count ``video`` with the peer recipe; the summary dict."""
    import onnxruntime as ort
    import supervision as sv
    from trackers import ByteTrackTracker

    from counting.pipeline.detectors.base import DEFAULT_NMS_IOU, DEFAULT_SCORE_THRESHOLD
    from counting.pipeline.detectors.input_size import with_input_size
    from counting.pipeline.detectors.onnx_graph import load_onnx
    from counting.pipeline.detectors.onnxruntime_backend import letterbox_cv2, nms_numpy
    from counting.pipeline.detectors.yolox_ops import STRIDES

    started = time.perf_counter()
    source: str | bytes = model
    if input_size is not None:
        source = with_input_size(load_onnx(Path(model)), input_size).SerializeToString()
    session = ort.InferenceSession(source, providers=["CPUExecutionProvider"])
    inp = session.get_inputs()[0]
    size = int(inp.shape[2])
    grids, strides = [], []
    for s in STRIDES:
        n = size // s
        ys, xs = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
        grids.append(np.stack([xs, ys], -1).reshape(-1, 2))
        strides.append(np.full((n * n, 1), float(s)))
    grid = np.concatenate(grids).astype(np.float32)
    stride = np.concatenate(strides).astype(np.float32)

    cap = cv2.VideoCapture(video)
    fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
    width = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH))
    height = int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
    zones = _lines(lines, width, height)
    tracker = ByteTrackTracker(frame_rate=fps)
    frames = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        while True:
            ok, image = cap.read()
            if not ok:
                break
            frames += 1
            x, r = letterbox_cv2(np.asarray(image, dtype=np.uint8), size)
            raw = session.run(None, {inp.name: x[None]})[0][0]
            xy = (raw[:, 0:2] + grid) * stride
            wh = np.exp(raw[:, 2:4]) * stride
            boxes = np.concatenate([xy - wh / 2, xy + wh / 2], axis=1)
            scores = raw[:, 4] * raw[:, 5]
            keep = scores >= DEFAULT_SCORE_THRESHOLD
            boxes, scores = boxes[keep], scores[keep]
            idx = nms_numpy(boxes, scores, DEFAULT_NMS_IOU)
            b = boxes[idx] / r
            b[:, 0::2] = np.clip(b[:, 0::2], 0, width)
            b[:, 1::2] = np.clip(b[:, 1::2], 0, height)
            detections = sv.Detections(
                xyxy=b.astype(np.float64),
                confidence=scores[idx],
                class_id=np.zeros(len(idx), dtype=int),
            )
            tracked = tracker.update(detections)
            for _, zone in zones:
                zone.trigger(tracked)
    cap.release()
    elapsed = time.perf_counter() - started
    return {
        "lines": [{"name": n, "in": z.in_count, "out": z.out_count} for n, z in zones],
        "frames": frames,
        "seconds": round(elapsed, 3),
        "fps": round(frames / elapsed, 2) if elapsed else 0.0,
    }


def main(argv: list[str] | None = None) -> int:
    """CLI entry point."""
    parser = argparse.ArgumentParser(description="peer recipe: ORT + ByteTrack + LineZone")
    parser.add_argument("video")
    parser.add_argument("--model", required=True)
    parser.add_argument("--line", action="append", default=[], required=True)
    parser.add_argument("--input-size", type=int, default=480, help="0: the model's own 416")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    result = run(args.video, args.model, args.line, args.input_size or None)
    if args.json:
        print(json.dumps(result))
    else:
        print(result, file=sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
