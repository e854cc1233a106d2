"""The camera page, its picture, the line and zone editor's save and the privacy setting:
every form that writes is submitted, a Viewer sees no edit control and is refused anyway,
every change writes its audit event."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from django_tenants.utils import tenant_context

pytestmark = pytest.mark.django_db


def _events(action: str) -> int:
    from audit.models import AuditEvent

    return AuditEvent.objects.filter(action=action).count()


def _save(client: Any, camera_id: int, body: dict[str, Any]) -> Any:
    return client.post(f"/cameras/{camera_id}/editor/save/", data=json.dumps(body),
                       content_type="application/json")


def test_owner_sees_picture_editor_and_plain_health(tenant_a: Any, make_user: Any,
                                                    logged_in: Any, site_with_camera: Any,
                                                    record_crossings: Any) -> None:
    from cameras.models import Camera

    with tenant_context(tenant_a):
        owner = make_user("Owner")
        _, camera, line = site_with_camera()
        Camera.objects.filter(pk=camera.pk).update(
            status="disabled", status_reason="stream stopped (disabled)")
        record_crossings(line, [(datetime.now(tz=UTC) - timedelta(seconds=5), "in")])
    html = logged_in("a", owner).get(f"/cameras/{camera.pk}/").content.decode()
    assert "Edit lines and zones" in html and "Take a new picture" in html
    assert "Switched off" in html and "stream stopped (disabled)" not in html
    assert f'<tr data-line="{line.pk}"><td>Door</td>' in html
    assert 'data-num="1">1</span> entered' in html
    assert "No picture of this camera yet" in html
    # the latest crossings are listed in the site's time
    assert "<td>Door</td><td>entered</td>" in html
    # the health card refreshes itself (htmx) from its own URL, with the same words
    assert f'hx-get="/cameras/{camera.pk}/health/"' in html
    card = logged_in("a", owner).get(f"/cameras/{camera.pk}/health/").content.decode()
    assert 'id="health-card"' in card
    assert "Switched off" in card


def test_health_card_shows_frames_skipped_and_time_not_analysed(
        tenant_a: Any, make_user: Any, logged_in: Any, site_with_camera: Any) -> None:
    from counting.models import CameraGap, CameraHealth

    with tenant_context(tenant_a):
        owner = make_user("Owner")
        _, camera, _ = site_with_camera()
        health = CameraHealth.objects.create(camera=camera, state="online")
    client = logged_in("a", owner)
    # given a runner that kept up and no gap: both say none
    card = client.get(f"/cameras/{camera.pk}/health/").content.decode()
    assert "Frames skipped (overload)" in card and "Time not analysed, last 24 h" in card
    assert '<span data-num="0">none</span>: every frame due' in card
    assert '<span data-seconds="0">none</span>' in card
    # given skipped frames and gaps: a 20 min overload at 75 % (5 min lost), a 2.5 min stall,
    # an hour of a stall that began 25 h ago, one from two days ago (outside) and an overload
    # going on (no share yet: flagged, not counted)
    now = datetime.now(tz=UTC)
    with tenant_context(tenant_a):
        CameraHealth.objects.filter(pk=health.pk).update(frames_skipped=840)
        for start, end, cause, share in [
                (now - timedelta(hours=3), now - timedelta(hours=2, minutes=40), "overload", 0.75),
                (now - timedelta(hours=2), now - timedelta(hours=2) + timedelta(seconds=150),
                 "source", None),
                (now - timedelta(hours=25), now - timedelta(hours=23), "runner", None),
                (now - timedelta(days=2), now - timedelta(days=2) + timedelta(hours=1), "loop",
                 None),
                (now - timedelta(minutes=1), None, "overload", None)]:
            CameraGap.objects.create(camera=camera, started_at=start, ended_at=end, cause=cause,
                                     analysed_share=share)
    card = client.get(f"/cameras/{camera.pk}/health/").content.decode()
    assert 'data-num="840">840</span> in total: frames due at the target rate' in card
    assert "Lower the camera's analysed frames per second" in card
    # 5 min + 2.5 min + 1 h (clipped to the window, which moves on by the time of the request)
    seconds = int(card.split('data-seconds="')[1].split('"')[0])
    assert 4050 - 30 <= seconds <= 4050
    assert ">1 h 7 min</span>: frames of that time were not analysed" in card
    assert "An overload is going on now" in card
    # the camera's page shows the same card
    assert "1 h 7 min" in client.get(f"/cameras/{camera.pk}/").content.decode()


def test_a_viewer_sees_no_edit_control_and_is_refused_anyway(tenant_a: Any, make_user: Any,
                                                             logged_in: Any,
                                                             site_with_camera: Any) -> None:
    from cameras.permissions import object_permission_grant
    from counting.models import CameraSnapshot, CountingLine

    with tenant_context(tenant_a):
        _, camera, line = site_with_camera()
        _, hidden, _ = site_with_camera(name="Other store", camera_name="Hidden cam")
        CameraSnapshot.objects.create(camera=camera, jpeg=b"\xff\xd8\xff", width=4, height=3,
                                      taken_at=datetime.now(tz=UTC))
        viewer = make_user("Viewer")
        object_permission_grant(actor=None, grantee=viewer, action="view", obj=camera)
    client = logged_in("a", viewer)
    html = client.get(f"/cameras/{camera.pk}/").content.decode()
    # no edit control, no "draw", no picture (shown to those who draw lines, as in the API)
    assert "Edit lines and zones" not in html and "Take a new picture" not in html
    assert "Draw one" not in html and "picture.jpg" not in html
    assert "shown to Owners and Managers" in html
    # the server refuses anyway, and nothing changes
    assert client.get(f"/cameras/{camera.pk}/editor/").status_code == 404
    assert client.get(f"/cameras/{camera.pk}/picture.jpg").status_code == 404
    assert client.post(f"/cameras/{camera.pk}/picture/refresh/").status_code == 404
    response = _save(client, camera.pk, {"lines": [], "delete_lines": [line.pk]})
    assert response.status_code == 404
    response = _save(client, camera.pk, {"lines": [{"id": None, "name": "Sneaky", "x1": 0,
                                                   "y1": 0, "x2": 1, "y2": 1}]})
    assert response.status_code == 404
    # a camera not granted is a 404 everywhere
    assert client.get(f"/cameras/{hidden.pk}/").status_code == 404
    assert client.get(f"/cameras/{hidden.pk}/health/").status_code == 404
    with tenant_context(tenant_a):
        assert list(CountingLine.objects.filter(camera=camera).values_list("name", flat=True)) \
            == ["Door"]


def test_the_editor_saves_lines_and_zones_through_the_services(tenant_a: Any, make_user: Any,
                                                              logged_in: Any,
                                                              site_with_camera: Any) -> None:
    from counting.models import CountingLine, Zone

    with tenant_context(tenant_a):
        manager = make_user("Manager")
        _, camera, line = site_with_camera()
        created_before = (_events("counting_line.create"), _events("zone.create"),
                          _events("counting_line.update"))
    client = logged_in("a", manager)
    page = client.get(f"/cameras/{camera.pk}/editor/").content.decode()
    assert "Draw a line" in page and 'id="f-entrance"' in page
    # when the manager moves the door line, adds a line and a zone with a capacity
    response = _save(client, camera.pk, {
        "lines": [{"id": line.pk, "name": "Door", "x1": 0.4, "y1": 0.0, "x2": 0.4, "y2": 1.0,
                   "in_label": "entered", "out_label": "left", "enabled": True,
                   "entrance": "in"},
                  {"id": None, "name": "Stairs", "x1": 0.1, "y1": 0.2, "x2": 0.9, "y2": 0.2,
                   "in_label": "down", "out_label": "up", "enabled": True}],
        "zones": [{"id": None, "name": "Till", "points": [[0.1, 0.1], [0.5, 0.1], [0.5, 0.5]],
                   "capacity": 12, "ignore_detections": False, "enabled": True}],
    })
    # then all is saved, with one audit event per change
    assert response.status_code == 200, response.content
    answer = response.json()
    assert "within 3 s" in answer["detail"]
    assert [item["name"] for item in answer["rules"]["lines"]] == ["Door", "Stairs"]
    assert [item["entrance"] for item in answer["rules"]["lines"]] == ["in", ""]
    with tenant_context(tenant_a):
        door = CountingLine.objects.get(pk=line.pk)
        assert (door.x1, door.version, door.entrance) == (0.4, 2, "in")
        assert Zone.objects.get(camera=camera).capacity == 12
        assert (_events("counting_line.create"), _events("zone.create"),
                _events("counting_line.update")) == (created_before[0] + 1,
                                                     created_before[1] + 1,
                                                     created_before[2] + 1)


def test_a_drawing_with_an_error_saves_nothing_and_names_the_item(tenant_a: Any,
                                                                  make_user: Any,
                                                                  logged_in: Any,
                                                                  site_with_camera: Any) -> None:
    from counting.models import CountingLine, Zone

    with tenant_context(tenant_a):
        owner = make_user("Owner")
        _, camera, line = site_with_camera()
        events_before = _events("counting_line.create")
    client = logged_in("a", owner)
    response = _save(client, camera.pk, {
        "lines": [{"id": None, "name": "Fine", "x1": 0.1, "y1": 0.1, "x2": 0.2, "y2": 0.2},
                  {"id": None, "name": "Off the picture", "x1": 0.1, "y1": 0.1, "x2": 1.5,
                   "y2": 0.2}],
        "zones": [{"id": None, "name": "Two corners", "points": [[0.1, 0.1], [0.2, 0.2]]}],
    })
    assert response.status_code == 400
    answer = response.json()
    assert answer["detail"] == "Nothing was saved: fix the items marked below."
    assert set(answer["errors"]) == {"lines.1", "zones.0"}
    assert "x2" in answer["errors"]["lines.1"]
    with tenant_context(tenant_a):
        assert list(CountingLine.objects.filter(camera=camera).values_list("name", flat=True)) \
            == ["Door"]
        assert not Zone.objects.filter(camera=camera).exists()
        assert _events("counting_line.create") == events_before
    # a body that is not JSON gets a plain answer too
    bad = client.post(f"/cameras/{camera.pk}/editor/save/", data="{", content_type="text/plain")
    assert bad.status_code == 400 and "not JSON" in bad.json()["detail"]


def test_deleting_a_line_that_counted_is_refused_with_what_to_do(tenant_a: Any, make_user: Any,
                                                                 logged_in: Any,
                                                                 site_with_camera: Any,
                                                                 record_crossings: Any) -> None:
    from counting.models import CountingLine

    with tenant_context(tenant_a):
        owner = make_user("Owner")
        _, camera, line = site_with_camera()
        unused = CountingLine.objects.create(camera=camera, name="Unused", x1=0, y1=0, x2=1,
                                             y2=1)
        record_crossings(line, [(datetime.now(tz=UTC), "in")])
        deleted_before = _events("counting_line.delete")
    client = logged_in("a", owner)
    refused = _save(client, camera.pk, {"delete_lines": [line.pk, unused.pk]})
    assert refused.status_code == 400
    assert "disable it instead" in json.dumps(refused.json()["errors"]["delete_lines.0"])
    with tenant_context(tenant_a):
        assert CountingLine.objects.filter(pk=unused.pk).exists()  # all or nothing
    ok = _save(client, camera.pk, {"delete_lines": [unused.pk]})
    assert ok.status_code == 200
    with tenant_context(tenant_a):
        assert not CountingLine.objects.filter(pk=unused.pk).exists()
        assert _events("counting_line.delete") == deleted_before + 1


def test_privacy_is_on_for_new_tenants_and_only_an_owner_turns_it_off(
        tenant_a: Any, make_user: Any, logged_in: Any) -> None:
    from tenants.models import Tenant

    assert Tenant._meta.get_field("privacy_blur").default is True
    assert tenant_a.privacy_blur is True
    with tenant_context(tenant_a):
        owner, manager = make_user("Owner"), make_user("Manager")
        events_before = _events("tenant.privacy_update")
    # a Manager sees the setting, no form, and a POST is refused without a change
    page = logged_in("a", manager).get("/settings/privacy/").content.decode()
    assert "people are blurred" in page and "<form method=\"post\">" not in page
    refused = logged_in("a", manager).post("/settings/privacy/", {})
    assert refused.status_code == 403
    tenant_a.refresh_from_db()
    assert tenant_a.privacy_blur is True
    # the Owner turns it off (an unticked box sends nothing) and on again
    client = logged_in("a", owner)
    response = client.post("/settings/privacy/", {}, follow=True)
    assert "no longer blurred" in response.content.decode()
    tenant_a.refresh_from_db()
    assert tenant_a.privacy_blur is False
    client.post("/settings/privacy/", {"privacy_blur": "on"})
    tenant_a.refresh_from_db()
    assert tenant_a.privacy_blur is True
    with tenant_context(tenant_a):
        assert _events("tenant.privacy_update") == events_before + 2


def _frame_with_people(shared_dir: Path) -> Any:
    import cv2

    capture = cv2.VideoCapture(str(shared_dir / "video" / "PETS09-S2L1" / "PETS09-S2L1.mp4"))
    for _ in range(30):
        ok, image = capture.read()
    capture.release()
    assert ok
    return image


def test_people_are_blurred_in_every_picture_kept(tenant_a: Any, make_user: Any,
                                                  logged_in: Any, site_with_camera: Any,
                                                  shared_dir: Path) -> None:
    import cv2
    import numpy as np

    from counting.models import CameraSnapshot
    from counting.runner.snapshotter import Snapshotter

    image = _frame_with_people(shared_dir)
    with tenant_context(tenant_a):
        owner = make_user("Owner")
        _, camera, _ = site_with_camera()
        # when the runner's snapshotter keeps a frame of real footage with people in it
        snapshotter = Snapshotter(camera_id=camera.pk, schema=tenant_a.schema_name,
                                  interval_s=60)
        snapshotter._store(image, datetime.now(tz=UTC).timestamp())
        stored = CameraSnapshot.objects.get(camera=camera)
    # then the kept picture is blurred: people were found and their pixels changed
    assert stored.blurred and stored.people_blurred and stored.people_blurred >= 3
    kept = cv2.imdecode(np.frombuffer(bytes(stored.jpeg), np.uint8), cv2.IMREAD_COLOR)
    assert kept.shape == image.shape
    assert float(np.abs(kept.astype(int) - image.astype(int)).mean()) > 1.0
    # and the portal serves exactly that picture to the owner
    response = logged_in("a", owner).get(f"/cameras/{camera.pk}/picture.jpg")
    assert response.status_code == 200 and response["Content-Type"] == "image/jpeg"
    assert response.content == bytes(stored.jpeg)
    html = logged_in("a", owner).get(f"/cameras/{camera.pk}/").content.decode()
    assert "people are blurred for privacy" in html


def test_a_picture_that_cannot_be_taken_keeps_the_last_one(tenant_a: Any, make_user: Any,
                                                           logged_in: Any,
                                                           site_with_camera: Any) -> None:
    from cameras.models import Camera
    from counting.models import CameraSnapshot

    with tenant_context(tenant_a):
        owner = make_user("Owner")
        _, camera, _ = site_with_camera()
        # a loopback address with nothing listening: no traffic leaves the machine
        Camera.objects.filter(pk=camera.pk).update(stream_url="rtsp://127.0.0.1:9/none")
        taken = datetime.now(tz=UTC) - timedelta(hours=2)
        CameraSnapshot.objects.create(camera=camera, jpeg=b"old", width=4, height=3,
                                      taken_at=taken)
    response = logged_in("a", owner).post(f"/cameras/{camera.pk}/picture/refresh/",
                                          follow=True)
    assert "No new picture" in response.content.decode()
    assert "The last picture is kept." in response.content.decode()
    with tenant_context(tenant_a):
        assert bytes(CameraSnapshot.objects.get(camera=camera).jpeg) == b"old"


def test_the_snapshotter_keeps_at_most_one_frame_per_interval() -> None:
    from counting.runner.snapshotter import Snapshotter

    snapshotter = Snapshotter(camera_id=1, schema="nowhere", interval_s=3600)
    snapshotter._thread = object()  # type: ignore[assignment]  # no thread in this test
    snapshotter.offer("frame-1", 1.0)
    snapshotter.offer("frame-2", 2.0)
    assert snapshotter._pending == ("frame-1", 1.0)
    never = Snapshotter(camera_id=1, schema="nowhere", interval_s=0)
    never.offer("frame", 1.0)
    assert never._pending is None
