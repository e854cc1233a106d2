"""Scheduled reports leave here: the due check claims each due period in the database, then
the report is made and e-mailed (one message per recipient, with its own unsubscribe link).

Exactly once per period: the claim is an INSERT of the unique (schedule, period_start) row, so
of two due checks running at the send time (two beat processes, or one restarted) only one
inserts and sends. A send that failed is retried by later checks (at most ``MAX_ATTEMPTS``,
``RETRY_AFTER`` apart); a claim whose worker died is taken over after ``STALE_CLAIM``.
Recipients already served are kept in ``delivered``, so a retry never mails them twice.
E-mail goes through Django's backend and SMTP settings, as alert e-mails do
(analytics/alerts/senders/email.py).
"""

from __future__ import annotations

import io
import logging
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.template.loader import render_to_string
from django.utils import timezone
from rest_framework.exceptions import APIException

from analytics.alerts.senders.base import tenant_name
from analytics.reports.models import ReportSchedule, ReportSend, SendStatus
from analytics.reports.periods import latest_due
from analytics.reports.services import unsubscribe_token
from analytics.reports.tables import export_table
from analytics.reports.writers import CONTENT_TYPES, export_write
from tenants.db import connection

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 3
STALE_CLAIM = timedelta(minutes=15)
RETRY_AFTER = timedelta(minutes=5)
# Columns whose total over the period means something (not averages, maxima or shares).
SUMMABLE = ("count_in", "count_out", "entries", "exits")


def portal_base() -> str:
    """The tenant's portal address (``ALERTS_PORTAL_URL`` with its primary domain)."""
    tenant = getattr(connection, "tenant", None)
    domain = "localhost"
    if tenant is not None and hasattr(tenant, "get_primary_domain"):
        primary = tenant.get_primary_domain()
        domain = primary.domain if primary else domain
    return str(settings.ALERTS_PORTAL_URL.format(domain=domain)).rstrip("/")


def _claim(schedule: ReportSchedule, now: datetime) -> ReportSend | None:
    """Insert the period's send row (the claim); or take over a failed or stale one."""
    period = latest_due(frequency=schedule.frequency, weekday=schedule.weekday,
                        send_time=schedule.send_time, tz=ZoneInfo(schedule.site.timezone),
                        now=now)
    if period.due_at < schedule.created_at:
        return None  # the schedule did not exist yet at that send time
    try:
        with transaction.atomic():
            return ReportSend.objects.create(
                schedule=schedule, period_start=period.start, period_end=period.end,
                due_at=period.due_at, claimed_at=now, recipients=list(schedule.recipients))
    except IntegrityError:
        pass  # another due check has it, or had it
    retake = (Q(status=SendStatus.FAILED, attempts__lt=MAX_ATTEMPTS,
                claimed_at__lt=now - RETRY_AFTER)
              | Q(status=SendStatus.CLAIMED, claimed_at__lt=now - STALE_CLAIM))
    taken = (ReportSend.objects.filter(schedule=schedule, period_start=period.start)
             .filter(retake).update(status=SendStatus.CLAIMED, claimed_at=now,
                                    attempts=F("attempts") + 1))
    if not taken:
        return None
    return ReportSend.objects.get(schedule=schedule, period_start=period.start)


def reports_due_run(*, now: datetime | None = None, inline: bool = False) -> list[int]:
    """Claim every due period of the current tenant's enabled schedules and send them (now
    with ``inline``, else as one task each). Safe to run any number of times, concurrently."""
    now = now or timezone.now()
    claimed = []
    for schedule in ReportSchedule.objects.filter(enabled=True).select_related("site"):
        send = _claim(schedule, now)
        if send is None:
            continue
        claimed.append(send.pk)
        if inline:
            report_send(send_id=send.pk)
        else:
            from analytics.reports.tasks import reports_send

            reports_send.apply_async((send.pk,), queue=settings.REPORTS_QUEUE)
    return claimed


def _fail(send: ReportSend, message: str) -> str:
    send.status = SendStatus.FAILED
    send.error = message[:2000]
    send.save(update_fields=["status", "error", "delivered"])
    logger.warning("report send %s failed: %s", send.pk, message)
    return send.status


def report_send(*, send_id: int) -> str:
    """Make the report of one claimed period and e-mail it to the recipients not yet served."""
    send = (ReportSend.objects.select_related("schedule__site", "schedule__created_by")
            .filter(pk=send_id).first())
    if send is None or send.status != SendStatus.CLAIMED:
        return send.status if send else "missing"
    schedule = send.schedule
    user = schedule.created_by
    if user is None or not user.is_active:
        return _fail(send, "The person who created this report no longer has an active "
                           "account: ask an Owner to create the schedule again.")
    tz = ZoneInfo(schedule.site.timezone)
    start, end = send.period_start.astimezone(tz), send.period_end.astimezone(tz)
    params = {**schedule.scope_params(), "from": start.isoformat(), "to": end.isoformat(),
              "bucket": schedule.bucket}
    try:
        table = export_table(kind="occupancy" if schedule.zone_id else "counts", user=user,
                             params=params, chunked=True)
        data = io.BytesIO()
        send.rows = export_write(table, schedule.format, data)
    except APIException as exc:
        return _fail(send, f"The report could not be made: {exc.detail}")
    hours = round((end.timestamp() - start.timestamp()) / 3600)
    context: dict[str, Any] = {
        "schedule": schedule, "table": table, "start": start, "end": end, "hours": hours,
        "last_day": end - timedelta(seconds=1), "tenant": tenant_name(),
        "sums": {k: v for k, v in table.sums.items() if k in SUMMABLE},
        "history_url": f"{portal_base()}/history/",
    }
    subject = (f"[{context['tenant']}] {schedule.get_frequency_display()} report: "
               f"{schedule.name}, {start:%a %d %b %Y}"
               + (f" to {end - timedelta(seconds=1):%a %d %b %Y}"
                  if schedule.frequency != "daily" else "")
               + (f" ({hours} h)" if schedule.frequency == "daily" and hours != 24 else ""))
    filename = table.filename(schedule.format)
    errors = []
    mail_connection = get_connection(fail_silently=False)
    for email in send.recipients:
        if email in send.delivered or email not in schedule.recipients:
            continue  # served by an earlier try, or unsubscribed since
        link = (f"{portal_base()}/reports/unsubscribe/"
                f"{unsubscribe_token(schedule=schedule, email=email)}/")
        body = {**context, "unsubscribe_url": link, "recipient": email}
        mail = EmailMultiAlternatives(
            subject=subject[:200], body=render_to_string("reports/email.txt", body),
            to=[email], connection=mail_connection,
            headers={"X-Report-Send": str(send.pk), "List-Unsubscribe": f"<{link}>"})
        mail.attach_alternative(render_to_string("reports/email.html", body), "text/html")
        mail.attach(filename, data.getvalue(), CONTENT_TYPES[schedule.format])
        try:
            mail.send()
        except (OSError, ValueError) as exc:
            errors.append(f"{email}: {type(exc).__name__}: {exc}")
            continue
        send.delivered = [*send.delivered, email]
    if errors:
        send.save(update_fields=["rows"])
        return _fail(send, "Some e-mails could not be sent (retried later): "
                     + "; ".join(errors))
    send.status = SendStatus.SENT
    send.sent_at = timezone.now()
    send.error = ""
    send.save(update_fields=["status", "sent_at", "error", "delivered", "rows"])
    return send.status
