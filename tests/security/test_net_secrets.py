"""Credentials in a stream URL's query string (?user=..&pwd=.., common for MJPEG cameras) are
stored encrypted and shown nowhere: not in the API, the admin, audit values, status reasons or
logs; they reach only the camera. Viewers see cameras without URL or username."""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any

import pytest

from audit.models import AuditEvent
from cameras.models import Camera
from cameras.streams import STREAM_UNAVAILABLE, camera_stream_target, redact_url
from cameras.url_secrets import join_url_secrets, split_url_secrets
from counting.pipeline.sources import SourceOpenError, open_source
from counting.runner.config import RunnerConfig
from counting.runner.connection import StreamConnection
from tests.security.net_fixtures import CameraServer

SECRET = "Sup3r-S3cret"
USER = "admin-7f3"


def _secret_url(port: int, pwd: str = SECRET) -> str:
    return f"http://127.0.0.1:{port}/video.cgi?user={USER}&pwd={pwd}&resolution=640x480"


def _shown(port: int) -> str:
    return f"http://127.0.0.1:{port}/video.cgi?user=***&pwd=***&resolution=640x480"


@pytest.fixture
def secret_camera(world_a: Any, api_client: Any, camera_server: CameraServer,
                  settings: Any) -> dict[str, Any]:
    """A camera created through the API with query-string credentials."""
    settings.CAMERA_URL_ALLOW_LOOPBACK = True
    response = api_client("a", world_a.owner).post("/api/v1/cameras/", {
        "site": world_a.site.pk, "name": "MJPEG with query credentials",
        "stream_url": _secret_url(camera_server.port)}, format="json")
    assert response.status_code == 201, response.content
    return dict(response.json())


def _no_secret(text: str) -> bool:
    return SECRET not in text and USER not in text


def test_query_credentials_are_stored_encrypted_and_shown_as_placeholders(
        world_a: Any, in_tenant: Any, api_client: Any, camera_server: CameraServer,
        secret_camera: dict[str, Any]) -> None:
    # then the API shows the parameters with their values hidden
    assert secret_camera["stream_url"] == _shown(camera_server.port)
    with in_tenant(world_a.tenant):
        camera = Camera.objects.get(pk=secret_camera["id"])
        row = Camera.objects.filter(pk=camera.pk).values().get()
        events = list(AuditEvent.objects.filter(target_id=str(camera.pk))
                      .values("before", "after"))
    # and the database row holds them only encrypted
    assert _no_secret(json.dumps(row, default=str))
    assert camera.url_secrets == [("user", USER), ("pwd", SECRET)]
    # and the audit trail names them without their values
    assert events and _no_secret(json.dumps(events))
    assert events[0]["after"]["url_secrets"] == ["pwd", "user"]
    # and the list and detail answers show them nowhere
    client = api_client("a", world_a.owner)
    for path in ("/api/v1/cameras/", f"/api/v1/cameras/{camera.pk}/"):
        assert _no_secret(client.get(path).content.decode())


def test_the_camera_receives_its_query_credentials(
        world_a: Any, api_client: Any, camera_server: CameraServer,
        secret_camera: dict[str, Any]) -> None:
    # when a snapshot is taken
    response = api_client("a", world_a.owner).get(
        f"/api/v1/cameras/{secret_camera['id']}/snapshot/")
    # then the camera got the real values, in their place
    assert response.status_code == 200
    assert camera_server.paths() == [
        f"/video.cgi?user={USER}&pwd={SECRET}&resolution=640x480"]


def test_writing_back_the_shown_url_keeps_the_credentials_and_new_ones_replace_them(
        world_a: Any, in_tenant: Any, api_client: Any, camera_server: CameraServer,
        secret_camera: dict[str, Any]) -> None:
    client = api_client("a", world_a.owner)
    url = f"/api/v1/cameras/{secret_camera['id']}/"
    # when the URL as shown is written back with another name
    response = client.patch(url, {"stream_url": secret_camera["stream_url"],
                                  "name": "Renamed"}, format="json")
    # then the stored credentials are kept
    assert response.status_code == 200
    with in_tenant(world_a.tenant):
        assert Camera.objects.get(pk=secret_camera["id"]).url_secrets == [
            ("user", USER), ("pwd", SECRET)]
    # when a new password is written, it replaces the old one and is audited as changed
    response = client.patch(url, {"stream_url": _secret_url(camera_server.port, "N3w-0ne")},
                            format="json")
    assert response.status_code == 200
    assert response.json()["stream_url"] == _shown(camera_server.port)
    with in_tenant(world_a.tenant):
        assert Camera.objects.get(pk=secret_camera["id"]).url_secrets == [
            ("user", USER), ("pwd", "N3w-0ne")]
        last = AuditEvent.objects.filter(target_id=str(secret_camera["id"])).latest("pk")
    assert last.action == "camera.update" and "N3w-0ne" not in json.dumps(last.after)


def test_a_placeholder_without_a_stored_value_is_refused(
        world_a: Any, api_client: Any, camera_server: CameraServer,
        secret_camera: dict[str, Any], state_of: Any) -> None:
    client = api_client("a", world_a.owner)
    before = state_of(world_a.tenant)
    response = client.patch(
        f"/api/v1/cameras/{secret_camera['id']}/",
        {"stream_url": secret_camera["stream_url"] + "&token=***"}, format="json")
    assert response.status_code == 400
    assert "token" in response.json()["error"]["fields"]["stream_url"][0]
    assert state_of(world_a.tenant) == before


def test_the_admin_shows_no_query_credentials(world_a: Any, logged_in: Any,
                                              secret_camera: dict[str, Any]) -> None:
    client = logged_in("a", world_a.owner)
    for path in ("/admin/cameras/camera/", f"/admin/cameras/camera/{secret_camera['id']}/change/",
                 f"/admin/cameras/camera/{secret_camera['id']}/history/"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert _no_secret(response.content.decode()), path


def test_status_reasons_and_logs_show_no_query_credentials(
        world_a: Any, in_tenant: Any, secret_camera: dict[str, Any],
        caplog: pytest.LogCaptureFixture) -> None:
    # given the camera's server gone (a closed port)
    with in_tenant(world_a.tenant):
        camera = Camera.objects.get(pk=secret_camera["id"])
    camera.stream_url = camera.stream_url.replace(
        str(camera.stream_url.split(":")[2].split("/")[0]), "9")
    config = RunnerConfig.from_settings()
    config.open_timeout_s = config.read_timeout_s = 2.0
    states: list[tuple[str, str]] = []
    caplog.set_level(logging.DEBUG)
    connection = StreamConnection(camera=camera, config=config, stop_event=threading.Event(),
                                  on_state=lambda s, r: states.append((s, r)),
                                  on_open=lambda: None)
    deadline = time.monotonic() + 10
    while not states and time.monotonic() < deadline:
        connection.read()
    connection.close()
    # then the status reason is the uniform one and no log line holds the credentials
    assert states == [("offline", STREAM_UNAVAILABLE)]
    assert _no_secret(caplog.text)
    # and a live source's own errors hide every query value
    target = camera_stream_target(camera=camera)
    with pytest.raises(SourceOpenError) as failed:
        open_source(target.url, live=True, ffmpeg_options=target.options, open_timeout_s=2,
                    read_timeout_s=2)
    assert _no_secret(str(failed.value))


def test_viewers_see_cameras_without_url_or_username(world_a: Any, in_tenant: Any,
                                                     api_client: Any) -> None:
    from guardian.shortcuts import assign_perm

    with in_tenant(world_a.tenant):
        Camera.objects.filter(pk=world_a.camera.pk).update(username="camera-operator")
        assign_perm("view_site", world_a.viewer, world_a.site)
    path = f"/api/v1/cameras/{world_a.camera.pk}/"
    # a Viewer who may only view the camera gets the reduced shape, in lists too
    viewer = api_client("a", world_a.viewer)
    shown = viewer.get(path).json()
    assert not {"stream_url", "username", "has_password"} & set(shown)
    listed = {c["id"]: c for c in viewer.get("/api/v1/cameras/").json()["results"]}
    assert "stream_url" not in listed[world_a.camera.pk]
    # while those who may change it (an Owner, a Viewer granted change) see how it connects
    for user in (world_a.owner, world_a.viewer_granted):
        full = api_client("a", user).get(path).json()
        assert full["username"] == "camera-operator" and "stream_url" in full


@pytest.mark.parametrize(("url", "shown", "secrets"), [
    ("http://c/v.cgi?user=a&pwd=b", "http://c/v.cgi?user=***&pwd=***",
     [("user", "a"), ("pwd", "b")]),  # the common MJPEG form
    ("http://c/v?resolution=640&PWD=x%26y", "http://c/v?resolution=640&PWD=***",
     [("PWD", "x%26y")]),  # names are case-insensitive; values stay as written
    ("http://c/v?usr=&pwd", "http://c/v?usr=&pwd", []),  # empty values are no secrets
    ("rtsp://c/live?channel=1", "rtsp://c/live?channel=1", []),  # nothing secret
])
def test_split_and_join(url: str, shown: str, secrets: list[tuple[str, str]]) -> None:
    assert split_url_secrets(url) == (shown, secrets)
    assert join_url_secrets(shown, secrets) == url
    assert redact_url(url) == shown


def test_the_migration_moves_existing_secrets(world_a: Any, in_tenant: Any) -> None:
    import importlib

    from django.apps import apps

    migration = importlib.import_module("cameras.migrations.0003_url_secrets")
    # given a camera stored before the migration, its password in the URL and a status
    # reason that quoted it
    url = "http://10.0.0.9/mjpg.cgi?user=op&pwd=Old-S3cret"
    with in_tenant(world_a.tenant):
        Camera.objects.filter(pk=world_a.camera.pk).update(
            stream_url=url, url_secrets_encrypted="",
            status_reason=f"cannot open stream {url}")
        # when the migration runs
        migration.forwards(apps, None)
        camera = Camera.objects.get(pk=world_a.camera.pk)
    # then the URL keeps placeholders, the values are encrypted, the reason is cleared
    assert camera.stream_url == "http://10.0.0.9/mjpg.cgi?user=***&pwd=***"
    assert camera.url_secrets == [("user", "op"), ("pwd", "Old-S3cret")]
    assert "Old-S3cret" not in camera.url_secrets_encrypted
    assert camera.status_reason == ""
