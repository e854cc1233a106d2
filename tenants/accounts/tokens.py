"""Creating, checking and revoking personal API tokens (services with one audit event each)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from audit.services import audit_record
from tenants.accounts.models import ApiToken

TOKEN_PREFIX = "pc"  # noqa: S105 (a label, not a secret)
TOKEN_MAX_DAYS = 365
TOKEN_DEFAULT_DAYS = 90
TOKENS_PER_USER_MAX = 20
LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True)
class IssuedToken:
    """A token just created: ``plaintext`` is the only copy of the secret and is shown once."""

    token: ApiToken
    plaintext: str


def token_hash(secret: str, *, key: str | None = None) -> str:
    """HMAC-SHA256 of the secret under the deployment's secret key (hex)."""
    key = settings.SECRET_KEY if key is None else key
    return hmac.new(key.encode(), secret.encode(), hashlib.sha256).hexdigest()


def _hash_matches(stored: str, plaintext: str) -> tuple[bool, bool]:
    """(matches, under the current key). Keys in ``SECRET_KEY_FALLBACKS`` still verify, so that
    rotating ``SECRET_KEY`` does not invalidate every token at once."""
    if hmac.compare_digest(stored, token_hash(plaintext)):
        return True, True
    for old_key in getattr(settings, "SECRET_KEY_FALLBACKS", None) or ():
        if hmac.compare_digest(stored, token_hash(plaintext, key=old_key)):
            return True, False
    return False, False


def _values(token: ApiToken) -> dict[str, Any]:
    return {"name": token.name, "prefix": token.prefix, "user_id": token.user_id,
            "expires_at": token.expires_at, "revoked_at": token.revoked_at}


@transaction.atomic
def token_create(*, actor: Any, user: Any, name: str,
                 expires_in_days: int = TOKEN_DEFAULT_DAYS) -> IssuedToken:
    """Issue a personal token for ``user`` valid for ``expires_in_days`` days."""
    errors: dict[str, list[str]] = {}
    name = (name or "").strip()
    if not name:
        errors["name"] = ["Give the token a name, such as the integration that uses it."]
    elif len(name) > 100:
        errors["name"] = ["At most 100 characters."]
    if not isinstance(expires_in_days, int) or not 1 <= expires_in_days <= TOKEN_MAX_DAYS:
        errors["expires_in_days"] = [f"A token expires after 1 to {TOKEN_MAX_DAYS} days."]
    active = ApiToken.objects.filter(user=user, revoked_at__isnull=True,
                                     expires_at__gt=timezone.now()).count()
    if active >= TOKENS_PER_USER_MAX:
        errors["name"] = [f"You have {active} active tokens: revoke one first."]
    if errors:
        raise ValidationError(errors)
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    plaintext = f"{TOKEN_PREFIX}_{prefix}_{secret}"
    token = ApiToken.objects.create(
        user=user, name=name, prefix=prefix, secret_hash=token_hash(plaintext),
        expires_at=timezone.now() + timedelta(days=expires_in_days))
    audit_record(action="token.create", target=token, after=_values(token), actor=actor)
    return IssuedToken(token=token, plaintext=plaintext)


@transaction.atomic
def token_revoke(*, actor: Any, token: ApiToken) -> ApiToken:
    """Revoke a token; revoking it again changes nothing and records nothing."""
    token = ApiToken.objects.select_for_update().get(pk=token.pk)
    if token.revoked_at is not None:
        return token
    before = _values(token)
    token.revoked_at = timezone.now()
    token.save(update_fields=["revoked_at"])
    audit_record(action="token.revoke", target=token, before=before, after=_values(token),
                 actor=actor)
    return token


def token_authenticate(plaintext: str) -> ApiToken | None:
    """The active token matching ``plaintext`` in the current schema, or None."""
    parts = plaintext.split("_", 2)
    if len(parts) != 3 or parts[0] != TOKEN_PREFIX or not parts[1] or len(parts[1]) > 16:
        return None
    token = ApiToken.objects.select_related("user").filter(prefix=parts[1]).first()
    if token is None:
        return None
    matches, current = _hash_matches(token.secret_hash, plaintext)
    if not matches:
        return None
    now = timezone.now()
    if token.revoked_at is not None or token.expires_at <= now or not token.user.is_active:
        return None
    if not current:
        # Verified under a fallback key: store the hash under the current key, so the token
        # keeps working once the old key leaves SECRET_KEY_FALLBACKS.
        token.secret_hash = token_hash(plaintext)
        ApiToken.objects.filter(pk=token.pk).update(secret_hash=token.secret_hash)
    # Write last_used_at at most once a minute: authentication must not write on every request.
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token
