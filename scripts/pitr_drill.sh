#!/usr/bin/env bash
# Point-in-time recovery drill with pgBackRest (docs/operations.md, "Point-in-time recovery").
#
#   scripts/pitr_drill.sh [SECONDS_OF_WRITES]      # default 60; run as root or as postgres
#
# On a throw-away PostgreSQL cluster (its own data directory, port and pgBackRest repository
# under a temporary directory; the platform's cluster is not touched):
#   1. archive_mode on, archive_command = pgbackrest archive-push; stanza-create, check, and a
#      full backup;
#   2. a ledger-like writer commits one row every ~10 ms for SECONDS_OF_WRITES; halfway it notes
#      the target time T;
#   3. drill A, "undo a mistake": the primary is stopped, the backup restored to T
#      (--type=time), started, and compared: rows committed before T that are missing (data lost),
#      rows after T that came back (should be none), and the recovery time (restore + replay
#      until it accepts connections);
#   4. drill B, "lose the machine": the writer runs again, the primary is killed (-m immediate,
#      so the WAL segment being written is never archived), and the backup restored to the end
#      of the archive: the rows committed but lost are the data lost (bounded by
#      archive_timeout), and the recovery time.
# Prints the numbers (and, for drill B, the WAL file being written and the last archived one at
# the kill); removes everything it made (PITR_KEEP_LOGS=DIR keeps the logs). Not part of
# `make test`.
set -euo pipefail
seconds="${1:-60}"
if [ "$(id -u)" = 0 ]; then
  exec runuser -u postgres -- "$0" "$@"
fi
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
work=$(mktemp -d /tmp/pitr-drill.XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
conf="$work/pgbackrest.conf"
stanza=drill
cleanup() {
  "$bin/pg_ctl" -D "$work/data" -m immediate stop >/dev/null 2>&1 || true
  "$bin/pg_ctl" -D "$work/restored" -m immediate stop >/dev/null 2>&1 || true
  [ -n "${PITR_KEEP_LOGS:-}" ] && cp -r "$work/log" "$PITR_KEEP_LOGS" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

cat > "$conf" <<EOF
[global]
repo1-path=$work/repo
repo1-retention-full=2
log-path=$work/log
lock-path=$work/lock
spool-path=$work/spool
log-level-console=warn
compress-type=lz4
start-fast=y
archive-async=n

[$stanza]
pg1-path=$work/data
pg1-port=$port
pg1-socket-path=$work
EOF
mkdir -p "$work/log" "$work/lock" "$work/spool"

pgbr() { pgbackrest --config="$conf" --stanza="$stanza" "$@"; }
sql() { "$bin/psql" -h "$work" -p "$port" -d postgres -qAtX -v ON_ERROR_STOP=1 -c "$1"; }
now_s() { date +%s.%N; }

"$bin/initdb" -D "$work/data" -A trust -U postgres >/dev/null
cat >> "$work/data/postgresql.conf" <<EOF
port = $port
listen_addresses = ''
unix_socket_directories = '$work'
wal_level = replica
archive_mode = on
archive_command = 'pgbackrest --config=$conf --stanza=$stanza archive-push %p'
archive_timeout = 30
max_wal_senders = 3
EOF
"$bin/pg_ctl" -D "$work/data" -l "$work/log/primary.log" -w start >/dev/null
pgbr stanza-create
pgbr check
sql "CREATE TABLE ledger (id bigserial PRIMARY KEY, at timestamptz NOT NULL DEFAULT clock_timestamp(), payload text)"
sql "INSERT INTO ledger (payload) SELECT repeat('x', 200) FROM generate_series(1, 200000)"
started=$(now_s)
pgbr backup --type=full
backup_s=$(python3 -c "print(f'{$(now_s) - $started:.1f}')")
db_size=$(sql "SELECT pg_size_pretty(pg_database_size('postgres'))")
repo_size=$(du -sh "$work/repo" | cut -f1)

writer() {  # one committed row every ~10 ms for $1 seconds
  local until=$(( $(date +%s) + $1 ))
  while [ "$(date +%s)" -lt "$until" ]; do
    sql "INSERT INTO ledger (payload) VALUES ('w')" >/dev/null 2>&1 || return 0
    sleep 0.01
  done
}

# Drill A: restore to a moment.
writer $(( seconds / 2 ))
target=$(sql "SELECT clock_timestamp()")
before_target=$(sql "SELECT count(*) FROM ledger WHERE at < '$target'")
writer $(( seconds / 2 ))
total_a=$(sql "SELECT count(*) FROM ledger")
sql "SELECT pg_switch_wal()" >/dev/null
sleep 2  # the switched segment is archived by the archiver
"$bin/pg_ctl" -D "$work/data" -m fast stop >/dev/null
started=$(now_s)
pgbr restore --pg1-path="$work/restored" --type=time --target="$target" --target-action=promote \
  --archive-mode=off  # the drill's copy must not archive a second timeline into the repository
sed -i "s/^port = .*/port = $port/" "$work/restored/postgresql.conf"
"$bin/pg_ctl" -D "$work/restored" -l "$work/log/restored-a.log" -w -t 600 start >/dev/null
until [ "$(sql 'SELECT pg_is_in_recovery()')" = "f" ]; do sleep 0.1; done
recovery_a=$(python3 -c "print(f'{$(now_s) - $started:.1f}')")
have_before=$(sql "SELECT count(*) FROM ledger WHERE at < '$target'")
have_after=$(sql "SELECT count(*) FROM ledger WHERE at >= '$target'")
"$bin/pg_ctl" -D "$work/restored" -m fast stop >/dev/null
rm -rf "$work/restored"

# Drill B: lose the machine. The primary continues on a new timeline from its own data.
"$bin/pg_ctl" -D "$work/data" -l "$work/log/primary.log" -w start >/dev/null
writer "$seconds"
committed_n=$(sql "SELECT count(*) FROM ledger")
committed_at=$(sql "SELECT max(at) FROM ledger")
archived=$(sql "SELECT last_archived_wal || ' at ' || last_archived_time || ', failed ' || failed_count || ' ' || coalesce(last_failed_wal, '') FROM pg_stat_archiver")
current=$(sql "SELECT pg_walfile_name(pg_current_wal_lsn())")
"$bin/pg_ctl" -D "$work/data" -m immediate stop >/dev/null
started=$(now_s)
pgbr restore --pg1-path="$work/restored" --type=default
sed -i "s/^port = .*/port = $port/" "$work/restored/postgresql.conf"
"$bin/pg_ctl" -D "$work/restored" -l "$work/log/restored-b.log" -w -t 600 start >/dev/null
until [ "$(sql 'SELECT pg_is_in_recovery()')" = "f" ]; do sleep 0.1; done
recovery_b=$(python3 -c "print(f'{$(now_s) - $started:.1f}')")
restored_n=$(sql "SELECT count(*) FROM ledger")
last_at=$(sql "SELECT max(at) FROM ledger")
lost_s=$(sql "SELECT round(extract(epoch FROM '$committed_at'::timestamptz - '$last_at'::timestamptz)::numeric, 1)")

echo "pgBackRest $(pgbackrest version | cut -d' ' -f2), PostgreSQL $("$bin/postgres" --version | awk '{print $3}')"
echo "database $db_size; full backup ${backup_s} s, repository $repo_size (lz4)"
echo "drill A (restore to a moment T): recovery ${recovery_a} s; rows before T: $have_before of" \
     "$before_target (lost $((before_target - have_before))); rows after T restored: $have_after" \
     "(of $((total_a - before_target)) written after T, expected 0)"
echo "drill B (machine lost, -m immediate): recovery ${recovery_b} s; rows $restored_n of" \
     "$committed_n committed (lost $((committed_n - restored_n)), ${lost_s} s of writes;" \
     "archive_timeout 30 s bounds it); at the kill: writing $current, archived $archived"
