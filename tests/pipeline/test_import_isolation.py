"""The pipeline imports nothing from Django, and importing it does not load torch."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

SCRIPT = """
import importlib, pkgutil, sys
import counting.pipeline as p
light = sorted(m for m in ("torch", "onnx", "onnxruntime") if m in sys.modules)
for info in pkgutil.walk_packages(p.__path__, "counting.pipeline."):
    importlib.import_module(info.name)
print(light, "django" in sys.modules, "counting.pipeline.detectors.yolox_torch" in sys.modules)
"""


def test_pipeline_imports_without_django() -> None:
    # given a subprocess with Django unconfigured
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env["PYTHONPATH"] = str(REPO)
    # when every module of counting.pipeline is imported
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    # then importing the package loaded no heavy runtime, and nothing loaded django
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["[]", "False", "True"]
