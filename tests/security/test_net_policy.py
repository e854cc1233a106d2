"""The address policy judges what an address really reaches: IPv6 forms that carry or
translate to IPv4 (NAT64, 6to4, Teredo, mapped, compatible, translated), reserved ranges, and
playlists whose segments could point anywhere."""

from __future__ import annotations

import ipaddress

import pytest

from cameras.streams import FFMPEG_FORMAT_WHITELIST, FFMPEG_PROTOCOL_WHITELIST
from cameras.url_policy import StreamUrlRefused, UrlPolicy, address_problem, check_stream_url

DEFAULT = UrlPolicy(allow_private=True, allow_loopback=False)
STRICT = UrlPolicy(allow_private=False, allow_loopback=False)


@pytest.mark.parametrize(
    ("address", "problem"),
    [
        ("64:ff9b::a9fe:a9fe", "transition"),  # NAT64 well-known prefix + metadata address
        ("64:ff9b::7f00:1", "transition"),  # NAT64 + loopback
        ("64:ff9b:1::a9fe:a9fe", "transition"),  # NAT64 local-use prefix (/48)
        ("2002:a9fe:a9fe::1", "transition"),  # 6to4 of the metadata address
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "transition"),  # Teredo
        ("::ffff:0:a9fe:a9fe", "transition"),  # IPv4-translated (SIIT)
        ("::ffff:169.254.169.254", "metadata"),  # IPv4-mapped metadata
        ("::169.254.169.254", "metadata"),  # IPv4-compatible metadata
        ("::127.0.0.1", "loopback"),  # IPv4-compatible loopback
        ("fd00:ec2::254", "metadata"),  # AWS metadata over IPv6
        ("168.63.129.16", "metadata"),  # Azure wire server
        ("198.18.0.1", "reserved"),  # benchmarking range
        ("192.0.0.8", "reserved"),  # IETF protocol assignments
        ("192.0.2.10", "reserved"),  # documentation
        ("2001:db8::1", "reserved"),  # documentation (IPv6)
        ("240.0.0.1", "reserved"),  # class E
        ("255.255.255.255", "reserved"),  # broadcast
        ("fe80::1", "link-local"),
        ("ff02::1", "multicast"),
        ("::", "unspecified"),
    ],
)
def test_forbidden_addresses_whatever_their_form(address: str, problem: str) -> None:
    # given an address in one of the forms that reach a forbidden one
    # then the policy refuses it, even where private networks are allowed
    reason = address_problem(ipaddress.ip_address(address), DEFAULT)
    assert reason is not None and problem in reason


@pytest.mark.parametrize(
    ("address", "allowed_by_default", "allowed_strict"),
    [
        ("93.184.215.14", True, True),  # public IPv4
        ("2606:2800:220:1:248:1893:25c8:1946", True, True),  # public IPv6
        ("10.1.2.3", True, False),  # RFC 1918
        ("100.64.0.7", True, False),  # carrier-grade NAT
        ("fd12:3456::1", True, False),  # unique local IPv6
        ("::ffff:10.1.2.3", True, False),  # mapped private follows the private rule
    ],
)
def test_allowed_addresses(address: str, allowed_by_default: bool, allowed_strict: bool) -> None:
    ip = ipaddress.ip_address(address)
    assert (address_problem(ip, DEFAULT) is None) is allowed_by_default
    assert (address_problem(ip, STRICT) is None) is allowed_strict


@pytest.mark.parametrize("url", [
    "https://cam.example.com/live/index.m3u8",  # HLS
    "http://cam.example.com/live/stream.M3U8",  # HLS, upper case
    "https://cam.example.com/manifest.mpd",  # DASH
])
def test_playlists_are_refused(url: str) -> None:
    with pytest.raises(StreamUrlRefused, match="playlists"):
        check_stream_url(url, policy=DEFAULT, resolver=lambda host, port: ["93.184.215.14"])


def test_a_name_is_resolved_once_and_its_first_address_is_the_one_to_connect() -> None:
    calls: list[str] = []

    def resolve(host: str, port: int) -> list[str]:
        calls.append(host)
        return ["93.184.215.14", "93.184.215.15"]

    checked = check_stream_url("rtsp://cam.example.com:8554/s", policy=DEFAULT, resolver=resolve)
    assert (calls, str(checked.address), checked.host, checked.port) == (
        ["cam.example.com"], "93.184.215.14", "cam.example.com", 8554)


def test_the_whitelists_have_no_local_reads_and_no_playlists() -> None:
    protocols = set(FFMPEG_PROTOCOL_WHITELIST.split(","))
    formats = set(FFMPEG_FORMAT_WHITELIST.split(","))
    assert not protocols & {"file", "crypto", "pipe", "concat", "subfile", "data", "fd", "cache"}
    assert not formats & {"hls", "dash", "concat", "image2", "mov", "sdp", "tee"}
