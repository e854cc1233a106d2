"""Inviting people by e-mail: the user is made without a password and sets one from a link.

An invitation is a user with an unusable password. Its link carries a token that Django's
password-reset machinery signs over the user's password hash and last login, so it stops
working as soon as a password is set, and after ``PASSWORD_RESET_TIMEOUT``. Sending is kept out
of the transaction that creates the user: a relay that is down leaves the invitation in place
and the page says to resend it.
"""

from __future__ import annotations

import logging
import smtplib
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives
from django.core.validators import validate_email
from django.db import transaction
from django.template.loader import render_to_string
from django.utils.encoding import force_bytes, force_str
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode

from audit.context import audited_explicitly
from audit.services import audit_record
from tenants.accounts.users import _validate_role, user_values
from tenants.constants import Role

logger = logging.getLogger(__name__)


class InvitationTokenGenerator(PasswordResetTokenGenerator):
    """Tokens of invitation links: signed apart from password-reset tokens."""

    key_salt = "tenants.accounts.invitations.InvitationTokenGenerator"


invitation_tokens = InvitationTokenGenerator()


class InvitationNotSent(Exception):
    """The invitation e-mail could not be handed to the mail relay; the reason is plain words."""


def invitation_pending(user: Any) -> bool:
    """True while an invited user has not set a password yet."""
    return user.is_active and not user.has_usable_password()


@transaction.atomic
def user_invite(*, actor: Any, email: str, role: str = Role.VIEWER) -> Any:
    """Create a user who will set a password from the invitation link (no e-mail sent here)."""
    user_model = get_user_model()
    email = (email or "").strip().lower()
    errors: dict[str, list[str]] = {}
    if not email:
        errors["email"] = ["Enter the e-mail address of the person to invite."]
    else:
        try:
            validate_email(email)
        except ValidationError:
            errors["email"] = [f"'{email}' is not a valid e-mail address."]
    if not errors and user_model.objects.filter(username=email).exists():
        errors["email"] = ["A user with this e-mail already exists: resend their invitation "
                           "from the users list instead."]
    try:
        group = _validate_role(role)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if errors:
        raise ValidationError(errors)
    with audited_explicitly():  # the one user.invite event below covers the row and its role
        user = user_model(username=email, email=email,
                          is_staff=role in (Role.OWNER, Role.MANAGER))
        user.set_unusable_password()
        user.save()
        user.groups.add(group)
    audit_record(action="user.invite", target=user, after=user_values(user), actor=actor)
    return user


def invitation_link(*, user: Any, base_url: str) -> str:
    """The absolute link that lets ``user`` set a password (``base_url`` like https://host)."""
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = invitation_tokens.make_token(user)
    return f"{base_url.rstrip('/')}/accounts/invitation/{uid}/{token}/"


def invitation_send(*, user: Any, base_url: str, inviter: Any = None) -> None:
    """E-mail the invitation link to ``user``; raises ``InvitationNotSent`` when the relay fails."""
    context = {"user": user, "link": invitation_link(user=user, base_url=base_url),
               "inviter": inviter.get_username() if inviter is not None else "",
               "valid_days": max(1, settings.PASSWORD_RESET_TIMEOUT // 86400),
               "host": base_url.split("://", 1)[-1]}
    subject = render_to_string("registration/invitation_subject.txt", context).strip()
    message = EmailMultiAlternatives(
        subject=" ".join(subject.splitlines()),
        body=render_to_string("registration/invitation_email.txt", context),
        to=[user.email])
    try:
        message.send()
    except (smtplib.SMTPException, OSError) as exc:
        logger.warning("invitation e-mail to user %s not sent: %s", user.pk, exc)
        raise InvitationNotSent(
            "The invitation e-mail could not be sent (the mail server did not accept it). "
            "The invitation is saved: try “Resend invitation” in a few minutes, or ask your "
            "administrator to check the e-mail settings.") from exc


@transaction.atomic
def invitation_resend(*, actor: Any, user: Any, base_url: str) -> None:
    """Send a pending invitation again (recorded; the e-mail leaves after the record)."""
    if not invitation_pending(user):
        raise ValidationError({"user": ["This user has already set a password or is "
                                         "deactivated; nothing to resend."]})
    audit_record(action="user.invite_resend", target=user, after={"email": user.email},
                 actor=actor)
    invitation_send(user=user, base_url=base_url, inviter=actor)


def invitation_user_from_link(*, uidb64: str, token: str) -> Any | None:
    """The pending user a link belongs to, or None when the link is wrong, used or expired."""
    try:
        pk = int(force_str(urlsafe_base64_decode(uidb64)))
    except (TypeError, ValueError, OverflowError):
        return None
    user = get_user_model().objects.filter(pk=pk).first()
    if user is None or not invitation_pending(user):
        return None
    if not invitation_tokens.check_token(user, token):
        return None
    return user


@transaction.atomic
def invitation_accept(*, user: Any, password: str) -> Any:
    """Set the invited user's first password; the link stops working."""
    if not invitation_pending(user):
        raise ValidationError({"password": ["This invitation was already used."]})
    try:
        validate_password(password, user=user)
    except ValidationError as exc:
        raise ValidationError({"password": list(exc.messages)}) from exc
    with audited_explicitly():  # user.invite_accept below is the password's record
        user.set_password(password)
        user.save(update_fields=["password"])
    audit_record(action="user.invite_accept", target=user, after=user_values(user), actor=user)
    return user
