"""Site and camera management pages: every form submitted, errors shown, writes audited."""

from __future__ import annotations

from typing import Any

from django.test import override_settings

from cameras.models import Camera, Site
from tests.live_server import free_port


def _hours(**days: tuple[str, str]) -> dict[str, str]:
    data: dict[str, str] = {}
    for day, (opens, closes) in days.items():
        data[f"{day}_open1"], data[f"{day}_close1"] = opens, closes
    return data


def test_an_owner_adds_a_site_with_hours_and_is_led_to_add_its_camera(
        people: Any, logged_in: Any, audit_mark: Any, tenant_a: Any, in_tenant: Any) -> None:
    client = logged_in("a", people.owner)
    page = client.get("/manage/sites/new/")
    assert page.status_code == 200 and b"Europe/Paris" in page.content
    response = client.post("/manage/sites/new/", {
        "name": "Flagship", "address": "1 Main St", "timezone": "Europe/Berlin",
        **_hours(mon=("09:00", "19:00"), sat=("10:00", "00:00")),
        "tue_open1": "09:00", "tue_close1": "12:00", "tue_open2": "14:00", "tue_close2": "18:00"})
    assert response.status_code == 302
    with in_tenant(tenant_a):
        site = Site.objects.get(name="Flagship")
    assert response["Location"] == f"/manage/sites/{site.pk}/cameras/new/"
    assert site.timezone == "Europe/Berlin"
    assert site.opening_hours == {"mon": [["09:00", "19:00"]], "sat": [["10:00", "24:00"]],
                                  "tue": [["09:00", "12:00"], ["14:00", "18:00"]]}
    assert audit_mark() == [("site.create", people.owner.username, str(site.pk))]
    # the edit form shows the stored hours back (midnight as 00:00)
    edit = client.get(f"/manage/sites/{site.pk}/").content.decode()
    assert 'name="sat_close1" value="00:00"' in edit and 'name="tue_open2" value="14:00"' in edit


def test_bad_site_input_is_refused_with_clear_messages_and_nothing_changes(
        people: Any, logged_in: Any, audit_mark: Any, tenant_a: Any, in_tenant: Any) -> None:
    client = logged_in("a", people.owner)
    response = client.post(f"/manage/sites/{people.site.pk}/", {
        "name": "", "timezone": "Mars/Olympus", "mon_open1": "10:00",
        "tue_open1": "18:00", "tue_close1": "09:00", "wed_open1": "25:00", "wed_close1": "x"})
    assert response.status_code == 200
    text = response.content.decode()
    assert "This field is required." in text
    assert "Select a valid choice. Mars/Olympus is not one of the available choices." in text
    assert "Monday: give both the opening and the closing time, or neither (closed)." in text
    assert "Tuesday: the closing time must be after the opening time" in text
    assert "Enter a valid time." in text
    with in_tenant(tenant_a):
        assert Site.objects.get(pk=people.site.pk).name == "PB site"
    assert audit_mark() == []


def test_an_owner_edits_a_site(people: Any, logged_in: Any, audit_mark: Any, tenant_a: Any,
                               in_tenant: Any) -> None:
    client = logged_in("a", people.owner)
    response = client.post(f"/manage/sites/{people.site.pk}/", {
        "name": "PB site renamed", "address": "", "timezone": "America/New_York",
        **_hours(sun=("11:00", "17:00"))})
    assert response.status_code == 302 and response["Location"] == "/manage/sites/"
    with in_tenant(tenant_a):
        site = Site.objects.get(pk=people.site.pk)
    assert (site.name, site.timezone, site.opening_hours) == (
        "PB site renamed", "America/New_York", {"sun": [["11:00", "17:00"]]})
    assert audit_mark() == [("site.update", people.owner.username, str(site.pk))]
    listing = client.get("/manage/sites/").content.decode()
    assert "PB site renamed" in listing and "Sun 11:00–17:00" in listing


def test_a_manager_adds_edits_disables_and_enables_a_camera(
        people: Any, logged_in: Any, audit_mark: Any, tenant_a: Any, in_tenant: Any) -> None:
    client = logged_in("a", people.manager)
    form = client.get(f"/manage/sites/{people.site.pk}/cameras/new/").content.decode()
    assert f'<option value="{people.site.pk}" selected>PB site</option>' in form
    response = client.post("/manage/cameras/new/", {
        "site": people.site.pk, "name": "Door", "stream_url": "rtsp://10.1.2.3:554/s1",
        "username": "admin", "password": "pw-1", "detect_fps": "6", "enabled": "on"})
    assert response.status_code == 302
    with in_tenant(tenant_a):
        camera = Camera.objects.get(name="Door")
        assert (camera.password, camera.detect_fps, camera.enabled) == ("pw-1", 6.0, True)
    # an empty password keeps the stored one; the form never shows it
    edit = client.get(f"/manage/cameras/{camera.pk}/").content.decode()
    assert "pw-1" not in edit and "A password is stored" in edit
    response = client.post(f"/manage/cameras/{camera.pk}/", {
        "site": people.other_site.pk, "name": "Door 2", "stream_url": "rtsp://10.1.2.3:554/s2",
        "username": "admin", "password": "", "detect_fps": "5", "enabled": "on"})
    assert response.status_code == 302
    with in_tenant(tenant_a):
        camera.refresh_from_db()
        assert (camera.name, camera.site_id, camera.password) == (
            "Door 2", people.other_site.pk, "pw-1")
    response = client.post(f"/manage/cameras/{camera.pk}/", {
        "site": people.other_site.pk, "name": "Door 2", "stream_url": "rtsp://10.1.2.3:554/s2",
        "username": "", "password": "", "clear_password": "on", "detect_fps": "5",
        "enabled": "on"})
    assert response.status_code == 302
    assert client.post(f"/manage/cameras/{camera.pk}/disable/").status_code == 302
    with in_tenant(tenant_a):
        camera.refresh_from_db()
        assert not camera.has_password and not camera.enabled
    assert client.post(f"/manage/cameras/{camera.pk}/enable/").status_code == 302
    actions = [a for a, _, target in audit_mark() if target == str(camera.pk)]
    assert actions == ["camera.create", "camera.update", "camera.update", "camera.disable",
                       "camera.enable"]
    assert all(actor == people.manager.username for _, actor, _ in audit_mark())


def test_bad_camera_input_gets_the_services_messages_and_nothing_is_made(
        people: Any, logged_in: Any, audit_mark: Any, tenant_a: Any, in_tenant: Any) -> None:
    client = logged_in("a", people.owner)
    response = client.post("/manage/cameras/new/", {
        "site": people.site.pk, "name": "   ", "stream_url": "ftp://10.0.0.1/x",
        "detect_fps": "99", "enabled": "on"})
    assert response.status_code == 200
    text = response.content.decode()
    assert "Ensure this value is less than or equal to 30.0." in text
    assert "This field is required." in text  # a name of blanks
    response = client.post("/manage/cameras/new/", {
        "site": people.site.pk, "name": "FTP", "stream_url": "ftp://10.0.0.1/x",
        "detect_fps": "5"})
    text = response.content.decode()
    assert response.status_code == 200 and "ftp" in text and "rtsp" in text
    with in_tenant(tenant_a):
        assert not Camera.objects.filter(name="FTP").exists()
    assert audit_mark() == []


def test_test_connection_shows_a_snapshot_or_the_reason(
        people: Any, logged_in: Any, mjpeg_server: int, audit_mark: Any) -> None:
    client = logged_in("a", people.owner)
    refused = client.post("/manage/cameras/test/", {"stream_url": "rtsp://127.0.0.1:9/x"},
                          HTTP_HX_REQUEST="true")
    text = refused.content.decode()
    assert refused.status_code == 200
    assert "Connection failed: This address may not be used:" in text and "loopback" in text
    with override_settings(CAMERA_URL_ALLOW_LOOPBACK=True):
        closed = client.post("/manage/cameras/test/", {"stream_url": f"http://127.0.0.1:{free_port()}/"})
        assert closed.status_code == 200
        assert "Connection failed: The camera could not be reached" in closed.content.decode()
        ok = client.post(f"/manage/cameras/{people.camera.pk}/test/",
                         {"stream_url": f"http://127.0.0.1:{mjpeg_server}/video.mjpg"},
                         HTTP_HX_REQUEST="true")
    text = ok.content.decode()
    assert "Connected: the camera sent a 160×120 picture." in text
    assert 'src="data:image/jpeg;base64,/9j/' in text
    assert audit_mark() == []  # a test saves nothing


def test_a_viewer_sees_no_edit_controls_and_the_server_refuses(
        people: Any, logged_in: Any, audit_mark: Any) -> None:
    client = logged_in("a", people.viewer)
    sites = client.get("/manage/sites/").content.decode()
    assert "PB site" not in sites and "Add a site" not in sites
    cameras = client.get("/manage/cameras/").content.decode()
    assert "PB camera" not in cameras and "Add a camera" not in cameras
    nav = cameras
    assert "/manage/users/" not in nav and "/manage/audit/" not in nav
    assert client.get("/manage/sites/new/").status_code == 403
    assert client.post("/manage/sites/new/", {"name": "x", "timezone": "UTC"}).status_code == 403
    assert client.get("/manage/cameras/new/").status_code == 403
    assert client.get(f"/manage/sites/{people.site.pk}/").status_code == 404
    assert client.get(f"/manage/cameras/{people.camera.pk}/").status_code == 404
    assert client.post(f"/manage/cameras/{people.camera.pk}/disable/").status_code == 404
    assert client.post("/manage/cameras/test/", {"stream_url": "rtsp://10.0.0.1/"}
                       ).status_code == 403
    assert client.get("/manage/users/").status_code == 403
    assert client.get("/manage/audit/").status_code == 403
    assert client.get(f"/manage/users/{people.viewer.pk}/access/").status_code == 403
    assert audit_mark() == []


def test_a_viewer_granted_change_on_one_camera_edits_only_that_camera(
        people: Any, logged_in: Any, audit_mark: Any, tenant_a: Any, in_tenant: Any) -> None:
    client = logged_in("a", people.granted)
    cameras = client.get("/manage/cameras/").content.decode()
    assert "PB camera" in cameras and "PB other camera" not in cameras
    assert "Add a camera" not in cameras
    edit = client.get(f"/manage/cameras/{people.camera.pk}/").content.decode()
    assert "PB other site" not in edit  # cannot move it to a site it may not change
    assert client.get(f"/manage/cameras/{people.other_camera.pk}/").status_code == 404
    assert client.post(f"/manage/cameras/{people.camera.pk}/disable/").status_code == 302
    assert client.get(f"/manage/sites/{people.site.pk}/").status_code == 404  # view only
    assert audit_mark() == [("camera.disable", people.granted.username, str(people.camera.pk))]


def test_200_character_names_are_shortened_in_the_portal_drop_downs(
        people: Any, logged_in: Any, tenant_a: Any, in_tenant: Any) -> None:
    from tests.api import factories

    long_site = "S" * 199 + "!"
    with in_tenant(tenant_a):
        site = factories.SiteFactory(name=long_site)
        factories.CameraFactory(site=site, name="C" * 200)
    client = logged_in("a", people.owner)
    form = client.get("/manage/cameras/new/").content.decode()
    assert f">{'S' * 79}…</option>" in form and long_site not in form
    history = client.get("/history/").content.decode()
    assert f"{'S' * 59}… (whole site)" in history and long_site not in history
    assert f"Camera {'C' * 59}…" in history
    listing = client.get("/manage/cameras/").content.decode()
    assert f'title="{"C" * 200}"' in listing  # the cell is cut by CSS, the full name on hover


def test_a_camera_gets_its_own_detector_model_and_goes_back_to_the_default(
        people: Any, logged_in: Any, audit_mark: Any, tenant_a: Any, in_tenant: Any) -> None:
    from counting.model_choice import camera_model_choice
    from tenants.platform.models import AiModel, ModelStatus

    fields = {"file_path": "yolox_nano.onnx", "format": "onnx", "sha256": "0" * 64,
              "input_size": 416, "classes": ["person"], "licence": "Apache-2.0"}
    active = AiModel.objects.create(name="night-nano", version="2.0",
                                    status=ModelStatus.ACTIVE, **fields)
    retired = AiModel.objects.create(name="old-nano", version="0.9",
                                     status=ModelStatus.RETIRED, **fields)
    client = logged_in("a", people.manager)
    with in_tenant(tenant_a):
        camera = Camera.objects.create(site=people.site, name="Lobby",
                                       stream_url="rtsp://10.1.2.9/s")
    # the form offers the active models only, after the default
    form = client.get(f"/manage/cameras/{camera.pk}/").content.decode()
    assert "Default model" in form and "night-nano" in form and "old-nano" not in form
    base = {"site": people.site.pk, "name": "Lobby", "stream_url": "rtsp://10.1.2.9/s",
            "detect_fps": "5", "enabled": "on"}
    # a retired model is refused with the form's message and changes nothing
    response = client.post(f"/manage/cameras/{camera.pk}/", {**base, "ai_model": retired.pk})
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    # choosing the active model stores it, audited, and the camera counts with it
    response = client.post(f"/manage/cameras/{camera.pk}/", {**base, "ai_model": active.pk})
    assert response.status_code == 302
    with in_tenant(tenant_a):
        camera.refresh_from_db()
        assert camera.ai_model_id == active.pk
        choice = camera_model_choice(schema=tenant_a.schema_name, camera_id=camera.pk)
        assert (choice.model, choice.source) == (active, "camera")
    # the empty choice goes back to the default
    response = client.post(f"/manage/cameras/{camera.pk}/", {**base, "ai_model": ""})
    assert response.status_code == 302
    with in_tenant(tenant_a):
        camera.refresh_from_db()
        assert camera.ai_model_id is None
    changes = [a for a, _, target in audit_mark() if target == str(camera.pk)]
    assert changes == ["camera.update", "camera.update"]


def test_the_camera_service_refuses_a_model_that_is_not_active(
        people: Any, tenant_a: Any, in_tenant: Any) -> None:
    import pytest
    from django.core.exceptions import ValidationError

    from cameras.services import camera_update
    from tenants.platform.models import AiModel, ModelStatus

    candidate = AiModel.objects.create(
        name="cand", version="1", file_path="x.onnx", format="onnx", sha256="1" * 64,
        input_size=416, classes=["person"], licence="MIT", status=ModelStatus.CANDIDATE)
    with in_tenant(tenant_a):
        camera = Camera.objects.create(site=people.site, name="Gate",
                                       stream_url="rtsp://10.1.2.8/s")
        with pytest.raises(ValidationError) as refused:
            camera_update(actor=None, camera=camera, ai_model=candidate)
        assert "is not an active detector model" in str(refused.value.message_dict["ai_model"])
        camera.refresh_from_db()
        assert camera.ai_model_id is None
