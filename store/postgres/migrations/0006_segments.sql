-- Segments: static and dynamic (CEL rule) segments, their members, the
-- append-only log of entered/exited events and every customer's next
-- segment due time. The conventions of 0001_init.sql hold: tenant_id leads
-- every key and index, text that is sorted or compared is "C", and every
-- table has row-level security enabled and forced.

CREATE TABLE segments (
    tenant_id   uuid NOT NULL REFERENCES tenants (id),
    id          uuid NOT NULL,
    name        text COLLATE "C" NOT NULL,
    description text NOT NULL DEFAULT '',
    kind        text COLLATE "C" NOT NULL CHECK (kind IN ('static', 'dynamic')),
    rule        text NOT NULL DEFAULT '',
    built_in    boolean NOT NULL DEFAULT false,
    version     bigint NOT NULL,
    create_time timestamptz NOT NULL,
    update_time timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, name)
);

-- The current members. No foreign keys to customers: rows are written
-- under the tenant's segment log lock by transactions that have just read
-- the customer, and deleted explicitly with it (DeleteCustomer).
CREATE TABLE segment_members (
    tenant_id   uuid NOT NULL,
    segment_id  uuid NOT NULL,
    customer_id uuid NOT NULL,
    since       timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, segment_id, customer_id),
    FOREIGN KEY (tenant_id, segment_id) REFERENCES segments (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX segment_members_customer ON segment_members (tenant_id, customer_id);

-- The head of every tenant's event log: the last cursor assigned. Writers
-- of the log lock this row first and keep it to their commit, so cursors
-- are assigned in commit order: a reader that has read up to cursor n
-- never later sees a new event at or below n.
CREATE TABLE segment_log_heads (
    tenant_id   uuid NOT NULL PRIMARY KEY REFERENCES tenants (id),
    last_cursor bigint NOT NULL DEFAULT 0
);

-- The append-only event log: a customer's membership history is its
-- rows (segment_events_customer). Rows of an erased customer are deleted
-- with it; their cursors stay unused.
CREATE TABLE segment_events (
    tenant_id   uuid NOT NULL,
    cursor      bigint NOT NULL,
    segment_id  uuid NOT NULL,
    customer_id uuid NOT NULL,
    kind        smallint NOT NULL CHECK (kind IN (1, 2)), -- 1 entered, 2 exited
    at          timestamptz NOT NULL,
    cause       text COLLATE "C" NOT NULL,
    PRIMARY KEY (tenant_id, cursor)
);
CREATE INDEX segment_events_customer ON segment_events (tenant_id, customer_id, cursor);
CREATE INDEX segment_events_segment ON segment_events (tenant_id, segment_id, cursor);

-- When each customer's time-dependent rule inputs next change: what
-- EvaluateDueSegments visits, by segment_due_time.
CREATE TABLE segment_due (
    tenant_id   uuid NOT NULL,
    customer_id uuid NOT NULL,
    due         timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, customer_id)
);
CREATE INDEX segment_due_time ON segment_due (tenant_id, due, customer_id);

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['segments', 'segment_members', 'segment_log_heads', 'segment_events', 'segment_due']
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (tenant_id = app_tenant_id()) WITH CHECK (tenant_id = app_tenant_id())', t);
    END LOOP;
END $$;
