"""Delivery: claim a recipient's pending notifications, send them as one message, log the try.

::

    claim   (one transaction)  pending notifications of (channel, recipient), due, locked with
                               SKIP LOCKED -> rate limits -> a Delivery row, notifications
                               attached and marked claimed.           Nothing is sent yet.
    attempt (one transaction)  lock the delivery, attempts += 1, claimed_until = now + timeout
            (no transaction)   send
            (one transaction)  log the attempt; sent, or retry at now + backoff, or give up
                               after ALERTS_RETRY_FOR_S (24 h)

Several notifications claimed together leave as one digest. A worker killed mid-send leaves the
delivery claimed until ``claimed_until``; the sweep then tries it again with the same delivery
id (``X-Alert-Delivery``), so a webhook receiver can drop the repeat.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Min
from django.utils import timezone

from analytics.alerts.constants import Channel, DeliveryStatus, NotificationStatus
from analytics.alerts.models import Delivery, DeliveryAttempt, Notification, WebhookEndpoint
from analytics.alerts.senders import Message, SendOutcome, email_send, sms_send, webhook_send
from analytics.alerts.senders.base import Item, portal_url, tenant_name
from tenants.db import connection

logger = logging.getLogger(__name__)


def backoff_s(attempts: int) -> float:
    """Delay before the next try after ``attempts`` failed ones: base * 2^(n-1), capped."""
    base = settings.ALERTS_RETRY_BASE_S
    return float(min(base * (2 ** max(0, attempts - 1)), settings.ALERTS_RETRY_MAX_DELAY_S))


def rate_limit_wait(rule_ids: set[int], now: datetime) -> float:
    """Seconds until one more message is allowed for the tenant and each of ``rule_ids``
    (0 when allowed now)."""
    hour_ago = now - timedelta(hours=1)
    waits = [0.0]
    recent = Delivery.objects.filter(created_at__gt=hour_ago)
    limit = settings.ALERTS_RATE_PER_TENANT_PER_HOUR
    if recent.count() >= limit:
        oldest = recent.order_by("-created_at").values_list("created_at", flat=True)[limit - 1]
        waits.append((oldest + timedelta(hours=1) - now).total_seconds())
    per_rule = settings.ALERTS_RATE_PER_RULE_PER_HOUR
    for rule_id in rule_ids:
        mine = recent.filter(notifications__rule_id=rule_id).distinct()
        if mine.count() >= per_rule:
            oldest = mine.order_by("-created_at").values_list("created_at",
                                                              flat=True)[per_rule - 1]
            waits.append((oldest + timedelta(hours=1) - now).total_seconds())
    return max(waits)


def delivery_claim(*, channel: str, recipient: str,
                   now: datetime | None = None) -> tuple[Delivery | None, float]:
    """Claim what waits for one recipient; returns (delivery or None, seconds to wait when
    a rate limit holds them back)."""
    now = now or timezone.now()
    with transaction.atomic():
        # Due ones, and those that would be due within one more digest window: alerts that
        # fired together leave together even if their windows started a little apart.
        horizon = now + timedelta(seconds=settings.ALERTS_DIGEST_WINDOW_S)
        notes = list(Notification.objects.select_for_update(skip_locked=True)
                     .filter(status=NotificationStatus.PENDING, channel=channel,
                             recipient=recipient, not_before__lte=horizon)
                     .order_by("created_at", "id"))
        if not any(n.not_before <= now for n in notes):
            return None, 0.0  # nothing due yet: the task of the earliest one comes later
        if not notes:
            return None, 0.0
        wait = rate_limit_wait({n.rule_id for n in notes if n.rule_id is not None}, now)
        if wait > 0:
            Notification.objects.filter(pk__in=[n.pk for n in notes]).update(
                not_before=now + timedelta(seconds=wait))
            logger.warning("%s %s: rate limit reached; %d notifications wait %.0f s and "
                           "will leave as one digest", channel, recipient, len(notes), wait)
            return None, wait
        endpoint_id = None
        if channel == Channel.WEBHOOK:
            endpoint_id = int(recipient.partition(":")[2])
            if not WebhookEndpoint.objects.filter(pk=endpoint_id).exists():
                endpoint_id = None
        delivery = Delivery.objects.create(
            channel=channel, recipient=recipient, endpoint_id=endpoint_id,
            status=DeliveryStatus.SENDING, digest=len(notes) > 1, next_attempt_at=now,
            give_up_at=now + timedelta(seconds=settings.ALERTS_RETRY_FOR_S))
        Notification.objects.filter(pk__in=[n.pk for n in notes]).update(
            status=NotificationStatus.CLAIMED, delivery=delivery)
    return delivery, 0.0


def _message(delivery: Delivery) -> Message:
    items = []
    for note in delivery.notifications.select_related("alert").order_by("created_at", "id"):
        alert = note.alert
        items.append(Item(
            alert_id=alert.pk, event=note.event, kind=alert.kind, severity=alert.severity,
            message=alert.message, scope=alert.scope_key, scope_label=alert.scope_label,
            site_id=alert.site_id, camera_id=alert.camera_id, value=alert.value,
            threshold=alert.threshold, opened_at=alert.opened_at.isoformat(),
            resolved_at=alert.resolved_at.isoformat() if alert.resolved_at else None,
            resolution=alert.resolution))
    return Message(delivery_id=delivery.pk, channel=delivery.channel,
                   recipient=delivery.recipient, items=tuple(items), tenant_name=tenant_name(),
                   portal_url=portal_url())


def _send(delivery: Delivery, message: Message) -> SendOutcome:
    if delivery.channel == Channel.EMAIL:
        return email_send(message)
    if delivery.channel == Channel.SMS:
        return sms_send(message)
    endpoint = WebhookEndpoint.objects.filter(pk=delivery.endpoint_id or 0).first()
    if endpoint is None:
        return SendOutcome(ok=False, retry=False, error="The webhook endpoint was deleted.")
    if not endpoint.enabled:
        return SendOutcome(ok=False, retry=False, error="The webhook endpoint is disabled.")
    return webhook_send(message, url=endpoint.url, secret=endpoint.secret)


def delivery_attempt(*, delivery_id: int, now: datetime | None = None) -> str | None:
    """Try one delivery if it is due and nobody else holds it; returns its new status, or
    None when there was nothing to do. Schedules its retry on failure."""
    now = now or timezone.now()
    with transaction.atomic():
        delivery = (Delivery.objects.select_for_update(skip_locked=True)
                    .filter(pk=delivery_id,
                            status__in=[DeliveryStatus.SENDING, DeliveryStatus.RETRYING])
                    .first())
        if delivery is None:
            return None
        if delivery.claimed_until is not None and delivery.claimed_until > now:
            return None  # another worker is sending it right now
        if delivery.next_attempt_at is not None and delivery.next_attempt_at > now:
            return None  # not due yet
        delivery.attempts += 1
        delivery.status = DeliveryStatus.SENDING
        delivery.claimed_until = now + timedelta(seconds=settings.ALERTS_CLAIM_TIMEOUT_S)
        delivery.save(update_fields=["attempts", "status", "claimed_until"])
    started = timezone.now()
    clock = time.monotonic()
    try:
        outcome = _send(delivery, _message(delivery))
    except Exception as exc:  # a sender bug must be logged as a failed try, not lost
        logger.exception("delivery %s: sender failed", delivery.pk)
        outcome = SendOutcome(ok=False, error=f"{type(exc).__name__}: {exc}"[:1000])
    elapsed_ms = int((time.monotonic() - clock) * 1000)
    finished = timezone.now()
    schema = connection.schema_name
    with transaction.atomic():
        DeliveryAttempt.objects.create(delivery=delivery, number=delivery.attempts,
                                       started_at=started, duration_ms=elapsed_ms, ok=outcome.ok,
                                       status_code=outcome.status_code, error=outcome.error)
        delivery.claimed_until = None
        if outcome.ok:
            delivery.status = DeliveryStatus.SENT
            delivery.sent_at = finished
            delivery.last_error = ""
            delivery.notifications.update(status=NotificationStatus.SENT)
        elif not outcome.retry or finished >= delivery.give_up_at:
            delivery.status = DeliveryStatus.FAILED
            delivery.last_error = outcome.error
            delivery.notifications.update(status=NotificationStatus.FAILED)
            logger.error("delivery %s to %s %s failed for good after %d attempts: %s",
                         delivery.pk, delivery.channel, delivery.recipient, delivery.attempts,
                         outcome.error)
        else:
            wait = backoff_s(delivery.attempts)
            delivery.status = DeliveryStatus.RETRYING
            delivery.next_attempt_at = finished + timedelta(seconds=wait)
            delivery.last_error = outcome.error
            pk = delivery.pk
            transaction.on_commit(lambda: delivery_retry_schedule(schema, pk, wait))
        delivery.save(update_fields=["status", "sent_at", "last_error", "claimed_until",
                                     "next_attempt_at"])
    return str(delivery.status)


def delivery_retry_schedule(schema: str, delivery_id: int, countdown: float) -> None:
    from analytics.alerts.tasks import alerts_attempt

    try:
        alerts_attempt.apply_async(args=[delivery_id], countdown=countdown,
                                   queue=settings.ALERTS_QUEUE,
                                   headers={"_schema_name": schema})
    except Exception:
        logger.exception("delivery %s: retry not scheduled; the sweep will retry", delivery_id)


def deliveries_due(*, now: datetime) -> list[int]:
    """Deliveries to try now: retries that are due, and claims of workers that died."""
    retry_due = Delivery.objects.filter(status=DeliveryStatus.RETRYING, next_attempt_at__lte=now)
    stale = Delivery.objects.filter(status=DeliveryStatus.SENDING).exclude(
        claimed_until__gt=now)
    # a fresh claim (no attempt yet) is tried by the task that claimed it; give it a moment
    stale = stale.exclude(attempts=0, created_at__gt=now - timedelta(seconds=30))
    ids = set(retry_due.values_list("pk", flat=True)) | set(stale.values_list("pk", flat=True))
    return sorted(ids)


def oldest_pending_at() -> datetime | None:
    return Notification.objects.filter(status=NotificationStatus.PENDING).aggregate(
        at=Min("created_at"))["at"]
