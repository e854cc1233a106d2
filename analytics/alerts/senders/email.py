"""E-mail through Django's e-mail backend (SMTP settings from the environment), HTML and text."""

from __future__ import annotations

from django.core.mail import EmailMultiAlternatives, get_connection
from django.template.loader import render_to_string

from analytics.alerts.senders.base import Message, SendOutcome


def email_send(message: Message) -> SendOutcome:
    """Send one e-mail (one alert or a digest) to ``message.recipient``."""
    context = {"message": message, "items": message.items, "digest": message.digest}
    text = render_to_string("alerts/email.txt", context)
    html = render_to_string("alerts/email.html", context)
    mail = EmailMultiAlternatives(subject=message.subject, body=text, to=[message.recipient],
                                  headers={"X-Alert-Delivery": str(message.delivery_id)},
                                  connection=get_connection(fail_silently=False))
    mail.attach_alternative(html, "text/html")
    try:
        mail.send()
    except (OSError, ValueError) as exc:  # smtplib errors are OSErrors; bad addresses ValueError
        code = getattr(exc, "smtp_code", None)
        # 5xx: the server refused for good (unknown mailbox...): retrying will not help.
        permanent = isinstance(code, int) and 500 <= code < 600
        return SendOutcome(ok=False, status_code=code, retry=not permanent,
                           error=f"{type(exc).__name__}: {exc}"[:1000])
    return SendOutcome(ok=True, status_code=250)
