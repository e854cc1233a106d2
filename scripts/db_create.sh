#!/usr/bin/env bash
# Create the database roles, the template the application's databases are cloned from, and the
# application database (name from $1, default peoplecount). Idempotent; run as the PostgreSQL
# superuser over trust auth on 127.0.0.1 (make migrate, make pytest).
#
# Roles (docs/security.md, "Audit trail"):
#   $DB_APP_ROLE (peoplecount)   LOGIN, not a superuser: what the application connects as
#                                 (DATABASE_URL). CREATEDB only so that the test runner can
#                                 clone test databases from the template.
#   peoplecount_audit_owner       NOLOGIN: owns the audit tables and chain heads.
#   peoplecount_audit_writer      NOLOGIN: may append audit events; the app role is a member.
set -euo pipefail
cd "$(dirname "$0")/.."
name="${1:-peoplecount}"
app_role="${DB_APP_ROLE:-peoplecount}"
template="${DB_TEMPLATE:-peoplecount_template}"
setup_sql="audit/sql/setup.sql"
version=$(sha256sum "$setup_sql" scripts/db_create.sh | sha256sum | cut -c1-16)

psql_su() { psql -h 127.0.0.1 -U postgres -v ON_ERROR_STOP=1 -qX "$@"; }

psql_su -d postgres -v app_role="$app_role" <<'SQL'
SET client_min_messages = warning;
SET pc.app_role = :'app_role';
DO $$
DECLARE
    app text := current_setting('pc.app_role');
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = app) THEN
        EXECUTE format('CREATE ROLE %I LOGIN', app);
    END IF;
    -- Also when the role existed before: the application must never be a superuser.
    EXECUTE format('ALTER ROLE %I LOGIN NOSUPERUSER NOCREATEROLE NOREPLICATION NOBYPASSRLS '
                   'CREATEDB', app);
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'peoplecount_audit_owner') THEN
        CREATE ROLE peoplecount_audit_owner NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'peoplecount_audit_writer') THEN
        CREATE ROLE peoplecount_audit_writer NOLOGIN;
    END IF;
    EXECUTE format('GRANT peoplecount_audit_writer TO %I', app);
    IF pg_has_role(app, 'peoplecount_audit_owner', 'MEMBER') THEN
        EXECUTE format('REVOKE peoplecount_audit_owner FROM %I', app);
    END IF;
END
$$;
SQL

# Installs the audit objects and the schema rights in database $1 unless this version is there.
setup_database() {
  local db="$1" current
  current=$(psql_su -d postgres -tAc \
    "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = '$db'")
  [ "$current" = "audit-setup $version" ] && return 0
  echo ">> installing the audit roles' objects in database $db"
  psql_su -d "$db" -v app_role="$app_role" -v db="$db" <<SQL
SET client_min_messages = warning;
\\i $setup_sql
-- The public schema belongs to the superuser, not to the database owner: the application may
-- create its tables there but can never drop the schema (and the public audit trail with it).
ALTER SCHEMA public OWNER TO postgres;
REVOKE ALL ON SCHEMA public FROM PUBLIC;
GRANT USAGE, CREATE ON SCHEMA public TO :"app_role";
GRANT CONNECT, CREATE, TEMPORARY ON DATABASE :"db" TO :"app_role";
SET pc.app_role = :'app_role';
-- A database made before these roles existed has every object owned by the superuser: give
-- them to the application (audit tables too; the audit migration then hands those over).
DO \$\$
DECLARE
    app text := current_setting('pc.app_role');
    r record;
BEGIN
    FOR r IN SELECT nspname FROM pg_namespace
              WHERE nspowner = 'postgres'::regrole AND nspname NOT LIKE 'pg\\_%'
                AND nspname NOT IN ('public', 'information_schema', 'audit_admin', 'partman') LOOP
        EXECUTE format('ALTER SCHEMA %I OWNER TO %I', r.nspname, app);
    END LOOP;
    FOR r IN SELECT c.oid::regclass AS rel, c.relkind FROM pg_class c
               JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE c.relowner = 'postgres'::regrole AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
                AND n.nspname NOT LIKE 'pg\\_%'
                AND n.nspname NOT IN ('information_schema', 'audit_admin', 'partman') LOOP
        EXECUTE format('ALTER TABLE %s OWNER TO %I', r.rel, app);
    END LOOP;
    FOR r IN SELECT c.oid::regclass AS rel FROM pg_class c
               JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE c.relowner = 'postgres'::regrole AND c.relkind = 'S'
                AND n.nspname NOT LIKE 'pg\\_%'
                AND n.nspname NOT IN ('information_schema', 'audit_admin', 'partman') LOOP
        EXECUTE format('ALTER SEQUENCE %s OWNER TO %I', r.rel, app);
    END LOOP;
    FOR r IN SELECT p.oid::regprocedure AS fn FROM pg_proc p
               JOIN pg_namespace n ON n.oid = p.pronamespace
              WHERE p.proowner = 'postgres'::regrole AND n.nspname NOT LIKE 'pg\\_%'
                AND n.nspname NOT IN ('information_schema', 'audit_admin', 'partman') LOOP
        EXECUTE format('ALTER ROUTINE %s OWNER TO %I', r.fn, app);
    END LOOP;
END
\$\$;
-- pg_partman (Debian postgresql-15-partman) for the partitioned ledger (docs/operations.md):
-- created by the superuser; the application runs its functions as itself and keeps its
-- configuration (part_config) and template tables in the partman schema.
CREATE SCHEMA IF NOT EXISTS partman;
CREATE EXTENSION IF NOT EXISTS pg_partman SCHEMA partman;
GRANT USAGE, CREATE ON SCHEMA partman TO :"app_role";
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA partman TO :"app_role";
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA partman TO :"app_role";
GRANT EXECUTE ON ALL PROCEDURES IN SCHEMA partman TO :"app_role";
COMMENT ON DATABASE :"db" IS 'audit-setup $version';
SQL
}

if [ "$(psql_su -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname='$template'")" != "1" ]
then
  echo ">> creating template database $template"
  psql_su -d postgres -c "CREATE DATABASE \"$template\" TEMPLATE template1"
fi
setup_database "$template"
# Marked as a template so that the (non-superuser) application role may clone test databases.
psql_su -d postgres -c "ALTER DATABASE \"$template\" WITH IS_TEMPLATE true"

if [ "$(psql_su -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname='$name'")" != "1" ]; then
  echo ">> creating database $name"
  psql_su -d postgres -c "CREATE DATABASE \"$name\" TEMPLATE \"$template\""
fi
setup_database "$name"
