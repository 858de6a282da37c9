package postgres

// Bulk loading (load.go).

var (
	loadCustomerColumns    = []string{"id", "external_id", "kind", "display_name", "email", "country", "create_time"}
	loadTransactionColumns = []string{"id", "external_id", "customer_id", "kind", "amount", "margin", "quantity", "occurred_at"}
)

const (
	// qLoadCustomersStage is the staging table LoadCustomers copies into:
	// temporary (no row-level security, no WAL), dropped at commit.
	qLoadCustomersStage = `CREATE TEMP TABLE load_customers (
    id uuid NOT NULL, external_id text COLLATE "C" NOT NULL, kind text COLLATE "C" NOT NULL,
    display_name text COLLATE "C" NOT NULL, email text COLLATE "C" NOT NULL, country text COLLATE "C" NOT NULL,
    create_time timestamptz
) ON COMMIT DROP`

	// qLoadCustomers inserts the staged customers, skipping external ids
	// the tenant has (and repeats within the load: one of them is
	// inserted), and gives each new customer its empty assessment, as
	// creating a customer does.
	qLoadCustomers = `WITH c AS (
    INSERT INTO customers (tenant_id, id, external_id, kind, display_name, email, country, create_time, update_time, version)
    SELECT $1, id, external_id, kind, display_name, email, country,
        coalesce(create_time, statement_timestamp()), coalesce(create_time, statement_timestamp()), 1
    FROM load_customers
    ON CONFLICT (tenant_id, external_id) WHERE external_id <> '' DO NOTHING
    RETURNING tenant_id, id
), a AS (
    INSERT INTO assessments (tenant_id, customer_id) SELECT tenant_id, id FROM c
)
SELECT count(*) FROM c`

	// qLoadTransactionsStage is LoadTransactions' staging table.
	qLoadTransactionsStage = `CREATE TEMP TABLE load_transactions (
    id uuid NOT NULL, external_id text COLLATE "C" NOT NULL, customer_id uuid NOT NULL, kind text NOT NULL,
    amount bigint NOT NULL, margin bigint, quantity bigint NOT NULL, occurred_at timestamptz NOT NULL
) ON COMMIT DROP`

	// qLoadTransactions inserts the staged transactions, skipping external
	// ids the tenant has. The foreign key checks each row's customer. In
	// the order of transactions_customer: the index's insertions and the
	// foreign key's lookups of customers_pkey then sweep each index once
	// per chunk instead of landing on random pages (which, once a tenant's
	// indexes outgrow shared_buffers, is a page read and a page write per
	// row), and the heap keeps a customer's transactions of a chunk
	// together.
	qLoadTransactions = `INSERT INTO transactions (tenant_id, id, external_id, customer_id, kind, amount, margin, quantity, occurred_at)
SELECT $1, id, external_id, customer_id, kind, amount, margin, quantity, occurred_at FROM load_transactions
ORDER BY customer_id, occurred_at
ON CONFLICT (tenant_id, external_id) DO NOTHING`

	// qLoadWorkMem raises work_mem for the rebuild's transaction alone, so
	// that grouping a large tenant's transactions by customer is a hash
	// aggregate in memory rather than batches spilled to disk.
	qLoadWorkMem = `SELECT set_config('work_mem', '256MB', true)`

	// qRebuildPurchaseDaysDelete and qRebuildPurchaseDays rebuild the
	// tenant's purchase days (one row per customer and UTC day with
	// orders) from its orders, in the primary key's order.
	qRebuildPurchaseDaysDelete = `DELETE FROM purchase_days WHERE tenant_id = $1`
	qRebuildPurchaseDays       = `INSERT INTO purchase_days (tenant_id, customer_id, day, amount, orders)
SELECT $1, customer_id, (occurred_at AT TIME ZONE 'UTC')::date, sum(amount), count(*)
FROM transactions WHERE tenant_id = $1 AND kind = 'order'
GROUP BY 2, 3 ORDER BY 2, 3`

	// qRebuildPurchaseStats sets the PurchaseStats of every customer with
	// transactions from them and from the purchase days, with the
	// definitions qRecordTransactions maintains incrementally: sums of
	// orders and refunds, first and last order, the number of purchase
	// days, the first day's spend, and the gaps in days between
	// consecutive purchase days (their median by percentile_cont(0.5), and
	// the last one; zeros for a single day).
	qRebuildPurchaseStats = `WITH t AS (
    SELECT customer_id,
` + purchaseSums + `
    FROM transactions WHERE tenant_id = $1
    GROUP BY customer_id
), gap_days AS (
    SELECT customer_id, amount, day - lag(day) OVER w AS gap,
        lead(day) OVER w IS NULL AS is_last, row_number() OVER w = 1 AS is_first
    FROM purchase_days WHERE tenant_id = $1
    WINDOW w AS (PARTITION BY customer_id ORDER BY day)
), d AS (
    SELECT customer_id, count(*) AS days,
        max(amount) FILTER (WHERE is_first) AS first_day_spend,
        percentile_cont(0.5) WITHIN GROUP (ORDER BY gap) FILTER (WHERE gap IS NOT NULL) AS median_gap,
        max(gap) FILTER (WHERE is_last) AS last_gap
    FROM gap_days
    GROUP BY customer_id
)
UPDATE customers c SET
    orders = t.orders,
    refunds = t.refunds,
    total_spend = t.spend,
    refund_total = t.refunded,
    total_margin = t.margin,
    purchase_days = coalesce(d.days, 0),
    first_purchase_time = coalesce(t.first_order, '-infinity'),
    last_purchase_time = coalesce(t.last_order, '-infinity'),
    first_day_spend = coalesce(d.first_day_spend, 0),
    median_gap_days = coalesce(d.median_gap, 0),
    last_gap_days = coalesce(d.last_gap, 0)
FROM t LEFT JOIN d USING (customer_id)
WHERE c.tenant_id = $1 AND c.id = t.customer_id`
)
