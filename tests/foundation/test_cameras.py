"""Camera services: validation, quota, and the password kept encrypted everywhere."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import connection

from cameras.models import Camera
from cameras.services import camera_create, camera_update, site_create, site_update

SECRET = "Sup3r-Secret-Camera-Pass"


def test_password_is_encrypted_at_rest_and_never_shown(tenant_a: Any, in_tenant: Any,
                                                       owner_of: Any, logged_in: Any,
                                                       caplog: Any) -> None:
    with in_tenant(tenant_a):
        owner = owner_of("a")
        site = site_create(actor=owner, name="Depot")
        camera = camera_create(actor=owner, site=site, name="Gate",
                               stream_url="rtsp://10.0.0.7/", username="admin", password=SECRET)
        with connection.cursor() as cursor:
            cursor.execute("SELECT password_encrypted FROM cameras_camera WHERE id = %s",
                           [camera.pk])
            stored = cursor.fetchone()[0]
        assert SECRET not in stored and stored
        assert Camera.objects.get(pk=camera.pk).password == SECRET
        assert SECRET not in repr(camera) and SECRET not in str(camera)
        dump = io.StringIO()
        call_command("dumpdata", "cameras.camera", stdout=dump)
        assert SECRET not in dump.getvalue()
        from audit.models import AuditEvent

        assert SECRET not in str(list(AuditEvent.objects.values_list("before", "after")))
    client = logged_in("a", owner)
    page = client.get(f"/admin/cameras/camera/{camera.pk}/change/")
    assert page.status_code == 200 and SECRET.encode() not in page.content
    assert SECRET not in caplog.text


@pytest.mark.parametrize(
    ("fields", "error_field"),
    [
        ({"stream_url": "file:///etc/passwd"}, "stream_url"),
        ({"stream_url": "rtsp://169.254.169.254/"}, "stream_url"),
        ({"detect_fps": 0}, "detect_fps"),
        ({"detect_fps": 120}, "detect_fps"),
        ({"name": "  "}, "name"),
    ],
)
def test_camera_input_is_validated(tenant_a: Any, in_tenant: Any, owner_of: Any,
                                   fields: dict[str, Any], error_field: str) -> None:
    with in_tenant(tenant_a):
        owner = owner_of("a")
        site = site_create(actor=owner, name="S")
        args = {"name": "Cam", "stream_url": "rtsp://10.0.0.8/", "detect_fps": 5.0, **fields}
        before = Camera.objects.count()
        with pytest.raises(ValidationError) as excinfo:
            camera_create(actor=owner, site=site, **args)
        assert error_field in excinfo.value.message_dict
        assert Camera.objects.count() == before


def test_site_timezone_and_hours_are_validated(tenant_a: Any, in_tenant: Any,
                                               owner_of: Any) -> None:
    with in_tenant(tenant_a):
        owner = owner_of("a")
        with pytest.raises(ValidationError, match="IANA"):
            site_create(actor=owner, name="S", timezone="Europe/Atlantis")
        site = site_create(actor=owner, name="S", timezone="America/New_York",
                           opening_hours={"mon": [["09:00", "17:00"]]})
        for hours in ({"funday": []}, {"mon": [["18:00", "09:00"]]},
                      {"mon": [["09:00", "12:00"], ["11:00", "13:00"]]}, {"mon": "9-5"}):
            with pytest.raises(ValidationError):
                site_update(actor=owner, site=site, opening_hours=hours)
        site.refresh_from_db()
        assert site.opening_hours == {"mon": [["09:00", "17:00"]]}


def test_the_camera_quota_is_enforced(tenant_a: Any, in_tenant: Any, owner_of: Any) -> None:
    with in_tenant(tenant_a):
        owner = owner_of("a")
        tenant_a.camera_quota = Camera.objects.count() + 1
        connection.tenant.camera_quota = tenant_a.camera_quota
        site = site_create(actor=owner, name="Q")
        camera_create(actor=owner, site=site, name="One", stream_url="rtsp://10.0.0.9/")
        with pytest.raises(ValidationError, match="plan allows"):
            camera_create(actor=owner, site=site, name="Two", stream_url="rtsp://10.0.0.9/")
        connection.tenant.camera_quota = 10


def test_updates_change_only_given_fields(tenant_a: Any, in_tenant: Any, owner_of: Any) -> None:
    with in_tenant(tenant_a):
        owner = owner_of("a")
        site = site_create(actor=owner, name="U")
        camera = camera_create(actor=owner, site=site, name="Cam", stream_url="rtsp://10.0.0.9/",
                               password=SECRET)
        camera = camera_update(actor=owner, camera=camera, detect_fps=8)
        assert (camera.detect_fps, camera.name, camera.password) == (8.0, "Cam", SECRET)


def test_a_camera_with_stored_counts_cannot_be_deleted(tenant_a: Any, in_tenant: Any,
                                                       owner_of: Any) -> None:
    from datetime import UTC, datetime

    from cameras.services import camera_delete
    from counting.models import CountEvent, CountingLine

    with in_tenant(tenant_a):
        owner = owner_of("a")
        site = site_create(actor=owner, name="Ledger site")
        camera = camera_create(actor=owner, site=site, name="Counted",
                               stream_url="rtsp://10.0.0.9/")
        line = CountingLine.objects.create(camera=camera, name="door", x1=0.5, y1=0, x2=0.5, y2=1)
        CountEvent.objects.create(camera=camera, line=line, direction="in", track_id=1,
                                  occurred_at=datetime(2026, 1, 1, tzinfo=UTC), frame_index=1,
                                  lease_generation=1, idempotency_key="k1")
        with pytest.raises(ValidationError, match="disable it instead"):
            camera_delete(actor=owner, camera=camera)
        assert Camera.objects.filter(pk=camera.pk).exists()
