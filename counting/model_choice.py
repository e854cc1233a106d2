"""Which detector a camera counts with: the registry's most specific active choice (the
camera's own model, then its tenant's, its plan's, the platform default), as a DetectorSpec;
None when the registry has no active choice for it (the COUNTING_* settings apply)."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

from counting.pipeline.detectors.spec import DetectorSpec
from tenants.platform.models import AiModel, AiModelChoice, ChoiceScope, ModelStatus

_RANK = {ChoiceScope.TENANT: 0, ChoiceScope.PLAN: 1, ChoiceScope.PLATFORM: 2}


@dataclass(frozen=True)
class ModelChoice:
    """A camera's resolved model: the registry row (None: settings) and the spec to load."""

    model: AiModel | None
    spec: DetectorSpec | None
    source: str  # "camera", "tenant", "plan", "platform" or "settings"


def model_spec(model: AiModel) -> DetectorSpec:
    """The spec of a registry model on this node: its file in the model store, its checksum,
    its input side and label; backend, score threshold and precision from the node's settings."""
    from counting.runner.detector import node_precision  # counting.runner imports this module

    return DetectorSpec(model_path=str(settings.COUNTING_MODEL_STORE / model.file_path),
                        backend=settings.COUNTING_DETECTOR_BACKEND,
                        input_size=model.input_size,
                        score_threshold=settings.COUNTING_SCORE_THRESHOLD,
                        sha256=model.sha256, label=model.label, precision=node_precision())


def model_for(*, schema: str, ai_model_id: int | None) -> ModelChoice:
    """The model a camera of tenant ``schema`` with override ``ai_model_id`` counts with, and
    the spec to load it on this node (see :func:`chosen_model`)."""
    model, source = chosen_model(schema=schema, ai_model_id=ai_model_id)
    return ModelChoice(model, model_spec(model) if model is not None else None, source)


def chosen_model(*, schema: str, ai_model_id: int | None) -> tuple[AiModel | None, str]:
    """The registry row a camera of tenant ``schema`` with override ``ai_model_id`` counts
    with (None: the settings' model) and the level that chose it. A choice that is not active
    (a retired model) is skipped: the next level applies. Database only: no spec is built, so
    the web can ask without resolving the node's detector precision."""
    if ai_model_id is not None:
        own = AiModel.objects.filter(pk=ai_model_id, status=ModelStatus.ACTIVE).first()
        if own is not None:
            return own, "camera"
    from tenants.models import Tenant

    tenant = Tenant.objects.filter(schema_name=schema).values("id", "plan_id").first()
    scopes = AiModelChoice.objects.filter(scope=ChoiceScope.PLATFORM)
    if tenant is not None:
        scopes = scopes | AiModelChoice.objects.filter(tenant_id=tenant["id"])
        if tenant["plan_id"] is not None:
            scopes = scopes | AiModelChoice.objects.filter(plan_id=tenant["plan_id"])
    choices = sorted(scopes.filter(model__status=ModelStatus.ACTIVE).select_related("model"),
                     key=lambda c: _RANK[ChoiceScope(c.scope)])
    if not choices:
        return None, "settings"
    return choices[0].model, str(choices[0].scope)


def camera_model_choice(*, schema: str, camera_id: int) -> ModelChoice:
    """:func:`model_for` for a camera of the current tenant (by id; a missing camera gets the
    tenant's choice)."""
    from cameras.models import Camera

    row = Camera.objects.filter(pk=camera_id).values("ai_model_id").first()
    return model_for(schema=schema, ai_model_id=row["ai_model_id"] if row else None)
