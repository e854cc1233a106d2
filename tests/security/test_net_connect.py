"""At connect time the name is resolved once, checked, and only the checked address is
connected to: DNS rebinding (between save and connect, or between two connections of a live
stream), HTTP redirects and a second resolution by FFmpeg cannot reach what the policy
refuses."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from cameras.api.snapshot import SnapshotError, snapshot_from_target
from cameras.models import Camera
from cameras.services import camera_create, site_create
from cameras.streams import (
    STREAM_UNAVAILABLE,
    StreamUnavailable,
    camera_stream_target,
    stream_target,
)
from cameras.url_policy import StreamUrlRefused, UrlPolicy
from counting.pipeline.sources import (
    REOPEN_FAILED_REASON,
    LiveSource,
    SourceOpenError,
    open_source,
)
from counting.runner.config import RunnerConfig
from counting.runner.connection import StreamConnection
from tests.security.net_fixtures import CameraServer, ScriptedResolver

LOOPBACK_OK = UrlPolicy(allow_private=True, allow_loopback=True)


def test_only_the_checked_address_is_connected_to(resolver: ScriptedResolver,
                                                   camera_server: CameraServer) -> None:
    # given a name that only the deployment's resolver knows (the system cannot resolve it)
    resolver.set("camera.invalid", ["127.0.0.1"])
    url = f"http://camera.invalid:{camera_server.port}/video.mjpg"
    # when a frame is grabbed
    target = stream_target(url=url, policy=LOOPBACK_OK)
    shot = snapshot_from_target(target=target, timeout_s=5.0)
    # then FFmpeg connected to the checked address without resolving the name again, and the
    # camera still saw its own name in the Host header
    assert (shot.width, shot.height) == (64, 48)
    assert resolver.calls == ["camera.invalid"]
    assert camera_server.requests == [("/video.mjpg", f"camera.invalid:{camera_server.port}")]


def test_an_http_redirect_to_loopback_is_not_followed(camera_server: CameraServer,
                                                      second_server: CameraServer) -> None:
    # given a camera that answers with a redirect to another (loopback) address
    camera_server.redirect_to = f"http://127.0.0.1:{second_server.port}/video.mjpg"
    url = f"http://127.0.0.1:{camera_server.port}/redirect"
    target = stream_target(url=url, policy=LOOPBACK_OK)
    # when a snapshot and a live source open it
    with pytest.raises(SnapshotError):
        snapshot_from_target(target=target, timeout_s=3.0)
    with pytest.raises(SourceOpenError):
        open_source(target.url, live=True, ffmpeg_options=target.options, open_timeout_s=3,
                    read_timeout_s=3)
    # then the redirect target never saw a connection
    assert camera_server.paths() == ["/redirect", "/redirect"]
    assert second_server.paths() == []


@pytest.fixture
def site(tenant_a: Any, in_tenant: Any) -> Any:
    with in_tenant(tenant_a):
        yield site_create(actor=None, name="Net site")


def test_dns_rebinding_between_save_and_snapshot_is_refused(
        resolver: ScriptedResolver, camera_server: CameraServer, settings: Any, tenant_a: Any,
        in_tenant: Any, site: Any, api_client: Any, world_a: Any) -> None:
    # given a camera whose name resolved to an allowed address when it was saved, and to the
    # cloud metadata address now ("localhost" so that a second lookup by the system, as FFmpeg
    # would do it, reaches the local camera server)
    settings.CAMERA_URL_ALLOW_LOOPBACK = True
    resolver.set("localhost", ["127.0.0.1"], ["169.254.169.254"])
    with in_tenant(tenant_a):
        camera = camera_create(actor=None, site=world_a.site, name="Rebinding",
                               stream_url=f"http://localhost:{camera_server.port}/v.mjpg")
    # when a snapshot is asked for
    response = api_client("a", world_a.owner).get(f"/api/v1/cameras/{camera.pk}/snapshot/")
    # then it is refused with the one message of every failure, and nothing was connected to
    assert response.status_code == 502
    assert response.json()["error"]["message"] == STREAM_UNAVAILABLE
    assert resolver.calls == ["localhost", "localhost"]
    assert camera_server.paths() == []


def test_nat64_form_of_the_metadata_address_is_refused_at_connect_time(
        resolver: ScriptedResolver, settings: Any, tenant_a: Any, in_tenant: Any,
        site: Any) -> None:
    # given a camera saved while its name resolved to a public address, now to the metadata
    # address behind the NAT64 prefix
    resolver.set("cam.example.com", ["93.184.215.14"], ["64:ff9b::a9fe:a9fe"])
    with in_tenant(tenant_a):
        camera = camera_create(actor=None, site=site, name="NAT64",
                               stream_url="rtsp://cam.example.com/live")
    # when it is turned into a target
    with pytest.raises(StreamUnavailable) as refused:
        camera_stream_target(camera=camera)
    # then users get the uniform message; the cause is there for the log only
    assert str(refused.value) == STREAM_UNAVAILABLE
    assert "transition" in refused.value.detail


def test_a_live_source_checks_the_address_again_on_every_reconnect(
        resolver: ScriptedResolver, camera_server: CameraServer, settings: Any,
        tenant_a: Any, in_tenant: Any, site: Any) -> None:
    # given a camera on "localhost" whose stream drops after a few frames, and a name that
    # resolves to loopback (allowed) at save and first open, then to the metadata address
    settings.CAMERA_URL_ALLOW_LOOPBACK = True
    camera_server.frames = 8
    resolver.set("localhost", ["127.0.0.1"], ["127.0.0.1"], ["169.254.169.254"])
    with in_tenant(tenant_a):
        camera = camera_create(actor=None, site=site, name="Live rebinding",
                               stream_url=f"http://localhost:{camera_server.port}/live.mjpg")
    config = RunnerConfig.from_settings()
    config.open_timeout_s = config.read_timeout_s = 2.0
    states: list[tuple[str, str]] = []
    connection = StreamConnection(camera=camera, config=config, stop_event=threading.Event(),
                                  on_state=lambda s, r: states.append((s, r)),
                                  on_open=lambda: None)
    try:
        # when it streams, the camera drops the connection, and the source reconnects
        deadline = time.monotonic() + 20
        source: LiveSource | None = None
        while time.monotonic() < deadline:
            connection.read()
            source = connection.source
            if source is not None and source.health().reason == REOPEN_FAILED_REASON:
                break
        # then the reconnection was checked anew and refused: one connection in all
        assert source is not None and states[0] == ("online", "streaming")
        assert source.health().reason == REOPEN_FAILED_REASON
        assert resolver.calls[:3] == ["localhost"] * 3
        assert camera_server.paths() == ["/live.mjpg"]
    finally:
        connection.close()


def test_a_target_refuses_a_rebound_name_even_when_loopback_is_allowed(
        resolver: ScriptedResolver) -> None:
    # given a deployment allowing loopback and a name whose second answer is link-local
    resolver.set("flip.example.com", ["127.0.0.1"], ["169.254.10.10"])
    assert stream_target(url="rtsp://flip.example.com/s", policy=LOOPBACK_OK)
    # then the next check refuses it
    with pytest.raises(StreamUrlRefused, match="link-local"):
        stream_target(url="rtsp://flip.example.com/s", policy=LOOPBACK_OK)


def test_the_stored_url_never_leaves_the_check(resolver: ScriptedResolver, tenant_a: Any,
                                               in_tenant: Any, site: Any) -> None:
    # given a saved camera
    resolver.set("cam.example.com", ["93.184.215.14"])
    with in_tenant(tenant_a):
        camera = camera_create(actor=None, site=site, name="Pinned",
                               stream_url="https://cam.example.com:8443/mjpg/video.mjpg")
        camera = Camera.objects.get(pk=camera.pk)
    # when it becomes a target
    target = camera_stream_target(camera=camera)
    # then FFmpeg gets the address, the name only as Host and TLS server name, no redirects
    assert target.url == "https://93.184.215.14:8443/mjpg/video.mjpg"
    assert target.options["headers"] == "Host: cam.example.com:8443\r\n"
    assert target.options["verifyhost"] == "cam.example.com"
    assert target.options["max_redirects"] == "0"
