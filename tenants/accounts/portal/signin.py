"""Sign-in help: password reset by e-mail and accepting an invitation."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters

from tenants.accounts.invitations import invitation_accept, invitation_user_from_link
from tenants.accounts.portal.forms import SetPasswordForm


class PasswordResetView(auth_views.PasswordResetView):
    """Ask for a reset link; the answer is the same whether or not the address is known."""

    template_name = "registration/password_reset_form.html"
    email_template_name = "registration/password_reset_email.txt"
    subject_template_name = "registration/password_reset_subject.txt"
    success_url = reverse_lazy("password_reset_done")


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    """Set a new password from the link."""

    template_name = "registration/password_reset_confirm.html"
    success_url = reverse_lazy("password_reset_complete")


@never_cache
@sensitive_post_parameters("password1", "password2")
def invitation_accept_view(request: HttpRequest, uidb64: str, token: str) -> HttpResponse:
    """The invitation link: choose a password, then you are signed in."""
    user = invitation_user_from_link(uidb64=uidb64, token=token)
    if user is None:
        return render(request, "registration/invitation_invalid.html", status=400)
    form = SetPasswordForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            invitation_accept(user=user, password=form.cleaned_data["password1"])
        except ValidationError as exc:
            form.add_error("password1", exc.message_dict.get("password", exc.messages))
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(request, "Welcome! Your password is set.")
            return redirect("dashboard")
    return render(request, "registration/invitation_accept.html",
                  {"form": form, "invited": user})
