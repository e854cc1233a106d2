"""Cost of appending to the audit trail (``audit_record``), one event per transaction as a
service writes it, and of checking a chain with ``verify_audit``.

    DJANGO_SETTINGS_MODULE=config.settings.local .venv/bin/python -m benchmarks.bench_audit

Creates a throw-away tenant in the configured database and drops it afterwards.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    import django

    django.setup()
    from django.db import transaction
    from django_tenants.utils import tenant_context

    from audit.services import audit_record
    from benchmarks.throwaway import throwaway_tenant

    with throwaway_tenant() as tenant, tenant_context(tenant):
        per_round = args.events // args.rounds
        micros: list[float] = []
        for _ in range(args.rounds):
            start = time.perf_counter()
            for i in range(per_round):
                with transaction.atomic():
                    audit_record(action="bench.event", target_type="bench.thing",
                                 target_id=str(i), before={"name": "old", "n": i},
                                 after={"name": "new", "n": i + 1, "ratio": 0.25})
            micros.append((time.perf_counter() - start) / per_round * 1e6)
        print(f"audit_record, one event per transaction: median {statistics.median(micros):.0f}"
              f" us/event (rounds: {', '.join(f'{m:.0f}' for m in micros)})")
        # The same writes inside one transaction: the cost of audit_record itself, without
        # the commit's fsync that dominates the line above.
        start = time.perf_counter()
        with transaction.atomic():
            for i in range(per_round):
                audit_record(action="bench.event", target_type="bench.thing",
                             target_id=str(i), before={"name": "old", "n": i},
                             after={"name": "new", "n": i + 1, "ratio": 0.25})
        inside = (time.perf_counter() - start) / per_round * 1e6
        print(f"audit_record, {per_round} events in one transaction: {inside:.0f} us/event")
        verify = _verify_seconds(tenant.slug)
        if verify is not None:
            print(f"verify_audit --tenant: {(args.events + per_round) / verify:,.0f} events/s")


def _verify_seconds(slug: str) -> float | None:
    from django.core.management import call_command, get_commands

    if "verify_audit" not in get_commands():
        return None
    start = time.perf_counter()
    call_command("verify_audit", tenant=[slug], stdout=open(os.devnull, "w"))  # noqa: SIM115
    return time.perf_counter() - start


if __name__ == "__main__":
    main()
