"""Register a detector model in the platform registry (public schema), evaluate it on the
reference footage, and optionally activate it and make it the platform default.

    manage.py register_model NAME VERSION FILE --licence L [--format onnx] [--input-size 480]
        [--classes-file F | --classes person,...] [--sha256 HEX] [--activate [--force
        --reason TEXT]] [--default] [--workers N]

FILE is relative to COUNTING_MODEL_STORE (copy it there on every node first).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django_tenants.utils import schema_context

from counting.model_registry import ai_model_activate, ai_model_choice_set, ai_model_register


class Command(BaseCommand):
    help = "Register (check, evaluate) a detector model; optionally activate it."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name")
        parser.add_argument("version")
        parser.add_argument("file", help="path inside COUNTING_MODEL_STORE")
        parser.add_argument("--licence", required=True)
        parser.add_argument("--format", default="onnx", help="onnx or safetensors")
        parser.add_argument("--input-size", type=int, default=480)
        parser.add_argument("--classes", default="", help="comma-separated, 'person' first")
        parser.add_argument("--classes-file", type=Path, default=None,
                            help="one class name per line (e.g. coco_classes.txt)")
        parser.add_argument("--sha256", default="", help="expected checksum (refused if not)")
        parser.add_argument("--activate", action="store_true")
        parser.add_argument("--force", action="store_true",
                            help="activate even if it counts worse than an active model")
        parser.add_argument("--reason", default="", help="why it is forced (recorded)")
        parser.add_argument("--default", action="store_true",
                            help="make it the platform default (implies --activate)")
        parser.add_argument("--workers", type=int, default=None,
                            help="processes for the evaluation (default: one per core)")

    def handle(self, *args: Any, **opts: Any) -> None:
        if opts["classes_file"] is not None:
            try:
                text = opts["classes_file"].read_text()
            except OSError as exc:
                raise CommandError(f"cannot read --classes-file: {exc}") from exc
            classes = [line.strip() for line in text.splitlines() if line.strip()]
        else:
            classes = [c.strip() for c in opts["classes"].split(",") if c.strip()]
        with schema_context("public"):
            try:
                model = ai_model_register(
                    name=opts["name"], version=opts["version"], file_path=opts["file"],
                    format=opts["format"], input_size=opts["input_size"], classes=classes,
                    licence=opts["licence"], sha256=opts["sha256"], workers=opts["workers"])
                self.stdout.write(f"registered {model.label} (candidate), sha256 "
                                  f"{model.sha256}\n{json.dumps(model.evaluation, indent=2)}")
                if opts["activate"] or opts["default"]:
                    ai_model_activate(model=model, force=opts["force"], reason=opts["reason"])
                    self.stdout.write(f"{model.label} is active")
                if opts["default"]:
                    ai_model_choice_set(model=model)
                    self.stdout.write(f"{model.label} is the platform default")
            except ValidationError as exc:
                raise CommandError("; ".join(exc.messages)) from exc
