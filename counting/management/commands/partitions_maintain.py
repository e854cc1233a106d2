"""``manage.py partitions_maintain [--tenant SLUG]``: what the daily partition job does, now."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from counting.tasks import partitions_maintain_all
from tenants.db import connection


class Command(BaseCommand):
    help = ("Make the monthly partitions of the ledger and minute tables ahead and move rows "
            "out of their default partitions (pg_partman); prints one line per tenant.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tenant", action="append", default=[], metavar="SLUG")

    def handle(self, *args: Any, **options: Any) -> None:
        from tenants.models import Tenant

        connection.set_schema_to_public()
        slugs = options["tenant"]
        missing = set(slugs) - set(Tenant.objects.filter(slug__in=slugs)
                                   .values_list("slug", flat=True))
        if missing:
            raise CommandError(f"No tenant with slug {', '.join(sorted(missing))}.")
        for schema, moved in partitions_maintain_all(slugs or None).items():
            rows = ", ".join(f"{table} {count}" for table, count in moved.items()) or "none"
            self.stdout.write(f"{schema}: partitions made ahead; rows moved out of default: "
                              f"{rows}")
