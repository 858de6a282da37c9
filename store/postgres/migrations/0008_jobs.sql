-- Time-driven work (domain/jobs.go): one row per tenant and job, leased with
-- SELECT ... FOR UPDATE SKIP LOCKED, and the run log, one row per slot that
-- ran to completion. The conventions of 0001_init.sql and 0003_security.sql
-- hold: tenant_id leads every key, text that is compared is "C", every table
-- has row-level security enabled and forced with the fail-closed tenant
-- policy, and the service role gets its privileges from the default
-- privileges of 0003. Leases are rows, not advisory locks or sessions, so
-- they hold behind PgBouncer's transaction pooling and on distributed
-- PostgreSQL-wire engines.

CREATE TABLE jobs (
    tenant_id     uuid NOT NULL REFERENCES tenants (id),
    name          text COLLATE "C" NOT NULL,
    slot          timestamptz NOT NULL,  -- the next run's scheduled time
    lease_owner   text NOT NULL DEFAULT '',
    lease_token   uuid,                  -- NULL: not leased
    lease_claimed timestamptz,
    lease_expires timestamptz,
    attempt       int NOT NULL DEFAULT 0, -- claims of the current slot
    PRIMARY KEY (tenant_id, name),
    CHECK ((lease_token IS NULL) = (lease_expires IS NULL))
);

CREATE TABLE job_runs (
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    name      text COLLATE "C" NOT NULL,
    slot      timestamptz NOT NULL,
    owner     text NOT NULL,
    attempt   int NOT NULL,
    claimed   timestamptz NOT NULL,
    finished  timestamptz NOT NULL,
    -- One row per slot: what makes every scheduled run happen once.
    PRIMARY KEY (tenant_id, name, slot)
);

ALTER TABLE jobs ENABLE ROW LEVEL SECURITY;
ALTER TABLE jobs FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON jobs
    USING (tenant_id = app_tenant_id()) WITH CHECK (tenant_id = app_tenant_id());

ALTER TABLE job_runs ENABLE ROW LEVEL SECURITY;
ALTER TABLE job_runs FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON job_runs
    USING (tenant_id = app_tenant_id()) WITH CHECK (tenant_id = app_tenant_id());
