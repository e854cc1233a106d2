#!/usr/bin/env bash
# Start PostgreSQL, Redis and RabbitMQ if they are installed but not answering. Idempotent.
set -u

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() {  # name port seconds
  local i
  for ((i = 0; i < $3 * 2; i++)); do
    port_open "$2" && return 0
    sleep 0.5
  done
  echo "!! $1 did not start listening on 127.0.0.1:$2 within $3 s" >&2
  return 1
}

status=0
if ! port_open 5432; then
  if command -v pg_ctlcluster >/dev/null 2>&1; then
    echo ">> starting PostgreSQL"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
    wait_port PostgreSQL 5432 30 || status=1
  else
    echo "!! PostgreSQL is not running on 127.0.0.1:5432 and is not installed here" >&2; status=1
  fi
fi
if ! port_open 6379; then
  if command -v redis-server >/dev/null 2>&1; then
    echo ">> starting Redis"
    mkdir -p /var/lib/redis /var/log/redis
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
      --dir /var/lib/redis --logfile /var/log/redis/ci.log || true
    wait_port Redis 6379 20 || status=1
  else
    echo "!! Redis is not running on 127.0.0.1:6379 and is not installed here" >&2; status=1
  fi
fi
if ! port_open 5672; then
  if command -v rabbitmq-server >/dev/null 2>&1; then
    echo ">> starting RabbitMQ (can take ~20 s)"
    rabbitmq-server -detached || true
    wait_port RabbitMQ 5672 90 || status=1
  else
    echo "!! RabbitMQ is not running on 127.0.0.1:5672 and is not installed here" >&2; status=1
  fi
fi
exit $status
