"""A camera's own detector model through the API: the active models are listed (with the
tenant's default marked), a camera takes one by id or goes back to the default with null, and
a model that is not active, does not exist or is not an integer is refused, changing nothing."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from audit.models import AuditEvent
from cameras.models import Camera
from counting.model_choice import camera_model_choice
from tenants.platform.models import AiModel, AiModelChoice, ChoiceScope, ModelStatus

_serial = itertools.count(1)


def _model(status: str, name: str = "yolox-nano") -> AiModel:
    return AiModel.objects.create(
        name=name, version=f"api{next(_serial)}", file_path="yolox_nano.onnx", format="onnx",
        sha256="0" * 64, input_size=416, classes=["person"], licence="Apache-2.0",
        status=status, evaluation={"count_error": 0.04})


@pytest.fixture
def models(tenant_a: Any) -> dict[str, AiModel]:
    """An active model chosen as tenant A's default, another active one, a candidate and a
    retired one."""
    made = {"default": _model(ModelStatus.ACTIVE, "day-nano"),
            "night": _model(ModelStatus.ACTIVE, "night-nano"),
            "candidate": _model(ModelStatus.CANDIDATE, "cand-nano"),
            "retired": _model(ModelStatus.RETIRED, "old-nano")}
    AiModelChoice.objects.create(scope=ChoiceScope.TENANT, tenant=tenant_a,
                                 model=made["default"])
    return made


def test_the_active_models_are_listed_with_the_tenants_default_marked(
        world_a: Any, api_client: Any, models: dict[str, AiModel]) -> None:
    # when a Viewer lists the detector models
    response = api_client("a", world_a.viewer).get("/api/v1/detector-models/")
    # then only the active ones are there, the tenant's default marked, with their evaluation
    assert response.status_code == 200
    rows = {row["name"]: row for row in response.json()}
    assert set(rows) == {"day-nano", "night-nano"}
    assert rows["day-nano"]["tenant_default"] is True
    assert rows["night-nano"]["tenant_default"] is False
    assert rows["night-nano"]["label"] == str(models["night"])
    assert rows["night-nano"]["count_error"] == pytest.approx(0.04)
    # and a retired model is not found by id
    retired = api_client("a", world_a.viewer).get(
        f"/api/v1/detector-models/{models['retired'].pk}/")
    assert retired.status_code == 404


def test_a_camera_takes_an_active_model_and_goes_back_to_the_default(
        world_a: Any, api_client: Any, in_tenant: Any, models: dict[str, AiModel]) -> None:
    client = api_client("a", world_a.owner)
    url = f"/api/v1/cameras/{world_a.camera.pk}/"
    # when the Owner gives the camera the night model
    response = client.patch(url, {"ai_model": models["night"].pk}, format="json")
    # then it is stored, shown, audited, and the camera counts with it
    assert response.status_code == 200, response.content
    assert response.json()["ai_model"] == models["night"].pk
    with in_tenant(world_a.tenant):
        assert Camera.objects.get(pk=world_a.camera.pk).ai_model_id == models["night"].pk
        choice = camera_model_choice(schema=world_a.tenant.schema_name,
                                     camera_id=world_a.camera.pk)
        assert (choice.model, choice.source) == (models["night"], "camera")
        change = AuditEvent.objects.filter(action="camera.update",
                                           target_id=str(world_a.camera.pk)).latest("id")
        assert change.before["ai_model"] is None
        assert change.after["ai_model"] == models["night"].pk
    # when it sends null, the camera goes back to the tenant's default
    response = client.patch(url, {"ai_model": None}, format="json")
    assert response.status_code == 200 and response.json()["ai_model"] is None
    with in_tenant(world_a.tenant):
        choice = camera_model_choice(schema=world_a.tenant.schema_name,
                                     camera_id=world_a.camera.pk)
        assert (choice.model, choice.source) == (models["default"], "tenant")


def test_a_new_camera_may_name_its_model(world_a: Any, api_client: Any, in_tenant: Any,
                                         models: dict[str, AiModel]) -> None:
    response = api_client("a", world_a.manager).post(
        "/api/v1/cameras/", {"site": world_a.site.pk, "name": "Night door",
                             "stream_url": "rtsp://10.1.2.3/night",
                             "ai_model": models["night"].pk}, format="json")
    assert response.status_code == 201, response.content
    with in_tenant(world_a.tenant):
        assert Camera.objects.get(pk=response.json()["id"]).ai_model_id == models["night"].pk


@pytest.mark.parametrize(("which", "message"), [
    ("candidate", "is not an active detector model"),
    ("retired", "is not an active detector model"),
    ("missing", "does not exist: GET /api/v1/detector-models/"),
    ("string", "A valid integer is required"),
])
def test_a_model_that_may_not_be_chosen_is_refused_and_changes_nothing(
        which: str, message: str, world_a: Any, api_client: Any, in_tenant: Any,
        models: dict[str, AiModel]) -> None:
    value: Any = {"missing": 987_654, "string": str(models["night"].pk)}.get(which)
    if value is None:
        value = models[which].pk
    client = api_client("a", world_a.owner)  # signing in is audited: count after it
    with in_tenant(world_a.tenant):
        audits = AuditEvent.objects.count()
    response = client.patch(
        f"/api/v1/cameras/{world_a.camera.pk}/", {"ai_model": value, "name": "Renamed"},
        format="json")
    assert response.status_code == 400
    assert message in str(response.json()), response.json()
    with in_tenant(world_a.tenant):
        camera = Camera.objects.get(pk=world_a.camera.pk)
        assert (camera.ai_model_id, camera.name) == (None, world_a.camera.name)
        assert AuditEvent.objects.count() == audits
