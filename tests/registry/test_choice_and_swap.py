"""A camera resolves to its model (camera -> tenant -> plan -> platform -> settings), and a
running stream swaps its detector between two frames when the choice changes, logging loads,
failures and latency per model."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from types import SimpleNamespace
from typing import Any

import numpy as np
from django.conf import settings
from django_tenants.utils import tenant_context

from cameras.models import Camera, Site
from counting.model_choice import ModelChoice, camera_model_choice, model_spec
from counting.model_registry import ai_model_choice_set, ai_model_retire
from counting.pipeline.engine import CountingEngine
from counting.pipeline.specs import LineSpec
from counting.pipeline.types import Detections, Frame, ImageArray
from counting.runner.buffer import LedgerBuffer
from counting.runner.frames import frame_result_buffer
from counting.runner.model_watch import ModelWatcher
from counting.runner.runner import StreamRunner
from tenants.models import Plan
from tenants.platform.models import AiModel, ModelLog, ModelStatus


def test_a_camera_resolves_camera_then_tenant_then_plan_then_platform(
        tenant_a: Any, ai_model: Callable[..., AiModel]) -> None:
    platform, for_plan, for_tenant, for_camera = (
        ai_model(status=ModelStatus.ACTIVE, input_size=size) for size in (320, 416, 480, 640))
    plan = Plan.objects.create(code="pro-reg", name="Pro")
    tenant_a.plan = plan
    tenant_a.save(update_fields=["plan"])
    with tenant_context(tenant_a):
        site = Site.objects.create(name="Reg", timezone="UTC")
        camera = Camera.objects.create(site=site, name="door", stream_url="rtsp://cam.test/1")

        def resolved() -> ModelChoice:
            return camera_model_choice(schema=tenant_a.schema_name, camera_id=camera.pk)

        # an empty registry: the settings apply
        assert resolved() == ModelChoice(None, None, "settings")
        ai_model_choice_set(model=platform)
        assert (resolved().model, resolved().source) == (platform, "platform")
        ai_model_choice_set(model=for_plan, plan=plan)
        assert (resolved().model, resolved().source) == (for_plan, "plan")
        ai_model_choice_set(model=for_tenant, tenant=tenant_a)
        assert (resolved().model, resolved().source) == (for_tenant, "tenant")
        Camera.objects.filter(pk=camera.pk).update(ai_model=for_camera)
        choice = resolved()
        assert (choice.model, choice.source) == (for_camera, "camera")
        assert choice.spec is not None and choice.spec.input_size == 640
        assert choice.spec.sha256 == for_camera.sha256 and choice.spec.label == for_camera.label
        assert choice.spec.model_path == str(settings.COUNTING_MODEL_STORE / "yolox_nano.onnx")
        # a retired model is skipped: the next level applies
        ai_model_retire(model=for_camera)
        assert resolved().model == for_tenant
        ai_model_retire(model=for_tenant)
        assert resolved().model == for_plan


class Walker:
    """One person whose foot x follows a script, one value per detect call."""

    score_threshold = 0.3
    input_size = 416

    def __init__(self, name: str, xs: Sequence[float]) -> None:
        self.name = name
        self.xs = list(xs)
        self.calls = 0

    def detect(self, images: Sequence[ImageArray]) -> list[Detections]:
        out = []
        for _ in images:
            x = self.xs[min(self.calls, len(self.xs) - 1)]
            self.calls += 1
            out.append(Detections(np.asarray([[x - 20, 20, x + 20, 60]], np.float32),
                                  np.asarray([0.9], np.float32)))
        return out


def _wait_for(take: Callable[[], Any], timeout_s: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        got = take()
        if got is not None:
            return got
        time.sleep(0.02)
    raise AssertionError("the new model was not handed over in time")


def test_a_running_stream_swaps_its_model_between_frames(
        db: Any, ai_model: Callable[..., AiModel]) -> None:
    # given a run counting with model 1.0, its walker left of... right of the door
    old = ai_model(version="1.0", status=ModelStatus.ACTIVE)
    new = ai_model(version="2.0", status=ModelStatus.ACTIVE)
    broken = ai_model(version="3.0", status=ModelStatus.ACTIVE, sha256="f" * 64)
    chosen = [old]
    detectors = {"yolox-nano 1.0": Walker("a", [80, 70, 60]),
                 "yolox-nano 2.0": Walker("b", [40, 30, 20])}
    runner = StreamRunner(camera_id=1, schema="tenant_a")
    runner.models = watcher = ModelWatcher(
        camera_id=1, schema="tenant_a", loader=lambda spec: detectors[spec.label],
        resolve=lambda: ModelChoice(chosen[0], model_spec(chosen[0]), "plan"))
    first = watcher.load_initial()
    engine = CountingEngine(watcher.timed(first),
                            lines=[LineSpec(key="7", name="door", start=(0.5, 0), end=(0.5, 1))])
    parts = SimpleNamespace(engine=engine, model_version=first.version)
    buffer = LedgerBuffer(camera_id=1, generation=1, max_events=100)
    image = np.zeros((100, 100, 3), np.uint8)

    def frame(i: int) -> None:
        result = engine.process(Frame(image=image, index=i, time=1000.0 + i))
        frame_result_buffer(result=result, frame_time=1000.0 + i, buffer=buffer,
                            model_version=parts.model_version)

    for i in range(3):
        frame(i)
    # when the registry's choice changes (the duties thread polls), the loop takes the new
    # model between two frames, without a restart
    assert watcher.take() is None
    chosen[0] = new
    watcher.poll()
    runner._model_changed(parts, _wait_for(watcher.take))  # type: ignore[arg-type]
    for i in range(3, 6):
        frame(i)
    # then the crossing (made on the new model's boxes, same track) carries its version
    events = buffer.take_all()
    assert [(e.direction, e.track_id) for e in events] == [("in", 1)]
    assert events[0].model_version == "yolox-nano 2.0 695e750a5d57 b 416"
    assert first.version == "yolox-nano 1.0 695e750a5d57 a 416"
    assert detectors["yolox-nano 1.0"].calls == 3 and detectors["yolox-nano 2.0"].calls == 3
    # and a model whose file does not match its checksum is refused: the current one counts on
    chosen[0] = broken
    watcher.poll()
    assert _wait_for(lambda: watcher.failed) == model_spec(broken)
    watcher.poll()  # not retried until the choice changes again
    assert watcher.take() is None and watcher.current is not None
    assert watcher.current.version.startswith("yolox-nano 2.0")
    # and the model logs hold both loads, the failure and one latency row per model
    watcher.logs_flush(force=True)
    logs = {(log.event, log.model_label.split(" 6")[0]): log for log in ModelLog.objects.all()}
    assert set(logs) == {("load", "yolox-nano 1.0"), ("load", "yolox-nano 2.0"),
                         ("failure", "yolox-nano 3.0"), ("latency", "yolox-nano 1.0"),
                         ("latency", "yolox-nano 2.0")}
    assert "checksum mismatch" in logs["failure", "yolox-nano 3.0"].message
    assert logs["latency", "yolox-nano 2.0"].message.startswith("3 frames")
    assert logs["load", "yolox-nano 2.0"].model_id == new.pk
    assert logs["load", "yolox-nano 1.0"].value is not None
