"""The client's IP address: ``X-Forwarded-For`` is believed only from a trusted proxy.

``TRUSTED_PROXIES`` lists the addresses or networks of the deployment's own reverse proxies.
A request whose peer (``REMOTE_ADDR``) is not one of them is taken at its peer address, so a
client cannot choose its address by sending the header itself. Behind trusted proxies, the
header is read from the right (each proxy appends the address it received the request from)
and the first address that is not a trusted proxy is the client. Without this, every user
behind a proxy shares the proxy's address: one person's failed logins lock everybody out and
audit events all show the proxy.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from typing import Any

from django.conf import settings

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=4)
def _networks(entries: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(entry.strip(), strict=False) for entry in entries if entry)


def _parse(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # "[2001:db8::1]:443"
        text = text[1:text.index("]")]
    elif text.count(":") == 1:  # "203.0.113.9:51000"
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def _trusted(address: ipaddress.IPv4Address | ipaddress.IPv6Address,
             networks: tuple[Network, ...]) -> bool:
    return any(address.version == net.version and address in net for net in networks)


def client_ip(request: Any) -> str | None:
    """The address of the client that made ``request`` (see the module's docstring)."""
    meta = getattr(request, "META", {})
    remote = _parse(meta.get("REMOTE_ADDR") or "")
    if remote is None:
        return None
    networks = _networks(tuple(getattr(settings, "TRUSTED_PROXIES", ()) or ()))
    if not networks or not _trusted(remote, networks):
        return str(remote)
    client = remote
    for hop in reversed(meta.get("HTTP_X_FORWARDED_FOR", "").split(",")):
        address = _parse(hop)
        if address is None:
            break  # garbage before the trusted chain: stay with the last proxy's word
        client = address
        if not _trusted(address, networks):
            break
    return str(client)
