"""Ledger write throughput: the chosen path (multi-row INSERT ... ON CONFLICT + rollups, one
transaction per batch, fenced by the lease) against COPY into a temporary table followed by
INSERT ... SELECT ... ON CONFLICT (the rejected alternative).

    DJANGO_SETTINGS_MODULE=config.settings.local .venv/bin/python -m benchmarks.bench_ledger
    ... -m benchmarks.bench_ledger --partitioned --rounds 5

``--partitioned``: the chosen path into the partitioned ledger (monthly partitions, counting
0020) against the same path into plain tables (a second tenant whose tables the migration's
reverse made plain again, with the same UNIQUE (idempotency_key, occurred_at)), in
alternating rounds of the same run, with the ratio per round and its median (the machine's
load drifts; the median of paired rounds is what to compare).

Creates throw-away tenants in the configured database and drops them afterwards.
"""

from __future__ import annotations

import argparse
import io
import os
import time
from datetime import UTC, datetime, timedelta


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--batches", type=int, default=50)
    parser.add_argument("--batch-size", type=int, default=200)
    parser.add_argument("--partitioned", action="store_true",
                        help="compare the partitioned ledger with plain tables instead")
    parser.add_argument("--rounds", type=int, default=5, help="with --partitioned")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    import django

    django.setup()
    if args.partitioned:
        partitioned_against_plain(args)
        return
    from django.db import connection, transaction
    from django_tenants.utils import tenant_context

    from benchmarks.throwaway import throwaway_tenant
    from cameras.models import Camera, Site
    from counting.leases import lease_acquire
    from counting.ledger import LedgerBatch, LedgerEvent, idempotency_key, ledger_write
    from counting.models import CountingLine

    with throwaway_tenant() as tenant, tenant_context(tenant):
        site = Site.objects.create(name="b")
        camera = Camera.objects.create(site=site, name="b", stream_url="rtsp://10.0.0.1/")
        lines = [CountingLine.objects.create(camera=camera, name=f"l{i}", x1=0, y1=0, x2=1,
                                             y2=1) for i in range(2)]
        taken = lease_acquire(camera_id=camera.pk, owner="bench", ttl_s=3600)
        assert taken is not None
        t0 = datetime.now(tz=UTC)

        def events(batch: int) -> tuple[LedgerEvent, ...]:
            return tuple(LedgerEvent(
                line_id=lines[i % 2].pk, direction="in" if i % 3 else "out",
                track_id=batch * 100000 + i,
                occurred_at=t0 + timedelta(milliseconds=batch * 1000 + i), frame_index=i)
                for i in range(args.batch_size))

        started = time.perf_counter()
        for b in range(args.batches):
            ledger_write(LedgerBatch(camera_id=camera.pk, generation=taken.generation,
                                     seq=b + 1, events=events(b)))
        insert_s = time.perf_counter() - started
        started = time.perf_counter()
        for b in range(args.batches):  # replays: every event is a duplicate
            ledger_write(LedgerBatch(camera_id=camera.pk, generation=taken.generation,
                                     seq=args.batches + b + 1, events=events(b)))
        replay_s = time.perf_counter() - started

        started = time.perf_counter()
        for b in range(args.batches, 2 * args.batches):
            buf = io.StringIO()
            for e in events(b):
                key = idempotency_key(camera_id=camera.pk, line_id=e.line_id,
                                      track_id=e.track_id, direction=e.direction,
                                      occurred_at=e.occurred_at, generation=taken.generation)
                buf.write(f"{camera.pk}\t{e.line_id}\t{e.direction}\t{e.track_id}\t"
                          f"{e.occurred_at.isoformat()}\t{e.frame_index}\t0\t\t\t"
                          f"{taken.generation}\t{key}\t{t0.isoformat()}\n")
            cols = ("camera_id, line_id, direction, track_id, occurred_at, frame_index, "
                    "score, model_version, rule_version, lease_generation, "
                    "idempotency_key, recorded_at")
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(f"CREATE TEMP TABLE IF NOT EXISTS ev_copy ON COMMIT DELETE "
                               f"ROWS AS SELECT {cols} FROM counting_countevent WITH NO DATA")
                with cursor.cursor.copy(f"COPY ev_copy ({cols}) FROM STDIN") as copy:
                    copy.write(buf.getvalue())
                cursor.execute(f"INSERT INTO counting_countevent ({cols}) SELECT {cols} "
                               "FROM ev_copy ON CONFLICT (idempotency_key, occurred_at) DO NOTHING "
                               "RETURNING line_id, direction, occurred_at")
                cursor.fetchall()  # rollups would follow as in the chosen path
        copy_s = time.perf_counter() - started
    n = args.batches * args.batch_size
    print(f"events per batch: {args.batch_size}, batches: {args.batches}")
    print(f"chosen  multi-row INSERT ON CONFLICT + rollups + fence: {n / insert_s:,.0f} "
          f"events/s ({insert_s / args.batches * 1000:.1f} ms/batch)")
    print(f"replay  (all duplicates)                             : {n / replay_s:,.0f} "
          f"events/s")
    print(f"reject  COPY to temp + INSERT SELECT (no rollups)    : {n / copy_s:,.0f} "
          f"events/s ({copy_s / args.batches * 1000:.1f} ms/batch)")


def partitioned_against_plain(args: argparse.Namespace) -> None:
    """Insert and replay rates of ``ledger_write`` into partitioned and plain tables, paired
    rounds of ``--batches`` batches each."""
    import importlib
    import statistics
    from types import SimpleNamespace

    from django.db import connection, transaction
    from django_tenants.utils import tenant_context

    from benchmarks.throwaway import throwaway_tenant
    from cameras.models import Camera, Site
    from counting.leases import lease_acquire
    from counting.ledger import LedgerBatch, LedgerEvent, ledger_write
    from counting.models import CountEvent, CountingLine
    from tenants.partitions import is_partitioned

    migration = importlib.import_module("counting.migrations.0020_ledger_partitioned")

    def prepare(tenant: object, plain: bool) -> dict[str, object]:
        with tenant_context(tenant):
            if plain:
                with transaction.atomic(), connection.cursor() as cursor:
                    migration.backward(None, SimpleNamespace(connection=connection))
                    # Today's plain table with the same unique key as the partitioned one
                    # (the writer's ON CONFLICT names both columns).
                    cursor.execute("ALTER TABLE counting_countevent DROP CONSTRAINT "
                                   "counting_countevent_idempotency_key_key, ADD CONSTRAINT "
                                   "countevent_idempotency_unique UNIQUE (idempotency_key, "
                                   "occurred_at)")
            assert is_partitioned(tenant.schema_name, "counting_countevent") != plain  # type: ignore[attr-defined]
            site = Site.objects.create(name="b")
            camera = Camera.objects.create(site=site, name="b", stream_url="rtsp://10.0.0.1/")
            lines = [CountingLine.objects.create(camera=camera, name=f"l{i}", x1=0, y1=0,
                                                 x2=1, y2=1) for i in range(2)]
            taken = lease_acquire(camera_id=camera.pk, owner="bench", ttl_s=3600)
            assert taken is not None
            return {"tenant": tenant, "camera": camera.pk, "lines": [x.pk for x in lines],
                    "generation": taken.generation, "seq": 0}

    t0 = datetime.now(tz=UTC)

    def write(state: dict, first: int) -> tuple[float, float]:  # type: ignore[type-arg]
        def events(batch: int) -> tuple[LedgerEvent, ...]:
            return tuple(LedgerEvent(
                line_id=state["lines"][i % 2], direction="in" if i % 3 else "out",
                track_id=batch * 100000 + i,
                occurred_at=t0 + timedelta(milliseconds=batch * 1000 + i), frame_index=i)
                for i in range(args.batch_size))

        timings = []
        with tenant_context(state["tenant"]):
            for _ in range(2):  # new events, then the same again (all duplicates)
                started = time.perf_counter()
                for b in range(first, first + args.batches):
                    state["seq"] += 1
                    ledger_write(LedgerBatch(camera_id=state["camera"],
                                             generation=state["generation"],
                                             seq=state["seq"], events=events(b)))
                timings.append(time.perf_counter() - started)
        return timings[0], timings[1]

    n = args.batches * args.batch_size
    with throwaway_tenant() as part_tenant, throwaway_tenant() as plain_tenant:
        states = {"partitioned": prepare(part_tenant, False), "plain": prepare(plain_tenant, True)}
        ratios: dict[str, list[float]] = {"insert": [], "replay": []}
        print(f"events per batch: {args.batch_size}, batches per round: {args.batches}")
        for r in range(args.rounds):
            order = ["plain", "partitioned"] if r % 2 == 0 else ["partitioned", "plain"]
            got = {kind: write(states[kind], r * args.batches) for kind in order}
            for i, what in enumerate(("insert", "replay")):
                ratios[what].append(got["partitioned"][i] / got["plain"][i])
            print(f"round {r + 1}: insert plain {n / got['plain'][0]:,.0f} ev/s, partitioned "
                  f"{n / got['partitioned'][0]:,.0f} ev/s (time ratio "
                  f"{ratios['insert'][-1]:.2f}); replay plain {n / got['plain'][1]:,.0f} ev/s,"
                  f" partitioned {n / got['partitioned'][1]:,.0f} ev/s "
                  f"(ratio {ratios['replay'][-1]:.2f})")
        for kind, state in states.items():
            with tenant_context(state["tenant"]):
                print(f"{kind}: {CountEvent.objects.count():,} events stored")
        print(f"median time ratio partitioned/plain: insert "
              f"{statistics.median(ratios['insert']):.2f}, replay "
              f"{statistics.median(ratios['replay']):.2f} (above 1: partitioned slower)")


if __name__ == "__main__":
    main()
