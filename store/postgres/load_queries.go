package postgres

// Bulk loading (load.go).

var (
	loadCustomerColumns    = []string{"id", "external_id", "kind", "display_name", "email", "country", "create_time"}
	loadTransactionColumns = []string{"id", "external_id", "customer_id", "kind", "amount", "margin", "quantity", "occurred_at"}
)

const (
	// qLoadWorkMem raises work_mem for the load's transaction alone, so
	// that grouping a chunk's transactions by customer and day is a hash
	// aggregate and a sort in memory rather than batches spilled to disk.
	qLoadWorkMem = `SELECT set_config('work_mem', '64MB', true)`

	// qLoadCustomersStage and qLoadTransactionsStage are the staging
	// tables Load copies into: temporary (no row-level security, no WAL),
	// dropped at commit.
	qLoadCustomersStage = `CREATE TEMP TABLE load_customers (
    id uuid NOT NULL, external_id text COLLATE "C" NOT NULL, kind text COLLATE "C" NOT NULL,
    display_name text COLLATE "C" NOT NULL, email text COLLATE "C" NOT NULL, country text COLLATE "C" NOT NULL,
    create_time timestamptz
) ON COMMIT DROP`
	qLoadTransactionsStage = `CREATE TEMP TABLE load_transactions (
    id uuid NOT NULL, external_id text COLLATE "C" NOT NULL, customer_id uuid NOT NULL, kind text NOT NULL,
    amount bigint NOT NULL, margin bigint, quantity bigint NOT NULL, occurred_at timestamptz NOT NULL
) ON COMMIT DROP`

	// qLoadSkipKnownCustomers and qLoadSkipKnownTransactions drop from
	// the staging tables the rows the tenant already has, by id or by
	// external id (index lookups of the primary and unique keys).
	qLoadSkipKnownCustomers = `DELETE FROM load_customers l
WHERE EXISTS (SELECT 1 FROM customers c WHERE c.tenant_id = $1 AND c.id = l.id)
    OR l.external_id <> '' AND EXISTS (
        SELECT 1 FROM customers c WHERE c.tenant_id = $1 AND c.external_id = l.external_id AND c.external_id <> '')`
	qLoadSkipKnownTransactions = `DELETE FROM load_transactions l
WHERE EXISTS (SELECT 1 FROM transactions t WHERE t.tenant_id = $1 AND t.id = l.id)
    OR EXISTS (SELECT 1 FROM transactions t WHERE t.tenant_id = $1 AND t.external_id = l.external_id)`

	// qLoadAnalyze gives the planner the staging tables' sizes and
	// distinct customers before the statements that join and group them.
	qLoadAnalyze = `ANALYZE load_customers, load_transactions`

	// qLoadOrphans counts the new transactions whose customer is not new:
	// the tenant has it, so its statistics cannot be written with it.
	qLoadOrphans = `SELECT count(*) FROM load_transactions t
WHERE NOT EXISTS (SELECT 1 FROM load_customers l WHERE l.id = t.customer_id)`

	// qLoadCustomers inserts the staged customers, each with its
	// PurchaseStats computed from its staged transactions with the
	// definitions qRecordTransactions maintains incrementally: the sums of
	// purchaseSums, the number of UTC days with orders, the first day's
	// spend, and the gaps in days between consecutive purchase days (their
	// median by percentile_cont(0.5), and the last one; zeros for a single
	// day); and gives each its empty assessment, as creating a customer
	// does, and its purchase days (one row per UTC day with orders). In
	// primary key order: new customers' ids are time-ordered, so the
	// inserts append to customers_pkey.
	qLoadCustomers = `WITH t AS (
    SELECT customer_id,
` + purchaseSums + `
    FROM load_transactions
    GROUP BY customer_id
), day_totals AS MATERIALIZED (
    SELECT customer_id, (occurred_at AT TIME ZONE 'UTC')::date AS day, sum(amount) AS amount, count(*) AS orders
    FROM load_transactions WHERE kind = 'order'
    GROUP BY 1, 2
), gap_days AS (
    SELECT customer_id, amount, day - lag(day) OVER w AS gap,
        lead(day) OVER w IS NULL AS is_last, row_number() OVER w = 1 AS is_first
    FROM day_totals
    WINDOW w AS (PARTITION BY customer_id ORDER BY day)
), d AS (
    SELECT customer_id, count(*) AS days,
        max(amount) FILTER (WHERE is_first) AS first_day_spend,
        percentile_cont(0.5) WITHIN GROUP (ORDER BY gap) FILTER (WHERE gap IS NOT NULL) AS median_gap,
        max(gap) FILTER (WHERE is_last) AS last_gap
    FROM gap_days
    GROUP BY customer_id
), c AS (
    INSERT INTO customers (tenant_id, id, external_id, kind, display_name, email, country, create_time, update_time, version,
        orders, refunds, total_spend, refund_total, total_margin, purchase_days, first_purchase_time, last_purchase_time,
        first_day_spend, median_gap_days, last_gap_days)
    SELECT $1, l.id, l.external_id, l.kind, l.display_name, l.email, l.country,
        coalesce(l.create_time, statement_timestamp()), coalesce(l.create_time, statement_timestamp()), 1,
        coalesce(t.orders, 0), coalesce(t.refunds, 0), coalesce(t.spend, 0), coalesce(t.refunded, 0), coalesce(t.margin, 0),
        coalesce(d.days, 0), coalesce(t.first_order, '-infinity'), coalesce(t.last_order, '-infinity'),
        coalesce(d.first_day_spend, 0), coalesce(d.median_gap, 0), coalesce(d.last_gap, 0)
    FROM load_customers l LEFT JOIN t ON t.customer_id = l.id LEFT JOIN d ON d.customer_id = l.id
    ORDER BY l.id
    RETURNING tenant_id, id
), a AS (
    INSERT INTO assessments (tenant_id, customer_id) SELECT tenant_id, id FROM c ORDER BY id
), p AS (
    INSERT INTO purchase_days (tenant_id, customer_id, day, amount, orders)
    SELECT $1, customer_id, day, amount, orders FROM day_totals ORDER BY customer_id, day
)
SELECT count(*) FROM c`

	// qLoadTransactions inserts the staged transactions, after their
	// customers (the foreign key checks each row's). In the order of
	// transactions_customer: the index's insertions and the foreign key's
	// lookups of customers_pkey then sweep each index once per chunk
	// instead of landing on random pages, and the heap keeps a customer's
	// transactions together.
	qLoadTransactions = `INSERT INTO transactions (tenant_id, id, external_id, customer_id, kind, amount, margin, quantity, occurred_at)
SELECT $1, id, external_id, customer_id, kind, amount, margin, quantity, occurred_at FROM load_transactions
ORDER BY customer_id, occurred_at`
)
