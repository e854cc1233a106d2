"""SMS through Twilio's client library; its API base URL is settable (tests, proxies)."""

from __future__ import annotations

from django.conf import settings

from analytics.alerts.senders.base import Message, SendOutcome

SMS_MAX_CHARS = 320  # two segments


def sms_text(message: Message) -> str:
    if message.digest:
        lines = [f"{len(message.items)} alerts ({message.tenant_name}):"]
        lines += [("RESOLVED " if i.event == "resolved" else "") + i.message
                  for i in message.items]
    else:
        item = message.items[0]
        lines = [("RESOLVED: " if item.event == "resolved" else f"{item.severity.upper()}: ")
                 + item.message]
    text = "\n".join(lines)
    return text if len(text) <= SMS_MAX_CHARS else text[:SMS_MAX_CHARS - 1] + "…"


def sms_send(message: Message) -> SendOutcome:
    """Send one SMS to ``message.recipient`` (E.164)."""
    from twilio.base.exceptions import TwilioException, TwilioRestException
    from twilio.http.http_client import TwilioHttpClient
    from twilio.rest import Client

    if not (settings.ALERTS_TWILIO_ACCOUNT_SID and settings.ALERTS_TWILIO_AUTH_TOKEN
            and settings.ALERTS_TWILIO_FROM):
        return SendOutcome(ok=False, retry=False, error=(
            "SMS is not configured: set TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and "
            "TWILIO_FROM_NUMBER."))
    client = Client(settings.ALERTS_TWILIO_ACCOUNT_SID, settings.ALERTS_TWILIO_AUTH_TOKEN,
                    http_client=TwilioHttpClient(timeout=settings.ALERTS_SMS_TIMEOUT_S))
    if settings.ALERTS_TWILIO_API_BASE_URL:
        client.api.base_url = settings.ALERTS_TWILIO_API_BASE_URL.rstrip("/")
    try:
        sent = client.messages.create(to=message.recipient, from_=settings.ALERTS_TWILIO_FROM,
                                      body=sms_text(message))
    except TwilioRestException as exc:
        # 4xx other than 429 (a bad number, a refused sender): trying again will not help.
        retry = exc.status == 429 or exc.status >= 500
        return SendOutcome(ok=False, status_code=exc.status, retry=retry,
                           error=f"Twilio {exc.status}: {exc.msg}"[:1000])
    except (TwilioException, OSError) as exc:
        return SendOutcome(ok=False, error=f"{type(exc).__name__}: {exc}"[:1000])
    return SendOutcome(ok=True, status_code=201, error="" if sent.sid else "no message id")
