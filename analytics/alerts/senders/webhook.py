"""Webhooks: JSON signed with HMAC-SHA256 per endpoint, to URLs that pass the address policy.

Headers of every call::

    X-Alert-Delivery:   the delivery id (the same on every retry: drop repeats by it)
    X-Alert-Timestamp:  Unix seconds when this attempt was signed
    X-Alert-Signature:  sha256=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>

A receiver recomputes the signature over the raw body, compares it in constant time and
refuses timestamps older than a few minutes (replays). docs/alerts.md shows the code.

Where the call goes: the URL is checked against the address policy when it is sent (not only
when it was saved), its host resolved ONCE, and the connection is made to that checked
address (urllib3, the HTTP library under requests, with the URL's name kept for the Host
header and for TLS: SNI and certificate check). A name that resolves elsewhere by the time of
the call (DNS rebinding) is refused or never asked again, and redirects are not followed: a
3xx answer is a failed delivery. Loopback only with ``ALERTS_WEBHOOK_ALLOW_LOOPBACK`` (tests).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from urllib.parse import urlsplit

import certifi
import urllib3
from django.conf import settings

from analytics.alerts.senders.base import Message, SendOutcome
from cameras.url_policy import CheckedUrl, StreamUrlRefused, UrlPolicy, check_stream_url

WEBHOOK_SCHEMES = ("http", "https")


class WebhookUrlRefused(ValueError):
    """The URL may not receive webhooks; the message says why."""


def webhook_policy() -> UrlPolicy:
    return UrlPolicy(allow_private=settings.CAMERA_URL_ALLOW_PRIVATE,
                     allow_loopback=settings.ALERTS_WEBHOOK_ALLOW_LOOPBACK)


def webhook_url_checked(url: str) -> CheckedUrl:
    """The URL with the one address it may be connected to (http/https, camera address
    policy, the host resolved once), else raise :class:`WebhookUrlRefused`."""
    scheme = urlsplit(url or "").scheme.lower()
    if scheme not in WEBHOOK_SCHEMES:
        raise WebhookUrlRefused("A webhook URL must start with https:// (or http://).")
    try:
        return check_stream_url(url, policy=webhook_policy())
    except StreamUrlRefused as exc:
        raise WebhookUrlRefused(str(exc).replace("which cameras may not use",
                                                 "which webhooks may not use")) from exc


def webhook_url_check(url: str) -> str:
    """The URL if it may receive webhooks (http/https, camera address policy), else raise."""
    webhook_url_checked(url)
    return url


def _post_to_checked_address(checked: CheckedUrl, body: bytes, headers: dict[str, str],
                             timeout_s: float) -> urllib3.BaseHTTPResponse:
    """POST to ``checked.address`` only: no second resolution, no redirect, no retry."""
    parts = urlsplit(checked.url)
    default_port = 443 if checked.scheme == "https" else 80
    host = f"[{checked.host}]" if ":" in checked.host else checked.host
    headers = {**headers, "Host": host if checked.port == default_port
               else f"{host}:{checked.port}"}
    if parts.username is not None:  # user:password@ in the URL, as requests sent it
        headers.update(urllib3.make_headers(
            basic_auth=f"{parts.username}:{parts.password or ''}"))
    options: dict[str, object] = {"timeout": urllib3.Timeout(total=timeout_s),
                                  "retries": False, "maxsize": 1, "block": False}
    pool: urllib3.HTTPConnectionPool
    if checked.scheme == "https":
        pool = urllib3.HTTPSConnectionPool(
            str(checked.address), checked.port, cert_reqs="CERT_REQUIRED",
            ca_certs=certifi.where(),
            server_hostname=None if checked.host_is_address else checked.host,
            assert_hostname=checked.host, **options)  # type: ignore[arg-type]
    else:
        pool = urllib3.HTTPConnectionPool(str(checked.address), checked.port,
                                          **options)  # type: ignore[arg-type]
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        return pool.urlopen("POST", path, body=body, headers=headers, redirect=False,
                            retries=False, assert_same_host=False, preload_content=True)
    finally:
        pool.close()


def webhook_signature(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=`` + hex HMAC-SHA256 of ``<timestamp>.<body>`` with the endpoint's secret."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def webhook_body(message: Message) -> bytes:
    payload = {"delivery_id": message.delivery_id, "tenant": message.tenant_name,
               "portal_url": message.portal_url, "digest": message.digest,
               "events": [item.as_json() for item in message.items]}
    return json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()


def webhook_send(message: Message, *, url: str, secret: str) -> SendOutcome:
    """POST the signed JSON; 2xx is success, anything else (or no answer) is retried."""
    try:
        checked = webhook_url_checked(url)
    except WebhookUrlRefused as exc:
        return SendOutcome(ok=False, retry=False, error=str(exc)[:1000])
    body = webhook_body(message)
    timestamp = str(int(time.time()))
    headers = {"Content-Type": "application/json", "User-Agent": "peoplecount-alerts/1",
               "X-Alert-Delivery": str(message.delivery_id), "X-Alert-Timestamp": timestamp,
               "X-Alert-Signature": webhook_signature(secret, timestamp, body)}
    try:
        response = _post_to_checked_address(checked, body, headers,
                                             settings.ALERTS_WEBHOOK_TIMEOUT_S)
    except urllib3.exceptions.HTTPError as exc:
        return SendOutcome(ok=False, error=f"{type(exc).__name__}: {exc}"[:1000])
    status = response.status
    if 200 <= status < 300:
        return SendOutcome(ok=True, status_code=status)
    text = response.data[:300].decode("utf-8", "replace")
    if 300 <= status < 400:
        text = (f"the receiver redirects to {response.headers.get('Location', '?')[:200]}; "
                "redirects are not followed: set the webhook's URL to the final address")
    return SendOutcome(ok=False, status_code=status, error=f"HTTP {status}: {text}")
