"""Camera stream URLs are untrusted input: schemes, shapes and resolved addresses are checked.

A URL is refused when:
- its scheme is not rtsp, rtsps, http or https (this rules out file paths, ``file:``, FFmpeg
  pseudo-protocols such as ``concat:``, ``subfile:``, ``data:``, ``pipe:``, and ``gopher:``);
- it carries credentials in its userinfo (they belong in the camera's encrypted username and
  password fields; query-string credentials are split off by :mod:`cameras.url_secrets`),
  control characters, an image-sequence pattern such as ``img_%03d.jpg``, or names an HLS or
  DASH playlist (whose segments could point anywhere);
- any address its host resolves to is loopback, link-local, unspecified, multicast, reserved,
  a cloud metadata address or an IPv6 transition form (NAT64 ``64:ff9b::/96`` and
  ``64:ff9b:1::/48``, 6to4 ``2002::/16``, Teredo ``2001::/32``, IPv4-mapped, -compatible and
  -translated forms, judged by the IPv4 address they carry or refused outright); private ranges
  are refused unless the policy allows them.

Numeric hosts such as ``2852039166`` or ``0xa9fea9fe`` are resolved like every other host, so
they are judged by the address they really reach.

:func:`check_stream_url` resolves the name ONCE and returns the checked address: whoever
connects (:mod:`cameras.streams`) connects to that address and never lets FFmpeg resolve the
name again, so a DNS answer that changes between check and connect (DNS rebinding) cannot
reach an address the policy refuses.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

from cameras.constants import ALLOWED_STREAM_SCHEMES

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Iterable[str]]

DEFAULT_PORTS = {"rtsp": 554, "rtsps": 322, "http": 80, "https": 443}
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in ("169.254.169.254", "169.254.170.2", "169.254.170.23", "100.100.100.200",
              "168.63.129.16", "fd00:ec2::254")
)
_PRIVATE_NETWORKS = tuple(ipaddress.ip_network(n) for n in (
    "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7"))
# IPv6 forms that carry or translate to an IPv4 address: refused outright, because what they
# reach depends on gateways this process does not see (a NAT64 prefix reaches 169.254.169.254
# as 64:ff9b::a9fe:a9fe).
_TRANSITION_NETWORKS = tuple(ipaddress.ip_network(n) for n in (
    "64:ff9b::/96",  # NAT64 well-known prefix
    "64:ff9b:1::/48",  # NAT64 local-use prefix
    "2002::/16",  # 6to4
    "2001::/32",  # Teredo
    "::ffff:0:0:0/96",  # IPv4-translated (SIIT)
))
# Special-purpose ranges (IANA registries), refused whatever Python's is_global says of them.
_RESERVED_NETWORKS = tuple(ipaddress.ip_network(n) for n in (
    "0.0.0.0/8", "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "198.18.0.0/15",
    "198.51.100.0/24", "203.0.113.0/24", "240.0.0.0/4", "100::/64", "2001::/23",
    "2001:db8::/32", "3fff::/20", "5f00::/16",
))
_PLAYLIST_SUFFIXES = (".m3u8", ".m3u", ".mpd")
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


@dataclass(frozen=True)
class CheckedUrl:
    """A URL that passed the policy, with the one address it may be connected to.

    ``address`` is what the host resolved to when it was checked; connecting anywhere else
    (a second resolution, a redirect) is not covered by the check.
    """

    url: str
    scheme: str
    host: str
    port: int
    address: IPAddress

    @property
    def host_is_address(self) -> bool:
        """True when the URL names its host by address (no name to keep for Host or SNI)."""
        try:
            ipaddress.ip_address(self.host)
        except ValueError:
            return False
        return True


def system_resolver(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as exc:
        raise StreamUrlRefused(f"The host '{host}' cannot be resolved: check its name.") from exc
    return [str(info[4][0]) for info in infos]


def configured_resolver() -> Resolver:
    """The resolver named by ``CAMERA_URL_RESOLVER`` (the system's by default; tests name a
    resolver whose answers they control, e.g. one that rebinds)."""
    from django.conf import settings
    from django.utils.module_loading import import_string

    path = getattr(settings, "CAMERA_URL_RESOLVER", "cameras.url_policy.system_resolver")
    resolver: Resolver = import_string(path)
    return resolver


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address of an IPv4-mapped (``::ffff:a.b.c.d``) or IPv4-compatible
    (``::a.b.c.d``) IPv6 address."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if int(address) >> 32 == 0 and int(address) > 1:  # ::a.b.c.d, not :: or ::1
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def address_problem(address: IPAddress, policy: UrlPolicy) -> str | None:
    """Why ``address`` may not be used by a camera, or None when it may."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            address = embedded
        elif any(address in net for net in _TRANSITION_NETWORKS):
            return "an IPv6 transition address (NAT64, 6to4 or Teredo)"
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
    if any(address in net for net in _PRIVATE_NETWORKS if net.version == address.version):
        return None if policy.allow_private else "a private address"
    if (address.is_reserved or not address.is_global
            or any(address in net for net in _RESERVED_NETWORKS if net.version == address.version)):
        return "a reserved address"
    return None


def _parse(url: str) -> tuple[SplitResult, str, str, int]:
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
    if parts.path.lower().endswith(_PLAYLIST_SUFFIXES):
        raise StreamUrlRefused(
            "HLS and DASH playlists (.m3u8, .mpd) are not accepted: their segments can point "
            "anywhere. Use the camera's RTSP or MJPEG stream.")
    host = parts.hostname
    if not host:
        raise StreamUrlRefused("The URL has no host name.")
    try:
        port = parts.port or DEFAULT_PORTS[scheme]
    except ValueError as exc:
        raise StreamUrlRefused("The port is not a number between 1 and 65535.") from exc
    return parts, scheme, host, port


def check_stream_url(url: str, *, policy: UrlPolicy | None = None,
                     resolver: Resolver | None = None) -> CheckedUrl:
    """Check ``url`` and resolve its host once; every resolved address must pass the policy.

    Returns the first resolved address as the one to connect to; raises
    :class:`StreamUrlRefused` with a reason the user can act on.
    """
    policy = policy or UrlPolicy.from_settings()
    resolver = resolver or configured_resolver()
    _parts, scheme, host, port = _parse(url)
    raw_addresses = list(resolver(host, port))
    if not raw_addresses:
        raise StreamUrlRefused(f"The host '{host}' resolves to no address.")
    addresses = []
    for raw in raw_addresses:
        try:
            address = ipaddress.ip_address(str(raw).split("%")[0])
        except ValueError as exc:
            raise StreamUrlRefused(f"The host '{host}' resolves to no usable address.") from exc
        problem = address_problem(address, policy)
        if problem is not None:
            raise StreamUrlRefused(
                f"The host '{host}' resolves to {problem}, which cameras may not use."
                + (" Private networks are disabled on this deployment."
                   if problem == "a private address" else "")
            )
        addresses.append(address)
    return CheckedUrl(url=url, scheme=scheme, host=host, port=port, address=addresses[0])


def validate_stream_url(url: str, *, policy: UrlPolicy | None = None,
                        resolver: Resolver | None = None) -> str:
    """Return the URL if it may be used as a camera stream, else raise ``StreamUrlRefused``."""
    check_stream_url(url, policy=policy, resolver=resolver)
    return url
