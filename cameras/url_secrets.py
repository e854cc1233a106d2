"""Credentials in a stream URL's query string (``?user=admin&pwd=secret``, common for MJPEG).

Many cameras take their credentials as query parameters rather than in the userinfo. Such
values are split off when a URL is saved: the stored ``stream_url`` keeps each parameter in its
place with the value :data:`PLACEHOLDER` (so Owners and Managers see which parameters there
are), and the values are stored encrypted beside it (``Camera.url_secrets_encrypted``). They
are joined back in memory only, by :mod:`cameras.streams`, right before a connection.

Submitting a URL whose secret parameter still reads :data:`PLACEHOLDER` (the URL as the API or
the admin shows it) keeps the stored value of that parameter: a client can read a camera and
write it back without knowing its secrets.

Values are kept exactly as written (percent-encoding included), so the URL joined back is the
URL the user entered.
"""

from __future__ import annotations

from urllib.parse import urlsplit

PLACEHOLDER = "***"

# Query parameter names (compared case-insensitively) whose values are credentials.
SECRET_PARAMETERS = frozenset({
    "user", "username", "usr", "login", "loginuse", "loginpas", "account", "uid",
    "pwd", "pass", "passwd", "password", "psw", "pw", "secret",
    "key", "apikey", "api_key", "token", "access_token", "auth", "authtoken", "auth_token",
    "sig", "signature", "session", "sessionid",
})

Secrets = list[tuple[str, str]]


class UrlSecretsError(ValueError):
    """A URL asks to keep a query-string secret that is not stored; the message says what to
    do."""


def is_secret_parameter(name: str) -> bool:
    return name.lower() in SECRET_PARAMETERS


def _query_items(query: str) -> list[tuple[str, str | None]]:
    """``a=1&b&c=`` as ``[("a", "1"), ("b", None), ("c", "")]``, raw (not decoded)."""
    items: list[tuple[str, str | None]] = []
    for piece in query.split("&"):
        if not piece:
            continue
        name, sep, value = piece.partition("=")
        items.append((name, value if sep else None))
    return items


def _with_query(url: str, items: list[tuple[str, str | None]]) -> str:
    query = "&".join(name if value is None else f"{name}={value}" for name, value in items)
    return urlsplit(url)._replace(query=query).geturl()


def split_url_secrets(url: str, *, stored: Secrets | None = None) -> tuple[str, Secrets]:
    """The URL with its query-string secrets replaced by :data:`PLACEHOLDER`, and the secrets
    (name, raw value) in their order.

    A secret parameter whose value is :data:`PLACEHOLDER` takes the value of the same
    parameter (same name, same occurrence) in ``stored``; when there is none,
    :class:`UrlSecretsError` is raised.
    """
    parts = urlsplit(url)
    if not parts.query:
        return url, []
    available: dict[str, list[str]] = {}
    for stored_name, stored_value in stored or []:
        available.setdefault(stored_name.lower(), []).append(stored_value)
    secrets: Secrets = []
    items: list[tuple[str, str | None]] = []
    for name, value in _query_items(parts.query):
        if value is None or value == "" or not is_secret_parameter(name):
            items.append((name, value))
            continue
        if value == PLACEHOLDER:
            kept = available.get(name.lower())
            if not kept:
                raise UrlSecretsError(
                    f"The value of '{name}' in the URL is hidden ({PLACEHOLDER}) and none is "
                    "stored for it: enter the real value.")
            value = kept.pop(0)
        secrets.append((name, value))
        items.append((name, PLACEHOLDER))
    return _with_query(url, items), secrets


def join_url_secrets(url: str, secrets: Secrets) -> str:
    """The stored URL with its placeholders replaced by the secrets (in memory only)."""
    if not secrets:
        return url
    parts = urlsplit(url)
    pending: dict[str, list[str]] = {}
    for secret_name, secret_value in secrets:
        pending.setdefault(secret_name.lower(), []).append(secret_value)
    items: list[tuple[str, str | None]] = []
    for name, value in _query_items(parts.query):
        if value == PLACEHOLDER and pending.get(name.lower()):
            value = pending[name.lower()].pop(0)
        items.append((name, value))
    return _with_query(url, items)


def redact_url_secrets(url: str) -> str:
    """The URL with every query-string secret shown as :data:`PLACEHOLDER` (for display)."""
    parts = urlsplit(url)
    if not parts.query:
        return url
    return _with_query(url, [
        (name, PLACEHOLDER if value and is_secret_parameter(name) else value)
        for name, value in _query_items(parts.query)])
