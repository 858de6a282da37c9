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
// A load is a series of Load calls, each with a chunk of customers and all
// their transactions (concurrently if the caller likes). Each call is one
// transaction: COPY into staging tables of its own (temporary tables,
// dropped at commit: COPY cannot write a table under row-level security),
// then the customers' purchase statistics are computed from the staged
// transactions, and the customers are inserted with them, each written
// once, followed by their purchase days and their transactions. Row-level
// security checks every row and the constraints hold as for any insert.
// Customers and transactions the tenant already has (by id or external
// id) are skipped, so a chunk can be resent. Nothing else of the service
// follows a load by itself: the customers' assessments wait for the next
// re-assessment (FitValueModel or the daily job), their points and
// segments for the next re-scoring and evaluation.

// Load creates customers of tenantID in bulk together with their
// transactions, and returns how many customers and transactions it
// created. Every transaction names, by CustomerID, a customer of cs: a
// chunk carries its customers' whole history, so that each customer's
// PurchaseStats (orders, refunds, totals, first and last purchase,
// purchase days, first day's spend, median and last gap, as
// RecordTransactions maintains them) are computed before its row is
// written, and each customer gets its purchase days and its empty
// assessment as creating one does. The customers' id, external id, kind,
// display name, email and country are stored; their create and update
// times are c.CreateTime (now if zero).
//
// A customer or transaction the tenant already has, by id or by external
// id, is skipped; a new transaction of a customer the tenant already has
// fails the call with ErrFailedPrecondition (its statistics would need
// RecordTransactions' incremental update), and nothing of the call is
// stored. A load that meets a concurrent load of the same rows is retried,
// and then skips them.
func (s *Store) Load(ctx context.Context, tenantID string, cs []domain.Customer, txs []domain.Transaction) (customers, transactions int64, err error) {
	sc, ok := tenantScope(tenantID)
	if !ok {
		return 0, 0, fmt.Errorf("%w: tenant %q", domain.ErrNotFound, tenantID)
	}
	custRows, txRows, err := loadRows(cs, txs)
	if err != nil {
		return 0, 0, err
	}
	err = s.tx(ctx, sc, func(b *pgx.Batch) {
		b.Queue(qLoadWorkMem)
		b.Queue(qLoadCustomersStage)
		b.Queue(qLoadTransactionsStage)
	}, func(br pgx.BatchResults) error {
		for range 3 {
			if _, err := br.Exec(); err != nil {
				return err
			}
		}
		return nil
	}, func(tx pgx.Tx) error {
		customers, transactions = 0, 0
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"load_customers"}, loadCustomerColumns, pgx.CopyFromRows(custRows)); err != nil {
			return err
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"load_transactions"}, loadTransactionColumns, pgx.CopyFromRows(txRows)); err != nil {
			return err
		}
		b := &pgx.Batch{}
		b.Queue(qLoadSkipKnownCustomers, sc.tenant)
		b.Queue(qLoadSkipKnownTransactions, sc.tenant)
		b.Queue(qLoadAnalyze)
		b.Queue(qLoadOrphans)
		br := tx.SendBatch(ctx, b)
		var orphans int64
		err := func() error {
			for range 3 {
				if _, err := br.Exec(); err != nil {
					return err
				}
			}
			return br.QueryRow().Scan(&orphans)
		}()
		if cerr := br.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
		if orphans > 0 {
			return fmt.Errorf("%w: %d new transactions of customers the tenant already has: record them through RecordTransactions", domain.ErrFailedPrecondition, orphans)
		}
		b = &pgx.Batch{}
		b.Queue(qLoadCustomers, sc.tenant)
		b.Queue(qLoadTransactions, sc.tenant)
		br = tx.SendBatch(ctx, b)
		err = br.QueryRow().Scan(&customers)
		if err == nil {
			var tag pgconn.CommandTag
			tag, err = br.Exec()
			transactions = tag.RowsAffected()
		}
		if cerr := br.Close(); err == nil {
			err = cerr
		}
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.Code == "23505" {
			// A concurrent load committed some of these rows after this
			// one looked: a fresh attempt skips them.
			return errRetry
		}
		return err
	})
	return customers, transactions, err
}

// loadRows checks a load's customers and transactions and returns their
// rows for the staging tables: every id a UUID, no id or external id
// twice in the call, every transaction's customer one of cs.
func loadRows(cs []domain.Customer, txs []domain.Transaction) (custRows, txRows [][]any, err error) {
	custRows = make([][]any, len(cs))
	ids := make(map[string]bool, len(cs))
	exts := make(map[string]bool, len(cs))
	for i := range cs {
		c := &cs[i]
		id, ok := parseID(c.ID)
		if !ok {
			return nil, nil, &domain.ItemError{Index: i, Field: "id", Err: domain.Invalid("id", "must be a UUID")}
		}
		if err := once(ids, id, i, "id"); err != nil {
			return nil, nil, err
		}
		if c.Kind == "" {
			c.Kind = domain.KindCustomer
		}
		if field, err := checkCustomer(c); err != nil {
			return nil, nil, &domain.ItemError{Index: i, Field: field, Err: fieldError(field, err)}
		}
		if c.ExternalID != "" {
			if err := once(exts, c.ExternalID, i, "external_id"); err != nil {
				return nil, nil, err
			}
		}
		if err := checkTime(c.CreateTime); err != nil {
			return nil, nil, &domain.ItemError{Index: i, Field: "create_time", Err: fieldError("create_time", err)}
		}
		custRows[i] = []any{id, c.ExternalID, string(c.Kind), c.DisplayName, c.Email, c.Country, nullTime(normTime(c.CreateTime))}
	}
	txRows = make([][]any, len(txs))
	txIDs := make(map[string]bool, len(txs))
	txExts := make(map[string]bool, len(txs))
	for i := range txs {
		t := &txs[i]
		id, ok := parseID(t.ID)
		if !ok {
			return nil, nil, &domain.ItemError{Index: i, Field: "id", Err: domain.Invalid("id", "must be a UUID")}
		}
		if err := once(txIDs, id, i, "id"); err != nil {
			return nil, nil, err
		}
		cust, ok := parseID(t.CustomerID)
		if !ok || !ids[cust] {
			return nil, nil, &domain.ItemError{Index: i, Field: "customer_id", Err: domain.Invalid("customer_id", "must be the id of a customer of the same load")}
		}
		if t.ExternalID == "" || checkText(t.ExternalID) != nil {
			return nil, nil, &domain.ItemError{Index: i, Field: "external_id", Err: domain.Invalid("external_id", "must be set, valid UTF-8 without NUL characters")}
		}
		if err := once(txExts, t.ExternalID, i, "external_id"); err != nil {
			return nil, nil, err
		}
		if t.Kind != domain.TxOrder && t.Kind != domain.TxRefund {
			return nil, nil, &domain.ItemError{Index: i, Field: "kind", Err: domain.Invalid("kind", "must be order or refund")}
		}
		if t.OccurredAt.IsZero() || checkTime(t.OccurredAt) != nil {
			return nil, nil, &domain.ItemError{Index: i, Field: "occurred_at", Err: domain.Invalid("occurred_at", "must be set, within the years 1-9999")}
		}
		var margin any
		if t.HasMargin {
			margin = int64(t.Margin)
		}
		txRows[i] = []any{id, t.ExternalID, cust, string(t.Kind), int64(t.Amount), margin, t.Quantity, normTime(t.OccurredAt)}
	}
	return custRows, txRows, nil
}

// once adds key to seen, or, if it is there already, returns the
// ItemError of item i's field appearing twice in a load.
func once(seen map[string]bool, key string, i int, field string) error {
	if seen[key] {
		return &domain.ItemError{Index: i, Field: field, Err: domain.Invalid(field, "appears twice in the load")}
	}
	seen[key] = true
	return nil
}
