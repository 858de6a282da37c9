-- The initial schema of Potential.
--
-- Conventions:
--   * tenant_id leads every primary key and index of tenant-scoped data, so a
--     tenant's rows are contiguous and every lookup starts from the tenant.
--   * Ids are uuid; money is bigint micro-units (domain.Money); times are
--     timestamptz. A purchase or interaction time that has not happened yet
--     is '-infinity', which sorts and compares before every time, as the
--     domain's zero time does.
--   * Text that is sorted or compared uses the "C" collation: byte order,
--     which is the order the domain and the in-memory store use.
--   * Row-level security on every table: a transaction sees only the rows of
--     the tenant named by the setting app.tenant_id, which the store sets
--     with set_config(..., true) at the start of every transaction. Without
--     it a query sees nothing (NULLIF: after a transaction that set it, the
--     setting reads as '' for the rest of the session).

CREATE TABLE tenants (
    id          uuid PRIMARY KEY,
    name        text COLLATE "C" NOT NULL UNIQUE,
    create_time timestamptz NOT NULL
);

-- API keys are looked up by their public id alone, before the tenant is
-- known: that lookup is what establishes the tenant. The id is unique across
-- tenants, hence the primary key on id; listings go through the tenant index.
CREATE TABLE api_keys (
    id          text COLLATE "C" PRIMARY KEY,
    tenant_id   uuid NOT NULL REFERENCES tenants (id),
    name        text NOT NULL,
    role        text NOT NULL,
    secret_hash bytea NOT NULL, -- SHA-256 of the key's secret; the secret is never stored
    create_time timestamptz NOT NULL,
    expire_time timestamptz,
    revoke_time timestamptz
);
CREATE INDEX api_keys_tenant_create_time ON api_keys (tenant_id, create_time DESC, id DESC);

CREATE TABLE customers (
    tenant_id           uuid NOT NULL REFERENCES tenants (id),
    id                  uuid NOT NULL,
    external_id         text COLLATE "C" NOT NULL DEFAULT '',
    kind                text COLLATE "C" NOT NULL,
    display_name        text COLLATE "C" NOT NULL DEFAULT '',
    given_name          text COLLATE "C" NOT NULL DEFAULT '',
    family_name         text COLLATE "C" NOT NULL DEFAULT '',
    company_name        text COLLATE "C" NOT NULL DEFAULT '',
    email               text COLLATE "C" NOT NULL DEFAULT '',
    phone               text COLLATE "C" NOT NULL DEFAULT '',
    accepted_channels   text[] COLLATE "C" NOT NULL DEFAULT '{}',
    country             text COLLATE "C" NOT NULL DEFAULT '',
    region              text COLLATE "C" NOT NULL DEFAULT '',
    city                text COLLATE "C" NOT NULL DEFAULT '',
    age_band            text COLLATE "C" NOT NULL DEFAULT '',
    gender              text COLLATE "C" NOT NULL DEFAULT '',
    industry            text COLLATE "C" NOT NULL DEFAULT '',
    company_size        text COLLATE "C" NOT NULL DEFAULT '',
    acquisition_channel text COLLATE "C" NOT NULL DEFAULT '',
    -- Custom attributes: {"key": {"kind": "string"|"number"|"bool"|"time", "value": ...}}.
    attributes          jsonb NOT NULL DEFAULT '{}',
    budget              bigint NOT NULL DEFAULT 0,
    authority           text COLLATE "C" NOT NULL DEFAULT '',
    need                text NOT NULL DEFAULT '',
    decision_time       timestamptz,

    -- PurchaseStats, maintained in the transaction that records transactions.
    first_purchase_time timestamptz NOT NULL DEFAULT '-infinity',
    last_purchase_time  timestamptz NOT NULL DEFAULT '-infinity',
    purchase_days       bigint NOT NULL DEFAULT 0,
    orders              bigint NOT NULL DEFAULT 0,
    refunds             bigint NOT NULL DEFAULT 0,
    total_spend         bigint NOT NULL DEFAULT 0,
    first_day_spend     bigint NOT NULL DEFAULT 0,
    refund_total        bigint NOT NULL DEFAULT 0,
    total_margin        bigint NOT NULL DEFAULT 0,
    -- EngagementStats, maintained in the transactions that record
    -- interactions and referrals.
    interactions          bigint NOT NULL DEFAULT 0,
    last_interaction_time timestamptz NOT NULL DEFAULT '-infinity',
    referrals_given       bigint NOT NULL DEFAULT 0,
    referred_by           uuid, -- the referrer of the earliest referral

    create_time timestamptz NOT NULL,
    update_time timestamptz NOT NULL,
    version     bigint NOT NULL DEFAULT 1,
    PRIMARY KEY (tenant_id, id)
);
-- The CRM's id is unique per tenant when set.
CREATE UNIQUE INDEX customers_external_id_key ON customers (tenant_id, external_id) WHERE external_id <> '';
-- One index per ListCustomers order, each ending in id: the keyset
-- (value, id) > ($v, $id) is a range scan of it in either direction.
CREATE INDEX customers_external_id_order ON customers (tenant_id, external_id, id);
CREATE INDEX customers_create_time ON customers (tenant_id, create_time, id);
CREATE INDEX customers_update_time ON customers (tenant_id, update_time, id);
CREATE INDEX customers_display_name ON customers (tenant_id, display_name, id);
CREATE INDEX customers_last_purchase_time ON customers (tenant_id, last_purchase_time, id);
CREATE INDEX customers_total_spend ON customers (tenant_id, total_spend, id);
CREATE INDEX customers_orders ON customers (tenant_id, orders, id);

-- Events. Each is unique per tenant by the CRM's id, which makes recording
-- idempotent, and goes when its customer goes.
CREATE TABLE transactions (
    tenant_id   uuid NOT NULL,
    id          uuid NOT NULL,
    external_id text COLLATE "C" NOT NULL,
    customer_id uuid NOT NULL,
    kind        text NOT NULL, -- order | refund
    amount      bigint NOT NULL,
    margin      bigint,        -- NULL: unknown
    quantity    bigint NOT NULL DEFAULT 0,
    occurred_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, external_id),
    FOREIGN KEY (tenant_id, customer_id) REFERENCES customers (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX transactions_customer ON transactions (tenant_id, customer_id, occurred_at);

-- One row per customer and UTC day with orders: the distinct purchase days
-- of BG/NBD, maintained incrementally (a new row is a new day), and the
-- per-day spend from which summaries as of a past date can be computed.
CREATE TABLE purchase_days (
    tenant_id   uuid NOT NULL,
    customer_id uuid NOT NULL,
    day         date NOT NULL,
    amount      bigint NOT NULL, -- sum of the day's orders
    orders      int NOT NULL,
    PRIMARY KEY (tenant_id, customer_id, day)
    -- No foreign key: rows are only written by the statement that inserts
    -- the day's transactions, whose foreign key vouches for the customer,
    -- and deleted with the customer; a check per row would slow ingestion.
);

CREATE TABLE interactions (
    tenant_id   uuid NOT NULL,
    id          uuid NOT NULL,
    external_id text COLLATE "C" NOT NULL,
    customer_id uuid NOT NULL,
    type        text NOT NULL,
    direction   text NOT NULL DEFAULT '',
    channel     text NOT NULL DEFAULT '',
    occurred_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, external_id),
    FOREIGN KEY (tenant_id, customer_id) REFERENCES customers (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX interactions_customer ON interactions (tenant_id, customer_id, occurred_at);

CREATE TABLE referrals (
    tenant_id   uuid NOT NULL,
    id          uuid NOT NULL,
    external_id text COLLATE "C" NOT NULL,
    referrer_id uuid NOT NULL,
    referred_id uuid NOT NULL,
    occurred_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, external_id),
    FOREIGN KEY (tenant_id, referrer_id) REFERENCES customers (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, referred_id) REFERENCES customers (tenant_id, id) ON DELETE CASCADE,
    CHECK (referrer_id <> referred_id)
);
CREATE INDEX referrals_referrer ON referrals (tenant_id, referrer_id, occurred_at);
-- Finds a customer's earliest referral (customers.referred_by).
CREATE INDEX referrals_referred ON referrals (tenant_id, referred_id, occurred_at, external_id);

-- Row-level security. FORCE makes it apply to the tables' owner too, so the
-- service is isolated whichever role it runs as, short of a superuser or a
-- role with BYPASSRLS. The store also writes tenant_id = $1 in every query:
-- the policies are the second line of defence, not the only one.
ALTER TABLE tenants ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenants FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON tenants
    USING (id = NULLIF(current_setting('app.tenant_id', true), '')::uuid)
    WITH CHECK (id = NULLIF(current_setting('app.tenant_id', true), '')::uuid);

ALTER TABLE api_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE api_keys FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON api_keys
    USING (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid);

ALTER TABLE customers ENABLE ROW LEVEL SECURITY;
ALTER TABLE customers FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON customers
    USING (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid);

ALTER TABLE transactions ENABLE ROW LEVEL SECURITY;
ALTER TABLE transactions FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON transactions
    USING (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid);

ALTER TABLE purchase_days ENABLE ROW LEVEL SECURITY;
ALTER TABLE purchase_days FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON purchase_days
    USING (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid);

ALTER TABLE interactions ENABLE ROW LEVEL SECURITY;
ALTER TABLE interactions FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON interactions
    USING (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid);

ALTER TABLE referrals ENABLE ROW LEVEL SECURITY;
ALTER TABLE referrals FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON referrals
    USING (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid);

-- Authentication reads a key by its id, and bootstrapping a tenant by its
-- name, before any tenant is known. A transaction opts into exactly that
-- with app.authenticating = 'on': it may then read (never write) tenants and
-- keys. Forgetting to set a tenant still shows nothing.
CREATE POLICY authentication ON tenants FOR SELECT
    USING (current_setting('app.authenticating', true) = 'on');
CREATE POLICY authentication ON api_keys FOR SELECT
    USING (current_setting('app.authenticating', true) = 'on');
