"""Your account: change your password, create API tokens (shown once) and revoke them.

The password change itself is audited by the auth signal that records every password change
(not here, so it is recorded once).
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import PasswordChangeForm
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from tenants.accounts.models import ApiToken
from tenants.accounts.portal.forms import TokenForm
from tenants.accounts.portal.users import _apply
from tenants.accounts.roles import user_role
from tenants.accounts.tokens import token_create, token_revoke


def _me(request: HttpRequest) -> Any:
    """The signed-in user (the views are behind login_required)."""
    return request.user


def _page(request: HttpRequest, *, password_form: PasswordChangeForm, token_form: TokenForm,
          issued: str | None = None, status: int = 200) -> HttpResponse:
    tokens = ApiToken.objects.filter(user=_me(request)).order_by("-created_at", "-id")
    return render(request, "accounts/account.html", {
        "password_form": password_form, "token_form": token_form, "tokens": tokens,
        "issued": issued, "role": user_role(request.user),
        "retention": request.tenant.retention_summary(),  # type: ignore[attr-defined]
    }, status=status)


@never_cache
@login_required
def account(request: HttpRequest) -> HttpResponse:
    """The account page; POST changes the password."""
    password_form = PasswordChangeForm(_me(request), request.POST or None)
    if request.method == "POST" and password_form.is_valid():
        user = password_form.save()
        update_session_auth_hash(request, user)  # stay signed in here, signed out elsewhere
        messages.success(request, "Password changed. Other sessions are signed out.")
        return redirect("account")
    return _page(request, password_form=password_form, token_form=TokenForm(),
                 status=400 if request.method == "POST" else 200)


@never_cache
@require_POST
@login_required
def token_new(request: HttpRequest) -> HttpResponse:
    """Create a personal API token and show it once (it is never shown again)."""
    form = TokenForm(request.POST)
    issued = None
    if form.is_valid():
        try:
            result = token_create(actor=request.user, user=request.user,
                                  name=form.cleaned_data["name"],
                                  expires_in_days=form.cleaned_data["expires_in_days"])
        except ValidationError as exc:
            _apply(form, exc)
        else:
            issued = result.plaintext
            form = TokenForm()
    return _page(request, password_form=PasswordChangeForm(_me(request)), token_form=form,
                 issued=issued, status=200 if issued or not form.errors else 400)


@require_POST
@login_required
def token_revoke_view(request: HttpRequest, token_id: int) -> HttpResponse:
    """Revoke one of your tokens: requests carrying it are refused from now on."""
    token = ApiToken.objects.filter(pk=token_id, user=_me(request)).first()
    if token is None:
        raise Http404("No such token.")
    token_revoke(actor=request.user, token=token)
    messages.success(request, f"Token “{token.name}” revoked.")
    return redirect("account")
