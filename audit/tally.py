"""Counting failed logins in ``FailedLoginTally`` (bounded) and reading the counts back."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, F, Sum
from django.utils import timezone

from audit.models import FailedLoginTally


def failed_login_count(*, username: str, ip: str | None, at: datetime | None = None) -> None:
    """Add one failed login of ``username`` from ``ip`` to the current hour's tally."""
    at = at or timezone.now()
    hour = at.replace(minute=0, second=0, microsecond=0)
    username, ip_text = (username or "")[:150], (ip or "")[:45]
    table = FailedLoginTally._meta.db_table
    with transaction.atomic():
        updated = FailedLoginTally.objects.filter(hour=hour, username=username, ip=ip_text).update(
            failures=F("failures") + 1, last_at=at)
        if updated:
            return
        keys = FailedLoginTally.objects.filter(hour=hour).count()
        if keys >= settings.AUDIT_FAILED_LOGIN_KEYS_PER_HOUR:
            username = ip_text = FailedLoginTally.OVERFLOW
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table} (hour, username, ip, failures, first_at, last_at) "
                "VALUES (%s, %s, %s, 1, %s, %s) ON CONFLICT (hour, username, ip) DO UPDATE "
                f"SET failures = {table}.failures + 1, last_at = EXCLUDED.last_at",
                [hour, username, ip_text, at, at])
        if keys == 0:  # the first failure of a new hour: drop what is past retention
            cutoff = hour - timedelta(days=settings.AUDIT_FAILED_LOGIN_RETENTION_DAYS)
            FailedLoginTally.objects.filter(hour__lt=cutoff).delete()


@dataclass(frozen=True)
class FailedLoginSummary:
    """Failed logins of one schema since a time: totals and the most frequent keys."""

    since: datetime
    failures: int
    usernames: int
    addresses: int
    overflow: int
    top_usernames: list[tuple[str, int, int]]  # username, failures, distinct addresses
    top_addresses: list[tuple[str, int, int]]  # address, failures, distinct usernames


def failed_login_summary(*, since: datetime, top: int = 10) -> FailedLoginSummary:
    """Summarise the current schema's tally since ``since`` (hour resolution)."""
    rows = FailedLoginTally.objects.filter(hour__gte=since.replace(minute=0, second=0,
                                                                    microsecond=0))
    real = rows.exclude(username=FailedLoginTally.OVERFLOW, ip=FailedLoginTally.OVERFLOW)
    total = rows.aggregate(n=Sum("failures"))["n"] or 0
    overflow = (rows.filter(username=FailedLoginTally.OVERFLOW, ip=FailedLoginTally.OVERFLOW)
                .aggregate(n=Sum("failures"))["n"] or 0)
    by_user = (real.values("username").annotate(n=Sum("failures"), k=Count("ip", distinct=True))
               .order_by("-n", "username")[:top])
    by_ip = (real.values("ip").annotate(n=Sum("failures"), k=Count("username", distinct=True))
             .order_by("-n", "ip")[:top])
    return FailedLoginSummary(
        since=since, failures=total, overflow=overflow,
        usernames=real.values("username").distinct().count(),
        addresses=real.values("ip").distinct().count(),
        top_usernames=[(r["username"], r["n"], r["k"]) for r in by_user],
        top_addresses=[(r["ip"] or "-", r["n"], r["k"]) for r in by_ip])
