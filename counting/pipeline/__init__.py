"""The frame pipeline: pure Python (numpy, OpenCV, PyAV; torch only inside the detector backends).

Nothing here imports Django, and importing this package never imports torch, onnx or
onnxruntime: the detector backends import them when a detector is created.

Public API (stable; the stream runner builds on it)::

    from counting.pipeline import (
        open_source, create_detector, CountingEngine, LineSpec, ZoneSpec,
    )

    source = open_source(url, live=True, open_timeout_s=10, read_timeout_s=10,
                         ffmpeg_options={"protocol_whitelist": "rtsp,tcp,...", ...})
    #   -> LiveSource (rtsp/rtsps/http/https only; the FFmpeg options of the open come from the
    #      caller and must whitelist network protocols only (the project: cameras.streams);
    #      reader thread keeping the newest frame,
    #      reconnect with capped exponential backoff, .health() -> SourceHealth, .close())
    #   open_source(path, live=False) -> FileSource (frame times are the file's PTS)
    #   raises SourceError subclasses: SourceNotFoundError, UnsupportedSourceError,
    #   SourceOpenError, SourceReadError
    detector = create_detector(model_path, backend="torch", score_threshold=0.3,
                               device=None, threads=None)      # ModelError if unusable
    engine = CountingEngine(
        detector=detector,
        lines=[LineSpec(key="12", name="door", start=(0.5, 0.0), end=(0.5, 1.0))],
        zones=[ZoneSpec(key="3", name="till", points=((0.1, 0.1), (0.4, 0.1), (0.4, 0.5)))],
        detect_fps=5.0,
    )
    for frame in source:                       # Frame(image BGR uint8, index, time seconds)
        result = engine.process(frame)         # FrameResult; analysed=False when sampled out
        for event in result.events:            # CrossingEvent (frozen)
            ...  # line_key, line_name, track_id, direction "in"/"out", time, frame_index,
                 # score, rule_version (12-hex hash of geometry + params, stable)
        for zone in result.zones:              # ZoneState: key, name, occupancy, entries,
            ...                                # exits, events (ZoneEvent), dwell per track
    engine.update_rules(lines=[...], zones=[...])  # hot swap; tracker kept; counters of
                                                   # unchanged rules (key + version) kept

Direction convention: a line is directed start -> end; crossing from its left to its right is
"in". With y pointing down, "left" is the left hand of someone walking from start to end on
the image seen from above (see :mod:`counting.pipeline.geometry` for the diagram).
"""

from counting.pipeline.cli import CountVideoError, run_count_video
from counting.pipeline.counters import LineCounter, ZoneCounter
from counting.pipeline.detectors.base import Detector, ModelError, create_detector
from counting.pipeline.engine import CountingEngine
from counting.pipeline.sampler import FrameSampler
from counting.pipeline.sources import (
    FileSource,
    LiveSource,
    SourceError,
    SourceHealth,
    SourceNotFoundError,
    SourceOpenError,
    SourceReadError,
    UnsupportedSourceError,
    open_source,
)
from counting.pipeline.specs import COUNTING_ALGORITHM, LineSpec, ZoneSpec
from counting.pipeline.tracker import ByteTracker
from counting.pipeline.types import (
    CrossingEvent,
    Detections,
    Frame,
    FrameResult,
    LineTotals,
    Track,
    ZoneEvent,
    ZoneState,
)

__all__ = [
    "COUNTING_ALGORITHM",
    "ByteTracker",
    "CountVideoError",
    "CountingEngine",
    "CrossingEvent",
    "Detections",
    "Detector",
    "FileSource",
    "Frame",
    "FrameResult",
    "FrameSampler",
    "LineCounter",
    "LineSpec",
    "LineTotals",
    "LiveSource",
    "ModelError",
    "SourceError",
    "SourceHealth",
    "SourceNotFoundError",
    "SourceOpenError",
    "SourceReadError",
    "Track",
    "UnsupportedSourceError",
    "ZoneCounter",
    "ZoneEvent",
    "ZoneSpec",
    "ZoneState",
    "create_detector",
    "open_source",
    "run_count_video",
]
