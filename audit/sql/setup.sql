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
        -- A later schema of the same name (a restore) starts its own chain.
        IF to_regclass('audit_admin.chain_anchor') IS NOT NULL THEN
            DELETE FROM audit_admin.chain_anchor WHERE schema_name = obj.schema_name;
        END IF;
    END LOOP;
END
$$;
ALTER FUNCTION audit_admin.on_sql_drop() OWNER TO peoplecount_audit_owner;
DROP EVENT TRIGGER IF EXISTS audit_table_drop;
CREATE EVENT TRIGGER audit_table_drop ON sql_drop EXECUTE FUNCTION audit_admin.on_sql_drop();

-- Retention of audit events (docs/security.md, "Audit trail"): the oldest events of a chain may
-- be removed, as a contiguous prefix only, and the last removed event's seq and hash become the
-- chain's anchor: verify_audit then checks the chain from the anchor instead of from genesis,
-- so removing events still shows unless it is a recorded prefix. How many were removed and when
-- is kept here, where the application cannot write.
CREATE TABLE IF NOT EXISTS audit_admin.chain_anchor (
    schema_name text PRIMARY KEY,
    seq bigint NOT NULL CHECK (seq >= 0),
    hash text NOT NULL,
    pruned_events bigint NOT NULL DEFAULT 0,
    pruned_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE audit_admin.chain_anchor OWNER TO peoplecount_audit_owner;
REVOKE ALL ON audit_admin.chain_anchor FROM PUBLIC;
GRANT SELECT ON audit_admin.chain_anchor TO peoplecount_audit_writer;

-- Removes the events of target_schema's chain from its start up to (not including) the first
-- event that occurred at or after `before`, at most max_events of them; moves the anchor to the
-- last one removed. Refuses to remove anything younger than 30 days, so no caller can empty a
-- recent trail. Returns the number of events removed. Owned by the superuser running this file
-- (like audit_table_protect: it must reach into tenant schemas), and it takes only a schema
-- name, a time and a count, and acts only on that schema's audit table and anchor.
CREATE OR REPLACE FUNCTION audit_admin.audit_prune(target_schema text, before timestamptz,
                                                   max_events integer)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    tbl regclass := to_regclass(format('%I.audit_auditevent', target_schema));
    first_seq bigint;
    first_young bigint;
    last_seq bigint;
    last_hash text;
    removed bigint;
BEGIN
    IF tbl IS NULL THEN
        RAISE EXCEPTION 'schema % has no audit_auditevent table', target_schema;
    END IF;
    IF before > now() - interval '30 days' THEN
        RAISE EXCEPTION 'audit events younger than 30 days are never removed (before = %)', before
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF max_events < 1 THEN
        RETURN 0;
    END IF;
    EXECUTE format('SELECT min(seq) FROM %s', tbl) INTO first_seq;
    IF first_seq IS NULL THEN
        RETURN 0;
    END IF;
    EXECUTE format('SELECT min(seq) FROM %s WHERE occurred_at >= $1', tbl)
        INTO first_young USING before;
    last_seq := least(coalesce(first_young - 1, first_seq + max_events - 1),
                      first_seq + max_events - 1);
    IF last_seq < first_seq THEN
        RETURN 0;
    END IF;
    EXECUTE format('SELECT seq, hash FROM %s WHERE seq <= $1 ORDER BY seq DESC LIMIT 1', tbl)
        INTO last_seq, last_hash USING last_seq;
    EXECUTE format('ALTER TABLE %s DISABLE TRIGGER audit_event_append_only', tbl);
    EXECUTE format('DELETE FROM %s WHERE seq <= $1', tbl) USING last_seq;
    GET DIAGNOSTICS removed = ROW_COUNT;
    EXECUTE format('ALTER TABLE %s ENABLE TRIGGER audit_event_append_only', tbl);
    INSERT INTO audit_admin.chain_anchor AS a (schema_name, seq, hash, pruned_events, pruned_at)
    VALUES (target_schema, last_seq, last_hash, removed, now())
    ON CONFLICT (schema_name) DO UPDATE
        SET seq = EXCLUDED.seq, hash = EXCLUDED.hash,
            pruned_events = a.pruned_events + EXCLUDED.pruned_events, pruned_at = now();
    RETURN removed;
END
$$;
ALTER FUNCTION audit_admin.audit_prune(text, timestamptz, integer) OWNER TO CURRENT_USER;
REVOKE ALL ON FUNCTION audit_admin.audit_prune(text, timestamptz, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION audit_admin.audit_prune(text, timestamptz, integer)
    TO peoplecount_audit_writer;

-- A restored trail (tenants/platform/backup.py) whose archive was pruned starts at the
-- archive's anchor: allowed only on an empty chain that has never held an event.
CREATE OR REPLACE FUNCTION audit_admin.chain_start(target_schema text, anchor_seq bigint,
                                                   anchor_hash text)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    tbl regclass := to_regclass(format('%I.audit_auditevent', target_schema));
    head_seq bigint;
    any_event boolean;
BEGIN
    IF tbl IS NULL OR anchor_hash !~ '^[0-9a-f]{64}$' OR anchor_seq < 1 THEN
        RAISE EXCEPTION 'chain_start needs an audit table, a seq and a sha256 hash';
    END IF;
    SELECT seq INTO head_seq FROM audit_admin.chain_head WHERE schema_name = target_schema
        FOR UPDATE;
    EXECUTE format('SELECT EXISTS (SELECT 1 FROM %s)', tbl) INTO any_event;
    IF head_seq IS DISTINCT FROM 0 OR any_event
       OR EXISTS (SELECT 1 FROM audit_admin.chain_anchor WHERE schema_name = target_schema) THEN
        RAISE EXCEPTION 'the audit chain of % is not new: it cannot be restarted', target_schema
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    UPDATE audit_admin.chain_head SET seq = anchor_seq, hash = anchor_hash
     WHERE schema_name = target_schema;
    INSERT INTO audit_admin.chain_anchor (schema_name, seq, hash, pruned_events)
    VALUES (target_schema, anchor_seq, anchor_hash, 0);
END
$$;
ALTER FUNCTION audit_admin.chain_start(text, bigint, text) OWNER TO CURRENT_USER;
REVOKE ALL ON FUNCTION audit_admin.chain_start(text, bigint, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION audit_admin.chain_start(text, bigint, text)
    TO peoplecount_audit_writer;
