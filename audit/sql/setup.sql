-- The database side of the audit trail's protection. Run as a superuser by scripts/db_create.sh
-- in the application database and in the template its test databases are cloned from; it is
-- idempotent. See docs/security.md, "Audit trail".
--
-- Roles (created cluster-wide by scripts/db_create.sh):
--   peoplecount_audit_owner   NOLOGIN; owns every audit_auditevent table, the chain heads and
--                             the chain trigger function. Nobody logs in as it.
--   peoplecount_audit_writer  NOLOGIN; SELECT and INSERT on the audit tables, SELECT on the
--                             heads. The application's runtime role is a member of it.
-- The runtime role is neither a superuser nor a member of the owner role, so it can append
-- audit events but cannot UPDATE, DELETE or TRUNCATE them, disable or drop their triggers,
-- change their owner, or move a chain head.

CREATE SCHEMA IF NOT EXISTS audit_admin AUTHORIZATION peoplecount_audit_owner;
REVOKE ALL ON SCHEMA audit_admin FROM PUBLIC;
GRANT USAGE ON SCHEMA audit_admin TO peoplecount_audit_writer;

-- One row per schema that has an audit table: the sequence number and hash of its last event.
-- Locked by every append, so the chain of a schema never forks; only the owner can write it,
-- so removing the newest events (which no link points at) still shows as a gap at the head.
CREATE TABLE IF NOT EXISTS audit_admin.chain_head (
    schema_name text PRIMARY KEY,
    seq bigint NOT NULL CHECK (seq >= 0),
    hash text NOT NULL
);
ALTER TABLE audit_admin.chain_head OWNER TO peoplecount_audit_owner;
REVOKE ALL ON audit_admin.chain_head FROM PUBLIC;
GRANT SELECT ON audit_admin.chain_head TO peoplecount_audit_writer;

-- The last head of every audit table that was dropped with its schema (tenant deletion): the
-- tenant's export must end exactly there.
CREATE TABLE IF NOT EXISTS audit_admin.retired_chain (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    schema_name text NOT NULL,
    seq bigint NOT NULL,
    hash text NOT NULL,
    dropped_at timestamptz NOT NULL DEFAULT now(),
    dropped_by name NOT NULL DEFAULT session_user
);
ALTER TABLE audit_admin.retired_chain OWNER TO peoplecount_audit_owner;
REVOKE ALL ON audit_admin.retired_chain FROM PUBLIC;
GRANT SELECT ON audit_admin.retired_chain TO peoplecount_audit_writer;

-- BEFORE INSERT on every audit table: link the new event to the head of its schema's chain.
-- hash = sha256(prev_hash || ':' || seq || ':' || content_hash); audit/chain.py computes the
-- same. Runs as the owner (SECURITY DEFINER) because the writers cannot update the heads.
CREATE OR REPLACE FUNCTION audit_admin.chain_link() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    head_seq bigint;
    head_hash text;
BEGIN
    IF TG_TABLE_NAME <> 'audit_auditevent' THEN
        RAISE EXCEPTION 'audit_admin.chain_link() only links audit_auditevent rows';
    END IF;
    IF NEW.content_hash IS NULL OR NEW.content_hash !~ '^[0-9a-f]{64}$' THEN
        RAISE EXCEPTION 'an audit event needs its content_hash (audit.chain.content_hash)'
            USING ERRCODE = 'check_violation';
    END IF;
    SELECT h.seq, h.hash INTO head_seq, head_hash
      FROM audit_admin.chain_head h WHERE h.schema_name = TG_TABLE_SCHEMA FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no audit chain head for schema % (migrate audit first)', TG_TABLE_SCHEMA;
    END IF;
    NEW.seq := head_seq + 1;
    NEW.prev_hash := head_hash;
    NEW.hash := encode(sha256(convert_to(
        head_hash || ':' || NEW.seq::text || ':' || NEW.content_hash, 'UTF8')), 'hex');
    UPDATE audit_admin.chain_head SET seq = NEW.seq, hash = NEW.hash
     WHERE schema_name = TG_TABLE_SCHEMA;
    RETURN NEW;
END
$$;
ALTER FUNCTION audit_admin.chain_link() OWNER TO peoplecount_audit_owner;
REVOKE ALL ON FUNCTION audit_admin.chain_link() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION audit_admin.chain_link() TO peoplecount_audit_writer;

-- Called by the audit migration in every schema, as the role that ran the migration (and so
-- owns the new table): hands the table, its sequence and its trigger function to the owner
-- role, leaves the writers SELECT and INSERT only, and starts the chain head at the table's
-- last event. Owned by a superuser because changing an owner needs rights over both roles;
-- it takes only a schema name, acts only on that schema's audit_auditevent, and does nothing
-- to a table that is already protected (so it can never move an existing head).
CREATE OR REPLACE FUNCTION audit_admin.audit_table_protect(target_schema text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    tbl regclass := to_regclass(format('%I.audit_auditevent', target_schema));
    owner_role name;
    last_seq bigint;
    last_hash text;
BEGIN
    IF tbl IS NULL THEN
        RAISE EXCEPTION 'schema % has no audit_auditevent table', target_schema;
    END IF;
    SELECT r.rolname INTO owner_role
      FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner WHERE c.oid = tbl;
    IF owner_role <> 'peoplecount_audit_owner' THEN
        IF NOT pg_has_role(session_user, owner_role, 'MEMBER') THEN
            RAISE EXCEPTION 'only the owner of %.audit_auditevent can hand it over',
                target_schema USING ERRCODE = 'insufficient_privilege';
        END IF;
        EXECUTE format('ALTER TABLE %s OWNER TO peoplecount_audit_owner', tbl);
        EXECUTE format('REVOKE ALL ON TABLE %s FROM PUBLIC', tbl);
        EXECUTE format('REVOKE ALL ON TABLE %s FROM %I', tbl, owner_role);
        EXECUTE format('GRANT SELECT, INSERT ON TABLE %s TO peoplecount_audit_writer', tbl);
        IF to_regprocedure(format('%I.audit_event_append_only()', target_schema)) IS NOT NULL
        THEN
            EXECUTE format('ALTER FUNCTION %I.audit_event_append_only() '
                           'OWNER TO peoplecount_audit_owner', target_schema);
        END IF;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM audit_admin.chain_head WHERE schema_name = target_schema) THEN
        EXECUTE format('SELECT seq, hash FROM %s WHERE seq IS NOT NULL ORDER BY seq DESC LIMIT 1',
                       tbl) INTO last_seq, last_hash;
        INSERT INTO audit_admin.chain_head (schema_name, seq, hash)
        VALUES (target_schema, coalesce(last_seq, 0), coalesce(last_hash, repeat('0', 64)));
    END IF;
END
$$;
REVOKE ALL ON FUNCTION audit_admin.audit_table_protect(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION audit_admin.audit_table_protect(text) TO peoplecount_audit_writer;

-- The owner of a schema may drop any table in it. An audit table may only go with its whole
-- schema (tenant deletion, after the export); its last head is then kept in retired_chain.
CREATE OR REPLACE FUNCTION audit_admin.on_sql_drop() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    obj record;
BEGIN
    FOR obj IN SELECT * FROM pg_event_trigger_dropped_objects()
                WHERE object_type = 'table' AND object_name = 'audit_auditevent' LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_event_trigger_dropped_objects() d
                        WHERE d.object_type = 'schema' AND d.object_name = obj.schema_name) THEN
            RAISE EXCEPTION '%.audit_auditevent can only be dropped with its schema',
                obj.schema_name USING ERRCODE = 'insufficient_privilege';
        END IF;
        WITH gone AS (DELETE FROM audit_admin.chain_head WHERE schema_name = obj.schema_name
                      RETURNING schema_name, seq, hash)
        INSERT INTO audit_admin.retired_chain (schema_name, seq, hash)
        SELECT schema_name, seq, hash FROM gone;
    END LOOP;
END
$$;
ALTER FUNCTION audit_admin.on_sql_drop() OWNER TO peoplecount_audit_owner;
DROP EVENT TRIGGER IF EXISTS audit_table_drop;
CREATE EVENT TRIGGER audit_table_drop ON sql_drop EXECUTE FUNCTION audit_admin.on_sql_drop();
