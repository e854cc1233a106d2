"""Summarise failed logins and lockouts (the bounded tally of ``audit.models.FailedLoginTally``).

    manage.py failed_logins                     # every schema, the last 24 hours
    manage.py failed_logins --tenant acme --hours 168 --top 20
    manage.py failed_logins --tenant public     # the platform admin's logins
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from django_tenants.utils import schema_context

from audit.models import AuditEvent
from audit.tally import failed_login_summary
from tenants.db import connection


class Command(BaseCommand):
    help = "Summarise failed logins (per username and address) and lockouts."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tenant", action="append", default=[], metavar="SLUG",
                            help="a tenant's slug ('public' for the platform); repeatable")
        parser.add_argument("--hours", type=int, default=24, help="how far back (default 24)")
        parser.add_argument("--top", type=int, default=10,
                            help="how many usernames and addresses to list (default 10)")

    def handle(self, *args: Any, **options: Any) -> None:
        from tenants.models import Tenant

        if options["hours"] < 1 or options["top"] < 1:
            raise CommandError("--hours and --top must be at least 1.")
        connection.set_schema_to_public()
        tenants = Tenant.objects.order_by("schema_name")
        if options["tenant"]:
            slugs = set(options["tenant"])
            tenants = tenants.filter(slug__in=slugs)
            missing = slugs - {tenant.slug for tenant in tenants}
            if missing:
                raise CommandError(f"No tenant with slug {', '.join(sorted(missing))}.")
        schemas = [tenant.schema_name for tenant in tenants]
        if not options["tenant"] and "public" not in schemas:
            schemas.insert(0, "public")
        since = timezone.now() - timedelta(hours=options["hours"])
        for schema in schemas:
            with schema_context(schema):
                summary = failed_login_summary(since=since, top=options["top"])
                lockouts = AuditEvent.objects.filter(action="auth.lockout",
                                                     occurred_at__gte=since).count()
            self.stdout.write(
                f"{schema}: {summary.failures} failed logins since {since:%Y-%m-%d %H:%M} UTC, "
                f"{summary.usernames} usernames, {summary.addresses} addresses, "
                f"{lockouts} lockouts")
            if summary.overflow:
                self.stdout.write(f"  {summary.overflow} more beyond the per-hour key limit "
                                  "(not broken down)")
            for username, failures, addresses in summary.top_usernames:
                self.stdout.write(f"  user {username or '(empty)'}: {failures} from "
                                  f"{addresses} address(es)")
            for address, failures, usernames in summary.top_addresses:
                self.stdout.write(f"  address {address}: {failures} for {usernames} username(s)")
