"""``manage.py enforce_retention [--tenant SLUG]``: what the daily retention job does, now."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from counting.retention import BATCH, retention_enforce_all
from tenants.db import connection


class Command(BaseCommand):
    help = ("Remove raw crossings, minute counts and health events past each tenant's "
            "retention (hour rollups stay); prints one line per tenant.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tenant", action="append", default=[], metavar="SLUG")
        parser.add_argument("--batch", type=int, default=BATCH,
                            help=f"rows per DELETE statement (default {BATCH})")

    def handle(self, *args: Any, **options: Any) -> None:
        from tenants.models import Tenant

        connection.set_schema_to_public()
        if options["batch"] < 1:
            raise CommandError("--batch must be at least 1.")
        slugs = options["tenant"]
        missing = set(slugs) - set(Tenant.objects.filter(slug__in=slugs)
                                   .values_list("slug", flat=True))
        if missing:
            raise CommandError(f"No tenant with slug {', '.join(sorted(missing))}.")
        for report in retention_enforce_all(slugs=slugs or None, batch=options["batch"]):
            self.stdout.write(report.line())
