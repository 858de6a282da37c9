-- Next best action: each tenant's action table, the ordered rules that
-- recommend an action to every customer. One row per tenant that changed
-- its table (the default applies without one); the rules are one JSON
-- array, read and written whole. The action itself is computed when read,
-- from the facts segment rules read, and is not stored.
CREATE TABLE action_tables (
    tenant_id   uuid NOT NULL REFERENCES tenants (id),
    version     bigint NOT NULL CHECK (version > 0),
    rules       jsonb NOT NULL,
    update_time timestamptz NOT NULL,
    PRIMARY KEY (tenant_id)
);

ALTER TABLE action_tables ENABLE ROW LEVEL SECURITY;
ALTER TABLE action_tables FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON action_tables
    USING (tenant_id = app_tenant_id()) WITH CHECK (tenant_id = app_tenant_id());
