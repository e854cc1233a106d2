"""Camera stream URLs are untrusted input: schemes, shapes and resolved addresses are checked.

A URL is refused when:
- its scheme is not rtsp, rtsps, http or https (this rules out file paths, ``file:``, FFmpeg
  pseudo-protocols such as ``concat:``, ``subfile:``, ``data:``, ``pipe:``, and ``gopher:``);
- it carries credentials (they belong in the camera's encrypted username/password fields),
  control characters, or an image-sequence pattern such as ``img_%03d.jpg``;
- any address its host resolves to is loopback, link-local, unspecified, multicast, reserved or a
  cloud metadata address; private ranges are refused unless the policy allows them.
Numeric hosts such as ``2852039166`` or ``0xa9fea9fe`` are resolved like every other host, so
they are judged by the address they really reach.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from cameras.constants import ALLOWED_STREAM_SCHEMES

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Iterable[str]]

METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in ("169.254.169.254", "169.254.170.2", "100.100.100.200", "fd00:ec2::254")
)
_SEQUENCE_PATTERN = re.compile(r"%0?\d*d")
_CONTROL = re.compile(r"[\x00-\x20\x7f]")


class StreamUrlRefused(ValueError):
    """The URL may not be used as a camera stream; the message says why and what to do."""


@dataclass(frozen=True)
class UrlPolicy:
    """Which address ranges a deployment accepts for camera hosts."""

    allow_private: bool = True
    allow_loopback: bool = False

    @classmethod
    def from_settings(cls) -> UrlPolicy:
        from django.conf import settings

        return cls(allow_private=settings.CAMERA_URL_ALLOW_PRIVATE,
                   allow_loopback=settings.CAMERA_URL_ALLOW_LOOPBACK)


def system_resolver(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as exc:
        raise StreamUrlRefused(f"The host '{host}' cannot be resolved: check its name.") from exc
    return [str(info[4][0]) for info in infos]


def _address_problem(address: IPAddress, policy: UrlPolicy) -> str | None:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address in METADATA_ADDRESSES:
        return "a cloud metadata address"
    if address.is_unspecified:
        return "an unspecified address"
    if address.is_loopback:
        return None if policy.allow_loopback else "a loopback address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_multicast:
        return "a multicast address"
    if address.is_private or address.is_reserved or (
        isinstance(address, ipaddress.IPv4Address) and address in ipaddress.ip_network(
            "100.64.0.0/10")
    ):
        return None if policy.allow_private else "a private address"
    return None


def validate_stream_url(url: str, *, policy: UrlPolicy | None = None,
                        resolver: Resolver = system_resolver) -> str:
    """Return the URL if it may be used as a camera stream, else raise ``StreamUrlRefused``."""
    policy = policy or UrlPolicy.from_settings()
    if not isinstance(url, str) or not url:
        raise StreamUrlRefused("Enter a stream URL such as rtsp://camera.example.com/stream1.")
    if len(url) > 2000:
        raise StreamUrlRefused("The URL is longer than 2000 characters.")
    if _CONTROL.search(url):
        raise StreamUrlRefused("The URL contains spaces or control characters.")
    if "://" not in url:
        raise StreamUrlRefused(
            "Only rtsp://, rtsps://, http:// and https:// URLs are accepted; file paths and "
            "FFmpeg protocols (concat:, subfile:, data:, pipe:) are not."
        )
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ALLOWED_STREAM_SCHEMES:
        raise StreamUrlRefused(
            f"The scheme '{scheme}:' is not accepted; use rtsp, rtsps, http or https."
        )
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise StreamUrlRefused(
            "Do not put credentials in the URL: enter them in the camera's username and "
            "password fields, which are stored encrypted."
        )
    if _SEQUENCE_PATTERN.search(url):
        raise StreamUrlRefused("Image-sequence patterns such as %03d are not accepted.")
    host = parts.hostname
    if not host:
        raise StreamUrlRefused("The URL has no host name.")
    try:
        port = parts.port or {"rtsp": 554, "rtsps": 322, "http": 80, "https": 443}[scheme]
    except ValueError as exc:
        raise StreamUrlRefused("The port is not a number between 1 and 65535.") from exc
    addresses = list(resolver(host, port))
    if not addresses:
        raise StreamUrlRefused(f"The host '{host}' resolves to no address.")
    for raw in addresses:
        address = ipaddress.ip_address(raw.split("%")[0])
        problem = _address_problem(address, policy)
        if problem is not None:
            raise StreamUrlRefused(
                f"The host '{host}' resolves to {address}, {problem}, which cameras may not use."
                + (" Private networks are disabled on this deployment."
                   if problem == "a private address" else "")
            )
    return url
