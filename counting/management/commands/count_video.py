"""``manage.py count_video``: count people crossing lines in a video file or stream.

No database is touched; this is a thin wrapper around
:func:`counting.pipeline.cli.run_count_video`.
"""

from __future__ import annotations

import json
from typing import Any, get_args

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from cameras.streams import stream_ffmpeg_options
from counting.pipeline.cli import (
    DEFAULT_BATCH,
    IGNORE_HELP,
    LINE_HELP,
    ZONE_HELP,
    CountVideoError,
    format_summary,
    run_count_video,
)
from counting.pipeline.detectors.base import Backend
from counting.pipeline.detectors.input_size import DEFAULT_INPUT_SIZE
from counting.pipeline.detectors.precision import PRECISION_CHOICES


class Command(BaseCommand):
    """Count line crossings and zone occupancy in a video, without a database."""

    help = (
        "Count people crossing lines (and entering zones) in a video file or an "
        "rtsp/rtsps/http/https stream. Coordinates are normalised 0..1."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("source", help="a video file path or an rtsp/rtsps/http(s) URL")
        parser.add_argument(
            "--line",
            action="append",
            default=[],
            metavar="SPEC",
            help=f"a counting line {LINE_HELP}; repeatable",
        )
        parser.add_argument(
            "--zone",
            action="append",
            default=[],
            metavar="SPEC",
            help=f"a zone {ZONE_HELP}; repeatable",
        )
        parser.add_argument(
            "--ignore",
            action="append",
            default=[],
            metavar="SPEC",
            help=f"a region whose detections are ignored (a sign, a mannequin) {IGNORE_HELP}; "
            "repeatable",
        )
        parser.add_argument(
            "--model", default=None, help="ONNX detector (default: settings.COUNTING_MODEL_PATH)"
        )
        parser.add_argument(
            "--detect-fps",
            type=float,
            default=None,
            help="frames analysed per second (default: every frame)",
        )
        parser.add_argument("--score-threshold", type=float, default=None)
        parser.add_argument(
            "--threads",
            type=int,
            default=None,
            help="CPU threads per detector worker (default: 1 per worker on a file with the "
            "torch backend, else every core of this machine)",
        )
        parser.add_argument(
            "--workers",
            type=int,
            default=None,
            help="detector threads running batches side by side on a file (default: one per "
            "core with the torch backend on a CPU when --threads is not given, else 1)",
        )
        parser.add_argument(
            "--batch",
            type=int,
            default=None,
            help=f"analysed frames per detector call for a file (default {DEFAULT_BATCH})",
        )
        parser.add_argument("--backend", default="torch", choices=get_args(Backend))
        parser.add_argument(
            "--input-size",
            type=int,
            default=None,
            help="side of the square detector input, a multiple of 32; 0 for the model's own "
            "416 (default: settings.COUNTING_DETECTOR_INPUT_SIZE, 480)",
        )
        parser.add_argument(
            "--precision",
            default=None,
            choices=PRECISION_CHOICES,
            help="torch detector precision: float32, bfloat16 (AMX CPUs) or auto (default: "
            "settings.COUNTING_DETECTOR_PRECISION)",
        )
        parser.add_argument(
            "--max-seconds",
            type=float,
            default=None,
            help="stop a live stream after this many seconds",
        )
        parser.add_argument("--json", action="store_true", help="print one JSON object")

    def handle(self, *args: Any, **options: Any) -> None:
        model = options["model"] or getattr(settings, "COUNTING_MODEL_PATH", None)
        threshold = options["score_threshold"]
        if threshold is None:
            threshold = getattr(settings, "COUNTING_SCORE_THRESHOLD", 0.3)
        # Not COUNTING_TORCH_THREADS (one stream process per camera): a video file counted here
        # has the machine to itself, so run_count_video uses every core unless told otherwise.
        threads = options["threads"]
        input_size = options["input_size"]
        if input_size is None:
            input_size = getattr(settings, "COUNTING_DETECTOR_INPUT_SIZE", DEFAULT_INPUT_SIZE)
        input_size = input_size or None  # 0: the model's own, as in the setting and make eval
        precision = options["precision"] or getattr(settings, "COUNTING_DETECTOR_PRECISION",
                                                    "float32")
        try:
            result = run_count_video(
                options["source"],
                lines=options["line"],
                zones=options["zone"],
                ignore=options["ignore"],
                model_path=model,
                detect_fps=options["detect_fps"],
                score_threshold=float(threshold),
                threads=threads,
                batch=options["batch"],
                workers=options["workers"],
                backend=options["backend"],
                input_size=input_size,
                precision=precision,
                device=getattr(settings, "COUNTING_DEVICE", None),
                progress=not options["json"],
                max_seconds=options["max_seconds"],
                ffmpeg_options=stream_ffmpeg_options(options["source"]),
            )
        except CountVideoError as exc:
            raise CommandError(str(exc)) from exc
        if options["json"]:
            self.stdout.write(json.dumps(result))
        else:
            self.stdout.write(format_summary(result))
