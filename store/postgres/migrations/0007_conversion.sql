-- Predictive lead conversion: explicit lead outcomes and, per scoring
-- model, the conversion model state (the model in use and the last
-- training attempt).

-- A lead's explicit outcome as the CRM reports it: won or lost, and when.
-- One per lead; a later report replaces it.
CREATE TABLE lead_outcomes (
    tenant_id   uuid NOT NULL,
    customer_id uuid NOT NULL,
    result      text NOT NULL CHECK (result IN ('won', 'lost')),
    occurred_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, customer_id),
    FOREIGN KEY (tenant_id, customer_id) REFERENCES customers (tenant_id, id) ON DELETE CASCADE
);

-- The conversion state of a (tenant, scoring model): scoring_model_id is
-- '' when the tenant had no scoring model. The state (model weights,
-- validation measures, calibration table, counts) is one JSON document,
-- read and written whole; the columns beside it are for operators.
CREATE TABLE conversion_models (
    tenant_id        uuid NOT NULL REFERENCES tenants (id),
    scoring_model_id text COLLATE "C" NOT NULL,
    status           text NOT NULL,
    attempt_time     timestamptz NOT NULL,
    state            jsonb NOT NULL,
    PRIMARY KEY (tenant_id, scoring_model_id)
);

-- Open leads' conversion probabilities as the last training run scored
-- them, per scoring model: what ListTopCustomers ranks leads by.
CREATE TABLE lead_conversion_scores (
    tenant_id        uuid NOT NULL,
    scoring_model_id text COLLATE "C" NOT NULL,
    customer_id      uuid NOT NULL,
    probability      float8 NOT NULL,
    band             text NOT NULL,
    fit_id           text NOT NULL,
    score_time       timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, scoring_model_id, customer_id),
    FOREIGN KEY (tenant_id, customer_id) REFERENCES customers (tenant_id, id) ON DELETE CASCADE
);
-- ListTopCustomers by conversion: highest probability first, then id.
CREATE INDEX lead_conversion_scores_rank ON lead_conversion_scores (tenant_id, scoring_model_id, probability DESC, customer_id);
-- Erasing a customer deletes by customer (the foreign key's cascade).
CREATE INDEX lead_conversion_scores_customer ON lead_conversion_scores (tenant_id, customer_id);

-- Row-level security, as on every table with a tenant_id (see
-- 0003_security.sql): enabled, forced on the owner too, failing closed.
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['lead_outcomes', 'conversion_models', 'lead_conversion_scores']
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (tenant_id = app_tenant_id()) WITH CHECK (tenant_id = app_tenant_id())', t);
    END LOOP;
END $$;
