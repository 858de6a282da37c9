-- Scoring and grading: scoring models and their versioned rules, the points
-- ledger, lead qualification changes (an event kind of scoring rules),
-- versioned grading policies, every customer's grade and the history of
-- grade changes. The conventions of 0001_init.sql hold: tenant_id leads
-- every key and index, text that is sorted or compared is "C", and every
-- table has row-level security enabled and forced.

CREATE TABLE scoring_models (
    tenant_id       uuid NOT NULL REFERENCES tenants (id),
    id              uuid NOT NULL,
    name            text COLLATE "C" NOT NULL,
    description     text NOT NULL DEFAULT '',
    revision        bigint NOT NULL DEFAULT 0, -- incremented by every rule change
    scored_revision bigint NOT NULL DEFAULT 0, -- the revision every ledger was last recomputed at
    create_time     timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, name)
);

-- The current version of every rule. validity_us is the validity window in
-- microseconds, NULL when points never expire.
CREATE TABLE scoring_rules (
    tenant_id   uuid NOT NULL,
    id          uuid NOT NULL,
    model_id    uuid NOT NULL,
    name        text NOT NULL,
    description text NOT NULL DEFAULT '',
    event_kind  text COLLATE "C" NOT NULL,
    condition   text NOT NULL DEFAULT '',
    points      bigint NOT NULL,
    validity_us bigint,
    cap         bigint NOT NULL DEFAULT 0,
    version     bigint NOT NULL,
    create_time timestamptz NOT NULL,
    update_time timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, model_id) REFERENCES scoring_models (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX scoring_rules_model ON scoring_rules (tenant_id, model_id, create_time, id);

-- Every version of every rule, the current one included; a deleted rule's
-- last version has delete_time set.
CREATE TABLE scoring_rule_versions (
    tenant_id   uuid NOT NULL,
    id          uuid NOT NULL,
    version     bigint NOT NULL,
    model_id    uuid NOT NULL,
    name        text NOT NULL,
    description text NOT NULL DEFAULT '',
    event_kind  text COLLATE "C" NOT NULL,
    condition   text NOT NULL DEFAULT '',
    points      bigint NOT NULL,
    validity_us bigint,
    cap         bigint NOT NULL DEFAULT 0,
    create_time timestamptz NOT NULL,
    update_time timestamptz NOT NULL,
    delete_time timestamptz,
    PRIMARY KEY (tenant_id, id, version),
    FOREIGN KEY (tenant_id, model_id) REFERENCES scoring_models (tenant_id, id) ON DELETE CASCADE
);

-- The points ledger: one row per award. A customer's rows are contiguous
-- (every write replaces some of one batch of customers' rows, every read
-- takes all of a customer's). No foreign keys: rows are written only by
-- transactions that hold their customer's lock and so see it exist, and
-- are deleted explicitly with their customer (DeleteCustomer) and model
-- (DeleteScoringModel); a check per row would slow re-scoring.
CREATE TABLE scoring_ledger (
    tenant_id    uuid NOT NULL,
    customer_id  uuid NOT NULL,
    model_id     uuid NOT NULL,
    id           uuid NOT NULL, -- domain.LedgerEntryID(rule, version, event kind, event id)
    rule_id      uuid NOT NULL,
    rule_version bigint NOT NULL,
    event_kind   text COLLATE "C" NOT NULL,
    event_id     text COLLATE "C" NOT NULL,
    event_ref    text NOT NULL DEFAULT '',
    points       bigint NOT NULL,
    awarded_at   timestamptz NOT NULL,
    expires_at   timestamptz, -- NULL: never
    capped       boolean NOT NULL DEFAULT false,
    PRIMARY KEY (tenant_id, customer_id, model_id, id)
);

-- A lead's BANT facts each time they changed: qualification_changed events.
CREATE TABLE qualification_changes (
    tenant_id     uuid NOT NULL,
    id            uuid NOT NULL,
    customer_id   uuid NOT NULL,
    occurred_at   timestamptz NOT NULL,
    budget        bigint NOT NULL DEFAULT 0,
    authority     text NOT NULL DEFAULT '',
    need          text NOT NULL DEFAULT '',
    decision_time timestamptz,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, customer_id) REFERENCES customers (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX qualification_changes_customer ON qualification_changes (tenant_id, customer_id, occurred_at, id);

-- Every version of the tenant's grading policy; the current one has the
-- highest version. policy holds the settings as JSON (store/postgres,
-- policyDoc); cuts are the calibrated composite cut points.
CREATE TABLE grading_policies (
    tenant_id      uuid NOT NULL REFERENCES tenants (id),
    version        bigint NOT NULL,
    policy         jsonb NOT NULL,
    cuts           float8[] NOT NULL DEFAULT '{}',
    calibrate_time timestamptz,
    create_time    timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, version)
);

-- Every customer's current grade. No foreign key, as for the ledger.
CREATE TABLE customer_grades (
    tenant_id        uuid NOT NULL,
    customer_id      uuid NOT NULL,
    grade            text COLLATE "C" NOT NULL,
    rank             int NOT NULL, -- 0 = best
    composite        float8 NOT NULL,
    value_score      float8 NOT NULL,
    engagement_score float8 NOT NULL,
    fit_score        float8 NOT NULL,
    policy_version   bigint NOT NULL,
    grade_time       timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, customer_id)
);
-- ListTopCustomers by grade: best rank, then highest composite.
CREATE INDEX customer_grades_rank ON customer_grades (tenant_id, rank, composite DESC, customer_id);

-- Every change of a grade, with what caused it and why.
CREATE TABLE grade_changes (
    tenant_id      uuid NOT NULL,
    id             uuid NOT NULL,
    customer_id    uuid NOT NULL,
    from_grade     text COLLATE "C" NOT NULL,
    to_grade       text COLLATE "C" NOT NULL,
    time           timestamptz NOT NULL,
    policy_version bigint NOT NULL,
    cause          text NOT NULL,
    reason         text NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
-- ListGradeChanges, newest first: for the tenant, and per customer.
CREATE INDEX grade_changes_time ON grade_changes (tenant_id, time DESC, id DESC);
CREATE INDEX grade_changes_customer ON grade_changes (tenant_id, customer_id, time DESC, id DESC);

-- Row-level security, as on every table with a tenant_id (see
-- 0003_security.sql): enabled, forced on the owner too, failing closed.
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['scoring_models', 'scoring_rules', 'scoring_rule_versions', 'scoring_ledger',
        'qualification_changes', 'grading_policies', 'customer_grades', 'grade_changes']
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (tenant_id = app_tenant_id()) WITH CHECK (tenant_id = app_tenant_id())', t);
    END LOOP;
END $$;
