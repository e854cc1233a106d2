"""Registering a model: checked (store, data format, checksum, outputs), evaluated on the
reference footage, audited; refusals leave nothing behind."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.test import Client

from audit.models import AuditEvent
from counting.model_registry import ai_model_register
from tenants.platform.models import AiModel, ModelStatus
from tests.conftest import PASSWORD
from tests.registry.conftest import YOLOX_SHA256

GOOD = {"name": "yolox-nano", "version": "1.0", "file_path": "yolox_nano.onnx",
        "format": "onnx", "input_size": 416, "classes": ["person", "bicycle"] + ["x"] * 78,
        "licence": "Apache-2.0"}


def staff_client() -> Client:
    staff = get_user_model().objects.create_superuser(username="platform", password=PASSWORD,
                                                      email="platform@localhost")
    client = Client(HTTP_HOST="localhost")
    client.force_login(staff)
    return client


def test_the_admin_registers_a_good_file_evaluated_and_audited(quick_eval: Any) -> None:
    # given platform staff and the YOLOX-Nano file in the model store
    client = staff_client()
    # when they submit the add form with its classes and the right checksum
    response = client.post("/admin/platform/aimodel/add/", {
        "name": "yolox-nano", "version": "1.0", "file_path": "yolox_nano.onnx",
        "format": "onnx", "input_size": 416, "licence": "Apache-2.0", "sha256": YOLOX_SHA256,
        "classes_text": (quick_eval.SHARED_DIR / "models/coco_classes.txt").read_text()})
    # then a candidate is registered with its checksum and its evaluation
    assert response.status_code == 302, response.content.decode()[-2000:]
    model = AiModel.objects.get(name="yolox-nano", version="1.0")
    assert model.status == ModelStatus.CANDIDATE and model.sha256 == YOLOX_SHA256
    assert len(model.classes) == 80 and model.created_by == "platform"
    ev = model.evaluation
    assert ev["frames"] == 10 and ev["frames_analysed"] == 7 and ev["lines"] == 6
    assert 0.0 <= ev["count_error"] and ev["latency"]["median_ms"] > 0
    assert ev["reference"].startswith("PETS09-S2L1 10 frames at 5 fps")
    event = AuditEvent.objects.get(action="ai_model.register", target_id=str(model.pk))
    assert event.actor_name == "platform" and event.after["sha256"] == YOLOX_SHA256


def test_a_wrong_checksum_is_refused_and_nothing_is_made(quick_eval: Any) -> None:
    with pytest.raises(ValidationError) as exc:
        ai_model_register(**GOOD, sha256="0" * 64)
    assert "checksum mismatch" in str(exc.value) and YOLOX_SHA256 in str(exc.value)
    assert not AiModel.objects.exists()
    # the command says the same and exits with an error
    with pytest.raises(CommandError, match="checksum mismatch"):
        call_command("register_model", "yolox-nano", "1.0", "yolox_nano.onnx",
                     "--licence", "Apache-2.0", "--classes", "person", "--sha256", "1" * 64)
    assert not AiModel.objects.exists()


@pytest.mark.parametrize(("name", "content", "fmt", "said"), [
    # a PyTorch checkpoint by name: never opened
    ("m.pt", pickle.dumps({"w": 1}), "onnx", "pickle-based"),
    # a pickle named .onnx: refused by its content
    ("m.onnx", pickle.dumps({"w": 1}), "onnx", "pickle or a zip archive"),
    # a zip (torch.save's format) named .onnx
    ("z.onnx", b"PK\x03\x04rest-of-a-zip", "onnx", "pickle or a zip archive"),
    # an unknown format
    ("m.tflite", b"TFL3", "tflite", "unknown model format"),
    # safetensors: a data format, but the YOLOX graph only loads from ONNX (said clearly)
    ("m.safetensors", b"\x0d\x00\x00\x00\x00\x00\x00\x00{\"__meta\":{}}", "safetensors",
     "safetensors weights are not loadable yet"),
])
def test_pickles_and_unknown_formats_are_refused(settings: Any, tmp_path: Path, db: Any,
                                                 name: str, content: bytes, fmt: str,
                                                 said: str) -> None:
    settings.COUNTING_MODEL_STORE = tmp_path
    (tmp_path / name).write_bytes(content)
    with pytest.raises(ValidationError) as exc:
        ai_model_register(**{**GOOD, "file_path": name, "format": fmt})
    assert said in " ".join(exc.value.messages)
    assert not AiModel.objects.exists()


def test_paths_outside_the_store_and_bad_fields_are_refused(quick_eval: Any) -> None:
    with pytest.raises(ValidationError, match="not inside the model store"):
        ai_model_register(**{**GOOD, "file_path": "../video/PETS09-S2L1/gt.txt"})
    with pytest.raises(ValidationError) as exc:
        ai_model_register(**{**GOOD, "classes": ["car", "person"], "input_size": 400,
                             "licence": " "})
    assert set(exc.value.message_dict) == {"classes", "input_size", "licence"}
    # the declared classes must match the graph's outputs (80 COCO classes here)
    with pytest.raises(ValidationError, match=r"expected the YOLOX output \[batch, anchors, 7\]"):
        ai_model_register(**{**GOOD, "classes": ["person", "car"]})
    assert not AiModel.objects.exists()
