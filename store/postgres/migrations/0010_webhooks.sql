-- Webhooks (domain/webhook.go): the destinations admins registered, the
-- subscriptions, each tenant's feed (its cursors into the segment event log
-- and the grade changes), the outbox of deliveries, and the log of their
-- attempts. The conventions of 0001_init.sql and 0003_security.sql hold:
-- tenant_id leads every key, compared text is "C", every table has
-- row-level security enabled and forced with the fail-closed tenant policy,
-- and the service role gets its privileges from the default privileges of
-- 0003. The feed and the deliveries are claimed with SELECT ... FOR UPDATE
-- SKIP LOCKED; leases are rows, not advisory locks or sessions.

CREATE TABLE webhook_destinations (
    tenant_id             uuid NOT NULL REFERENCES tenants (id),
    id                    uuid NOT NULL,
    url                   text COLLATE "C" NOT NULL,  -- canonical form
    allow_private_network boolean NOT NULL,
    description           text NOT NULL,
    create_time           timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, url)
);

CREATE TABLE webhook_subscriptions (
    tenant_id      uuid NOT NULL,
    id             uuid NOT NULL,
    destination_id uuid NOT NULL,
    event_types    text[] COLLATE "C" NOT NULL,
    segment_ids    uuid[] NOT NULL,  -- empty: every segment
    description    text NOT NULL,
    disabled       boolean NOT NULL,
    secret         text NOT NULL,    -- the HMAC key; signing needs it in clear
    version        bigint NOT NULL,
    create_time    timestamptz NOT NULL,
    update_time    timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id),
    -- A destination in use cannot be deleted.
    CONSTRAINT webhook_subscriptions_destination_fkey FOREIGN KEY (tenant_id, destination_id) REFERENCES webhook_destinations (tenant_id, id)
);
CREATE INDEX webhook_subscriptions_destination ON webhook_subscriptions (tenant_id, destination_id);

-- Where each tenant's feed stands: the last segment event fed (the log's
-- cursors are in commit order), and the grade changes' horizon: every
-- transaction below grade_horizon had ended when the feed last caught up,
-- so its grade changes have been fed. A tenant has a row from its first
-- subscription on.
CREATE TABLE webhook_feeds (
    tenant_id      uuid NOT NULL PRIMARY KEY REFERENCES tenants (id),
    segment_cursor bigint NOT NULL,
    grade_horizon  xid8 NOT NULL
);

-- Grade changes carry the id of the transaction that wrote them (filled by
-- the column's default; the scoring statements are unchanged). Ids are not
-- in commit order, so the feed reads every change of a transaction at or
-- above the horizon that it has not fed yet (webhook_feed_grades), and
-- moves the horizon to pg_snapshot_xmin, the oldest transaction still
-- running, once it has caught up: no transaction below it can add a change
-- any more, so what webhook_feed_grades remembers stays small.
ALTER TABLE grade_changes ADD COLUMN feed_xid xid8 NOT NULL DEFAULT pg_current_xact_id();
CREATE INDEX grade_changes_feed ON grade_changes (tenant_id, feed_xid, id);

-- The grade changes fed at or above the horizon.
CREATE TABLE webhook_feed_grades (
    tenant_id uuid NOT NULL,
    change_id uuid NOT NULL,
    feed_xid  xid8 NOT NULL,
    PRIMARY KEY (tenant_id, change_id)
);
CREATE INDEX webhook_feed_grades_xid ON webhook_feed_grades (tenant_id, feed_xid);

-- The outbox: one row per event and subscription, its id derived from both
-- (the idempotency key subscribers see).
CREATE TABLE webhook_deliveries (
    tenant_id         uuid NOT NULL,
    id                uuid NOT NULL,
    subscription_id   uuid NOT NULL,
    event_id          text COLLATE "C" NOT NULL,
    event_type        text COLLATE "C" NOT NULL,
    event_time        timestamptz NOT NULL,
    payload           text NOT NULL,
    state             text COLLATE "C" NOT NULL CHECK (state IN ('pending', 'succeeded', 'failed')),
    attempts          int NOT NULL DEFAULT 0,  -- attempts claimed
    -- When pending: when it is due; while an attempt runs, its lease's expiry.
    next_attempt_time timestamptz,
    lease_token       uuid,                     -- the running attempt's claim
    create_time       timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, subscription_id) REFERENCES webhook_subscriptions (tenant_id, id) ON DELETE CASCADE,
    CHECK ((state = 'pending') = (next_attempt_time IS NOT NULL))
);
-- ClaimWebhookDeliveries: the due pending deliveries, earliest first.
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (tenant_id, next_attempt_time, id) WHERE state = 'pending';
-- ListWebhookDeliveries: a subscription's log, newest first.
CREATE INDEX webhook_deliveries_subscription ON webhook_deliveries (tenant_id, subscription_id, create_time DESC, id DESC);
-- PruneWebhookDeliveries: the finished deliveries, oldest first.
CREATE INDEX webhook_deliveries_finished ON webhook_deliveries (tenant_id, create_time, id) WHERE state <> 'pending';

-- The log of finished attempts: one row per attempt of a delivery.
CREATE TABLE webhook_attempts (
    tenant_id   uuid NOT NULL,
    delivery_id uuid NOT NULL,
    attempt     int NOT NULL,
    start_time  timestamptz NOT NULL,
    status_code int NOT NULL,  -- 0: no answer
    error       text NOT NULL, -- '': success
    latency_us  bigint NOT NULL,
    PRIMARY KEY (tenant_id, delivery_id, attempt),
    FOREIGN KEY (tenant_id, delivery_id) REFERENCES webhook_deliveries (tenant_id, id) ON DELETE CASCADE
);

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['webhook_destinations', 'webhook_subscriptions', 'webhook_feeds', 'webhook_feed_grades', 'webhook_deliveries',
        'webhook_attempts']
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (tenant_id = app_tenant_id()) WITH CHECK (tenant_id = app_tenant_id())', t);
    END LOOP;
END $$;
