package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/potentialhq/potential/domain"
)

// Bulk loading: a large import (a CRM's whole history, millions of rows)
// at the speed of COPY rather than that of the service's batches.
//
// A load is LoadCustomers, then LoadTransactions in as many chunks as the
// caller likes (concurrently if it likes), then RebuildPurchaseStats once.
// Each call is one transaction: COPY into a staging table of its own
// (a temporary table, dropped at commit: COPY cannot write a table under
// row-level security), then one INSERT … SELECT into the real table, which
// row-level security checks and whose constraints hold as for any insert.
// Rows whose external id the tenant already has are skipped, so a load
// can be resent. Nothing else of the service follows a load by itself:
// the customers' statistics wait for RebuildPurchaseStats, their
// assessments for the next re-assessment (FitValueModel or the daily job),
// their points and segments for the next re-scoring and evaluation.

// LoadCustomers creates customers of tenantID in bulk, each with its empty
// assessment, and returns how many it created (customers whose external id
// exists are skipped). The customers' id, external id, kind, display name,
// email and country are stored; their create and update times are
// c.CreateTime (now if zero).
func (s *Store) LoadCustomers(ctx context.Context, tenantID string, cs []domain.Customer) (int64, error) {
	sc, ok := tenantScope(tenantID)
	if !ok {
		return 0, fmt.Errorf("%w: tenant %q", domain.ErrNotFound, tenantID)
	}
	rows := make([][]any, len(cs))
	for i := range cs {
		c := &cs[i]
		id, ok := parseID(c.ID)
		if !ok {
			return 0, &domain.ItemError{Index: i, Field: "id", Err: domain.Invalid("id", "must be a UUID")}
		}
		if c.Kind == "" {
			c.Kind = domain.KindCustomer
		}
		if field, err := checkCustomer(c); err != nil {
			return 0, &domain.ItemError{Index: i, Field: field, Err: fieldError(field, err)}
		}
		if err := checkTime(c.CreateTime); err != nil {
			return 0, &domain.ItemError{Index: i, Field: "create_time", Err: fieldError("create_time", err)}
		}
		rows[i] = []any{id, c.ExternalID, string(c.Kind), c.DisplayName, c.Email, c.Country, nullTime(normTime(c.CreateTime))}
	}
	var n int64
	err := s.tx(ctx, sc, func(b *pgx.Batch) { b.Queue(qLoadCustomersStage) }, func(br pgx.BatchResults) error {
		_, err := br.Exec()
		return err
	}, func(tx pgx.Tx) error {
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"load_customers"}, loadCustomerColumns, pgx.CopyFromRows(rows)); err != nil {
			return err
		}
		return tx.QueryRow(ctx, qLoadCustomers, sc.tenant).Scan(&n)
	})
	return n, err
}

// LoadTransactions records transactions of tenantID in bulk, each naming
// its customer by CustomerID, and returns how many it inserted
// (transactions whose external id exists are skipped). It does not
// maintain the customers' statistics: RebuildPurchaseStats does, once the
// load is complete. A customer that does not exist fails the whole call
// with ErrNotFound.
func (s *Store) LoadTransactions(ctx context.Context, tenantID string, txs []domain.Transaction) (int64, error) {
	sc, ok := tenantScope(tenantID)
	if !ok {
		return 0, fmt.Errorf("%w: tenant %q", domain.ErrNotFound, tenantID)
	}
	rows := make([][]any, len(txs))
	for i := range txs {
		t := &txs[i]
		id, ok := parseID(t.ID)
		if !ok {
			return 0, &domain.ItemError{Index: i, Field: "id", Err: domain.Invalid("id", "must be a UUID")}
		}
		cust, ok := parseID(t.CustomerID)
		if !ok {
			return 0, unknownCustomer(i, "customer", domain.CustomerRef{ID: t.CustomerID})
		}
		if t.ExternalID == "" || checkText(t.ExternalID) != nil {
			return 0, &domain.ItemError{Index: i, Field: "external_id", Err: domain.Invalid("external_id", "must be set, valid UTF-8 without NUL characters")}
		}
		if t.Kind != domain.TxOrder && t.Kind != domain.TxRefund {
			return 0, &domain.ItemError{Index: i, Field: "kind", Err: domain.Invalid("kind", "must be order or refund")}
		}
		if t.OccurredAt.IsZero() || checkTime(t.OccurredAt) != nil {
			return 0, &domain.ItemError{Index: i, Field: "occurred_at", Err: domain.Invalid("occurred_at", "must be set, within the years 1-9999")}
		}
		var margin any
		if t.HasMargin {
			margin = int64(t.Margin)
		}
		rows[i] = []any{id, t.ExternalID, cust, string(t.Kind), int64(t.Amount), margin, t.Quantity, normTime(t.OccurredAt)}
	}
	var n int64
	err := s.tx(ctx, sc, func(b *pgx.Batch) { b.Queue(qLoadTransactionsStage) }, func(br pgx.BatchResults) error {
		_, err := br.Exec()
		return err
	}, func(tx pgx.Tx) error {
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"load_transactions"}, loadTransactionColumns, pgx.CopyFromRows(rows)); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, qLoadTransactions, sc.tenant)
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.Code == "23503" {
			// Not retried as an ingestion batch is (whose customers were
			// there when it resolved them): a load names ids that may
			// never have existed.
			return fmt.Errorf("%w: a transaction's customer", domain.ErrNotFound)
		}
		n = tag.RowsAffected()
		return err
	})
	return n, err
}

// RebuildPurchaseStats recomputes, from the transactions of tenantID, its
// purchase days and the PurchaseStats of every customer that has
// transactions (orders, refunds, totals, first and last purchase, purchase
// days, first day's spend, median and last gap), as recording them one
// batch at a time would have left them. It is the last step of a bulk
// load; it returns how many customers it updated. Set-based: one pass over
// the transactions grouped by customer, one over the purchase days in
// their primary key's order. The transaction raises work_mem for itself
// alone, so that the aggregates stay in memory.
func (s *Store) RebuildPurchaseStats(ctx context.Context, tenantID string) (int64, error) {
	sc, ok := tenantScope(tenantID)
	if !ok {
		return 0, fmt.Errorf("%w: tenant %q", domain.ErrNotFound, tenantID)
	}
	var n int64
	err := s.tx(ctx, sc, func(b *pgx.Batch) {
		b.Queue(qLoadWorkMem)
		b.Queue(qRebuildPurchaseDaysDelete, sc.tenant)
	}, func(br pgx.BatchResults) error {
		if _, err := br.Exec(); err != nil {
			return err
		}
		_, err := br.Exec()
		return err
	}, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, qRebuildPurchaseDays, sc.tenant); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, qRebuildPurchaseStats, sc.tenant)
		n = tag.RowsAffected()
		return err
	})
	return n, err
}
