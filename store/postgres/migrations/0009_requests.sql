-- Records of idempotent creates (domain/requests.go): one row per tenant,
-- method and client request id, holding a hash of the request and, once the
-- create is done, its encoded response. A row is a reservation while
-- response IS NULL; expires is the reservation's lapse time, then the end of
-- the retention window (24 h after completion); expired rows are treated as
-- absent and pruned. The conventions of 0001_init.sql and 0003_security.sql
-- hold: tenant_id leads every key, compared text is "C", row-level security
-- is enabled and forced with the fail-closed tenant policy, and the service
-- role gets its privileges from the default privileges of 0003.

CREATE TABLE requests (
    tenant_id    uuid NOT NULL REFERENCES tenants (id),
    method       text COLLATE "C" NOT NULL,
    request_id   text COLLATE "C" NOT NULL,
    request_hash bytea NOT NULL,
    token        uuid NOT NULL,        -- the call holding the reservation
    response     bytea,                -- NULL: in flight
    created      timestamptz NOT NULL,
    expires      timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, method, request_id)
);

-- Pruning walks a tenant's expired rows.
CREATE INDEX requests_expires ON requests (tenant_id, expires);

ALTER TABLE requests ENABLE ROW LEVEL SECURITY;
ALTER TABLE requests FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON requests
    USING (tenant_id = app_tenant_id()) WITH CHECK (tenant_id = app_tenant_id());
