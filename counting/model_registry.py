"""Model registry services: platform staff register a detector model (checked, then evaluated
on the reference footage), activate it (not if it counts worse than an active model, unless
forced with a reason), retire it, and choose it per plan, per tenant or as the platform default.

The rows live in ``tenants.platform.models.registry``; these services are in ``counting``
because registration runs the pipeline (``counting.pipeline.evaluation``: the same scoring as
``make eval`` and the same latency measure as ``make bench``). Every change is audited.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction

from audit.services import audit_record
from counting.model_choice import model_spec
from counting.pipeline.detectors.base import ModelError
from counting.pipeline.detectors.input_size import check_input_size
from counting.pipeline.detectors.model_file import (
    check_model_format,
    check_yolox_outputs,
    sha256_file,
)
from counting.pipeline.detectors.spec import DetectorSpec, safetensors_refusal
from tenants.models import Plan, Tenant
from tenants.platform.models import AiModel, AiModelChoice, ChoiceScope, ModelStatus

logger = logging.getLogger(__name__)

#: Frames whose single-frame latency is measured at registration (after a warm-up).
LATENCY_FRAMES = 20


def _actor_name(actor: Any) -> str:
    return actor.get_username() if getattr(actor, "is_authenticated", False) else "system"


def model_store_path(file_path: str) -> Path:
    """The file under COUNTING_MODEL_STORE; a ValidationError for a path that leaves it."""
    store = Path(settings.COUNTING_MODEL_STORE).resolve()
    candidate = (store / file_path).resolve()
    if Path(file_path).is_absolute() or not candidate.is_relative_to(store):
        raise ValidationError({"file_path": f"'{file_path}' is not inside the model store "
                                            f"{store}: give a path relative to it"})
    if not candidate.is_file():
        raise ValidationError({"file_path": f"no file '{file_path}' in the model store {store}: "
                                            "copy the model file there on every node first"})
    return candidate


def ai_model_check_file(*, file_path: str, format: str, classes: list[str],
                        sha256: str = "") -> str:
    """Validate a model file for registration and return its SHA-256: inside the store, a data
    format (never a pickle), the given checksum, a YOLOX graph with the declared classes."""
    path = model_store_path(file_path)
    try:
        check_model_format(path, format)
    except ModelError as exc:
        raise ValidationError({"file_path": str(exc)}) from exc
    digest = sha256_file(path)
    if sha256 and sha256.strip().lower() != digest:
        raise ValidationError({"sha256": f"checksum mismatch: the file in the store has sha256 "
                                         f"{digest}, not {sha256.strip()}. Copy the right file "
                                         "or correct the checksum"})
    if format == "safetensors":
        raise ValidationError({"format": str(safetensors_refusal(path))})
    try:
        check_yolox_outputs(path, len(classes))
    except ModelError as exc:
        raise ValidationError({"file_path": str(exc)}) from exc
    return digest


def ai_model_validate_new(*, name: str, version: str, input_size: int, classes: list[str],
                     licence: str) -> None:
    errors: dict[str, list[str]] = {}
    if not name.strip() or not version.strip():
        errors.setdefault("name", []).append("A name and a version are required.")
    elif AiModel.objects.filter(name=name, version=version).exists():
        errors.setdefault("version", []).append(
            f"{name} {version} is already registered: give the new file a new version.")
    try:
        check_input_size(input_size)
    except ValueError as exc:
        errors.setdefault("input_size", []).append(str(exc))
    if not classes or classes[0] != "person":
        errors.setdefault("classes", []).append(
            "List the model's classes in output order; the first must be 'person' (the "
            "counting detector keeps class 0).")
    if not licence.strip():
        errors.setdefault("licence", []).append("Name the model's licence (e.g. Apache-2.0).")
    if errors:
        raise ValidationError(errors)


def model_evaluate(spec: DetectorSpec, *, workers: int | None = None) -> dict[str, Any]:
    """Accuracy and speed of a detector on the reference footage (PETS09-S2L1 under
    SHARED_DIR), with ``make eval``'s detection pass and scoring and ``make bench``'s latency
    measure: the pooled count error of our engine over the evaluation lines (and seeded random
    segments) at REGISTRY_EVAL_FPS, and the batch-1 latency. A ModelError when it does not load
    or run; a ValidationError when the footage is missing."""
    from counting.pipeline.detectors.spec import create_detector_from_spec
    from counting.pipeline.evaluation.parallel import detect_video_parallel
    from counting.pipeline.evaluation.pets import EVAL_LINES, PetsPaths, load_gt, random_lines
    from counting.pipeline.evaluation.scoring import (
        NATIVE_FPS,
        RANDOM_SEED,
        reference_score,
        sample,
    )
    from counting.pipeline.evaluation.speed import measure_latency

    shared = Path(settings.SHARED_DIR)
    video = shared / "video/PETS09-S2L1/PETS09-S2L1.mp4"
    gt_path = shared / "video/PETS09-S2L1/gt.txt"
    if not video.is_file() or not gt_path.is_file():
        raise ValidationError(f"the reference footage is missing ({video}, {gt_path}): set "
                              "SHARED_DIR to the shared data directory")
    started = time.monotonic()
    detector = create_detector_from_spec(spec, threads=settings.COUNTING_TORCH_THREADS)
    load_s = time.monotonic() - started
    limit = settings.REGISTRY_EVAL_FRAMES or None
    paths = PetsPaths(video=video, gt=gt_path, model=Path(spec.model_path))
    dets, times = detect_video_parallel(
        paths.video, paths.model, spec.score_threshold, backend=spec.backend,
        threads=settings.COUNTING_TORCH_THREADS, input_size=spec.input_size,
        workers=workers if workers is not None else settings.REGISTRY_EVAL_WORKERS or None,
        limit=limit, precision=spec.precision)
    tracks = load_gt(gt_path)
    if limit is not None:
        tracks = {tid: [r for r in rows if r[0] <= limit] for tid, rows in tracks.items()}
    count = settings.REGISTRY_EVAL_RANDOM_LINES
    lines = EVAL_LINES + (random_lines(tracks, RANDOM_SEED, count) if count else ())
    fps = settings.REGISTRY_EVAL_FPS
    s_dets, s_times, s_fps = sample(dets, times, fps, NATIVE_FPS)
    score = reference_score(s_dets, s_times, tracks, lines, spec.score_threshold)
    from counting.pipeline.sources import FileSource

    images = []
    with FileSource(video) as src:
        for i, frame in enumerate(src):
            if i >= min(LATENCY_FRAMES, limit or LATENCY_FRAMES):
                break
            images.append(frame.image)
    latency = measure_latency(detector, images)
    reference = (f"PETS09-S2L1 {len(dets)} frames at {s_fps:g} fps, {score['lines']} lines "
                 f"(seed {RANDOM_SEED}), threshold {spec.score_threshold}")
    return {"reference": reference, "frames": len(dets), "frames_analysed": len(s_dets),
            **score, "latency": latency, "load_seconds": round(load_s, 2),
            "backend": spec.backend_label, "input_size": spec.input_size,
            "cores": os.cpu_count()}


def ai_model_register(*, name: str, version: str, file_path: str, format: str,
                      input_size: int, classes: list[str], licence: str, sha256: str = "",
                      actor: Any = None, workers: int | None = None) -> AiModel:
    """Register a candidate: fields and file checked (nothing written on any error), then
    evaluated on the reference footage; the row and its audit event in one transaction."""
    ai_model_validate_new(name=name, version=version, input_size=input_size, classes=classes,
                     licence=licence)
    digest = ai_model_check_file(file_path=file_path, format=format, classes=classes,
                                 sha256=sha256)
    model = AiModel(name=name, version=version, file_path=file_path, format=format,
                    sha256=digest, input_size=input_size, classes=list(classes),
                    licence=licence, status=ModelStatus.CANDIDATE)
    try:
        model.evaluation = model_evaluate(model_spec(model), workers=workers)
    except ModelError as exc:
        raise ValidationError({"file_path": f"the model does not run: {exc}"}) from exc
    model.created_by = model.changed_by = _actor_name(actor)
    with transaction.atomic():
        model.save()
        audit_record(action="ai_model.register", target=model, actor=actor or None,
                     after=_audit_values(model))
    logger.info("model %s registered: %s", model.label, model.evaluation.get("reference"))
    return model


def _audit_values(model: AiModel) -> dict[str, Any]:
    return {"name": model.name, "version": model.version, "file_path": model.file_path,
            "format": model.format, "sha256": model.sha256, "status": model.status,
            "count_error": model.evaluation.get("count_error"), "forced": model.forced,
            "forced_reason": model.forced_reason}


def _worse_than(model: AiModel) -> list[str]:
    """Why ``model`` counts worse than an active model (empty: it does not)."""
    mine = model.evaluation or {}
    reasons = []
    for other in AiModel.objects.filter(status=ModelStatus.ACTIVE).exclude(pk=model.pk):
        theirs = other.evaluation or {}
        if not theirs:
            continue
        if theirs.get("reference") != mine.get("reference"):
            reasons.append(f"{other.label} was evaluated on other footage "
                           f"({theirs.get('reference')}), so the two cannot be compared")
        elif mine["count_error"] > theirs["count_error"]:
            reasons.append(f"it counts worse than the active {other.label}: count error "
                           f"{mine['count_error']:.2%} against {theirs['count_error']:.2%}")
    return reasons


def ai_model_activation_check(*, model: AiModel, force: bool = False,
                              reason: str = "") -> list[str]:
    """Why activating ``model`` needs forcing (empty: it does not); a ValidationError when it
    may not be activated as asked (not evaluated; worse and not forced; forced, no reason)."""
    if not model.evaluation:
        raise ValidationError(f"{model.label} has no evaluation: register it again")
    worse = _worse_than(model)
    if worse and not force:
        raise ValidationError(
            f"{model.label} not activated: {'; '.join(worse)}. To activate it anyway, force "
            "it and give the reason")
    if force and not reason.strip():
        raise ValidationError("A forced activation needs a reason (it is recorded and audited).")
    return worse


def ai_model_activate(*, model: AiModel, actor: Any = None, force: bool = False,
                      reason: str = "") -> AiModel:
    """Make a candidate (or a retired model) active. Refused when it was not evaluated, or
    when it counts worse than an active model, unless ``force`` with a ``reason`` (kept on the
    row and in the audit event)."""
    if model.status == ModelStatus.ACTIVE:
        return model
    worse = ai_model_activation_check(model=model, force=force, reason=reason)
    before = _audit_values(model)
    with transaction.atomic():
        model.status = ModelStatus.ACTIVE
        model.forced = bool(worse) and force
        model.forced_reason = reason.strip() if model.forced else ""
        model.changed_by = _actor_name(actor)
        model.save(update_fields=["status", "forced", "forced_reason", "changed_by",
                                  "changed_at"])
        audit_record(action="ai_model.activate", target=model, actor=actor or None,
                     before=before, after={**_audit_values(model), "worse": worse})
    return model


def ai_model_retire(*, model: AiModel, actor: Any = None) -> AiModel:
    """Stop a model counting: its plan, tenant and camera choices fall through to the next
    level within seconds (the runners poll); the row stays (events name it)."""
    if model.status == ModelStatus.RETIRED:
        return model
    before = _audit_values(model)
    with transaction.atomic():
        model.status = ModelStatus.RETIRED
        model.changed_by = _actor_name(actor)
        model.save(update_fields=["status", "changed_by", "changed_at"])
        audit_record(action="ai_model.retire", target=model, actor=actor or None,
                     before=before, after=_audit_values(model))
    return model


def ai_model_choice_set(*, model: AiModel, plan: Plan | None = None,
                        tenant: Tenant | None = None, actor: Any = None) -> AiModelChoice:
    """The platform default (no plan, no tenant), a plan's default or a tenant's model; only
    an active model can be chosen. Running streams switch without a restart."""
    if plan is not None and tenant is not None:
        raise ValidationError("Choose for a plan or for a tenant, not both.")
    if model.status != ModelStatus.ACTIVE:
        raise ValidationError(f"{model.label} is {model.status}: only an active model can be "
                              "chosen (activate it first)")
    scope = (ChoiceScope.TENANT if tenant is not None
             else ChoiceScope.PLAN if plan is not None else ChoiceScope.PLATFORM)
    with transaction.atomic():
        choice = AiModelChoice.objects.select_for_update().filter(
            scope=scope, plan=plan, tenant=tenant).first()
        before = {"model": choice.model.label} if choice is not None else None
        if choice is None:
            choice = AiModelChoice(scope=scope, plan=plan, tenant=tenant)
        choice.model = model
        choice.save()
        audit_record(action="ai_model.choose", target=choice, actor=actor or None,
                     before=before, after={"scope": scope, "plan": plan and plan.code,
                                           "tenant": tenant and tenant.slug,
                                           "model": model.label})
    return choice
