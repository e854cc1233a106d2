"""Every migration of the project can be reversed, or this file says why not.

An operation counts as not reversible when Django cannot reverse it (``reversible`` is False)
and also when it reverses as a no-op (RunPython/RunSQL with a noop reverse): such a step leaves
its data behind, which needs a reason as much as a refusal does. A new migration that is not
reversible fails here until its reason is written below (the zero-downtime style of
docs/operations.md: add nullable, backfill in batches with a reverse, then constrain).
"""

from __future__ import annotations

import pytest

PROJECT_APPS = {"tenants", "audit", "cameras", "counting", "analytics", "accounts"}

# (app, migration, operation index) -> why it is not (fully) reversible.
NOT_REVERSIBLE = {
    ("analytics", "0003_line_hour_rollup", 1):
        "fills the new hour table from the minutes; reversing the CreateModel before it drops "
        "the table with the rows, so there is nothing to undo",
    ("audit", "0003_hash_chain", 5):
        "chains existing events into the new columns; reversing the AddField operations before "
        "it drops those columns",
    ("audit", "0003_hash_chain", 11):
        "hands the audit table to the audit owner role: by design the application role cannot "
        "take it back (docs/security.md, Audit trail)",
}


def _not_reversible() -> dict[tuple[str, str, int], str]:
    from django.db import migrations
    from django.db.migrations.loader import MigrationLoader

    loader = MigrationLoader(None, ignore_no_migrations=True)
    found = {}
    for (app, name), migration in loader.disk_migrations.items():
        if app not in PROJECT_APPS:
            continue
        for index, operation in enumerate(migration.operations):
            noop_python = (isinstance(operation, migrations.RunPython)
                           and operation.reverse_code is migrations.RunPython.noop)
            noop_sql = (isinstance(operation, migrations.RunSQL)
                        and operation.reverse_sql in (migrations.RunSQL.noop, "", None, []))
            if not operation.reversible or noop_python or noop_sql:
                found[(app, name, index)] = type(operation).__name__
    return found


def test_every_migration_is_reversible_or_says_why_not() -> None:
    # given every migration of the project's apps on disk
    found = _not_reversible()

    # then each operation that cannot be (fully) reversed has its reason here
    unexplained = sorted(f"{app}.{name} operation {index} ({kind})"
                         for (app, name, index), kind in found.items()
                         if (app, name, index) not in NOT_REVERSIBLE)
    assert not unexplained, ("not reversible and no reason given in "
                             f"tests/data/test_migrations_reversible.py: {unexplained}")
    # and no reason is left for an operation that became reversible or moved
    assert sorted(set(NOT_REVERSIBLE) - set(found)) == []


@pytest.mark.parametrize("kind", ["python", "sql"])
def test_the_check_catches_a_noop_reverse(kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from django.db import migrations
    from django.db.migrations.loader import MigrationLoader

    # given a migration on disk whose data step reverses as a no-op
    step = (migrations.RunPython(lambda apps, editor: None, migrations.RunPython.noop)
            if kind == "python" else migrations.RunSQL("SELECT 1", migrations.RunSQL.noop))
    fake = type("Migration", (migrations.Migration,), {"operations": [step]})("0999_x", "cameras")
    original = MigrationLoader.load_disk

    def load_disk(self: MigrationLoader) -> None:
        original(self)
        self.disk_migrations[("cameras", "0999_x")] = fake

    monkeypatch.setattr(MigrationLoader, "load_disk", load_disk)

    # then it is reported as needing a reason
    assert _not_reversible()[("cameras", "0999_x", 0)] in {"RunPython", "RunSQL"}
