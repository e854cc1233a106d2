"""cameras.streams: the one place that turns a camera into an openable stream (policy,
credentials, one FFmpeg protocol whitelist), for the runner and the snapshot alike."""

from __future__ import annotations

from typing import Any

import pytest

from cameras.streams import (
    FFMPEG_PROTOCOL_WHITELIST,
    camera_stream_target,
    redact_url,
    stream_ffmpeg_options,
    stream_target,
    stream_url_with_credentials,
)
from cameras.url_policy import StreamUrlRefused, UrlPolicy

OPEN = UrlPolicy(allow_private=True, allow_loopback=True)


def dns(host: str, port: int) -> list[str]:
    return {"cam.example": ["10.0.0.5"], "meta.example": ["169.254.169.254"]}.get(host, [host])


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",  # a local file
        "/etc/passwd",  # a path where a URL is expected
        "concat:/etc/passwd|/etc/shadow",  # FFmpeg pseudo-protocols
        "subfile:,,start,0,end,0,,:/etc/passwd",
        "pipe:0",
        "rtsp://meta.example/s",  # resolves to the cloud metadata address
        "rtsp://admin:x@cam.example/s",  # credentials belong in the encrypted fields
    ],
)
def test_a_target_is_refused_for_what_the_policy_refuses(url: str) -> None:
    with pytest.raises(StreamUrlRefused):
        stream_target(url=url, policy=OPEN, resolver=dns)


def test_the_one_whitelist_holds_network_protocols_only() -> None:
    # given the whitelist every stream open uses
    protocols = set(FFMPEG_PROTOCOL_WHITELIST.split(","))
    # then it has what cameras need and nothing that reads local data or runs a command
    assert {"rtsp", "rtsps", "http", "https", "tcp", "udp", "tls", "rtp"} <= protocols
    assert not protocols & {"file", "pipe", "concat", "subfile", "data", "fd", "cache"}


@pytest.mark.parametrize(
    ("url", "transport"),
    [
        ("rtsp://cam.example/s", "tcp"),  # RTSP over TCP
        ("RTSPS://cam.example/s", "tcp"),  # schemes are case-insensitive
        ("http://cam.example/video.mjpg", None),  # HTTP needs no RTSP option
    ],
)
def test_options_of_an_open(url: str, transport: str | None) -> None:
    options = stream_ffmpeg_options(url)
    assert options["protocol_whitelist"] == FFMPEG_PROTOCOL_WHITELIST
    assert options.get("rtsp_transport") == transport


def test_credentials_are_joined_in_memory_and_never_shown() -> None:
    # given a camera URL and credentials with characters that need escaping
    target = stream_target(url="rtsp://cam.example:8554/live", username="ad min",
                           password="p@ss:w/rd", policy=OPEN, resolver=dns)
    # then the URL to open carries them percent-encoded, at the checked address, the port kept
    assert target.url == "rtsp://ad%20min:p%40ss%3Aw%2Frd@10.0.0.5:8554/live"
    # and neither repr nor the redacted URL shows them
    assert "p%40ss" not in repr(target) and "ad%20min" not in repr(target)
    assert target.redacted_url == "rtsp://***@10.0.0.5:8554/live"
    assert target.display_url == "rtsp://cam.example:8554/live"
    assert target.options["protocol_whitelist"] == FFMPEG_PROTOCOL_WHITELIST


@pytest.mark.parametrize(
    ("url", "username", "password", "expected"),
    [
        ("rtsp://10.0.0.5/s", "", "secret", "rtsp://10.0.0.5/s"),  # no user: URL unchanged
        ("rtsp://10.0.0.5/s", "viewer", "", "rtsp://viewer@10.0.0.5/s"),  # user only
        ("rtsp://[fe80::1]:554/s", "u", "p", "rtsp://u:p@[fe80::1]:554/s"),  # IPv6 kept
    ],
)
def test_credentials_joining(url: str, username: str, password: str, expected: str) -> None:
    assert stream_url_with_credentials(url=url, username=username,
                                       password=password) == expected


def test_redact_url() -> None:
    assert redact_url("rtsp://u:p@10.0.0.5:554/s") == "rtsp://***@10.0.0.5:554/s"
    assert redact_url("rtsp://10.0.0.5/s") == "rtsp://10.0.0.5/s"


def test_a_camera_target_uses_its_decrypted_password(tenant_a: Any, in_tenant: Any) -> None:
    from cameras.services import camera_create, site_create

    # given a camera whose password is stored encrypted
    with in_tenant(tenant_a):
        site = site_create(actor=None, name="Streams site")
        camera = camera_create(actor=None, site=site, name="Door",
                               stream_url="rtsp://10.0.0.5/s", username="op",
                               password="s3cret")
        assert "s3cret" not in camera.password_encrypted
        # when it is turned into a target
        target = camera_stream_target(camera=camera, policy=OPEN, resolver=dns)
    # then the URL to open carries the clear password
    assert target.url == "rtsp://op:s3cret@10.0.0.5/s"
