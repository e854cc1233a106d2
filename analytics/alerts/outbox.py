"""Notifications as an outbox: written with the alert's change, handed to delivery on commit.

A notification's ``key`` (alert, event, channel, recipient) is unique, so a second evaluator
or a retried one inserts nothing new (``ON CONFLICT DO NOTHING``). Dispatch happens on commit;
if the process dies between the commit and the dispatch, the sweep finds the notification
still pending and dispatches it (never zero, never two).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction

from analytics.alerts.constants import Channel, NotificationStatus
from analytics.alerts.models import Alert, AlertRule, Notification
from tenants.db import connection

logger = logging.getLogger(__name__)


def recipients_of(rule: AlertRule) -> list[tuple[str, str]]:
    """(channel, recipient) pairs of a rule: users' and listed e-mails, phones, endpoints."""
    # .all(): served from prefetch_related when the caller prefetched (one query per batch)
    pairs: list[tuple[str, str]] = []
    emails = {e.strip().lower() for e in rule.emails if e.strip()}
    emails |= {u.email.strip().lower() for u in rule.recipient_users.all()
               if u.is_active and u.email}
    pairs += [(Channel.EMAIL, e) for e in sorted(emails)]
    pairs += [(Channel.SMS, p) for p in sorted({p.strip() for p in rule.phones if p.strip()})]
    pairs += [(Channel.WEBHOOK, f"webhook:{w.pk}")
              for w in sorted(rule.webhooks.all(), key=lambda w: w.pk) if w.enabled]
    return pairs


def notification_rows(*, alert: Alert, rule: AlertRule, event: str,
                      now: datetime) -> list[Notification]:
    """The notifications of an alert's event (not saved)."""
    not_before = now + timedelta(seconds=settings.ALERTS_DIGEST_WINDOW_S)
    return [Notification(alert=alert, rule=rule, event=event, channel=channel,
                         recipient=recipient, key=f"{alert.pk}:{event}:{channel}:{recipient}",
                         created_at=now, not_before=not_before)
            for channel, recipient in recipients_of(rule)]


def notifications_create(*, alert: Alert, rule: AlertRule, event: str,
                         now: datetime) -> list[tuple[str, str]]:
    """Write the notifications of an alert's event (inside the caller's transaction) and
    dispatch them on commit; returns the (channel, recipient) pairs written."""
    rows = notification_rows(alert=alert, rule=rule, event=event, now=now)
    pairs = [(row.channel, row.recipient) for row in rows]
    Notification.objects.bulk_create(rows, ignore_conflicts=True)
    if pairs:
        schema = connection.schema_name
        transaction.on_commit(lambda: dispatch(schema, pairs))
    return pairs


def dispatch(schema: str, pairs: Iterable[tuple[str, str]], *, countdown: float | None = None,
             ) -> None:
    """Send one delivery task per recipient, after the digest window. Failures are logged: the
    sweep dispatches whatever is still pending."""
    from analytics.alerts.tasks import alerts_deliver

    wait = settings.ALERTS_DIGEST_WINDOW_S if countdown is None else countdown
    for channel, recipient in sorted(set(pairs)):
        try:
            alerts_deliver.apply_async(args=[channel, recipient], countdown=wait,
                                       queue=settings.ALERTS_QUEUE,
                                       headers={"_schema_name": schema})
        except Exception:
            logger.exception("%s: dispatch of %s %s failed; the sweep will retry", schema,
                             channel, recipient)


def pending_pairs(*, now: datetime, older_than_s: float) -> list[tuple[str, str]]:
    """Recipients with notifications still pending well after their time (a lost dispatch)."""
    cutoff = now - timedelta(seconds=older_than_s)
    return list(Notification.objects.filter(status=NotificationStatus.PENDING,
                                            not_before__lte=cutoff)
                .values_list("channel", "recipient").distinct())
