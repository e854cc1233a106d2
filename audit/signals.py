"""Logins and logouts go to the audit trail; failed logins are counted in a bounded tally
(``audit.tally``), and a lockout they cause is one ``auth.lockout`` event
(``tenants.accounts.lockout``)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from audit.context import audit_context
from audit.middleware import client_ip, request_id_of
from audit.services import audit_record
from audit.tally import failed_login_count


def _record(action: str, request: Any, user: Any, after: dict[str, Any] | None = None) -> None:
    ip = client_ip(request) if request is not None else None
    request_id = request_id_of(request) if request is not None else None
    with audit_context(actor=user, ip=ip, request_id=request_id):
        audit_record(action=action, target=user if user is not None else None, after=after)


@receiver(user_logged_in, dispatch_uid="audit_login")
def on_login(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    _record("auth.login", request, user)


@receiver(user_logged_out, dispatch_uid="audit_logout")
def on_logout(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    if user is not None:
        _record("auth.logout", request, user)


@receiver(user_login_failed, dispatch_uid="audit_login_failed")
def on_login_failed(sender: Any, credentials: dict[str, Any], request: Any = None,
                    **kwargs: Any) -> None:
    # Only the username is kept: never the password that was tried.
    username = str(credentials.get("username", "") or "")[:150]
    failed_login_count(username=username, ip=client_ip(request) if request is not None else None)
