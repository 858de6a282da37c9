package postgres

// Every SQL statement of the store, by name. $1 is the tenant id in every
// tenant-scoped statement, which also says tenant_id = $1 even though row-level
// security would filter by tenant anyway. The only SQL built at run time is
// ListCustomers' WHERE and ORDER BY (see list.go), from whitelisted column
// names; values are always bind parameters.

// Transaction scopes (see scope in postgres.go). Each also switches to the
// service role (ServiceRole), whose privileges and row-level security then
// apply to every later statement of the transaction. is_local = true: the
// role and the setting end with the transaction, so a pooled connection (or
// PgBouncer in transaction mode) never carries them into another.
const (
	qSetTenant           = `SELECT set_config('role', '` + ServiceRole + `', true), set_config('app.tenant_id', $1, true)`
	qBeginAuthentication = `SELECT set_config('role', '` + ServiceRole + `', true), set_config('app.authenticating', 'on', true)`
	// qSetTenantWriting is qSetTenant of a transaction that may update or
	// delete stored assessments: it also takes the tenant's assessment
	// write gate (shared, until the transaction ends), which a tenant's
	// first rewrite takes exclusively before it deletes the tenant's rows
	// from the shared partition (see assessment_write_gate in
	// migrations/0014_assessment_partitions.sql). Taken first, before the
	// transaction holds any lock of assessments.
	qSetTenantWriting = `SELECT set_config('role', '` + ServiceRole + `', true), set_config('app.tenant_id', $1, true),
    pg_advisory_xact_lock_shared(assessment_write_gate($1::uuid))`
)

// purchaseSums are a customer's purchase sums over a set of its
// transactions (grouped by customer_id): what a recorded batch adds to its
// customers' statistics (qRecordTransactions) and what a bulk load computes
// from all of a customer's transactions (qLoadCustomers), which must agree.
const purchaseSums = `        count(*) FILTER (WHERE kind = 'order') AS orders,
        count(*) FILTER (WHERE kind = 'refund') AS refunds,
        coalesce(sum(amount) FILTER (WHERE kind = 'order'), 0) AS spend,
        coalesce(sum(amount) FILTER (WHERE kind = 'refund'), 0) AS refunded,
        coalesce(sum(margin) FILTER (WHERE kind = 'order'), 0) AS margin,
        min(occurred_at) FILTER (WHERE kind = 'order') AS first_order,
        max(occurred_at) FILTER (WHERE kind = 'order') AS last_order`

// Migrations (migrate.go).
const (
	qCreateMigrations = `CREATE TABLE IF NOT EXISTS schema_migrations (
    version    int PRIMARY KEY,
    name       text NOT NULL,
    checksum   text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)`
	qLockMigrations   = `LOCK TABLE schema_migrations IN ACCESS EXCLUSIVE MODE`
	qAppliedMigration = `SELECT version, checksum FROM schema_migrations`
	qRecordMigration  = `INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)`
)

// Tenants and API keys.
const (
	qCreateTenant = `INSERT INTO tenants (id, name, create_time) VALUES ($1, $2, $3)`
	qGetTenant    = `SELECT id, name, create_time FROM tenants WHERE id = $1`
	qFindTenant   = `SELECT id, name, create_time FROM tenants WHERE name = $1`

	keyColumns = `id, tenant_id, name, role, secret_hash, create_time, expire_time, revoke_time`
	qCreateKey = `INSERT INTO api_keys (` + keyColumns + `) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`
	qGetKey    = `SELECT ` + keyColumns + ` FROM api_keys WHERE id = $1`
	qListKeys  = `SELECT ` + keyColumns + ` FROM api_keys WHERE tenant_id = $1 ORDER BY create_time DESC, id DESC`
	qRevokeKey = `UPDATE api_keys SET revoke_time = coalesce(revoke_time, $3) WHERE tenant_id = $1 AND id = $2 RETURNING ` + keyColumns
)

// customerColumns are the customer columns scanCustomer reads, in its
// order, qualified by the alias c; assessmentColumns (alias a, the
// customer's row of assessments) follow them in every customer read.
const customerColumns = `c.tenant_id, c.id, c.external_id, c.kind, c.display_name, c.given_name, c.family_name, c.company_name,
    c.email, c.phone, c.accepted_channels, c.country, c.region, c.city, c.age_band, c.gender, c.industry, c.company_size,
    c.acquisition_channel, c.attributes, c.budget, c.authority, c.need, c.decision_time,
    c.first_purchase_time, c.last_purchase_time, c.purchase_days, c.orders, c.refunds, c.total_spend, c.first_day_spend,
    c.refund_total, c.total_margin, c.median_gap_days, c.last_gap_days,
    c.interactions, c.last_interaction_time, c.referrals_given, c.referred_by,
    c.create_time, c.update_time, c.version`

// assessmentColumns are the columns of a stored assessment, in the order
// of assessmentRow.dest, qualified by the alias a.
const assessmentColumns = `a.assess_time, a.model_version, a.r, a.f, a.m, a.segment, a.historical_value, a.p_alive,
    a.expected_purchases, a.expected_spend, a.predicted_value, a.value_at_risk, a.churn_level, a.churn_reasons,
    a.stage, a.silence_days, a.cadence_days`

// noAssessment stands for assessmentColumns where a statement has just
// created the customer: not assessed (assess_time NULL).
const noAssessment = `NULL::timestamptz, 0::bigint, 0::smallint, 0::smallint, 0::smallint, 0::smallint, 0::bigint,
    0::float8, 0::float8, 0::bigint, 0::bigint, 0::bigint, 0::smallint, 0::int, 0::smallint, 0::int, 0::float8`

// customerSelect reads customers with their assessments; customerFrom
// joins them (every customer has its assessments row, see
// migrations/0002_assessments.sql; the outer join only keeps a read from
// depending on it).
const (
	customerSelect = `SELECT ` + customerColumns + `, ` + assessmentColumns
	customerFrom   = ` FROM customers c LEFT JOIN assessments a ON a.tenant_id = c.tenant_id AND a.customer_id = c.id`
	// customerFromByKey is customerFrom for customers read by their keys
	// (one, or a batch): each one's assessment is looked up in the primary
	// key of its tenant's partition of assessments. Joined to the partitioned
	// table, a plan on stale statistics read the tenant's whole partition
	// (TestResolvePlanWithStaleStatistics).
	customerFromByKey = ` FROM customers c LEFT JOIN LATERAL (
    SELECT * FROM assessments x WHERE x.tenant_id = c.tenant_id AND x.customer_id = c.id LIMIT 1
) a ON true`
)

// Customers. The client-set fields are always bound in the order of
// clientArgs: $3 external_id ... $24 decision_time.
const (
	qCreateCustomer = `WITH c AS (
    INSERT INTO customers (tenant_id, id, external_id, kind, display_name, given_name, family_name,
        company_name, email, phone, accepted_channels, country, region, city, age_band, gender, industry, company_size,
        acquisition_channel, attributes, budget, authority, need, decision_time, create_time, update_time, version)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24,
        $25, $26, 1)
    RETURNING *
), a AS (
    INSERT INTO assessments (tenant_id, customer_id) SELECT tenant_id, id FROM c
)
SELECT ` + customerColumns + `, ` + noAssessment + ` FROM c`

	qGetCustomerByID       = customerSelect + customerFromByKey + ` WHERE c.tenant_id = $1 AND c.id = $2`
	qGetCustomerByExternal = customerSelect + customerFromByKey + ` WHERE c.tenant_id = $1 AND c.external_id = $2 AND c.external_id <> ''`
	qGetCustomerByBoth     = customerSelect + customerFromByKey + ` WHERE c.tenant_id = $1 AND c.id = $2 AND c.external_id = $3`

	// qUpdateCustomer: $2 id, $25 the update time, $26 the expected version.
	qUpdateCustomer = `WITH c AS (
    UPDATE customers SET external_id = $3, kind = $4, display_name = $5, given_name = $6,
        family_name = $7, company_name = $8, email = $9, phone = $10, accepted_channels = $11, country = $12,
        region = $13, city = $14, age_band = $15, gender = $16, industry = $17, company_size = $18,
        acquisition_channel = $19, attributes = $20, budget = $21, authority = $22, need = $23, decision_time = $24,
        version = version + 1, update_time = $25
    WHERE tenant_id = $1 AND id = $2 AND version = $26
    RETURNING *
)
` + customerSelect + ` FROM c LEFT JOIN assessments a ON a.tenant_id = c.tenant_id AND a.customer_id = c.id`
	qCustomerVersion = `SELECT version FROM customers WHERE tenant_id = $1 AND id = $2`

	// Deleting a customer: lock it (so that no event can be recorded for
	// it meanwhile: the foreign key check would wait, then fail), lock the
	// customers on the other side of its referrals, correct their
	// statistics, then delete it; the foreign keys cascade to its events.
	// purchase_days, derived from the transactions, has no foreign key
	// (its rows are written only next to transactions, whose foreign key
	// vouches for the customer) and is cleared explicitly, as are
	// lifecycle_transitions. The assessment goes first: its row lock
	// orders the deletion after a concurrent PutAssessments, whose
	// transitions the next statement then sees (or before it, which then
	// finds no row to update and records no transition).
	qLockCustomer        = `SELECT id FROM customers WHERE tenant_id = $1 AND id = $2 FOR UPDATE`
	qLockReferralParties = `SELECT id FROM customers
WHERE tenant_id = $1 AND id IN (
    SELECT referred_id FROM referrals WHERE tenant_id = $1 AND referrer_id = $2
    UNION SELECT referrer_id FROM referrals WHERE tenant_id = $1 AND referred_id = $2)
ORDER BY id
FOR NO KEY UPDATE`
	qUnreferBy = `UPDATE customers c SET referred_by = (
    SELECT r.referrer_id FROM referrals r
    WHERE r.tenant_id = $1 AND r.referred_id = c.id AND r.referrer_id <> $2
    ORDER BY r.occurred_at, r.external_id LIMIT 1)
WHERE c.tenant_id = $1 AND c.referred_by = $2
    AND c.id IN (SELECT referred_id FROM referrals WHERE tenant_id = $1 AND referrer_id = $2)`
	qUnreferGiven = `UPDATE customers c SET referrals_given = c.referrals_given - g.n
FROM (SELECT referrer_id, count(*) AS n FROM referrals WHERE tenant_id = $1 AND referred_id = $2 GROUP BY referrer_id) g
WHERE c.tenant_id = $1 AND c.id = g.referrer_id`
	qDeletePurchaseDays = `DELETE FROM purchase_days WHERE tenant_id = $1 AND customer_id = $2`
	qDeleteAssessment   = `DELETE FROM assessments WHERE tenant_id = $1 AND customer_id = $2`
	qDeleteTransitions  = `DELETE FROM lifecycle_transitions WHERE tenant_id = $1 AND customer_id = $2`
	qDeleteCustomer     = `DELETE FROM customers WHERE tenant_id = $1 AND id = $2`

	// qListCustomers is the start of every listing; list.go appends the
	// conditions, the keyset, the order and LIMIT.
	// Every customer has its assessments row, so the inner join loses none
	// and lets an order by an assessment field read that field's index.
	qListCustomers = customerSelect + ` FROM customers c JOIN assessments a ON a.tenant_id = c.tenant_id AND a.customer_id = c.id
WHERE c.tenant_id = $1 AND a.tenant_id = $1`

	// Upserts: lock the stored customers with the batch's external ids,
	// then insert the new ones and update the changed ones from arrays
	// ($2 ids, $3..$24 the client fields, $25 the time).
	qLockByExternal = customerSelect + customerFromByKey + `
WHERE c.tenant_id = $1 AND c.external_id = ANY($2::text[]) AND c.external_id <> ''
ORDER BY c.id
FOR NO KEY UPDATE OF c`
	upsertInput = `unnest($2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[],
    $10::text[], $11::jsonb[], $12::text[], $13::text[], $14::text[], $15::text[], $16::text[], $17::text[], $18::text[],
    $19::text[], $20::jsonb[], $21::bigint[], $22::text[], $23::text[], $24::timestamptz[])
    AS u(id, external_id, kind, display_name, given_name, family_name, company_name, email, phone, accepted_channels,
    country, region, city, age_band, gender, industry, company_size, acquisition_channel, attributes, budget,
    authority, need, decision_time)`
	qInsertCustomers = `WITH c AS (
    INSERT INTO customers (tenant_id, id, external_id, kind, display_name, given_name, family_name,
        company_name, email, phone, accepted_channels, country, region, city, age_band, gender, industry, company_size,
        acquisition_channel, attributes, budget, authority, need, decision_time, create_time, update_time, version)
    SELECT $1, u.id, u.external_id, u.kind, u.display_name, u.given_name, u.family_name, u.company_name, u.email, u.phone,
        ARRAY(SELECT jsonb_array_elements_text(u.accepted_channels)), u.country, u.region, u.city, u.age_band, u.gender,
        u.industry, u.company_size, u.acquisition_channel, u.attributes, u.budget, u.authority, u.need, u.decision_time,
        $25, $25, 1
    FROM ` + upsertInput + `
    ON CONFLICT (tenant_id, external_id) WHERE external_id <> '' DO NOTHING
    RETURNING *
), a AS (
    INSERT INTO assessments (tenant_id, customer_id) SELECT tenant_id, id FROM c
)
SELECT ` + customerColumns + `, ` + noAssessment + ` FROM c`
	qReplaceCustomers = `WITH c AS (
    UPDATE customers c SET external_id = u.external_id, kind = u.kind,
        display_name = u.display_name, given_name = u.given_name, family_name = u.family_name,
        company_name = u.company_name, email = u.email, phone = u.phone,
        accepted_channels = ARRAY(SELECT jsonb_array_elements_text(u.accepted_channels)), country = u.country,
        region = u.region, city = u.city, age_band = u.age_band, gender = u.gender, industry = u.industry,
        company_size = u.company_size, acquisition_channel = u.acquisition_channel, attributes = u.attributes,
        budget = u.budget, authority = u.authority, need = u.need, decision_time = u.decision_time,
        version = c.version + 1, update_time = $25
    FROM ` + upsertInput + `
    WHERE c.tenant_id = $1 AND c.id = u.id
    RETURNING c.*
)
` + customerSelect + ` FROM c LEFT JOIN assessments a ON a.tenant_id = c.tenant_id AND a.customer_id = c.id`
)

// Ingestion (record.go).
const (
	// qResolveCustomers finds the customers a batch references by id ($2)
	// or external id ($3) and locks them in id order, so that concurrent
	// batches over the same customers queue instead of deadlocking, and
	// statistics recomputed later in the transaction see every committed
	// event. Every step is a lookup of one customer, whatever the
	// statistics say: each external id is probed in the unique index (a
	// LIMIT keeps the subquery a probe), and each id, in ascending order,
	// is locked through the primary key by a nested loop. Written as one
	// condition, "id = ANY($2) OR external_id = ANY($3)", the plan read the
	// whole tenant and compared every row with every external id when the
	// statistics were those of an empty table (a tenant's first import):
	// 44 ms a call at 5,000 customers, a second at 100,000.
	qResolveCustomers = `SELECT c.id, c.external_id FROM (
    SELECT unnest($2::uuid[]) AS id
    UNION
    SELECT k.id FROM unnest($3::text[]) AS u(external_id)
    CROSS JOIN LATERAL (
        SELECT id FROM customers WHERE tenant_id = $1 AND external_id = u.external_id AND external_id <> '' LIMIT 1) k
    ORDER BY id
) b
CROSS JOIN LATERAL (SELECT id, external_id FROM customers WHERE tenant_id = $1 AND id = b.id FOR NO KEY UPDATE) c
ORDER BY c.id`

	// qCreateMissingCustomers creates minimal customers ($2 ids, $3
	// external ids, $4 the time), with their assessments rows. A customer
	// that a concurrent batch has just created is skipped, and the batch
	// retried.
	qCreateMissingCustomers = `WITH c AS (
    INSERT INTO customers (tenant_id, id, external_id, kind, create_time, update_time, version)
    SELECT $1, u.id, u.external_id, 'customer', $4, $4, 1 FROM unnest($2::uuid[], $3::text[]) AS u(id, external_id)
    ON CONFLICT (tenant_id, external_id) WHERE external_id <> '' DO NOTHING
    RETURNING tenant_id, id
)
INSERT INTO assessments (tenant_id, customer_id) SELECT tenant_id, id FROM c`

	// qRecordTransactions inserts the batch's transactions ($2..$9, one
	// array per column, already deduplicated by external id), skips those
	// already known, and adds the new ones to purchase_days and to the
	// customers' PurchaseStats, in one statement. $10 lists the batch's
	// customers, so that the update is planned as index lookups of them
	// whatever the statistics say about the CTEs. A day row that the
	// upsert inserted (xmax = 0) is a new purchase day. The first day's
	// spend changes only if the batch has orders on or before the stored
	// first purchase day: an earlier day replaces it (no row can exist for
	// a day before the first), the same day adds to it. Sums are numeric
	// until stored, so a total beyond bigint fails the statement (22003).
	//
	// The gap statistics of a customer with a new purchase day are
	// recomputed from all its days: the stored ones (the snapshot sees
	// every committed one, the customer being locked; not the rows this
	// statement inserts) and the batch's. lag() gives the days between
	// consecutive ones, percentile_cont(0.5) their median (the mean of the
	// middle two for an even count), the last row's gap is the last gap. A
	// customer with a single day has no gap row and keeps its zeros.
	//
	// The planner cannot estimate the CTEs (one or two rows, it thinks),
	// so nothing is joined to them: batch gathers, in one GROUP BY, the
	// sums of the inserted rows and the one row each customer may have in
	// new_days, first_days and gaps. Joined to batch by LEFT JOINs, each
	// of those was scanned whole for every customer of the batch (nested
	// loops: 270 of the 440 ms of a batch of 500 orders over 100,000
	// customers), and before they were MATERIALIZED the window and the
	// median ran again for every customer (8 s a batch).
	qRecordTransactions = `WITH input AS (
    SELECT * FROM unnest($2::uuid[], $3::text[], $4::uuid[], $5::text[], $6::bigint[], $7::bigint[], $8::bigint[],
        $9::timestamptz[]) AS u(id, external_id, customer_id, kind, amount, margin, quantity, occurred_at)
), inserted AS (
    INSERT INTO transactions (tenant_id, id, external_id, customer_id, kind, amount, margin, quantity, occurred_at)
    SELECT $1, id, external_id, customer_id, kind, amount, margin, quantity, occurred_at FROM input
    ON CONFLICT (tenant_id, external_id) DO NOTHING
    RETURNING customer_id, kind, amount, margin, occurred_at
), day_totals AS (
    SELECT customer_id, (occurred_at AT TIME ZONE 'UTC')::date AS day, sum(amount) AS amount, count(*) AS orders
    FROM inserted WHERE kind = 'order'
    GROUP BY 1, 2
), days AS (
    INSERT INTO purchase_days AS d (tenant_id, customer_id, day, amount, orders)
    SELECT $1, customer_id, day, amount, orders FROM day_totals ORDER BY customer_id, day
    ON CONFLICT (tenant_id, customer_id, day)
        DO UPDATE SET amount = d.amount + excluded.amount, orders = d.orders + excluded.orders
    RETURNING customer_id, (xmax = 0) AS new_day
), new_days AS (
    SELECT customer_id, count(*) AS n FROM days WHERE new_day GROUP BY customer_id
), all_days AS (
    SELECT customer_id, day FROM purchase_days
    WHERE tenant_id = $1 AND customer_id = ANY($10::uuid[]) AND customer_id IN (SELECT customer_id FROM new_days)
    UNION
    SELECT customer_id, day FROM day_totals WHERE customer_id IN (SELECT customer_id FROM new_days)
), gap_days AS (
    SELECT customer_id, day - lag(day) OVER w AS gap, lead(day) OVER w IS NULL AS is_last
    FROM all_days
    WINDOW w AS (PARTITION BY customer_id ORDER BY day)
), gaps AS MATERIALIZED (
    SELECT customer_id, percentile_cont(0.5) WITHIN GROUP (ORDER BY gap) AS median_gap,
        max(gap) FILTER (WHERE is_last) AS last_gap
    FROM gap_days WHERE gap IS NOT NULL
    GROUP BY customer_id
), first_days AS MATERIALIZED (
    SELECT DISTINCT ON (customer_id) customer_id, day, amount FROM day_totals ORDER BY customer_id, day
), batch AS (
    SELECT customer_id,
` + purchaseSums + `,
        sum(new_days) AS new_days, max(first_day) AS first_day, max(first_day_amount) AS first_day_amount,
        max(median_gap) AS median_gap, max(last_gap) AS last_gap
    FROM (
        SELECT customer_id, kind, amount, margin, occurred_at, NULL::bigint AS new_days, NULL::date AS first_day,
            NULL::numeric AS first_day_amount, NULL::float8 AS median_gap, NULL::int AS last_gap
        FROM inserted
        UNION ALL
        SELECT customer_id, NULL, NULL, NULL, NULL, n, NULL, NULL, NULL, NULL FROM new_days
        UNION ALL
        SELECT customer_id, NULL, NULL, NULL, NULL, NULL, day, amount, NULL, NULL FROM first_days
        UNION ALL
        SELECT customer_id, NULL, NULL, NULL, NULL, NULL, NULL, NULL, median_gap, last_gap FROM gaps
    ) x
    GROUP BY customer_id
), updated AS (
    UPDATE customers c SET
        orders = c.orders + b.orders,
        refunds = c.refunds + b.refunds,
        total_spend = c.total_spend + b.spend,
        refund_total = c.refund_total + b.refunded,
        total_margin = c.total_margin + b.margin,
        purchase_days = c.purchase_days + coalesce(b.new_days, 0),
        first_purchase_time = CASE
            WHEN b.first_order IS NULL THEN c.first_purchase_time
            WHEN c.first_purchase_time = '-infinity' THEN b.first_order
            ELSE least(c.first_purchase_time, b.first_order) END,
        last_purchase_time = greatest(c.last_purchase_time, b.last_order),
        first_day_spend = CASE
            WHEN b.first_day IS NULL THEN c.first_day_spend
            WHEN c.first_purchase_time = '-infinity' THEN b.first_day_amount
            WHEN b.first_day < (c.first_purchase_time AT TIME ZONE 'UTC')::date THEN b.first_day_amount
            WHEN b.first_day = (c.first_purchase_time AT TIME ZONE 'UTC')::date THEN c.first_day_spend + b.first_day_amount
            ELSE c.first_day_spend END,
        median_gap_days = coalesce(b.median_gap, c.median_gap_days),
        last_gap_days = coalesce(b.last_gap, c.last_gap_days)
    FROM batch b
    WHERE c.tenant_id = $1 AND c.id = ANY($10::uuid[]) AND c.id = b.customer_id
    RETURNING 1
)
SELECT count(*) FROM inserted`

	// qRecordInteractions is qRecordTransactions for interactions
	// ($2..$8; $9 the batch's customers), maintaining the interaction count
	// and the latest time.
	qRecordInteractions = `WITH input AS (
    SELECT * FROM unnest($2::uuid[], $3::text[], $4::uuid[], $5::text[], $6::text[], $7::text[], $8::timestamptz[])
        AS u(id, external_id, customer_id, type, direction, channel, occurred_at)
), inserted AS (
    INSERT INTO interactions (tenant_id, id, external_id, customer_id, type, direction, channel, occurred_at)
    SELECT $1, id, external_id, customer_id, type, direction, channel, occurred_at FROM input
    ON CONFLICT (tenant_id, external_id) DO NOTHING
    RETURNING customer_id, occurred_at
), batch AS (
    SELECT customer_id, count(*) AS n, max(occurred_at) AS last FROM inserted GROUP BY customer_id
), updated AS (
    UPDATE customers c SET interactions = c.interactions + b.n,
        last_interaction_time = greatest(c.last_interaction_time, b.last)
    FROM batch b
    WHERE c.tenant_id = $1 AND c.id = ANY($9::uuid[]) AND c.id = b.customer_id
    RETURNING 1
)
SELECT count(*) FROM inserted`

	// qRecordReferrals inserts referrals ($2..$6) and counts the new ones
	// into their referrers' referrals_given ($7 the referrers).
	qRecordReferrals = `WITH input AS (
    SELECT * FROM unnest($2::uuid[], $3::text[], $4::uuid[], $5::uuid[], $6::timestamptz[])
        AS u(id, external_id, referrer_id, referred_id, occurred_at)
), inserted AS (
    INSERT INTO referrals (tenant_id, id, external_id, referrer_id, referred_id, occurred_at)
    SELECT $1, id, external_id, referrer_id, referred_id, occurred_at FROM input
    ON CONFLICT (tenant_id, external_id) DO NOTHING
    RETURNING referrer_id
), updated AS (
    UPDATE customers c SET referrals_given = c.referrals_given + g.n
    FROM (SELECT referrer_id, count(*) AS n FROM inserted GROUP BY referrer_id) g
    WHERE c.tenant_id = $1 AND c.id = ANY($7::uuid[]) AND c.id = g.referrer_id
    RETURNING 1
)
SELECT count(*) FROM inserted`

	// qReferredBy sets the referrer of each customer in $2 to the one of
	// its earliest referral. It runs after qRecordReferrals, as its own
	// statement, so that it sees the new referrals; the customers are
	// locked since qResolveCustomers, so it also sees every committed one.
	qReferredBy = `UPDATE customers c SET referred_by = f.referrer_id
FROM (SELECT DISTINCT ON (referred_id) referred_id, referrer_id FROM referrals
      WHERE tenant_id = $1 AND referred_id = ANY($2::uuid[])
      ORDER BY referred_id, occurred_at, external_id) f
WHERE c.tenant_id = $1 AND c.id = f.referred_id AND c.referred_by IS DISTINCT FROM f.referrer_id`

	qListTransactions = `SELECT id, external_id, customer_id, kind, amount, margin, quantity, occurred_at
FROM transactions WHERE tenant_id = $1 AND customer_id = $2
ORDER BY occurred_at, id`
)

// The service role (role.go): whether it is restricted as it must be, and
// whether the connecting user may act as it.
const (
	qServiceRole = `SELECT r.rolsuper, r.rolbypassrls, (SELECT count(*) FROM pg_class c WHERE c.relowner = r.oid)
FROM pg_roles r WHERE r.rolname = $1`
	qAssumeServiceRole = `SELECT set_config('role', '` + ServiceRole + `', true)`
)

// The audit log (audit.go). It is listed newest first, by the keyset
// (time, id) descending, a range scan of audit_events_time.
const (
	auditColumns = `tenant_id, id, time, actor, key_id, role, action, resource_type, resource_id, before, after`
	qInsertAudit = `INSERT INTO audit_events (` + auditColumns + `)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::jsonb, $11::jsonb)`
	qListAudit      = `SELECT ` + auditColumns + ` FROM audit_events WHERE tenant_id = $1 ORDER BY time DESC, id DESC LIMIT $2`
	qListAuditAfter = `SELECT ` + auditColumns + ` FROM audit_events
WHERE tenant_id = $1 AND (time, id) < ($2, $3::uuid)
ORDER BY time DESC, id DESC LIMIT $4`
)

// Resent items (record.go): each returns the 1-based position, among the
// batch's distinct items ($2 their external ids, the other arrays their
// payload), of the first whose stored row has another payload. Run after the
// write, so every id is stored by then.
const (
	qReusedTransaction = `SELECT u.ord FROM unnest($2::text[], $3::uuid[], $4::text[], $5::bigint[], $6::bigint[], $7::bigint[],
    $8::timestamptz[]) WITH ORDINALITY AS u(external_id, customer_id, kind, amount, margin, quantity, occurred_at, ord)
JOIN transactions t ON t.tenant_id = $1 AND t.external_id = u.external_id
WHERE (t.customer_id, t.kind, t.amount, t.margin, t.quantity, t.occurred_at)
    IS DISTINCT FROM (u.customer_id, u.kind, u.amount, u.margin, u.quantity, u.occurred_at)
ORDER BY u.ord LIMIT 1`
	qReusedInteraction = `SELECT u.ord FROM unnest($2::text[], $3::uuid[], $4::text[], $5::text[], $6::text[], $7::timestamptz[])
    WITH ORDINALITY AS u(external_id, customer_id, type, direction, channel, occurred_at, ord)
JOIN interactions i ON i.tenant_id = $1 AND i.external_id = u.external_id
WHERE (i.customer_id, i.type, i.direction, i.channel, i.occurred_at)
    IS DISTINCT FROM (u.customer_id, u.type, u.direction, u.channel, u.occurred_at)
ORDER BY u.ord LIMIT 1`
	qReusedReferral = `SELECT u.ord FROM unnest($2::text[], $3::uuid[], $4::uuid[], $5::timestamptz[])
    WITH ORDINALITY AS u(external_id, referrer_id, referred_id, occurred_at, ord)
JOIN referrals r ON r.tenant_id = $1 AND r.external_id = u.external_id
WHERE (r.referrer_id, r.referred_id, r.occurred_at) IS DISTINCT FROM (u.referrer_id, u.referred_id, u.occurred_at)
ORDER BY u.ord LIMIT 1`
)
