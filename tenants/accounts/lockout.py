"""Password guessing: three limits within a window, and a 429 answer that explains.

django-axes counts failed logins (``AccessAttempt`` rows, expired after the window,
``AXES_COOLOFF_HOURS``) and refuses authentication while locked. Its single limit is applied
here per rule:

=====================  ==================================  ==================================
rule                   stops                               limit (setting)
=====================  ==================================  ==================================
username + address     one client guessing one password    ``AXES_FAILURE_LIMIT`` (5)
username               guessing spread over many addresses ``AUTH_LOCKOUT_USERNAME_LIMIT`` (20)
address                one address trying many accounts    ``AUTH_LOCKOUT_IP_LIMIT`` (50)
=====================  ==================================  ==================================

The address is the client's (``audit.client_ip``: ``X-Forwarded-For`` only behind
``TRUSTED_PROXIES``). A successful login clears only its own (username, address) failures, so
logging in to one's own account from an address does not reset that address's count for
others. The moment a rule locks is one ``auth.lockout`` audit event; every failure is counted
in the bounded tally (``audit.tally``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username, get_cool_off
from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import Sum
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string

from audit.services import audit_record


@dataclass(frozen=True)
class LockoutRule:
    """One limit on failed logins within the window, counted over ``parameters``."""

    name: str
    parameters: tuple[str, ...]
    limit: int
    reason: str  # why the client is locked, for people


def lockout_rules() -> tuple[LockoutRule, ...]:
    """The rules, in axes' order of ``AXES_LOCKOUT_PARAMETERS``."""
    return (
        LockoutRule("username_ip", ("username", "ip_address"), settings.AXES_FAILURE_LIMIT,
                    "Too many wrong passwords were given for this account from your address."),
        LockoutRule("username", ("username",), settings.AUTH_LOCKOUT_USERNAME_LIMIT,
                    "Too many wrong passwords were given for this account, from several "
                    "addresses: it is locked for everyone for a while to stop guessing."),
        LockoutRule("ip", ("ip_address",), settings.AUTH_LOCKOUT_IP_LIMIT,
                    "Too many failed logins came from your address, for several accounts."),
    )


def lockout_parameters(request: Any = None, credentials: Any = None) -> list[list[str]]:
    """``AXES_LOCKOUT_PARAMETERS``: one parameter set per rule."""
    return [list(rule.parameters) for rule in lockout_rules()]


class TieredLockoutHandler(AxesDatabaseHandler):
    """axes' database handler with one limit per rule (axes has one limit for all) and a
    success that resets only its own (username, address) pair."""

    def get_failures(self, request: Any, credentials: dict[str, Any] | None = None) -> int:
        # axes compares this with AXES_FAILURE_LIMIT: report "at the limit" when any rule is
        # reached, else the pair's own count (below its limit). The rule is kept on the
        # request for the lockout answer and the audit event.
        request.axes_lockout_rule = None
        counts = []
        for rule, attempts in zip(lockout_rules(), self.get_user_attempts(request, credentials),
                                  strict=True):
            failures = attempts.aggregate(n=Sum("failures_since_start"))["n"] or 0
            counts.append(failures)
            if failures >= rule.limit:
                request.axes_lockout_rule = rule
                request.axes_lockout_rule_failures = failures
                return int(settings.AXES_FAILURE_LIMIT)
        return counts[0]

    def user_login_failed(self, sender: Any, credentials: dict[str, Any],
                          request: Any = None, **kwargs: Any) -> None:
        super().user_login_failed(sender, credentials, request, **kwargs)
        rule = getattr(request, "axes_lockout_rule", None)
        if rule is None or not getattr(request, "axes_locked_out", False):
            return
        if getattr(request, "axes_lockout_rule_failures", 0) != rule.limit:
            return  # locked already: only the moment of locking is an audit event
        audit_record(action="auth.lockout", actor=None, target_type="auth.user",
                     after={"username": get_client_username(request, credentials) or "",
                            "rule": rule.name, "limit": rule.limit,
                            "window_minutes": _window_minutes(request)})

    def reset_user_attempts(self, request: Any, credentials: dict[str, Any] | None = None,
                            ) -> int:
        count, _ = AccessAttempt.objects.filter(
            username=get_client_username(request, credentials),
            ip_address=request.axes_ip_address).delete()
        return int(count)


def _window_minutes(request: Any) -> int:
    cool_off = get_cool_off(request)
    return math.ceil(cool_off.total_seconds() / 60) if cool_off else 0


def _rule(request: Any) -> LockoutRule:
    return getattr(request, "axes_lockout_rule", None) or lockout_rules()[0]


def lockout_message(request: Any) -> str:
    """What happened and what to do, for the API (the page says it in its own words)."""
    return (f"{_rule(request).reason} Try again in {_window_minutes(request)} minutes. If you "
            "forgot your password, reset it from the sign-in page.")


def _wants_json(request: HttpRequest) -> bool:
    return (request.path.startswith("/api/")
            or request.headers.get("X-Requested-With") == "XMLHttpRequest"
            or "application/json" in request.headers.get("Accept", ""))


def lockout_response(request: HttpRequest, original_response: Any = None,
                     credentials: Any = None) -> HttpResponse:
    """``AXES_LOCKOUT_CALLABLE``: a 429 page (or the API's JSON error) saying why and for how
    long, with ``Retry-After``."""
    message = lockout_message(request)
    retry_after = str(_window_minutes(request) * 60)
    if _wants_json(request):
        response: HttpResponse = JsonResponse(
            {"error": {"code": "locked_out", "message": message, "fields": {}}}, status=429)
    else:
        response = HttpResponse(render_to_string(
            "registration/lockout.html",
            {"reason": _rule(request).reason, "minutes": _window_minutes(request)},
            request=request), status=429)
    response["Retry-After"] = retry_after
    return response
