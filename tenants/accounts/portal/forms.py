"""Forms of the people pages; the rules stay in the services (users, invitations, tokens)."""

from __future__ import annotations

from django import forms

from tenants.accounts.tokens import TOKEN_DEFAULT_DAYS, TOKEN_MAX_DAYS
from tenants.constants import Role

ROLE_HELP = ("Owner: everything, including users. Manager: sites, cameras, lines and zones. "
             "Viewer: only the sites and cameras granted to them, read-only.")


class InviteForm(forms.Form):
    """Invite a person by e-mail with a role."""

    email = forms.CharField(max_length=254, label="E-mail",
                            widget=forms.EmailInput(attrs={"autocomplete": "off"}))
    role = forms.ChoiceField(choices=[(r, r) for r in Role.ALL], initial=Role.VIEWER,
                             help_text=ROLE_HELP)


class RoleForm(forms.Form):
    """Change a user's role."""

    role = forms.ChoiceField(choices=[(r, r) for r in Role.ALL], help_text=ROLE_HELP)


class TokenForm(forms.Form):
    """Create a personal API token."""

    name = forms.CharField(max_length=100, help_text="What uses it, e.g. “BI export”.")
    expires_in_days = forms.IntegerField(min_value=1, max_value=TOKEN_MAX_DAYS,
                                         initial=TOKEN_DEFAULT_DAYS, label="Valid for (days)")


class SetPasswordForm(forms.Form):
    """The first password of an invited user, typed twice."""

    password1 = forms.CharField(label="Password", strip=False,
                                widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}))
    password2 = forms.CharField(label="Password again", strip=False,
                                widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}))

    def clean_password2(self) -> str:
        first, second = self.cleaned_data.get("password1"), self.cleaned_data.get("password2")
        if first and second and first != second:
            raise forms.ValidationError("The two passwords differ; type the same one twice.")
        return second or ""
