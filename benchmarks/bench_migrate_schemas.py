"""``migrate_schemas`` over many tenant schemas, the way a deploy runs it: django-tenants'
serial (standard) executor against its parallel (multiprocessing) executor, applying the same
last migrations of ``counting`` to every schema.

    .venv/bin/python -m benchmarks.bench_migrate_schemas [--schemas 500] [--last 3] \
        [--processes 2] [--copiers 2] [--only standard multiprocessing]

1. A throw-away database from the template (scripts/db_create.sh), the shared apps migrated,
   one seed tenant provisioned the normal way (fully migrated), then its last ``--last``
   counting migrations reversed (``migrate_schemas counting <target> --schema seed``).
2. The seed schema is copied ``--schemas`` times at the SQL level, not by provisioning tenants
   (which costs seconds each): one ``pg_dump -n seed`` renamed per copy and replayed by
   ``--copiers`` psql sessions, ``--batch`` copies per transaction (few commits; ~300
   relation locks per copy must fit the lock table shared with everyone else),
   ``synchronous_commit`` off (a throw-away database). The tenant rows and audit
   chain heads of the copies are made from the seed's own rows in one INSERT ... SELECT each,
   so whatever columns the tenant table has are filled as for the seed.
3. That database is cloned as a whole (``CREATE DATABASE ... TEMPLATE``, a file copy), one
   copy per executor, so both executors start from the same state without copying twice.
4. ``manage.py migrate_schemas --executor standard`` on one, ``--executor multiprocessing``
   (``TENANT_MULTIPROCESSING_MAX_PROCESSES`` = ``--processes``) on the other, timed.

Prints the copy time, each executor's time, schemas per second and the ratio; every database
it made is dropped at the end, whatever happened (the copies live only in those databases).
The two runs are sequential on a machine shared with others: the load average is printed
beside each so a ratio taken under a different load can be recognised.
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
SEED = "bmig_seed"
PSQL = ["psql", "-h", "127.0.0.1", "-U", "postgres", "-v", "ON_ERROR_STOP=1", "-qAtX"]


def _psql(db: str, sql: str) -> str:
    return subprocess.run([*PSQL, "-d", db, "-c", sql], check=True, capture_output=True,
                          text=True).stdout


def _env(db: str, processes: int) -> dict[str, str]:
    return {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.local",
            "DATABASE_URL": f"postgres://peoplecount@127.0.0.1:5432/{db}",
            "TENANT_MULTIPROCESSING_MAX_PROCESSES": str(processes)}


def _manage(env: dict[str, str], *args: str) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "manage.py", *args], cwd=REPO, env=env, check=True,
                   stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def _migration_target(env: dict[str, str], last: int) -> tuple[str, list[str]]:
    """The counting migration to go back to, and the ``last`` ones after it (leaf last)."""
    out = subprocess.run(
        [sys.executable, "-c",
         "import django; django.setup();"
         "from django.db.migrations.loader import MigrationLoader;"
         "graph = MigrationLoader(None, ignore_no_migrations=True).graph;"
         "leaf = graph.leaf_nodes('counting')[0];"
         "print('\\n'.join(name for app, name in graph.forwards_plan(leaf) "
         "if app == 'counting'))"],
        cwd=REPO, env=env, check=True, capture_output=True, text=True).stdout.split()
    if last < 1 or last >= len(out):
        raise SystemExit(f"--last must be between 1 and {len(out) - 1} (counting has "
                         f"{len(out)} migrations)")
    return out[-last - 1], out[-last:]


def _copy_sql(dump: str, names: list[str], batch: int) -> str:
    """The dump replayed once per name, ``batch`` schemas per transaction."""
    parts = ["SET synchronous_commit = off;\n"]
    pattern = re.compile(rf"\b{SEED}\b")
    for start in range(0, len(names), batch):
        parts.append("BEGIN;\n")
        parts.extend(pattern.sub(name, dump) for name in names[start:start + batch])
        parts.append("COMMIT;\n")
    return "".join(parts)


def _copies(db: str, dump: str, count: int, copiers: int, batch: int, workdir: Path) -> None:
    """``count`` copies of the seed schema with their tenant rows and audit chain heads."""
    names = [f"bmig_c{n:04d}" for n in range(count)]
    sessions = []
    for k in range(copiers):
        path = workdir / f"copies-{k}.sql"
        path.write_text(_copy_sql(dump, names[k::copiers], batch))
        sessions.append(subprocess.Popen([*PSQL, "-d", db, "-f", str(path)],
                                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))
    failed = [p.stderr.read().decode() for p in sessions if p.wait() != 0 and p.stderr]
    if failed:
        raise SystemExit("copying the seed schema failed:\n" + "\n".join(failed))
    columns = _psql(db, "SELECT quote_ident(column_name) FROM information_schema.columns "
                        "WHERE table_schema = 'public' AND table_name = 'tenants_tenant' "
                        "AND column_name <> 'id' ORDER BY ordinal_position").split()
    renamed = {"schema_name": "c.n", "name": "c.n", "slug": "c.n"}
    select = ", ".join(renamed.get(column, f"t.{column}") for column in columns)
    series = (f"(SELECT 'bmig_c' || lpad(i::text, 4, '0') AS n "
              f"FROM generate_series(0, {count - 1}) AS i) AS c")
    _psql(db, f"INSERT INTO public.tenants_tenant ({', '.join(columns)}) SELECT {select} "
              f"FROM public.tenants_tenant t, {series} WHERE t.schema_name = '{SEED}'; "
              "INSERT INTO audit_admin.chain_head (schema_name, seq, hash) "
              f"SELECT c.n, h.seq, h.hash FROM audit_admin.chain_head h, {series} "
              f"WHERE h.schema_name = '{SEED}'")


def _drop(db: str) -> None:
    _psql("postgres", "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                      f"WHERE datname = '{db}'")
    _psql("postgres", f'DROP DATABASE IF EXISTS "{db}"')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--schemas", type=int, default=500)
    parser.add_argument("--last", type=int, default=3,
                        help="how many of counting's last migrations the deploy applies")
    parser.add_argument("--processes", type=int, default=2,
                        help="TENANT_MULTIPROCESSING_MAX_PROCESSES of the parallel run")
    parser.add_argument("--copiers", type=int, default=2, help="psql sessions copying schemas")
    parser.add_argument("--batch", type=int, default=4, help="schema copies per transaction")
    parser.add_argument("--only", nargs="+", default=["standard", "multiprocessing"],
                        choices=["standard", "multiprocessing"])
    args = parser.parse_args()
    tag = uuid.uuid4().hex[:8]
    base = f"bench_migrate_{tag}"
    databases = [base]
    workdir = Path(f"/tmp/{base}")
    workdir.mkdir()
    env = _env(base, args.processes)
    try:
        _psql("postgres", f'CREATE DATABASE "{base}" TEMPLATE peoplecount_template '
                          "OWNER peoplecount")
        started = time.perf_counter()
        _manage(env, "migrate_schemas", "--shared")
        subprocess.run(
            [sys.executable, "-c",
             "import django; django.setup();"
             "from tenants.platform.services import public_tenant_ensure, tenant_create;"
             "public_tenant_ensure(domain='localhost');"
             f"tenant_create(name='seed', slug='{SEED}', domain='bmig-seed.localhost',"
             "owner_email='o@bmig-seed.test', owner_password='Bench-Password-123')"],
            cwd=REPO, env=env, check=True, stdout=subprocess.DEVNULL)
        target, applied = _migration_target(env, args.last)
        _manage(env, "migrate_schemas", "counting", target, "--schema", SEED)
        seeded = time.perf_counter() - started
        dump = subprocess.run(["pg_dump", "-h", "127.0.0.1", "-U", "postgres", "-n", SEED, base],
                              check=True, capture_output=True, text=True).stdout
        # pg_dump 17 writes a setting the server (15) does not know.
        dump = "\n".join(line for line in dump.splitlines()
                         if not line.startswith("SET transaction_timeout")) + "\n"
        started = time.perf_counter()
        _copies(base, dump, args.schemas, args.copiers, args.batch, workdir)
        replayed = time.perf_counter() - started
        # The seed keeps its schema (the copies' template) but leaves the tenant table, so the
        # runs below migrate exactly the copies.
        _psql(base, "DELETE FROM tenants_domain WHERE tenant_id IN (SELECT id FROM "
                    f"tenants_tenant WHERE schema_name = '{SEED}'); "
                    f"DELETE FROM tenants_tenant WHERE schema_name = '{SEED}'")
        _psql(base, "VACUUM ANALYZE")
        _psql(base, "CHECKPOINT")
        copied = time.perf_counter() - started
        tenants = int(_psql(base, "SELECT count(*) FROM tenants_tenant "
                                  "WHERE schema_name LIKE 'bmig_c%'"))
        print(f"seed tenant provisioned and taken back to counting {target} in {seeded:.1f} s; "
              f"{tenants} copies made in {copied:.1f} s ({tenants / copied:.1f} schemas/s, "
              f"{args.copiers} psql sessions, {args.batch} per transaction; replay "
              f"{replayed:.1f} s, then VACUUM ANALYZE and CHECKPOINT)", flush=True)
        print(f"each deploy applies {len(applied)} migrations: {', '.join(applied)}", flush=True)
        runs = {}
        for executor in args.only:
            db = f"bench_migrate_{tag}_{executor[:3]}"
            databases.append(db)
            t0 = time.perf_counter()
            _psql("postgres", f'CREATE DATABASE "{db}" TEMPLATE "{base}" OWNER peoplecount '
                              "STRATEGY FILE_COPY")
            cloned = time.perf_counter() - t0
            load0 = os.getloadavg()[0]
            runs[executor] = _manage(_env(db, args.processes), "migrate_schemas",
                                     "--executor", executor)
            left = int(_psql(db, "SELECT count(*) FROM tenants_tenant t "
                                 "WHERE schema_name LIKE 'bmig_c%' "
                                 "AND NOT EXISTS ("
                                 "SELECT 1 FROM pg_tables WHERE schemaname = t.schema_name "
                                 "AND tablename = 'counting_linedayrollup')") or 0)
            print(f"{executor:15}: {runs[executor]:7.1f} s for {tenants} schemas = "
                  f"{tenants / runs[executor]:.2f} schemas/s "
                  f"({runs[executor] / tenants * 1000:.0f} ms each); database copied in "
                  f"{cloned:.1f} s; load average {load0:.1f} -> {os.getloadavg()[0]:.1f}"
                  f"{'' if executor == 'standard' else f'; {args.processes} processes'}"
                  f" [{left} copies left unmigrated]",
                  flush=True)
            _drop(db)
        if len(runs) == 2:
            print(f"ratio serial/parallel {runs['standard'] / runs['multiprocessing']:.2f} "
                  f"({args.processes} processes, {os.cpu_count()} CPUs)")
    finally:
        for db in databases:
            _drop(db)
        for path in workdir.iterdir():
            path.unlink()
        workdir.rmdir()


if __name__ == "__main__":
    main()
