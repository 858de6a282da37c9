package postgres

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Baseline does, with plain pgx and no service in between, the work the
// benchmark harness compares the service with: COPY of transactions into
// the same table, point selects of customers by primary key, and the
// per-customer GROUP BY over transactions. It connects with the URL it is
// given, which must be allowed to bypass row-level security (the owner or
// a superuser), since COPY cannot run under it.
type Baseline struct {
	pool *pgxpool.Pool
}

// OpenBaseline connects to url, with as many connections as a Store's
// pool (DefaultMaxConns, unless url sets pool_max_conns), so that a
// comparison at the same concurrency is one at the same number of
// connections.
func OpenBaseline(ctx context.Context, url string) (*Baseline, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres: parsing the connection string: %w", err)
	}
	if !strings.Contains(url, "pool_max_conns") {
		cfg.MaxConns = DefaultMaxConns()
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, translate(err)
	}
	return &Baseline{pool: pool}, nil
}

// Close closes the pool.
func (b *Baseline) Close() { b.pool.Close() }

// BaselineTransaction is one row for CopyTransactions.
type BaselineTransaction struct {
	ID, ExternalID, CustomerID string
	Amount                     int64
	OccurredAt                 time.Time
}

var transactionColumns = []string{"tenant_id", "id", "external_id", "customer_id", "kind", "amount", "margin", "quantity", "occurred_at"}

// CopyTransactions copies orders of existing customers of tenantID into the
// transactions table with one COPY.
func (b *Baseline) CopyTransactions(ctx context.Context, tenantID string, rows []BaselineTransaction) error {
	src := make([][]any, len(rows))
	for i, r := range rows {
		src[i] = []any{tenantID, r.ID, r.ExternalID, r.CustomerID, "order", r.Amount, nil, int64(1), r.OccurredAt}
	}
	_, err := b.pool.CopyFrom(ctx, pgx.Identifier{"transactions"}, transactionColumns, pgx.CopyFromRows(src))
	return translate(err)
}

// CopyCustomers creates minimal customers of tenantID with one COPY.
func (b *Baseline) CopyCustomers(ctx context.Context, tenantID string, ids, externalIDs []string, now time.Time) error {
	src := make([][]any, len(ids))
	for i := range ids {
		src[i] = []any{tenantID, ids[i], externalIDs[i], "customer", now, now, int64(1)}
	}
	_, err := b.pool.CopyFrom(ctx, pgx.Identifier{"customers"}, []string{"tenant_id", "id", "external_id", "kind", "create_time", "update_time", "version"}, pgx.CopyFromRows(src))
	return translate(err)
}

const qBaselinePointSelect = `SELECT id, external_id, display_name, email, country, total_spend, purchase_days, last_purchase_time
FROM customers WHERE tenant_id = $1 AND id = $2`

// PointSelect reads one customer by primary key, as a raw indexed query.
func (b *Baseline) PointSelect(ctx context.Context, tenantID, customerID string) error {
	rows, err := b.pool.Query(ctx, qBaselinePointSelect, tenantID, customerID)
	if err != nil {
		return translate(err)
	}
	n := 0
	for rows.Next() {
		n++
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return translate(err)
	}
	if n != 1 {
		return fmt.Errorf("postgres: baseline point select found %d rows", n)
	}
	return nil
}

const qBaselineGroupBy = `SELECT customer_id, count(*), sum(amount), min(occurred_at), max(occurred_at)
FROM transactions WHERE tenant_id = $1 GROUP BY customer_id`

// GroupBy runs the per-customer aggregate over the tenant's transactions
// and reads every row; it returns the number of customers.
func (b *Baseline) GroupBy(ctx context.Context, tenantID string) (int64, error) {
	rows, err := b.pool.Query(ctx, qBaselineGroupBy, tenantID)
	if err != nil {
		return 0, translate(err)
	}
	var n int64
	for rows.Next() {
		n++
	}
	rows.Close()
	return n, translate(rows.Err())
}

const qBaselineTenant = `INSERT INTO tenants (id, name, create_time) VALUES ($1, $2, $3)`

// CreateTenant adds a tenant for baseline rows, so they never mix with the
// service's.
func (b *Baseline) CreateTenant(ctx context.Context, id, name string, now time.Time) error {
	_, err := b.pool.Exec(ctx, qBaselineTenant, id, name, now)
	return translate(err)
}

const qBaselineTenantID = `SELECT id FROM tenants WHERE name = $1`

// TenantID returns the id of the tenant named name.
func (b *Baseline) TenantID(ctx context.Context, name string) (string, error) {
	var id string
	err := b.pool.QueryRow(ctx, qBaselineTenantID, name).Scan(&id)
	return id, translate(err)
}

// CreateDatabase creates a database (for a benchmark run of its own);
// DropDatabase removes it.
func (b *Baseline) CreateDatabase(ctx context.Context, name string) error {
	_, err := b.pool.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
	return translate(err)
}

// DropDatabase drops a database created by CreateDatabase.
func (b *Baseline) DropDatabase(ctx context.Context, name string) error {
	_, err := b.pool.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
	return translate(err)
}

// Setting returns the value of a server setting (SHOW name), e.g.
// autovacuum, which decides whether statistics follow a growing table.
func (b *Baseline) Setting(ctx context.Context, name string) (string, error) {
	var v string
	err := b.pool.QueryRow(ctx, "SELECT current_setting($1)", name).Scan(&v)
	return v, translate(err)
}

// Analyze refreshes the planner's statistics of the tables a benchmark
// fills (the server may run without autovacuum, and a bulk load leaves
// them describing empty tables).
func (b *Baseline) Analyze(ctx context.Context) error {
	_, err := b.pool.Exec(ctx, "ANALYZE customers, transactions, purchase_days, assessments")
	return translate(err)
}
