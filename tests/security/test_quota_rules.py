"""Fair shares enforced by the services: analysed frames per second per tenant, enabled lines
and zones per camera. Every door (API, admin) answers the same clear 400 and changes nothing;
the tenant's own value overrides its plan's, and empty means the plan's."""

from __future__ import annotations

from typing import Any

from django.db.models import Sum

LINE = {"x1": 0.1, "y1": 0.1, "x2": 0.9, "y2": 0.9}
SQUARE = [[0.1, 0.1], [0.5, 0.1], [0.5, 0.5], [0.1, 0.5]]


def _set(tenant: Any, **values: Any) -> None:
    from tenants.models import Tenant

    Tenant.objects.filter(pk=tenant.pk).update(**values)


def _error(response: Any) -> dict[str, Any]:
    assert response.status_code == 400, response.content
    return response.json()["error"]  # type: ignore[no-any-return]


def _fps_in_use(in_tenant: Any, tenant: Any) -> float:
    from cameras.models import Camera

    with in_tenant(tenant):
        return float(Camera.objects.filter(enabled=True)
                     .aggregate(total=Sum("detect_fps"))["total"] or 0)


def test_analysed_fps_are_capped_per_tenant(world_a: Any, api_client: Any,
                                            in_tenant: Any, state_of: Any) -> None:
    # given a plan allowing 8 more analysed frames per second than the tenant uses
    from tenants.models import Plan

    used = _fps_in_use(in_tenant, world_a.tenant)
    plan = Plan.objects.create(code="fps-plan", name="Fps", fps_quota=int(used) + 8)
    _set(world_a.tenant, plan=plan, fps_quota=None)
    client = api_client("a", world_a.owner)
    camera = {"site": world_a.site.pk, "stream_url": "rtsp://10.0.0.9/live"}

    # when a 5 fps camera is added, then a second one, then a disabled one
    first = client.post("/api/v1/cameras/", {**camera, "name": "A", "detect_fps": 5},
                        format="json")
    before = state_of(world_a.tenant)
    second = client.post("/api/v1/cameras/", {**camera, "name": "B", "detect_fps": 5},
                         format="json")
    after_refusal = state_of(world_a.tenant)
    parked = client.post("/api/v1/cameras/", {**camera, "name": "C", "detect_fps": 5,
                                               "enabled": False}, format="json")

    # then the second is refused with what is left and what to do, and changes nothing
    assert first.status_code == 201, first.content
    error = _error(second)
    assert list(error["fields"]) == ["detect_fps"]
    assert error["fields"]["detect_fps"] == [
        f"Your plan allows {int(used) + 8} analysed frames per second over all enabled "
        f"cameras; the others use {used + 5:g}, so this camera can have at most 3. Lower "
        "detect_fps, disable another camera, or upgrade the plan."]
    assert after_refusal == before
    # and a disabled camera analyses nothing, so it fits, but enabling it does not
    assert parked.status_code == 201, parked.content
    parked_id = parked.json()["id"]
    enable = client.patch(f"/api/v1/cameras/{parked_id}/", {"enabled": True}, format="json")
    assert "detect_fps" in _error(enable)["fields"]
    # and lowering it to what is left works
    lowered = client.patch(f"/api/v1/cameras/{parked_id}/", {"enabled": True, "detect_fps": 3},
                           format="json")
    assert lowered.status_code == 200, lowered.content
    # and the tenant's own value overrides the plan's
    _set(world_a.tenant, fps_quota=int(used) + 20)
    raised = client.patch(f"/api/v1/cameras/{parked_id}/", {"detect_fps": 10}, format="json")
    assert raised.status_code == 200, raised.content


def test_a_lowered_fps_quota_never_blocks_lowering(world_a: Any, api_client: Any,
                                                   in_tenant: Any) -> None:
    # given a tenant already above a quota lowered to 1 fps
    _set(world_a.tenant, fps_quota=1)
    client = api_client("a", world_a.owner)

    # when a camera is slowed down, then sped up again
    slower = client.patch(f"/api/v1/cameras/{world_a.camera.pk}/", {"detect_fps": 1},
                          format="json")
    faster = client.patch(f"/api/v1/cameras/{world_a.camera.pk}/", {"detect_fps": 2},
                          format="json")

    # then slowing down works and speeding up is refused
    assert slower.status_code == 200, slower.content
    assert "detect_fps" in _error(faster)["fields"]


def test_enabled_lines_and_zones_per_camera_are_capped(world_a: Any, api_client: Any,
                                                       state_of: Any) -> None:
    # given a tenant allowing 2 enabled lines and 2 enabled zones per camera (it has 2 of each)
    _set(world_a.tenant, lines_per_camera_quota=2, zones_per_camera_quota=2)
    client = api_client("a", world_a.owner)
    before = state_of(world_a.tenant)

    # when a third line and a third zone are added
    line = client.post("/api/v1/lines/", {"camera": world_a.camera.pk, "name": "Third",
                                          **LINE}, format="json")
    zone = client.post("/api/v1/zones/", {"camera": world_a.camera.pk, "name": "Third",
                                          "points": SQUARE}, format="json")

    # then both are refused, saying what the plan allows and what to do, and nothing changed
    assert _error(line)["fields"] == {"camera": [
        "Your plan allows 2 enabled counting lines per camera and this camera has 2: disable "
        "or delete one first, or upgrade the plan."]}
    assert _error(zone)["fields"] == {"camera": [
        "Your plan allows 2 enabled zones per camera and this camera has 2: disable or delete "
        "one first, or upgrade the plan."]}
    assert state_of(world_a.tenant) == before
    # and a disabled line fits; enabling it does not until another is disabled
    parked = client.post("/api/v1/lines/", {"camera": world_a.camera.pk, "name": "Parked",
                                            "enabled": False, **LINE}, format="json")
    assert parked.status_code == 201, parked.content
    url = f"/api/v1/lines/{parked.json()['id']}/"
    assert "camera" in _error(client.patch(url, {"enabled": True}, format="json"))["fields"]
    assert client.patch(f"/api/v1/lines/{world_a.spare_line.pk}/", {"enabled": False},
                        format="json").status_code == 200
    assert client.patch(url, {"enabled": True}, format="json").status_code == 200
    # and an edit of an enabled line at the limit is not refused
    assert client.patch(url, {"name": "Renamed"}, format="json").status_code == 200


def test_the_admin_shows_quota_errors_on_the_form(world_a: Any, in_tenant: Any) -> None:
    # given a tenant at its line quota and a camera at its fps quota, and the admin
    from django.test import Client

    from cameras.models import Camera
    from counting.models import CountingLine
    from tests.conftest import TENANTS

    _set(world_a.tenant, lines_per_camera_quota=2,
         fps_quota=int(_fps_in_use(in_tenant, world_a.tenant)))
    client = Client(HTTP_HOST=TENANTS["a"]["domain"])
    with in_tenant(world_a.tenant):
        client.force_login(world_a.owner)
        lines, cameras = CountingLine.objects.count(), Camera.objects.count()

    # when a line and a camera are added through the admin's forms
    line = client.post("/admin/counting/countingline/add/", {
        "camera": world_a.camera.pk, "name": "Third", "in_label": "in", "out_label": "out",
        "enabled": "on", **LINE})
    camera = client.post("/admin/cameras/camera/add/", {
        "site": world_a.site.pk, "name": "Extra", "stream_url": "rtsp://10.0.0.9/x",
        "detect_fps": "5", "enabled": "on"})

    # then the forms come back with the errors and nothing is saved
    assert line.status_code == 200 and camera.status_code == 200
    assert "Your plan allows 2 enabled counting lines per camera" in line.content.decode()
    assert "analysed frames per second over all enabled cameras" in camera.content.decode()
    with in_tenant(world_a.tenant):
        assert (CountingLine.objects.count(), Camera.objects.count()) == (lines, cameras)


def test_empty_override_means_the_plans_value(tenant_a: Any) -> None:
    # given a plan and a tenant with and without its own value
    from tenants.models import Plan, Tenant

    plan = Plan.objects.create(code="q-plan", name="Q", websocket_quota=7)
    _set(tenant_a, plan=plan, websocket_quota=None, zones_per_camera_quota=3)
    tenant = Tenant.objects.get(pk=tenant_a.pk)

    # then the plan's value applies where the tenant's is empty
    assert tenant.quota("websocket_quota") == 7
    assert tenant.quota("zones_per_camera_quota") == 3
    _set(tenant_a, plan=None)
    assert Tenant.objects.get(pk=tenant_a.pk).quota("websocket_quota") == 100


def test_the_portal_shows_the_fps_quota_instead_of_failing(world_a: Any, in_tenant: Any) -> None:
    # given a tenant at its analysed-fps quota and a disabled camera
    from django.test import Client

    from cameras.models import Camera
    from tests.conftest import TENANTS

    with in_tenant(world_a.tenant):
        parked = Camera.objects.create(site=world_a.site, name="Parked", enabled=False,
                                       stream_url="rtsp://10.0.0.9/p", detect_fps=5)
    _set(world_a.tenant, fps_quota=int(_fps_in_use(in_tenant, world_a.tenant)))
    client = Client(HTTP_HOST=TENANTS["a"]["domain"])
    with in_tenant(world_a.tenant):
        client.force_login(world_a.owner)

    # when the portal's "enable" button and the camera form try to add analysed frames
    enabled = client.post(f"/manage/cameras/{parked.pk}/enable/", follow=True)
    added = client.post("/manage/cameras/new/", {
        "site": world_a.site.pk, "name": "Extra", "stream_url": "rtsp://10.0.0.9/x",
        "detect_fps": "5", "enabled": "on"})

    # then both pages say why, and nothing changed
    assert enabled.status_code == 200
    assert "was not enabled: Your plan allows" in enabled.content.decode()
    assert added.status_code == 200
    assert "analysed frames per second over all enabled cameras" in added.content.decode()
    with in_tenant(world_a.tenant):
        assert not Camera.objects.get(pk=parked.pk).enabled
        assert not Camera.objects.filter(name="Extra").exists()
