"""The one place that turns a camera into a stream something can open.

A camera's stream URL is untrusted input and its credentials are stored encrypted. Before any
process connects (the stream runner, the snapshot endpoint), this module

1. checks the URL against the address policy (:mod:`cameras.url_policy`) *now*, because the
   host may resolve elsewhere than when the URL was saved;
2. inserts the decrypted credentials into the URL, in memory only;
3. attaches the FFmpeg options every open must use, above all ONE protocol whitelist: network
   protocols a camera needs (rtsp, rtsps, http, https and what they run on: tcp, udp, tls,
   rtp, crypto for HLS keys, httpproxy for deployments behind a proxy). ``file``, ``pipe``,
   ``concat``, ``subfile``, ``data`` and every other protocol are absent, so neither the URL
   nor anything the stream points to (an HLS playlist, an RTSP redirect) can make FFmpeg read
   local files.

The result, :class:`StreamTarget`, is plain data (a URL and a dict of options): the pipeline
receives it without importing Django or this project, and hands the options to FFmpeg for that
one open (PyAV's ``av.open(url, options=...)``); no process-wide environment variable is set.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING
from urllib.parse import quote, urlsplit

from cameras.url_policy import Resolver, UrlPolicy, system_resolver, validate_stream_url

if TYPE_CHECKING:
    from cameras.models import Camera

# The only protocols FFmpeg may use for a camera stream (it refuses every other one, including
# nested opens such as the segments of an HLS playlist).
FFMPEG_PROTOCOL_WHITELIST = "rtsp,rtsps,http,https,tcp,udp,tls,rtp,crypto,httpproxy"


def stream_ffmpeg_options(url: str) -> dict[str, str]:
    """The FFmpeg options of one open of ``url``: the protocol whitelist, RTSP over TCP (UDP
    loses packets on busy networks and does not cross NAT) and no input buffering (the newest
    frame matters, not a smooth playback)."""
    options = {"protocol_whitelist": FFMPEG_PROTOCOL_WHITELIST, "fflags": "nobuffer"}
    if urlsplit(url).scheme.lower() in ("rtsp", "rtsps"):
        options["rtsp_transport"] = "tcp"
    return options


def redact_url(url: str) -> str:
    """The URL without its credentials, for logs and error messages."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    return parts._replace(netloc="***@" + parts.netloc.rpartition("@")[2]).geturl()


@dataclass(frozen=True)
class StreamTarget:
    """What to open: the URL with credentials (never shown in ``repr``) and the FFmpeg options
    of the open."""

    url: str = field(repr=False)
    options: Mapping[str, str]

    @property
    def redacted_url(self) -> str:
        return redact_url(self.url)

    def __repr__(self) -> str:
        return f"StreamTarget(url={self.redacted_url!r}, options={dict(self.options)!r})"


def stream_url_with_credentials(*, url: str, username: str, password: str) -> str:
    """``url`` with ``username``/``password`` percent-encoded into it (IPv6 hosts and ports
    kept); the URL itself as stored never holds credentials (the policy refuses them)."""
    if not username:
        return url
    parts = urlsplit(url)
    userinfo = quote(username, safe="")
    if password:
        userinfo += ":" + quote(password, safe="")
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    if parts.port:
        host += f":{parts.port}"
    return parts._replace(netloc=f"{userinfo}@{host}").geturl()


def stream_target(*, url: str, username: str = "", password: str = "",
                  policy: UrlPolicy | None = None,
                  resolver: Resolver = system_resolver) -> StreamTarget:
    """Check ``url`` against the address policy and describe how to open it; raises
    :class:`cameras.url_policy.StreamUrlRefused` with the reason when it may not be opened."""
    validate_stream_url(url, policy=policy, resolver=resolver)
    return StreamTarget(
        url=stream_url_with_credentials(url=url, username=username, password=password),
        options=MappingProxyType(stream_ffmpeg_options(url)))


def camera_stream_target(*, camera: Camera, policy: UrlPolicy | None = None,
                         resolver: Resolver = system_resolver) -> StreamTarget:
    """The camera's stream, checked and with its decrypted credentials (see
    :func:`stream_target`)."""
    return stream_target(url=camera.stream_url, username=camera.username,
                         password=camera.password if camera.has_password else "",
                         policy=policy, resolver=resolver)
