"""Production settings refuse to start without secrets and pass ``check --deploy``."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

SECRETS = {
    "DJANGO_SECRET_KEY": "p" * 20 + "-Very-Long-Random-Production-Secret-Key-0123456789",
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/peoplecount",
    # a key of its own: the development default is a published placeholder (tenants.E103)
    "FIELD_ENCRYPTION_KEYS": "hBv2Dk9uQm2WzS9x3r5J6wYb1cT8eN0pLa4KfG7iXoU=",
    "DJANGO_ALLOWED_HOSTS": ".example.com",
}


def _check(env_extra: dict[str, str]) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_"))}
    env.update(env_extra, DJANGO_SETTINGS_MODULE="config.settings.production")
    with tempfile.TemporaryDirectory() as tmp:
        # The model file is checked for existence only (counting.W001), and these tests are
        # about secrets: they must not depend on the shared data being present.
        model = Path(tmp) / "yolox_nano.onnx"
        model.write_bytes(b"")
        env.setdefault("COUNTING_MODEL_PATH", str(model))
        return subprocess.run([sys.executable, "manage.py", "check", "--deploy",
                               "--fail-level", "WARNING"], cwd=REPO_ROOT, env=env,
                              capture_output=True, text=True, timeout=120)


def test_production_check_deploy_is_clean() -> None:
    result = _check(SECRETS)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_to_start_without_its_secret_key() -> None:
    result = _check({k: v for k, v in SECRETS.items() if k != "DJANGO_SECRET_KEY"})
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is not set" in result.stderr


def test_production_refuses_to_start_without_encryption_keys() -> None:
    result = _check({**SECRETS, "FIELD_ENCRYPTION_KEYS": ""})
    assert result.returncode != 0
    assert "FIELD_ENCRYPTION_KEYS" in result.stderr


def test_detector_settings_are_checked_at_start_up() -> None:
    # given a bad input size, an unknown backend and a model path that is not a file
    result = _check({**SECRETS, "COUNTING_DETECTOR_INPUT_SIZE": "500",
                     "COUNTING_DETECTOR_BACKEND": "tensorrt",
                     "COUNTING_MODEL_PATH": "/nonexistent/yolox_nano.onnx"})
    # then `check` fails and says what is wrong and how to fix it
    assert result.returncode != 0
    out = result.stdout + result.stderr
    assert "(counting.E001) COUNTING_DETECTOR_INPUT_SIZE: detector input size must be a " \
           "multiple of 32" in out
    assert "(counting.E002) COUNTING_DETECTOR_BACKEND is 'tensorrt'" in out
    assert "HINT: Set it to one of: torch, onnxruntime." in out
    assert "(counting.W001) COUNTING_MODEL_PATH /nonexistent/yolox_nano.onnx is not a file" in out


def test_model_input_size_zero_means_the_models_own() -> None:
    # given COUNTING_DETECTOR_INPUT_SIZE=0, then the project starts cleanly (the model's 416)
    result = _check({**SECRETS, "COUNTING_DETECTOR_INPUT_SIZE": "0"})
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(("env", "message"), [
    ({"COUNTING_DETECTOR_PRECISION": "fp16"},
     "(counting.E004) COUNTING_DETECTOR_PRECISION: detector precision must be one of auto, "
     "float32, bfloat16, got 'fp16'"),
    ({"COUNTING_DETECTOR_PRECISION": "bfloat16", "COUNTING_DETECTOR_BACKEND": "onnxruntime"},
     "(counting.E004) COUNTING_DETECTOR_PRECISION: bfloat16 precision needs the torch backend"),
])
def test_detector_precision_is_checked_at_start_up(env: dict[str, str], message: str) -> None:
    # given a precision that is not one, or bfloat16 on a backend that computes in float32
    result = _check({**SECRETS, **env})
    # then `check` fails and names the setting, the values it takes and what to set
    assert result.returncode != 0
    out = result.stdout + result.stderr
    assert message in out
    assert "HINT: Set it to float32, or auto" in out


def test_detector_precision_auto_starts_cleanly() -> None:
    result = _check({**SECRETS, "COUNTING_DETECTOR_PRECISION": "auto"})
    assert result.returncode == 0, result.stdout + result.stderr
