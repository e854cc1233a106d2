"""Check the stored counts and trails of every tenant (or chosen ones), for a cron job.

    manage.py check_integrity                       # every tenant, plus orphan schemas
    manage.py check_integrity --tenant acme         # one tenant (repeatable)
    manage.py check_integrity --since 2026-12-01    # only rollups/events from that UTC day on
    manage.py check_integrity --json                # one JSON document on stdout

Compares line rollups with the ledger (minutes with events, hours with minutes), finds rows
whose camera is not their line's, per-object permissions of deleted objects, orphan or missing
tenant schemas, and audit chains that do not verify. Nothing is rewritten: a bad range of
rollups is repaired with counting.rollups.line_rollups_rebuild after reading the report.

Exit status: 0 when everything checks out, 1 when a problem was found (one ``PROBLEM <schema>
<check>: <detail>`` line each on stdout), 2 for bad arguments (an unknown tenant, a bad date).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from counting.integrity import Problem, platform_check, tenant_check
from tenants.db import connection


def _since(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise CommandError(f"--since {value!r} is not an ISO date or time (e.g. 2026-12-01 or "
                           "2026-12-01T08:00+00:00).", returncode=2) from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class Command(BaseCommand):
    help = ("Compare rollups with the ledger, find orphans and broken audit chains; exit 1 and "
            "one line per problem if anything is wrong.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tenant", action="append", default=[], metavar="SLUG",
                            help="check only this tenant; repeatable")
        parser.add_argument("--since", metavar="ISO",
                            help="compare rollups and events from this UTC moment on only")
        parser.add_argument("--json", action="store_true",
                            help="print one JSON document instead of lines")

    def handle(self, *args: Any, **options: Any) -> None:
        from tenants.models import Tenant

        since = _since(options["since"]) if options["since"] else None
        connection.set_schema_to_public()
        tenants = Tenant.objects.exclude(schema_name="public").order_by("schema_name")
        if options["tenant"]:
            slugs = set(options["tenant"])
            tenants = tenants.filter(slug__in=slugs)
            missing = slugs - {tenant.slug for tenant in tenants}
            if missing:
                raise CommandError(f"No tenant with slug {', '.join(sorted(missing))}; "
                                   "list them with `manage.py shell -c` or the platform admin.",
                                   returncode=2)
        schemas = [tenant.schema_name for tenant in tenants]
        problems: list[Problem] = []
        if not options["tenant"]:
            problems += platform_check(schemas)
        absent = {p.schema for p in problems if p.check == "missing_schema"}
        for schema in schemas:
            if schema not in absent:
                problems += tenant_check(schema, since)
        connection.set_schema_to_public()
        if options["json"]:
            self.stdout.write(json.dumps({
                "ok": not problems, "tenants_checked": len(schemas),
                "since": since.isoformat() if since else None,
                "problems": [p.as_dict() for p in problems]}, indent=2))
        else:
            for problem in problems:
                self.stdout.write(problem.line())
            if not problems:
                self.stdout.write(f"ok: {len(schemas)} tenant(s) checked, no problem found")
        if problems:
            raise CommandError(f"{len(problems)} integrity problem line(s) found.", returncode=1)
