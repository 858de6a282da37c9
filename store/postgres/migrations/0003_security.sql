-- Security: the role the service runs as, tenant isolation that fails
-- closed, and the audit log.
--
-- The service role. The service never queries as the tables' owner: every
-- transaction of store/postgres starts with set_config('role',
-- 'potential_app', true), so its statements run as potential_app, a NOLOGIN
-- role that owns nothing, has no BYPASSRLS and holds only the DML
-- privileges granted below. The connecting user must be a member of it: the
-- role that runs the migrations (made a member here when it may grant
-- that) or a login role of its own (GRANT potential_app TO potential_svc).
-- Roles belong to the cluster, not the database: a missing role is created
-- when the migrating role may create roles, and otherwise must be created
-- by an administrator first (CREATE ROLE potential_app NOLOGIN).
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'potential_app') THEN
        BEGIN
            CREATE ROLE potential_app NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;
        EXCEPTION
            WHEN duplicate_object OR unique_violation THEN
                NULL; -- a concurrent migration of another database created it
            WHEN insufficient_privilege THEN
                RAISE EXCEPTION 'role potential_app does not exist and % may not create it', current_user
                    USING HINT = format('As a superuser: CREATE ROLE potential_app NOLOGIN; GRANT potential_app TO %I;', current_user);
        END;
    END IF;
    IF NOT pg_has_role(current_user, 'potential_app', 'MEMBER') THEN
        BEGIN
            EXECUTE format('GRANT potential_app TO %I', current_user);
        EXCEPTION
            WHEN unique_violation THEN
                NULL;
            WHEN insufficient_privilege OR invalid_grant_operation THEN
                RAISE NOTICE '% is not a member of potential_app: the service must connect as a role that is', current_user;
        END;
    END IF;
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'potential_app' AND (rolsuper OR rolbypassrls)) THEN
        RAISE EXCEPTION 'role potential_app must not be a superuser or bypass row-level security';
    END IF;
END $$;

-- Tenant isolation fails closed. The policies of 0001 compared tenant_id
-- with an unset setting and so showed nothing; a statement that forgot to
-- name its tenant now fails instead, with this error, as soon as a policy
-- checks a row (or the planner estimates the condition). The
-- authentication scope (app.authenticating = 'on') names no tenant: there
-- the tenant policies match no row and the authentication policies decide.
CREATE FUNCTION app_missing_tenant() RETURNS uuid
    LANGUAGE plpgsql STABLE PARALLEL SAFE
    AS $fn$
BEGIN
    IF current_setting('app.authenticating', true) = 'on' THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'no tenant: app.tenant_id is not set in this transaction'
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'start every transaction with SELECT set_config(''app.tenant_id'', <tenant id>, true)';
END
$fn$;

-- app_tenant_id is the tenant of the current transaction. COALESCE calls
-- app_missing_tenant only when the setting is unset or empty, so the
-- common path is a setting lookup and a cast, as before.
CREATE FUNCTION app_tenant_id() RETURNS uuid
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN coalesce(nullif(current_setting('app.tenant_id', true), '')::uuid, app_missing_tenant());

-- The audit log: who (the API key and its role, or the command line)
-- changed what (an action on a resource), when, with the resource as it was
-- before and after (JSON; NULL when it did not exist). Records hold ids,
-- never personal data: an erased customer's record keeps its id and the
-- CRM's id of it, nothing else. The service may add and read records, not
-- change or delete them (see the grants below).
CREATE TABLE audit_events (
    tenant_id     uuid NOT NULL REFERENCES tenants (id),
    id            uuid NOT NULL,
    time          timestamptz NOT NULL,
    actor         text COLLATE "C" NOT NULL, -- "api_key" or "cli"
    key_id        text COLLATE "C" NOT NULL DEFAULT '',
    role          text COLLATE "C" NOT NULL DEFAULT '',
    action        text COLLATE "C" NOT NULL, -- e.g. "api_key.create", "customer.erase"
    resource_type text COLLATE "C" NOT NULL, -- e.g. "api_key", "customer"
    resource_id   text COLLATE "C" NOT NULL,
    before        jsonb,
    after         jsonb,
    PRIMARY KEY (tenant_id, id)
);
-- Listings are newest first: a keyset on (time, id) descending.
CREATE INDEX audit_events_time ON audit_events (tenant_id, time DESC, id DESC);

-- Every table with a tenant_id (those of earlier migrations included) and
-- the tenants themselves: row-level security enabled, forced on the owner
-- too, and the tenant policy failing closed. Tables of later migrations
-- must do the same; TestCatalog checks that they do.
DO $$
DECLARE
    t regclass;
BEGIN
    FOR t IN
        SELECT c.oid::regclass FROM pg_class c
        WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p')
          AND EXISTS (SELECT FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped)
    LOOP
        EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('DROP POLICY IF EXISTS tenant_isolation ON %s', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON %s USING (tenant_id = app_tenant_id()) WITH CHECK (tenant_id = app_tenant_id())', t);
    END LOOP;
END $$;
DROP POLICY tenant_isolation ON tenants;
CREATE POLICY tenant_isolation ON tenants USING (id = app_tenant_id()) WITH CHECK (id = app_tenant_id());

-- The service role's privileges: reading and writing rows, in this schema's
-- tables and in those that later migrations create (default privileges of
-- the migrating role), but not the migrations' own bookkeeping, and the
-- audit log only appended to.
DO $$
BEGIN
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO potential_app', current_schema());
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA %I TO potential_app', current_schema());
    EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO potential_app', current_schema());
    EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT USAGE, SELECT ON SEQUENCES TO potential_app', current_schema());
END $$;
REVOKE ALL ON schema_migrations FROM potential_app;
REVOKE UPDATE, DELETE, TRUNCATE ON audit_events FROM potential_app;
