"""Activation: a candidate that counts worse than an active model is refused unless forced
with a reason (recorded and audited); the admin's forms go through the same rules."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.core.exceptions import ValidationError

from audit.models import AuditEvent
from counting.model_registry import ai_model_activate, ai_model_choice_set, ai_model_retire
from tenants.models import Plan
from tenants.platform.models import AiModel, AiModelChoice, ChoiceScope, ModelStatus
from tests.registry.test_register import staff_client


def test_a_worse_candidate_is_refused_unless_forced_with_a_reason(
        ai_model: Callable[..., AiModel]) -> None:
    active = ai_model(count_error=0.05, status=ModelStatus.ACTIVE)
    worse = ai_model(count_error=0.08)
    with pytest.raises(ValidationError, match=r"counts worse than the active .*8\.00% against "
                                              r"5\.00%"):
        ai_model_activate(model=worse)
    with pytest.raises(ValidationError, match="needs a reason"):
        ai_model_activate(model=worse, force=True, reason="  ")
    worse.refresh_from_db()
    assert worse.status == ModelStatus.CANDIDATE
    ai_model_activate(model=worse, force=True, reason="twice as fast for the basic plan")
    worse.refresh_from_db()
    assert worse.status == ModelStatus.ACTIVE and worse.forced
    assert worse.forced_reason == "twice as fast for the basic plan"
    event = AuditEvent.objects.get(action="ai_model.activate", target_id=str(worse.pk))
    assert event.after["forced_reason"] == "twice as fast for the basic plan"
    assert active.label in event.after["worse"][0]
    # a better one needs no force; one scored on other footage cannot be compared
    better = ai_model(count_error=0.01)
    assert ai_model_activate(model=better).forced is False
    other = ai_model(count_error=0.0, reference="PETS09-S2L1 795 frames at 5 fps, 56 lines")
    with pytest.raises(ValidationError, match="evaluated on other footage"):
        ai_model_activate(model=other)


def test_the_admin_change_form_activates_only_with_force_and_reason(
        ai_model: Callable[..., AiModel]) -> None:
    ai_model(count_error=0.02, status=ModelStatus.ACTIVE)
    worse = ai_model(count_error=0.04)
    client = staff_client()
    url = f"/admin/platform/aimodel/{worse.pk}/change/"
    refused = client.post(url, {"status": "active"})
    assert refused.status_code == 200 and "counts worse than" in refused.content.decode()
    assert AiModel.objects.get(pk=worse.pk).status == ModelStatus.CANDIDATE
    done = client.post(url, {"status": "active", "force": "on", "reason": "needed on edge"})
    assert done.status_code == 302
    worse.refresh_from_db()
    assert worse.status == ModelStatus.ACTIVE and worse.forced_reason == "needed on edge"
    assert worse.changed_by == "platform"
    # retiring through the same form
    assert client.post(url, {"status": "retired"}).status_code == 302
    assert AiModel.objects.get(pk=worse.pk).status == ModelStatus.RETIRED
    assert AuditEvent.objects.filter(action="ai_model.retire", target_id=str(worse.pk)).exists()


def test_the_admin_choice_form_sets_a_plan_default(ai_model: Callable[..., AiModel]) -> None:
    model = ai_model(status=ModelStatus.ACTIVE)
    candidate = ai_model()
    plan = Plan.objects.create(code="basic-reg", name="Basic")
    client = staff_client()
    # a candidate is not offered: the form is shown again and nothing is made
    refused = client.post("/admin/platform/aimodelchoice/add/", {
        "scope": "plan", "plan": plan.pk, "model": candidate.pk})
    assert refused.status_code == 200 and not AiModelChoice.objects.exists()
    response = client.post("/admin/platform/aimodelchoice/add/", {
        "scope": "plan", "plan": plan.pk, "model": model.pk})
    assert response.status_code == 302
    choice = AiModelChoice.objects.get()
    assert (choice.scope, choice.plan_id, choice.model_id) == (ChoiceScope.PLAN, plan.pk,
                                                               model.pk)
    assert AuditEvent.objects.filter(action="ai_model.choose").count() == 1


def test_only_active_models_can_be_chosen(ai_model: Callable[..., AiModel]) -> None:
    model = ai_model(status=ModelStatus.ACTIVE)
    ai_model_retire(model=model)
    with pytest.raises(ValidationError, match="only an active model can be chosen"):
        ai_model_choice_set(model=model)
