"""Line and zone services: validation, one audit event per change, version bumps, deletion."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError

from audit.models import AuditEvent
from cameras.services import camera_create, site_create
from counting.models import CountingLine, Zone
from counting.selectors import counting_line_list_visible_to, zone_list_visible_to
from counting.services import (
    counting_line_create,
    counting_line_delete,
    counting_line_update,
    zone_create,
    zone_delete,
    zone_update,
)


@pytest.fixture
def camera(tenant_a: Any, in_tenant: Any, owner_of: Any) -> Any:
    with in_tenant(tenant_a):
        site = site_create(actor=None, name="Rules site")
        yield camera_create(actor=None, site=site, name="Rules cam",
                            stream_url="rtsp://10.1.2.3/live")


def test_a_line_is_created_updated_and_deleted_with_one_audit_event_each(
        camera: Any, tenant_a: Any, in_tenant: Any, owner_of: Any) -> None:
    with in_tenant(tenant_a):
        owner = owner_of("a")
        # given a new line
        line = counting_line_create(actor=owner, camera=camera, name="Door", x1=0.5, y1=0.0,
                                    x2=0.5, y2=1.0, in_label="enter", out_label="exit")
        assert line.version == 1
        # when it is moved
        line = counting_line_update(actor=owner, line=line, x1=0.4)
        # then the version grows and an unchanged update records nothing
        assert line.version == 2
        counting_line_update(actor=owner, line=line, x1=0.4)
        assert CountingLine.objects.get(pk=line.pk).version == 2
        line_id = line.pk
        counting_line_delete(actor=owner, line=line)
        actions = list(AuditEvent.objects.filter(target_id=str(line_id),
                                                 target_type="counting.countingline")
                       .order_by("id").values_list("action", flat=True))
        assert actions == ["counting_line.create", "counting_line.update",
                           "counting_line.delete"]


@pytest.mark.parametrize(
    ("fields", "error_field"),
    [
        ({"x1": 1.5}, "x1"),  # outside the image
        ({"y2": -0.1}, "y2"),  # outside the image
        ({"x1": 0.2, "y1": 0.2, "x2": 0.2, "y2": 0.2}, "x2"),  # zero length
        ({"name": " "}, "name"),  # blank
        ({"x1": float("nan")}, "x1"),  # not a finite number
        ({"in_label": ""}, "in_label"),  # label needed to show counts
    ],
)
def test_line_input_is_validated(camera: Any, tenant_a: Any, in_tenant: Any,
                                 fields: dict[str, Any], error_field: str) -> None:
    with in_tenant(tenant_a):
        values = {"name": "L", "x1": 0.1, "y1": 0.1, "x2": 0.9, "y2": 0.9, **fields}
        with pytest.raises(ValidationError) as excinfo:
            counting_line_create(actor=None, camera=camera, **values)
        assert error_field in excinfo.value.message_dict
        assert CountingLine.objects.filter(camera=camera).count() == 0


def test_names_are_unique_per_camera(camera: Any, tenant_a: Any, in_tenant: Any) -> None:
    with in_tenant(tenant_a):
        counting_line_create(actor=None, camera=camera, name="Door", x1=0, y1=0, x2=1, y2=1)
        with pytest.raises(ValidationError) as excinfo:
            counting_line_create(actor=None, camera=camera, name="door", x1=0, y1=1, x2=1, y2=0)
        assert excinfo.value.message_dict == {
            "name": ["This camera already has a line named 'door'."]}


@pytest.mark.parametrize(
    "points",
    [
        [[0.1, 0.1], [0.9, 0.1]],  # two points
        [[0.1, 0.1], [0.9, 0.9], [0.9, 0.1], [0.1, 0.9]],  # bow tie: edges cross
        [[0.1, 0.1], [0.5, 0.5], [0.9, 0.9]],  # collinear: zero area
        [[0.1, 0.1], [1.2, 0.1], [0.5, 0.5]],  # outside the image
        "not a list",
    ],
)
def test_zone_polygons_are_validated(camera: Any, tenant_a: Any, in_tenant: Any,
                                     points: Any) -> None:
    with in_tenant(tenant_a):
        with pytest.raises(ValidationError) as excinfo:
            zone_create(actor=None, camera=camera, name="Z", points=points)
        assert list(excinfo.value.message_dict) == ["points"]


def test_a_zone_is_created_updated_and_deleted(camera: Any, tenant_a: Any, in_tenant: Any,
                                               owner_of: Any) -> None:
    with in_tenant(tenant_a):
        owner = owner_of("a")
        zone = zone_create(actor=owner, camera=camera, name="Queue",
                           points=[[0.1, 0.1], [0.5, 0.1], [0.5, 0.5]], capacity=4)
        zone = zone_update(actor=owner, zone=zone, capacity=6, enabled=False)
        assert (zone.version, zone.capacity, zone.enabled) == (2, 6, False)
        with pytest.raises(ValidationError):
            zone_update(actor=owner, zone=zone, camera_id=99)
        zone_delete(actor=owner, zone=zone)
        assert Zone.objects.filter(camera=camera).count() == 0
        assert AuditEvent.objects.filter(target_type="counting.zone").count() == 3


def test_selectors_hide_rules_of_cameras_the_user_cannot_view(
        camera: Any, tenant_a: Any, in_tenant: Any, owner_of: Any) -> None:
    from django.contrib.auth import get_user_model

    with in_tenant(tenant_a):
        counting_line_create(actor=None, camera=camera, name="Door", x1=0, y1=0, x2=1, y2=1)
        zone_create(actor=None, camera=camera, name="Z", points=[[0, 0], [1, 0], [1, 1]])
        stranger = get_user_model().objects.create_user(username="nobody", password="x")
        assert list(counting_line_list_visible_to(user=stranger)) == []
        assert list(zone_list_visible_to(user=stranger)) == []
        assert [line.name for line in counting_line_list_visible_to(
            user=owner_of("a"), camera_id=camera.pk)] == ["Door"]


def test_the_demo_objects_are_made_once(tenant_a: Any, in_tenant: Any, settings: Any) -> None:
    from counting.demo import demo_objects_ensure

    settings.CAMERA_URL_ALLOW_LOOPBACK = True
    with in_tenant(tenant_a):
        first = demo_objects_ensure(camera_url="http://127.0.0.1:8554/video.mjpg")
        again = demo_objects_ensure(camera_url="http://127.0.0.1:8554/video.mjpg")
        assert first.pk == again.pk
        assert sorted(CountingLine.objects.filter(camera=first).values_list("name", flat=True)) \
            == ["Crossing east/west", "Crossing north/south"]
        assert list(Zone.objects.filter(camera=first).values_list("name", flat=True)) == [
            "Plaza centre"]


def test_the_admin_validates_lines_with_the_service_rules(
        camera: Any, tenant_a: Any, in_tenant: Any, owner_of: Any, logged_in: Any) -> None:
    with in_tenant(tenant_a):
        owner = owner_of("a")
    client = logged_in("a", owner)
    form = {"camera": camera.pk, "name": "Gate", "x1": "0.2", "y1": "0.2", "x2": "0.2",
            "y2": "0.2", "in_label": "in", "out_label": "out", "enabled": "on"}
    # a zero-length line is a form error, not a server error, and nothing is stored
    page = client.post("/admin/counting/countingline/add/", form)
    assert page.status_code == 200
    assert b"draw a segment" in page.content
    with in_tenant(tenant_a):
        assert not CountingLine.objects.filter(camera=camera).exists()
    # a valid one is created through the service (audited)
    page = client.post("/admin/counting/countingline/add/", {**form, "x2": "0.8"})
    assert page.status_code == 302
    with in_tenant(tenant_a):
        line = CountingLine.objects.get(camera=camera, name="Gate")
        assert AuditEvent.objects.filter(action="counting_line.create",
                                         target_id=str(line.pk)).count() == 1
