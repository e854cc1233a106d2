"""The users page (Owner): invite by e-mail with a role, resend, change role, deactivate."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from tenants.accounts.invitations import (
    InvitationNotSent,
    invitation_pending,
    invitation_resend,
    invitation_send,
    user_invite,
)
from tenants.accounts.portal.forms import InviteForm, RoleForm
from tenants.accounts.roles import user_role
from tenants.accounts.users import user_update


def _require_owner(request: HttpRequest) -> None:
    if not request.user.has_perm("auth.change_user"):
        raise PermissionDenied("Only an Owner manages users.")


def _base_url(request: HttpRequest) -> str:
    return f"{request.scheme}://{request.get_host()}"


def _apply(form: Any, exc: ValidationError) -> None:
    if not hasattr(exc, "error_dict"):
        form.add_error(None, exc.messages)
        return
    for field, errors in exc.message_dict.items():
        form.add_error(field if field in form.fields else None, errors)


@login_required
def user_list(request: HttpRequest) -> HttpResponse:
    """Every user of the organisation with role and state, and the invitation form."""
    _require_owner(request)
    form = InviteForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = user_invite(actor=request.user, email=form.cleaned_data["email"],
                               role=form.cleaned_data["role"])
        except ValidationError as exc:
            _apply(form, exc)
        else:
            try:
                invitation_send(user=user, base_url=_base_url(request), inviter=request.user)
            except InvitationNotSent as exc:
                messages.error(request, str(exc))
            else:
                messages.success(request, f"Invitation sent to {user.email}.")
            return redirect("manage-users")
    users = list(get_user_model().objects.prefetch_related("groups").order_by("username"))
    rows = [{"user": u, "role": user_role(u), "pending": invitation_pending(u)} for u in users]
    return render(request, "accounts/users.html", {"form": form, "rows": rows})


def _user(user_id: int) -> Any:
    user = get_user_model().objects.filter(pk=user_id).first()
    if user is None:
        raise Http404("No such user.")
    return user


@login_required
def user_detail(request: HttpRequest, user_id: int) -> HttpResponse:
    """One user: role, state, invitation and links to their access."""
    _require_owner(request)
    user = _user(user_id)
    form = RoleForm(request.POST or None, initial={"role": user_role(user)})
    if request.method == "POST" and form.is_valid():
        try:
            user_update(actor=request.user, user=user, role=form.cleaned_data["role"])
        except ValidationError as exc:
            _apply(form, exc)
        else:
            messages.success(request, f"{user.get_username()} is now {form.cleaned_data['role']}.")
            return redirect("manage-user", user_id=user.pk)
    return render(request, "accounts/user_detail.html", {
        "subject": user, "form": form, "role": user_role(user),
        "pending": invitation_pending(user), "is_self": user.pk == request.user.pk})


@require_POST
@login_required
def user_set_active(request: HttpRequest, user_id: int, active: bool) -> HttpResponse:
    """Deactivate (signs the user out everywhere, keeps their history) or reactivate."""
    _require_owner(request)
    user = _user(user_id)
    if user.pk == request.user.pk and not active:
        messages.error(request, "You cannot deactivate yourself; ask another Owner.")
        return redirect("manage-user", user_id=user.pk)
    try:
        user_update(actor=request.user, user=user, is_active=active)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"{user.get_username()} is "
                                  f"{'active again' if active else 'deactivated'}.")
    return redirect("manage-user", user_id=user.pk)


@require_POST
@login_required
def user_resend_invitation(request: HttpRequest, user_id: int) -> HttpResponse:
    """Send a pending invitation again."""
    _require_owner(request)
    user = _user(user_id)
    try:
        invitation_resend(actor=request.user, user=user, base_url=_base_url(request))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    except InvitationNotSent as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Invitation sent again to {user.email}.")
    return redirect("manage-user", user_id=user.pk)
