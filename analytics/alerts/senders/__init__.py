"""The senders of each channel: one function per channel taking a :class:`Message`."""

from analytics.alerts.senders.base import Message, SendOutcome
from analytics.alerts.senders.email import email_send
from analytics.alerts.senders.sms import sms_send
from analytics.alerts.senders.webhook import webhook_send, webhook_signature

__all__ = ["Message", "SendOutcome", "email_send", "sms_send", "webhook_send",
           "webhook_signature"]
