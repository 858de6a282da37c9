package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/potentialhq/potential/domain"
)

// A large tenant's assessments are rewritten whole (domain.AssessmentRewriter)
// the way a bulk load writes: COPYed into a fresh table, indexed by
// sorting and swapped in as the tenant's partition of assessments (see
// migrations/0014_assessment_partitions.sql). An UPDATE of every row
// instead inserts into each of the table's three indexes at random, a row
// at a time: at a million customers that was 3.9 times PostgreSQL's own
// GROUP BY over the tenant's transactions, the rewrite is under 3
// (docs/BENCHMARKS.md).

var _ domain.AssessmentRewriter = (*Store)(nil)

// DefaultRewriteMin is the number of customers from which a tenant's
// re-assessments are rewrites: below it a tenant's rows stay in the shared
// partition and are updated in place, which costs no DDL and no lock of
// assessments; from it on, and once a tenant has a partition of its own,
// every ReassessAll rewrites it.
const DefaultRewriteMin = 50_000

// SetRewriteMin sets the number of customers from which a tenant's
// re-assessments are rewrites (DefaultRewriteMin unless set).
func (s *Store) SetRewriteMin(n int) { s.rewriteMin = max(n, 1) }

// RewriteMin returns the number of customers from which a tenant's
// re-assessments are rewrites.
func (s *Store) RewriteMin() int {
	if s.rewriteMin == 0 {
		return DefaultRewriteMin
	}
	return s.rewriteMin
}

// rewriteLockTimeout bounds the swap's waits for its locks: the ACCESS
// EXCLUSIVE lock of assessments (and a first swap's of the tenant's write
// gate). dropLockTimeout bounds the begin's (its triggers' lock of the
// tenant's current table) and the drop's, of its ACCESS EXCLUSIVE lock of
// customers (which every read of customers queues behind); when the drop's
// runs out, the replaced table (already emptied) is dropped by the
// tenant's next rewrite. The begin and the swap are tried lockAttempts
// times when a wait runs out or they are ended as a deadlock's victim.
const (
	rewriteLockTimeout = "2s"
	lockAttempts       = 3
	dropLockTimeout    = "500ms"
)

// RewriteAssessments implements domain.AssessmentRewriter: it declines
// tenants below the store's rewrite minimum that have no partition yet,
// and tenants another rewrite holds (the caller updates in place
// meanwhile). Otherwise it has the migrations' functions claim the tenant
// and create the table, COPYs what write puts into it as the service role
// in the tenant's scope, and has them index it, add its foreign key, swap
// it in and drop the table it replaced; each step is a transaction of its
// own, on one connection but holding nothing across them (so PgBouncer's
// transaction pooling suits it). The COPY runs while write reads and
// assesses, so the three overlap. A failure after the claim gives it up
// and drops the table.
func (s *Store) RewriteAssessments(ctx context.Context, tenantID string, write func(put func([]domain.Assessment) error) error) (bool, error) {
	sc, ok := tenantScope(tenantID)
	if !ok {
		return false, nil
	}
	var large bool
	err := s.batch(ctx, sc, func(b *pgx.Batch) {
		b.Queue(qRewriteWanted, sc.tenant, s.RewriteMin())
	}, func(br pgx.BatchResults) error {
		return br.QueryRow().Scan(&large)
	})
	if err != nil || !large {
		return false, err
	}
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return false, translate(err)
	}
	defer conn.Release()
	var next *string
	// Its triggers' lock of the tenant's current table holds that table's
	// writers back while it waits; the drops of tables left behind wait as
	// long as the drop does.
	err = lockRetries(func() error {
		return inTx(ctx, conn, sc, dropLockTimeout, func(tx pgx.Tx) error {
			return tx.QueryRow(ctx, qRewriteBegin).Scan(&next)
		})
	})
	if lockTimedOut(err) {
		return false, fmt.Errorf("%w: the tenant's assessments stayed busy for %s (%d times); no rewrite began", domain.ErrUnavailable,
			dropLockTimeout, lockAttempts)
	}
	if err != nil || next == nil {
		return false, translate(err)
	}
	var werr error
	err = s.rewrite(ctx, conn, sc, *next, func(put func([]domain.Assessment) error) error {
		werr = write(put)
		return werr
	})
	if err != nil {
		// Best effort, on a connection of its own (a failed COPY closes
		// conn): a table left behind goes with the next rewrite.
		actx := context.WithoutCancel(ctx)
		if c, aerr := s.pool.Acquire(actx); aerr == nil {
			_ = inTx(actx, c, sc, dropLockTimeout, func(tx pgx.Tx) error {
				_, err := tx.Exec(actx, qRewriteAbort, *next)
				return err
			})
			c.Release()
		}
	}
	switch {
	case err == nil:
		return true, nil
	case werr != nil && errors.Is(err, werr):
		return true, werr // as write returned it
	case lockTimedOut(err):
		return true, fmt.Errorf("%w: assessments stayed locked for %s (%d times); the rewrite was not stored", domain.ErrUnavailable,
			rewriteLockTimeout, lockAttempts)
	}
	return true, translate(err)
}

// rewrite runs the steps of RewriteAssessments after the claim, into
// table next, on conn. Its errors are the driver's, untranslated, or
// write's.
func (s *Store) rewrite(ctx context.Context, conn *pgxpool.Conn, sc scope, next string, write func(put func([]domain.Assessment) error) error) error {
	if err := s.copyAssessments(ctx, conn, sc, next, write); err != nil {
		return err
	}
	if err := inTx(ctx, conn, sc, "", func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, qRewritePrepare, next)
		return err
	}); err != nil {
		return err
	}
	var old *string
	err := lockRetries(func() error {
		return inTx(ctx, conn, sc, rewriteLockTimeout, func(tx pgx.Tx) error {
			return tx.QueryRow(ctx, qRewriteSwap, next).Scan(&old)
		})
	})
	if err != nil {
		return err
	}
	if old != nil {
		// The rewrite is stored: a failure to drop the replaced table
		// (already emptied) leaves it to the next rewrite's begin.
		_ = inTx(ctx, conn, sc, dropLockTimeout, func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, qRewriteDrop, *old)
			return err
		})
	}
	return nil
}

// inTx runs fn in a transaction on conn scoped to sc, with lockTimeout
// (a duration for lock_timeout, "" for the server's) bounding its lock
// waits, committed if fn returns nil. The error is the driver's,
// untranslated.
func inTx(ctx context.Context, conn *pgxpool.Conn, sc scope, lockTimeout string, fn func(tx pgx.Tx) error) error {
	tx, err := conn.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // a no-op after Commit
	if _, err := tx.Exec(ctx, qSetTenant, sc.tenant); err != nil {
		return err
	}
	if lockTimeout != "" {
		if _, err := tx.Exec(ctx, qLockTimeout, lockTimeout); err != nil {
			return err
		}
	}
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// lockRetries runs step, a transaction, up to lockAttempts times while it
// ends on a lock wait that lock_timeout cut short or as a deadlock's
// victim, and returns its last error.
func lockRetries(step func() error) error {
	for attempt := 1; ; attempt++ {
		err := step()
		if err == nil || attempt == lockAttempts || !(lockTimedOut(err) || deadlocked(err)) {
			return err
		}
	}
}

// deadlocked reports whether err ended a transaction chosen as a
// deadlock's victim. A tenant's first swap holds the row locks of its
// deletion from assessments_shared when it asks for the lock of
// assessments: the store's writers of those rows wait at the tenant's
// write gate before they lock anything (qSetTenantWriting), but a writer
// that does not take it (another program's) can close a cycle with it.
func deadlocked(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "40P01"
}

// lockTimedOut reports whether err is a lock wait that lock_timeout ended.
func lockTimedOut(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "55P03"
}

// copyAssessments COPYs what write puts into table next, as the service
// role in sc, in one transaction: write runs on its own goroutine and its
// batches reach the COPY through a channel, each checked and converted to
// rows first (by the caller of put, so on write's workers).
func (s *Store) copyAssessments(ctx context.Context, conn *pgxpool.Conn, sc scope, next string, write func(put func([]domain.Assessment) error) error) error {
	tenant := uuid.MustParse(sc.tenant)
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	rows := make(chan [][]any, 4)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(rows)
		err := write(func(as []domain.Assessment) error {
			batch, err := rewriteRows(tenant, as)
			if err != nil {
				return err
			}
			select {
			case rows <- batch:
				return nil
			case <-ctx.Done():
				return context.Cause(ctx)
			}
		})
		if err != nil {
			cancel(err)
		}
	}()
	err := inTx(ctx, conn, sc, "", func(tx pgx.Tx) error {
		_, err := tx.CopyFrom(ctx, pgx.Identifier{next}, rewriteColumns, &chanRows{ch: rows, ctx: ctx})
		if cause := context.Cause(ctx); cause != nil {
			return cause
		}
		return err
	})
	if err != nil {
		cancel(err)
	}
	for range rows { // let write finish when the COPY failed
	}
	wg.Wait()
	// The cause is write's error, or the COPY's.
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
		return cause
	}
	return err
}

// rewriteColumns are the columns of rewriteRows' rows, all of
// assessments'.
var rewriteColumns = []string{"tenant_id", "customer_id", "assess_time", "model_version", "r", "f", "m", "segment", "historical_value",
	"p_alive", "expected_purchases", "expected_spend", "predicted_value", "value_at_risk", "churn_level", "churn_reasons", "stage",
	"prior_stage", "silence_days", "cadence_days"}

// rewriteRows checks as (as PutAssessments does) and returns their rows of
// rewriteColumns, prior_stage the new stage (the column matters only
// inside the statement of PutAssessments, which sets it).
func rewriteRows(tenant uuid.UUID, as []domain.Assessment) ([][]any, error) {
	out := make([][]any, len(as))
	for i := range as {
		a := &as[i]
		if field, err := checkAssessment(a); err != nil {
			return nil, &domain.ItemError{Index: i, Field: field, Err: err}
		}
		id, _ := uuid.Parse(a.CustomerID)
		out[i] = []any{tenant, id, sortTime(normTime(a.AssessTime)), a.ModelVersion, int16(a.RFM.R), int16(a.RFM.F), int16(a.RFM.M),
			segmentCode[a.Segment], int64(a.HistoricalValue), a.PAlive, a.ExpectedPurchases, int64(a.ExpectedSpend),
			int64(a.PredictedValue), int64(a.ValueAtRisk), int16(a.Churn), int32(a.Reasons), int16(a.Stage), int16(a.Stage),
			int32(a.SilenceDays), a.CadenceDays}
	}
	return out, nil
}

// chanRows is a pgx.CopyFromSource of the batches of rows a channel
// carries; it ends when the channel is closed or ctx is done.
type chanRows struct {
	ctx   context.Context
	ch    <-chan [][]any
	batch [][]any
	i     int
}

func (c *chanRows) Next() bool {
	for c.i+1 >= len(c.batch) {
		select {
		case b, ok := <-c.ch:
			if !ok {
				return false
			}
			c.batch, c.i = b, -1
		case <-c.ctx.Done():
			return false
		}
	}
	c.i++
	return true
}

func (c *chanRows) Values() ([]any, error) { return c.batch[c.i], nil }

func (c *chanRows) Err() error { return context.Cause(c.ctx) }
