"""Deployment checks of secrets and tenant routing (``manage.py check --deploy``).

Django's own deploy checks warn about a short ``SECRET_KEY``; these fail on what lets a
deployment run with a secret an attacker can read in this repository (the ``.env.example``
placeholders and the development defaults), on camera encryption keys too weak to be keys, and
on a production that would serve the platform admin on any unknown host name.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.checks import Error, Tags, register

SECRET_KEY_MIN_LENGTH = 50
ENCRYPTION_KEY_MIN_BYTES = 32  # as cameras.crypto.KEY_MIN_BYTES (the core cannot import it)

# Values published in this repository: the development defaults of config/settings/base.py.
# The values of .env.example are read from the file as well (see placeholder_secrets).
KNOWN_PLACEHOLDERS = frozenset({
    "insecure-local-only-key-change-me-0123456789",
    "change-me-to-a-long-random-string-of-at-least-fifty-characters-please",
    "bG9jYWwtb25seS1rZXktZG8tbm90LXVzZS1pbi1wcm9kIQ==",
})
_ENV_EXAMPLE_KEYS = ("DJANGO_SECRET_KEY", "DJANGO_SECRET_KEY_FALLBACKS", "FIELD_ENCRYPTION_KEYS")
_GENERATE = ("python -c \"from cryptography.fernet import Fernet; "
             "print(Fernet.generate_key().decode())\"")


def placeholder_secrets(env_example: Path | None = None) -> frozenset[str]:
    """The known placeholders plus the secret values written in ``.env.example``."""
    path = env_example or Path(settings.BASE_DIR) / ".env.example"
    values = set(KNOWN_PLACEHOLDERS)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        lines = []
    for line in lines:
        name, _, value = line.partition("=")
        if name.strip() in _ENV_EXAMPLE_KEYS:
            values.update(v.strip() for v in value.split(",") if v.strip())
    return frozenset(values)


def _encryption_key_problem(key: str) -> str:
    text = key.strip()
    try:
        material = base64.urlsafe_b64decode(text.encode("ascii") + b"=" * (-len(text) % 4))
    except (binascii.Error, UnicodeEncodeError, ValueError):
        return "is not urlsafe base64"
    if len(material) < ENCRYPTION_KEY_MIN_BYTES:
        return f"holds {len(material)} bytes, fewer than {ENCRYPTION_KEY_MIN_BYTES}"
    return ""


def _as_list(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value] if value else []
    return [str(v) for v in value or ()]


@register(Tags.security, deploy=True)
def check_secrets(app_configs: Iterable[Any] | None = None, **kwargs: Any) -> list[Error]:
    """Refuse published placeholder secrets, short secret keys and weak encryption keys."""
    errors: list[Error] = []
    placeholders = placeholder_secrets()
    secret_keys = [("DJANGO_SECRET_KEY", str(settings.SECRET_KEY))] + [
        ("DJANGO_SECRET_KEY_FALLBACKS", key)
        for key in _as_list(getattr(settings, "SECRET_KEY_FALLBACKS", []))]
    for name, key in secret_keys:
        if key in placeholders:
            errors.append(Error(
                f"{name} is a placeholder published in this repository.",
                hint="Set a new random value of at least 50 characters, e.g. python -c "
                     "\"import secrets; print(secrets.token_urlsafe(64))\".",
                id="tenants.E101"))
        elif len(key) < SECRET_KEY_MIN_LENGTH or len(set(key)) < 5:
            errors.append(Error(
                f"{name} is {len(key)} characters long; at least {SECRET_KEY_MIN_LENGTH} "
                "random characters are needed.",
                hint="python -c \"import secrets; print(secrets.token_urlsafe(64))\"",
                id="tenants.E102"))
    for index, key in enumerate(_as_list(settings.FIELD_ENCRYPTION_KEYS), start=1):
        if key.strip() in placeholders:
            errors.append(Error(
                f"FIELD_ENCRYPTION_KEYS entry {index} is a placeholder published in this "
                "repository.", hint=f"Generate a key with {_GENERATE}; keep the old key after "
                "it until `manage.py rotate_camera_keys` has re-encrypted every camera.",
                id="tenants.E103"))
            continue
        problem = _encryption_key_problem(key)
        if problem:
            errors.append(Error(
                f"FIELD_ENCRYPTION_KEYS entry {index} {problem}: it is not a usable key.",
                hint=f"Generate a key with {_GENERATE}.", id="tenants.E104"))
    return errors


METRICS_TOKEN_MIN_LENGTH = 32


@register(Tags.security, deploy=True)
def check_metrics_token(app_configs: Iterable[Any] | None = None,
                        **kwargs: Any) -> list[Error]:
    """The metrics endpoint's bearer token, when set, must not be guessable (an empty one
    turns the endpoint off: nothing to check)."""
    token = str(getattr(settings, "METRICS_TOKEN", "") or "")
    if token and (len(token) < METRICS_TOKEN_MIN_LENGTH or token in placeholder_secrets()):
        return [Error(
            f"METRICS_TOKEN is {len(token)} characters long or a published placeholder: "
            "anyone who guesses it reads every tenant's slug and its cameras' numbers.",
            hint=f"Set at least {METRICS_TOKEN_MIN_LENGTH} random characters, e.g. python -c "
                 "\"import secrets; print(secrets.token_urlsafe(32))\".", id="tenants.E107")]
    return []


@register(Tags.security, deploy=True)
def check_tenant_routing(app_configs: Iterable[Any] | None = None,
                         **kwargs: Any) -> list[Error]:
    """An unknown host must not reach the public schema (the platform admin)."""
    if getattr(settings, "SHOW_PUBLIC_IF_NO_TENANT_FOUND", False):
        return [Error(
            "SHOW_PUBLIC_IF_NO_TENANT_FOUND is on: any host name that is not a tenant's domain "
            "is served the platform admin and its login page.",
            hint="Set SHOW_PUBLIC_IF_NO_TENANT_FOUND=false and add the platform's own domain "
                 "(PUBLIC_DOMAIN) to the public tenant.", id="tenants.E105")]
    return []


@register(Tags.security)
def check_trusted_proxies(app_configs: Iterable[Any] | None = None,
                          **kwargs: Any) -> list[Error]:
    """``TRUSTED_PROXIES`` must be addresses or networks: a typo would trust nothing (or, worse,
    be read as another network)."""
    errors: list[Error] = []
    for entry in _as_list(getattr(settings, "TRUSTED_PROXIES", [])):
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            errors.append(Error(
                f"TRUSTED_PROXIES entry {entry!r} is not an IP address or network.",
                hint="Use addresses or CIDR networks, e.g. 10.0.0.5,10.1.0.0/16.",
                id="tenants.E106"))
    return errors
