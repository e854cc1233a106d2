"""The camera URL policy refuses local, metadata and non-stream URLs and accepts real cameras."""

from __future__ import annotations

import pytest

from cameras.url_policy import StreamUrlRefused, UrlPolicy, system_resolver, validate_stream_url

DEFAULT = UrlPolicy(allow_private=True, allow_loopback=False)


def fake_dns(table: dict[str, list[str]]):  # type: ignore[no-untyped-def]
    """A resolver answering from a table, falling back to the system for IP literals."""

    def resolve(host: str, port: int) -> list[str]:
        return table[host] if host in table else system_resolver(host, port)

    return resolve


@pytest.mark.parametrize(
    "url",
    [
        "rtsp://127.0.0.1/",  # IPv4 loopback
        "rtsp://localhost/",  # a name for loopback
        "rtsp://[::1]/",  # IPv6 loopback
        "rtsp://169.254.169.254/",  # cloud metadata
        "rtsp://2852039166/",  # metadata as a decimal integer
        "rtsp://0xa9fea9fe/",  # metadata in hex
        "rtsp://[::ffff:169.254.169.254]/",  # metadata as IPv4-mapped IPv6
        "rtsp://0.0.0.0/",  # unspecified
        "rtsp://169.254.10.10/",  # link-local
        "rtsp://224.0.0.1/",  # multicast
        "file:///etc/passwd",  # local file
        "/etc/passwd",  # bare path
        "concat:/etc/passwd",  # FFmpeg pseudo-protocol
        "subfile:,start,0,end,0,:/etc/passwd",  # FFmpeg pseudo-protocol
        "data:text/plain;base64,AAAA",  # data URL
        "pipe:0",  # stdin
        "gopher://x/",  # other scheme
        "img_%03d.jpg",  # image-sequence pattern
        "http://cam.example.com/img_%03d.jpg",  # image sequence behind a valid scheme
        "rtsp://user:secret@10.0.0.5/stream",  # credentials belong in the encrypted fields
        "rtsp://10.0.0.5/str eam",  # whitespace
        "",  # empty
    ],
)
def test_refused_urls(url: str) -> None:
    # given the default policy, when validating, then the URL is refused with a reason
    with pytest.raises(StreamUrlRefused) as excinfo:
        validate_stream_url(url, policy=DEFAULT)
    assert str(excinfo.value)


def test_a_name_resolving_to_loopback_is_refused() -> None:
    # given a DNS name whose only address is 127.0.0.1
    resolver = fake_dns({"sneaky.example.com": ["127.0.0.1"]})
    # then it is refused like the address itself
    with pytest.raises(StreamUrlRefused, match="loopback"):
        validate_stream_url("rtsp://sneaky.example.com/live", policy=DEFAULT, resolver=resolver)


def test_a_name_with_one_bad_address_among_good_ones_is_refused() -> None:
    resolver = fake_dns({"mixed.example.com": ["93.184.215.14", "169.254.169.254"]})
    with pytest.raises(StreamUrlRefused, match="metadata"):
        validate_stream_url("rtsp://mixed.example.com/", policy=DEFAULT, resolver=resolver)


@pytest.mark.parametrize(
    "url",
    [
        "rtsp://192.168.1.20:554/Streaming/Channels/101",  # a private camera, allowed by default
        "rtsps://10.1.2.3/live",
        "http://172.16.0.9/mjpg/video.mjpg",
        "https://93.184.215.14/stream",
    ],
)
def test_valid_camera_urls_are_accepted(url: str) -> None:
    assert validate_stream_url(url, policy=DEFAULT) == url


def test_a_public_name_is_accepted() -> None:
    resolver = fake_dns({"cam.example.com": ["93.184.215.14"]})
    url = "rtsp://cam.example.com:8554/live"
    assert validate_stream_url(url, policy=DEFAULT, resolver=resolver) == url


def test_private_ranges_are_refused_when_the_policy_says_so() -> None:
    with pytest.raises(StreamUrlRefused, match="private"):
        validate_stream_url("rtsp://192.168.1.20/", policy=UrlPolicy(allow_private=False))


def test_loopback_is_allowed_only_when_the_deployment_allows_it() -> None:
    policy = UrlPolicy(allow_loopback=True)
    assert validate_stream_url("http://127.0.0.1:8554/video.mjpg", policy=policy)
    with pytest.raises(StreamUrlRefused, match="metadata"):
        validate_stream_url("rtsp://169.254.169.254/", policy=policy)
