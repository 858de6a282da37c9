-- Value models, assessments and lifecycle transitions, and the purchase gap
-- statistics of customers. The conventions of 0001_init.sql hold.

-- The gap statistics of PurchaseStats: the median of the days between
-- consecutive purchase days, and the days between the last two. Maintained
-- by the statement that records transactions, from purchase_days.
ALTER TABLE customers
    ADD COLUMN median_gap_days float8 NOT NULL DEFAULT 0,
    ADD COLUMN last_gap_days   bigint NOT NULL DEFAULT 0;

-- A tenant's fitted value models, one row per version (1, 2, … per tenant).
-- The parameters, settings, RFM cut points and diagnostics are one jsonb
-- document (see store/postgres/assess_model.go for its fields): they are
-- read and written whole, never queried.
CREATE TABLE value_models (
    tenant_id       uuid NOT NULL REFERENCES tenants (id),
    version         bigint NOT NULL,
    fit_time        timestamptz NOT NULL,
    observation_end timestamptz NOT NULL,
    model           jsonb NOT NULL,
    PRIMARY KEY (tenant_id, version)
);

-- Every customer's stored assessment. Every customer has exactly one row,
-- inserted with the customer (a customer not assessed yet has assess_time
-- NULL and zeros), so that listings ordered by an assessment field read
-- one index of this table, and re-assessing is an UPDATE. Pages are left
-- 30 % empty, so that a row's next version (every customer's, every day)
-- fits on its own page: the table keeps its size and a batch of updates
-- its locality without waiting for VACUUM, and an update that changes no
-- indexed column is a HOT update.
--
-- Codes: churn_level is domain.ChurnLevel (0 none, 1 low, 2 medium, 3 high),
-- stage domain.LifecycleStage (0 unknown, 1 lead, 2 new, 3 active,
-- 4 at_risk, 5 churned, 6 reactivated), churn_reasons the bit set of
-- domain.ChurnReason. segment is the store's own stable code of the RFM
-- segment's slug (rfm's numbering may change; the slugs do not):
-- 0 unknown, 1 champions, 2 loyal, 3 potential_loyalists, 4 new,
-- 5 promising, 6 need_attention, 7 about_to_sleep, 8 at_risk,
-- 9 cant_lose_them, 10 hibernating, 11 lost.
CREATE TABLE assessments (
    tenant_id          uuid NOT NULL,
    customer_id        uuid NOT NULL,
    assess_time        timestamptz, -- NULL: not assessed yet
    model_version      bigint NOT NULL DEFAULT 0,
    r                  smallint NOT NULL DEFAULT 0,
    f                  smallint NOT NULL DEFAULT 0,
    m                  smallint NOT NULL DEFAULT 0,
    segment            smallint NOT NULL DEFAULT 0,
    historical_value   bigint NOT NULL DEFAULT 0,
    p_alive            float8 NOT NULL DEFAULT 0,
    expected_purchases float8 NOT NULL DEFAULT 0,
    expected_spend     bigint NOT NULL DEFAULT 0,
    predicted_value    bigint NOT NULL DEFAULT 0,
    value_at_risk      bigint NOT NULL DEFAULT 0,
    churn_level        smallint NOT NULL DEFAULT 0,
    churn_reasons      int NOT NULL DEFAULT 0,
    stage              smallint NOT NULL DEFAULT 0,
    -- The stage before the latest write: an UPDATE sets it to the row's old
    -- stage, and so returns both under the row lock; a change is a
    -- lifecycle transition.
    prior_stage        smallint NOT NULL DEFAULT 0,
    silence_days       int NOT NULL DEFAULT 0,
    cadence_days       float8 NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, customer_id),
    FOREIGN KEY (tenant_id, customer_id) REFERENCES customers (tenant_id, id) ON DELETE CASCADE
) WITH (fillfactor = 70);
-- ListCustomers orders by these, ties by id (see customers' order indexes).
-- Each index costs every re-assessment of a customer a random insert, so
-- only the orders a CRM lists by value have one: a listing by p_alive
-- sorts the tenant's rows instead.
CREATE INDEX assessments_predicted_value ON assessments (tenant_id, predicted_value, customer_id);
CREATE INDEX assessments_value_at_risk ON assessments (tenant_id, value_at_risk, customer_id);

-- Every change of a customer's lifecycle stage, as assessments recorded it
-- (from_stage 0 on the first assessment). No foreign key, as for
-- purchase_days: rows are written only next to the customer's assessment
-- row, and deleted with the customer.
CREATE TABLE lifecycle_transitions (
    tenant_id   uuid NOT NULL,
    customer_id uuid NOT NULL,
    from_stage  smallint NOT NULL,
    to_stage    smallint NOT NULL,
    at          timestamptz NOT NULL
);
CREATE INDEX lifecycle_transitions_customer ON lifecycle_transitions (tenant_id, customer_id, at);

-- The interactions of the last 120 days of a tenant, for its re-assessment
-- (recent and baseline engagement), as an index-only range scan.
CREATE INDEX interactions_occurred_at ON interactions (tenant_id, occurred_at) INCLUDE (customer_id);

-- Existing data: every customer gets its (empty) assessment row and its gap
-- statistics. The owner is exempt from row-level security while it is not
-- forced, for the length of this transaction only.
ALTER TABLE customers NO FORCE ROW LEVEL SECURITY;
ALTER TABLE purchase_days NO FORCE ROW LEVEL SECURITY;
INSERT INTO assessments (tenant_id, customer_id) SELECT tenant_id, id FROM customers;
UPDATE customers c SET median_gap_days = g.median_gap, last_gap_days = g.last_gap
FROM (
    SELECT tenant_id, customer_id,
        percentile_cont(0.5) WITHIN GROUP (ORDER BY gap) AS median_gap,
        max(gap) FILTER (WHERE is_last) AS last_gap
    FROM (
        SELECT tenant_id, customer_id,
            day - lag(day) OVER w AS gap,
            lead(day) OVER w IS NULL AS is_last
        FROM purchase_days
        WINDOW w AS (PARTITION BY tenant_id, customer_id ORDER BY day)
    ) d
    WHERE gap IS NOT NULL
    GROUP BY tenant_id, customer_id
) g
WHERE c.tenant_id = g.tenant_id AND c.id = g.customer_id;
ALTER TABLE customers FORCE ROW LEVEL SECURITY;
ALTER TABLE purchase_days FORCE ROW LEVEL SECURITY;

-- Row-level security, as on every table: the tenant policy of the latest
-- migration that defines one. 0003_security.sql replaces the policies of
-- the tables that exist when it runs with its fail-closed app_tenant_id();
-- a database that ran 0003 before this migration gets that one here.
DO $$
DECLARE
    t text;
    tenant text := $e$NULLIF(current_setting('app.tenant_id', true), '')::uuid$e$;
BEGIN
    IF to_regprocedure('app_tenant_id()') IS NOT NULL THEN
        tenant := 'app_tenant_id()';
    END IF;
    FOREACH t IN ARRAY ARRAY['value_models', 'assessments', 'lifecycle_transitions'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (tenant_id = %s) WITH CHECK (tenant_id = %s)', t, tenant, tenant);
    END LOOP;
END $$;
