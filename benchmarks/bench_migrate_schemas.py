"""``migrate_schemas`` over many tenant schemas: django-tenants' serial (standard) executor
against its parallel (multiprocessing) executor, applying the same migrations.

    .venv/bin/python -m benchmarks.bench_migrate_schemas [--schemas 500] \
        [--back counting 0009_rule_entrance]

In a throw-away database cloned from the template (scripts/db_create.sh): one tenant is
provisioned and migrated back to ``--back``; its schema is copied (pg_dump as the superuser,
renamed) into ``--schemas`` tenant schemas with their tenant rows and audit chain heads. Then
``migrate_schemas --executor standard`` takes them all to the latest migrations, timed; the
copies are made again and ``migrate_schemas --executor multiprocessing`` does the same, timed
(``TENANT_MULTIPROCESSING_MAX_PROCESSES``, default 2: one per core here). The database is
dropped afterwards. Prints both times, per schema, and the ratio.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _psql(db: str, sql: str | None = None, file: Path | None = None) -> str:
    command = ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", db, "-v", "ON_ERROR_STOP=1",
               "-qAtX"]
    command += ["-c", sql] if sql is not None else ["-f", str(file)]
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout


def _manage(env: dict[str, str], *args: str) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "manage.py", *args], cwd=REPO, env=env, check=True,
                   stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def _clones(db: str, seed: str, count: int, dump: str, head: tuple[str, str],
            workdir: Path) -> None:
    """(Re)create ``count`` copies of the seed schema with their tenant rows and chain heads."""
    existing = _psql(db, "SELECT quote_ident(nspname) FROM pg_namespace "
                         f"WHERE nspname LIKE '{seed[:-5]}c%'").split()
    for schema in existing:  # one at a time: one DROP of all would exhaust the lock table
        _psql(db, f"DROP SCHEMA {schema} CASCADE")
    _psql(db, f"DELETE FROM tenants_tenant WHERE schema_name LIKE '{seed[:-5]}c%'")
    sql = workdir / "clones.sql"
    with sql.open("w") as out:
        for n in range(count):
            name = f"{seed[:-5]}c{n:04d}"
            out.write(re.sub(rf"\b{seed}\b", name, dump))
            out.write(
                f"INSERT INTO public.tenants_tenant (schema_name, name, slug, camera_quota, "
                f"is_active, created_at, privacy_blur) VALUES ('{name}', '{name}', '{name}', 10, "
                f"true, now(), true);\n"
                f"INSERT INTO audit_admin.chain_head (schema_name, seq, hash) VALUES "
                f"('{name}', {head[0]}, '{head[1]}') ON CONFLICT (schema_name) DO UPDATE "
                "SET seq = EXCLUDED.seq, hash = EXCLUDED.hash;\n")
    _psql(db, file=sql)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--schemas", type=int, default=500)
    parser.add_argument("--back", nargs=2, default=["counting", "0009_rule_entrance"],
                        metavar=("APP", "MIGRATION"))
    args = parser.parse_args()
    db = f"bench_migrate_{uuid.uuid4().hex[:8]}"
    workdir = Path(f"/tmp/{db}")
    workdir.mkdir()
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.local",
           "DATABASE_URL": f"postgres://peoplecount@127.0.0.1:5432/{db}"}
    _psql("postgres", f'CREATE DATABASE "{db}" TEMPLATE peoplecount_template OWNER peoplecount')
    try:
        _manage(env, "migrate_schemas", "--shared")
        seed = "bmig_seed"
        subprocess.run(
            [sys.executable, "-c",
             "import django; django.setup();"
             "from tenants.platform.services import public_tenant_ensure, tenant_create;"
             "public_tenant_ensure(domain='localhost');"
             f"tenant_create(name='seed', slug='{seed}', domain='bmig-seed.localhost',"
             "owner_email='o@bmig-seed.test', owner_password='Bench-Password-123')"],
            cwd=REPO, env=env, check=True, stdout=subprocess.DEVNULL)
        _manage(env, "migrate_schemas", *args.back, "--schema", seed)
        dump = subprocess.run(["pg_dump", "-h", "127.0.0.1", "-U", "postgres", "-n", seed, db],
                              check=True, capture_output=True, text=True).stdout
        dump = "\n".join(line for line in dump.splitlines()
                         if not line.startswith("SET transaction_timeout")) + "\n"
        seq, digest = _psql(db, "SELECT seq, hash FROM audit_admin.chain_head "
                                f"WHERE schema_name = '{seed}'").strip().split("|")
        # The seed itself is migrated to the latest by the first run too: leave it out.
        _psql(db, "DELETE FROM tenants_domain WHERE tenant_id IN (SELECT id FROM tenants_tenant "
                  f"WHERE schema_name = '{seed}'); "
                  f"DELETE FROM tenants_tenant WHERE schema_name = '{seed}'")
        pending = _psql(db, f"SELECT count(*) FROM {seed}.django_migrations")
        print(f"{args.schemas} schemas at {'.'.join(args.back)} ({pending.strip()} migrations "
              "recorded in each)")
        times = {}
        for executor in ("standard", "multiprocessing"):
            started = time.perf_counter()
            _clones(db, seed, args.schemas, dump, (seq, digest), workdir)
            made = time.perf_counter() - started
            times[executor] = _manage(env, "migrate_schemas", "--executor", executor)
            print(f"{executor}: {times[executor]:.1f} s for {args.schemas} schemas "
                  f"({times[executor] / args.schemas * 1000:.0f} ms each); copies made in "
                  f"{made:.1f} s", flush=True)
        print(f"ratio serial/parallel {times['standard'] / times['multiprocessing']:.2f} "
              f"(processes: TENANT_MULTIPROCESSING_MAX_PROCESSES, default 2; "
              f"{os.cpu_count()} CPUs)")
    finally:
        _psql("postgres", "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                          f"WHERE datname = '{db}'")
        _psql("postgres", f'DROP DATABASE IF EXISTS "{db}"')
        for path in workdir.iterdir():
            path.unlink()
        workdir.rmdir()


if __name__ == "__main__":
    main()
