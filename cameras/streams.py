"""The one place that turns a camera into a stream something can open.

A camera's stream URL is untrusted input and its credentials are stored encrypted. Before any
process connects (the stream runner on every open and reopen, the snapshot endpoint), this
module

1. checks the URL against the address policy (:mod:`cameras.url_policy`) *now*, resolving its
   host once: the host may resolve elsewhere than when the URL was saved (DNS rebinding);
2. puts the checked address into the URL FFmpeg receives, so FFmpeg never resolves the name
   again; the name is kept where the protocol carries it: the HTTP ``Host`` header and, for
   https, the TLS server name (``verifyhost``). (RTSP has no Host header; rtsps gets the
   address as its TLS server name.)
3. inserts the decrypted credentials (userinfo and query-string secrets,
   :mod:`cameras.url_secrets`) into that URL, in memory only;
4. attaches the FFmpeg options every open must use:

   * ONE protocol whitelist of the network protocols a camera needs (rtsp, rtsps, http, https
     and what they run on: tcp, udp, tls, rtp, httpproxy for deployments behind a proxy).
     ``file``, ``crypto``, ``pipe``, ``concat``, ``subfile``, ``data`` and every other
     protocol are absent;
   * ONE demuxer whitelist (:data:`FFMPEG_FORMAT_WHITELIST`): RTSP, MJPEG, single JPEG/PNG,
     raw H.264/H.265, MPEG-TS, FLV, Matroska. HLS and DASH playlists are refused, since their
     segments name hosts of their own that nobody checked;
   * ``max_redirects=0`` for HTTP: a redirect (to loopback, to the metadata address) is an
     error, not a second connection. FFmpeg's RTSP client follows RTSP 3xx redirects and has no
     option to refuse them: see ``docs/security.md``.

The result, :class:`StreamTarget`, is plain data (a URL and a dict of options): the pipeline
receives it without importing Django or this project, and hands the options to FFmpeg for that
one open (PyAV's ``av.open(url, options=...)``); no process-wide environment variable is set.

Failures at connect time are told to users with one message, :data:`STREAM_UNAVAILABLE`,
whatever the cause (refused by the policy, unreachable, silent, not a video): a status reason
or a snapshot answer must not tell a tenant what an address or port inside the deployment's
network does. The detailed cause goes to the operator's log.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING
from urllib.parse import quote, urlsplit

from cameras.url_policy import (
    CheckedUrl,
    IPAddress,
    Resolver,
    StreamUrlRefused,
    UrlPolicy,
    check_stream_url,
)
from cameras.url_secrets import Secrets, join_url_secrets, redact_url_secrets

if TYPE_CHECKING:
    from cameras.models import Camera

# The only protocols FFmpeg may use for a camera stream (it refuses every other one, including
# nested opens such as the segments of a playlist).
FFMPEG_PROTOCOL_WHITELIST = "rtsp,rtsps,http,https,tcp,udp,tls,rtp,httpproxy"
# The only demuxers FFmpeg may pick for a camera stream (no hls, dash, concat, image2, mov).
FFMPEG_FORMAT_WHITELIST = "rtsp,mpjpeg,mjpeg,jpeg_pipe,png_pipe,h264,hevc,mpegts,flv,matroska"

STREAM_UNAVAILABLE = (
    "The camera could not be reached, did not answer in time or sent no usable video: check "
    "its URL, network and credentials, and that its address is allowed on this deployment."
)


class StreamUnavailable(StreamUrlRefused):
    """A stream may not be opened now. ``str()`` is the one message users see
    (:data:`STREAM_UNAVAILABLE`); ``detail`` is the cause, for the operator's log only."""

    def __init__(self, detail: str) -> None:
        super().__init__(STREAM_UNAVAILABLE)
        self.detail = detail


def _hostport(host: str, port: int | None) -> str:
    text = f"[{host}]" if ":" in host else host
    return f"{text}:{port}" if port else text


def stream_ffmpeg_options(url: str, *, host_header: str | None = None,
                          tls_server_name: str | None = None) -> dict[str, str]:
    """The FFmpeg options of one open of ``url``: the protocol and demuxer whitelists, RTSP
    over TCP (UDP loses packets on busy networks and does not cross NAT), no HTTP redirects,
    no input buffering (the newest frame matters, not a smooth playback), and the name of the
    host when the URL carries its address instead."""
    options = {"protocol_whitelist": FFMPEG_PROTOCOL_WHITELIST,
               "format_whitelist": FFMPEG_FORMAT_WHITELIST, "fflags": "nobuffer"}
    scheme = urlsplit(url).scheme.lower()
    if scheme in ("rtsp", "rtsps"):
        options["rtsp_transport"] = "tcp"
    else:
        options["max_redirects"] = "0"
        if host_header:
            options["headers"] = f"Host: {host_header}\r\n"
        if scheme == "https" and tls_server_name:
            options["verifyhost"] = tls_server_name
    return options


def redact_url(url: str) -> str:
    """The URL without its credentials (userinfo and query-string secrets), for logs and
    error messages."""
    parts = urlsplit(url)
    if parts.username is not None or parts.password is not None:
        url = parts._replace(netloc="***@" + parts.netloc.rpartition("@")[2]).geturl()
    return redact_url_secrets(url)


@dataclass(frozen=True)
class StreamTarget:
    """What to open: the URL with the checked address and the credentials (never shown in
    ``repr``), the FFmpeg options of the open, and the URL as the user wrote it (without
    credentials) for messages."""

    url: str = field(repr=False)
    options: Mapping[str, str]
    display_url: str = ""

    @property
    def redacted_url(self) -> str:
        return redact_url(self.url)

    def __repr__(self) -> str:
        return (f"StreamTarget(url={self.redacted_url!r}, display_url={self.display_url!r}, "
                f"options={dict(self.options)!r})")


def stream_url_with_credentials(*, url: str, username: str, password: str) -> str:
    """``url`` with ``username``/``password`` percent-encoded into it (IPv6 hosts and ports
    kept); the URL itself as stored never holds credentials (the policy refuses them)."""
    if not username:
        return url
    parts = urlsplit(url)
    userinfo = quote(username, safe="")
    if password:
        userinfo += ":" + quote(password, safe="")
    return parts._replace(
        netloc=f"{userinfo}@{_hostport(parts.hostname or '', parts.port)}").geturl()


def url_with_address(url: str, address: IPAddress) -> str:
    """``url`` with its host replaced by ``address`` (port, path and query kept)."""
    parts = urlsplit(url)
    return parts._replace(netloc=_hostport(str(address), parts.port)).geturl()


def _connect_target(checked: CheckedUrl, *, url_secrets: Secrets, username: str,
                    password: str) -> StreamTarget:
    url = url_with_address(join_url_secrets(checked.url, url_secrets), checked.address)
    url = stream_url_with_credentials(url=url, username=username, password=password)
    by_name = not checked.host_is_address
    parts = urlsplit(checked.url)
    options = stream_ffmpeg_options(
        checked.url,
        host_header=_hostport(checked.host, parts.port) if by_name else None,
        tls_server_name=checked.host if by_name else None)
    return StreamTarget(url=url, options=MappingProxyType(options),
                        display_url=redact_url(checked.url))


def stream_target(*, url: str, username: str = "", password: str = "",
                  url_secrets: Secrets | None = None, policy: UrlPolicy | None = None,
                  resolver: Resolver | None = None) -> StreamTarget:
    """Check ``url`` against the address policy (resolving its host once) and describe how to
    open it at the checked address; raises :class:`cameras.url_policy.StreamUrlRefused` with
    the reason when it may not be opened."""
    checked = check_stream_url(url, policy=policy, resolver=resolver)
    return _connect_target(checked, url_secrets=url_secrets or [], username=username,
                           password=password)


def camera_stream_target(*, camera: Camera, policy: UrlPolicy | None = None,
                         resolver: Resolver | None = None) -> StreamTarget:
    """The camera's stream, checked now and with its decrypted credentials (see
    :func:`stream_target`). A refusal raises :class:`StreamUnavailable`, whose message does
    not say why (the cause is in ``detail``)."""
    try:
        return stream_target(url=camera.stream_url, username=camera.username,
                             password=camera.password if camera.has_password else "",
                             url_secrets=camera.url_secrets, policy=policy, resolver=resolver)
    except StreamUrlRefused as exc:
        raise StreamUnavailable(f"{redact_url(camera.stream_url)}: {exc}") from exc
