#!/usr/bin/env bash
# Create the application database if it does not exist (name from $1 or DATABASE_URL's default).
set -eu
name="${1:-peoplecount}"
exists=$(psql -h 127.0.0.1 -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname='$name'" postgres)
if [ "$exists" != "1" ]; then
  echo ">> creating database $name"
  psql -h 127.0.0.1 -U postgres -qc "CREATE DATABASE \"$name\"" postgres
fi
