"""Webhooks: JSON signed with HMAC-SHA256 per endpoint, to URLs that pass the address policy.

Headers of every call::

    X-Alert-Delivery:   the delivery id (the same on every retry: drop repeats by it)
    X-Alert-Timestamp:  Unix seconds when this attempt was signed
    X-Alert-Signature:  sha256=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>

A receiver recomputes the signature over the raw body, compares it in constant time and
refuses timestamps older than a few minutes (replays). docs/alerts.md shows the code.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from urllib.parse import urlsplit

import requests
from django.conf import settings

from analytics.alerts.senders.base import Message, SendOutcome
from cameras.url_policy import StreamUrlRefused, UrlPolicy, validate_stream_url

WEBHOOK_SCHEMES = ("http", "https")


class WebhookUrlRefused(ValueError):
    """The URL may not receive webhooks; the message says why."""


def webhook_policy() -> UrlPolicy:
    return UrlPolicy(allow_private=settings.CAMERA_URL_ALLOW_PRIVATE,
                     allow_loopback=settings.ALERTS_WEBHOOK_ALLOW_LOOPBACK)


def webhook_url_check(url: str) -> str:
    """The URL if it may receive webhooks (http/https, camera address policy), else raise."""
    scheme = urlsplit(url or "").scheme.lower()
    if scheme not in WEBHOOK_SCHEMES:
        raise WebhookUrlRefused("A webhook URL must start with https:// (or http://).")
    try:
        return validate_stream_url(url, policy=webhook_policy())
    except StreamUrlRefused as exc:
        raise WebhookUrlRefused(str(exc).replace("which cameras may not use",
                                                 "which webhooks may not use")) from exc


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
        webhook_url_check(url)
    except WebhookUrlRefused as exc:
        return SendOutcome(ok=False, retry=False, error=str(exc)[:1000])
    body = webhook_body(message)
    timestamp = str(int(time.time()))
    headers = {"Content-Type": "application/json", "User-Agent": "peoplecount-alerts/1",
               "X-Alert-Delivery": str(message.delivery_id), "X-Alert-Timestamp": timestamp,
               "X-Alert-Signature": webhook_signature(secret, timestamp, body)}
    try:
        response = requests.post(url, data=body, headers=headers, allow_redirects=False,
                                 timeout=settings.ALERTS_WEBHOOK_TIMEOUT_S)
    except requests.RequestException as exc:
        return SendOutcome(ok=False, error=f"{type(exc).__name__}: {exc}"[:1000])
    if 200 <= response.status_code < 300:
        return SendOutcome(ok=True, status_code=response.status_code)
    return SendOutcome(ok=False, status_code=response.status_code,
                       error=f"HTTP {response.status_code}: {response.text[:300]}")
