package postgres

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/potentialhq/potential/domain"
)

// A bulk run evaluates segments over every customer of a tenant (a new or
// changed dynamic segment, the built-in segments, a model fit): one
// statement reads every customer's facts from one snapshot (qBulkFacts,
// with only the facts the rules read), several goroutines evaluate them as
// they arrive, and one transaction writes the differences. The tenant's
// segment log lock is taken only for that write: the read runs without it,
// and the write checks that no writer of the log committed since the
// snapshot (the log head's row version is unchanged; DeleteCustomer takes
// the lock too). Then every change the snapshot missed is a write whose
// own evaluation still waits for the lock, and so follows this run.
// Otherwise the run reads and evaluates again holding the lock from the
// start, as evaluateBatch does.

// bulkAfterRead, when set (by tests), runs between a bulk run's read and
// its write, with the run's tenant.
var bulkAfterRead func(tenantID string)

// bulkBatch is the number of customers handed to one evaluation.
const bulkBatch = 1000

// bulkChunk bounds the rows of one write statement's arrays.
const bulkChunk = 100_000

// bulkChange is a membership change of a bulk run.
type bulkChange struct {
	customer, segment string
	kind              domain.SegmentEventKind
}

// bulkResult is what a bulk run read and decided.
type bulkResult struct {
	segments  []domain.Segment // the dynamic segments, by id
	evaluated []string
	changes   []bulkChange
	dueIDs    []string
	dues      []time.Time
	clearIDs  []string
}

// bulkPart is one evaluating goroutine's share of a bulkResult.
type bulkPart struct {
	changes  []bulkChange
	dueIDs   []string
	dues     []time.Time
	clearIDs []string
}

// bulkJob is a batch of facts with each customer's current members (of
// the evaluated segments) and due time.
type bulkJob struct {
	facts   []domain.SegmentFacts
	members [][]string
	due     []pgtype.Timestamptz
}

// evaluateAll is EvaluateSegments over every customer of the tenant.
func (s *Store) evaluateAll(ctx context.Context, sc scope, run domain.SegmentRun, fn func(*domain.SegmentBatch) ([]domain.SegmentDecision, error)) error {
	now := normTime(run.Now)
	var fnErr error
	// The log head is locked for a moment before the snapshot is taken: a
	// recorded batch of a tenant that had no dynamic segment when it began
	// holds the head share-locked to its commit without evaluating
	// segments, and leaves the head's row version as it was. Waiting for
	// those batches here puts their writes in the snapshot; a batch that
	// locks the head after this sees the segment and evaluates it.
	if err := s.batch(ctx, sc, func(b *pgx.Batch) {
		b.Queue(qEnsureLogHead, sc.tenant)
		b.Queue(qLockLogHeadVersion, sc.tenant)
	}, func(br pgx.BatchResults) error {
		if _, err := br.Exec(); err != nil {
			return err
		}
		_, err := br.Exec()
		return err
	}); err != nil {
		return err
	}
	// The read, from one snapshot, without the lock.
	var res *bulkResult
	var version string
	err := s.retry(ctx, func() error {
		tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
		if err != nil {
			return err
		}
		defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // read only
		if _, err := tx.Exec(ctx, qSetTenant, sc.tenant); err != nil {
			return err
		}
		var head int64
		if err := tx.QueryRow(ctx, qLogHeadVersion, sc.tenant).Scan(&version, &head); err != nil {
			return err
		}
		res, err = bulkEvaluate(ctx, tx, sc, run, now, fn, &fnErr)
		return err
	})
	if fnErr != nil {
		return fnErr
	}
	if err != nil || len(res.evaluated) == 0 {
		return err
	}
	if bulkAfterRead != nil {
		bulkAfterRead(sc.tenant)
	}
	// The write, if nothing moved since.
	moved := false
	var head int64
	err = s.tx(ctx, sc, func(b *pgx.Batch) {
		b.Queue(qLockLogHeadVersion, sc.tenant)
		b.Queue(qDynamicSegments, sc.tenant)
	}, func(br pgx.BatchResults) error {
		var v string
		if err := br.QueryRow().Scan(&v, &head); err != nil {
			return err
		}
		rows, err := br.Query()
		if err != nil {
			return err
		}
		segs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (domain.Segment, error) { return scanSegment(r, sc.tenant) })
		if err != nil {
			return err
		}
		moved = v != version || !slices.EqualFunc(segs, res.segments, func(a, b domain.Segment) bool {
			return a.ID == b.ID && a.Version == b.Version
		})
		if moved {
			return errLogMoved // roll back, and read again under the lock
		}
		return nil
	}, func(tx pgx.Tx) error {
		return bulkWrite(ctx, tx, sc, head, res, run, now)
	})
	if !moved {
		return err
	}
	// Something was written meanwhile: again, under the lock throughout.
	fnErr = nil
	err = s.tx(ctx, sc, func(b *pgx.Batch) {
		b.Queue(qLockLogHead, sc.tenant)
	}, func(br pgx.BatchResults) error {
		return br.QueryRow().Scan(&head)
	}, func(tx pgx.Tx) error {
		res, err := bulkEvaluate(ctx, tx, sc, run, now, fn, &fnErr)
		if err != nil || len(res.evaluated) == 0 {
			return err
		}
		return bulkWrite(ctx, tx, sc, head, res, run, now)
	})
	if fnErr != nil {
		return fnErr
	}
	return err
}

// bulkEvaluate reads the dynamic segments and every customer's facts on
// tx and evaluates them with fn on every core. An error of fn is stored
// in fnErr (and returned).
func bulkEvaluate(ctx context.Context, tx pgx.Tx, sc scope, run domain.SegmentRun, now time.Time,
	fn func(*domain.SegmentBatch) ([]domain.SegmentDecision, error), fnErr *error) (*bulkResult, error) {
	res := &bulkResult{}
	rows, err := tx.Query(ctx, qDynamicSegments, sc.tenant)
	if err != nil {
		return nil, err
	}
	if res.segments, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (domain.Segment, error) { return scanSegment(r, sc.tenant) }); err != nil {
		return nil, err
	}
	for _, sg := range res.segments {
		if run.SegmentIDs == nil || slices.Contains(run.SegmentIDs, sg.ID) {
			res.evaluated = append(res.evaluated, sg.ID)
		}
	}
	if len(res.evaluated) == 0 {
		return res, nil
	}
	// The action table, which rules see as `action` (no row: the default).
	actions, err := scanActionTable(tx.QueryRow(ctx, qGetActionTable, sc.tenant), sc.tenant)
	if errors.Is(err, pgx.ErrNoRows) {
		actions, err = domain.ActionTable{}, nil
	}
	if err != nil {
		return nil, err
	}

	workers := runtime.GOMAXPROCS(0)
	jobs := make(chan bulkJob, 2*workers)
	parts := make([]bulkPart, workers)
	var failed atomic.Bool
	var once sync.Once
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for j := range jobs {
				if failed.Load() {
					continue
				}
				ds, err := fn(&domain.SegmentBatch{Segments: res.segments, Facts: j.facts, Actions: actions})
				if err != nil {
					once.Do(func() { *fnErr = err })
					failed.Store(true)
					continue
				}
				parts[w].decide(j, ds, res.evaluated, run.KeepDue)
			}
		})
	}
	err = streamFacts(ctx, tx, sc, run, now, res.evaluated, &failed, jobs)
	close(jobs)
	wg.Wait()
	if *fnErr != nil {
		return nil, *fnErr
	}
	if err != nil {
		return nil, err
	}
	for _, p := range parts {
		res.changes = append(res.changes, p.changes...)
		res.dueIDs, res.dues = append(res.dueIDs, p.dueIDs...), append(res.dues, p.dues...)
		res.clearIDs = append(res.clearIDs, p.clearIDs...)
	}
	// Events get their cursors in customer order, as evaluateBatch's do;
	// due times are written in key order.
	ids := make([]int, len(res.dueIDs))
	for i := range ids {
		ids[i] = i
	}
	slices.SortFunc(ids, func(a, b int) int { return cmp.Compare(res.dueIDs[a], res.dueIDs[b]) })
	dueIDs, dues := make([]string, len(ids)), make([]time.Time, len(ids))
	for k, i := range ids {
		dueIDs[k], dues[k] = res.dueIDs[i], res.dues[i]
	}
	res.dueIDs, res.dues = dueIDs, dues
	slices.Sort(res.clearIDs)
	slices.SortFunc(res.changes, func(a, b bulkChange) int {
		return cmp.Or(cmp.Compare(a.customer, b.customer), cmp.Compare(a.segment, b.segment))
	})
	return res, nil
}

// bulkScanner scans the rows of qBulkFacts into SegmentFacts, into the
// same variables row after row.
type bulkScanner struct {
	full                               bool
	dest                               []any
	f                                  domain.SegmentFacts
	c                                  domain.Customer
	kind, ageBand, gender, companySize string
	attrs                              []byte
	totalSpend, refundTotal            int64
	lastPurchase, lastInteraction, due pgtype.Timestamptz
	a                                  assessmentRow
	times                              []time.Time
	members                            []string
	convModels, convBands              []string
	convProbs                          []float64
	policyModel                        string
}

// scan scans the current row of rows into f, with the customer's
// current members and due time.
func (s *bulkScanner) scan(rows pgx.Rows) (f domain.SegmentFacts, members []string, due pgtype.Timestamptz, err error) {
	s.f, s.c, s.times, s.members, s.attrs = domain.SegmentFacts{}, domain.Customer{}, s.times[:0], s.members[:0], nil
	s.convModels, s.convProbs, s.convBands = s.convModels[:0], s.convProbs[:0], s.convBands[:0]
	if s.full {
		if s.c, err = scanCustomer(factRow{rows, s.dest}); err != nil {
			return f, nil, due, err
		}
	} else {
		if err := rows.Scan(s.dest...); err != nil {
			return f, nil, due, err
		}
		c := &s.c
		if c.Assessment, err = s.a.assessment(c.ID); err != nil {
			return f, nil, due, err
		}
		if len(s.attrs) > 0 {
			if c.Attributes, err = decodeAttributes(s.attrs); err != nil {
				return f, nil, due, fmt.Errorf("postgres: customer %s: %w", c.ID, err)
			}
		}
		c.Kind, c.AgeBand, c.Gender, c.CompanySize = domain.CustomerKind(s.kind), domain.AgeBand(s.ageBand), domain.Gender(s.gender), domain.CompanySize(s.companySize)
		p := &c.Purchases
		p.TotalSpend, p.RefundTotal, p.LastPurchaseTime = domain.Money(s.totalSpend), domain.Money(s.refundTotal), goTime(s.lastPurchase)
		c.Engagement.LastInteractionTime = goTime(s.lastInteraction)
	}
	f = s.f
	f.Customer, f.Grade.CustomerID = s.c, s.c.ID
	if len(s.times) > 0 {
		f.RecentInteractions = make([]time.Time, len(s.times))
		for i, t := range s.times {
			f.RecentInteractions[i] = t.UTC()
		}
	}
	f.Conversion = ruleLeadScore(s.c.ID, s.convModels, s.convProbs, s.convBands, s.policyModel)
	if len(s.members) > 0 {
		members = slices.Clone(s.members)
	}
	return f, members, s.due, nil
}

// streamFacts reads every customer's facts on tx and sends them to jobs
// in batches of bulkBatch, until they end or stop is set.
func streamFacts(ctx context.Context, tx pgx.Tx, sc scope, run domain.SegmentRun, now time.Time, evaluated []string,
	stop *atomic.Bool, jobs chan<- bulkJob) error {
	// A run that names no facts gets whole customers, as evaluateBatch's.
	s := &bulkScanner{full: run.Facts == 0}
	sql, dest := qBulkFacts(run.Facts, s.full, !run.KeepDue, s)
	s.dest = dest
	rows, err := tx.Query(ctx, sql, sc.tenant, now, evaluated)
	if err != nil {
		return err
	}
	defer rows.Close()
	newJob := func() bulkJob {
		return bulkJob{facts: make([]domain.SegmentFacts, 0, bulkBatch), members: make([][]string, 0, bulkBatch),
			due: make([]pgtype.Timestamptz, 0, bulkBatch)}
	}
	j := newJob()
	for rows.Next() {
		if stop.Load() {
			return nil
		}
		f, members, due, err := s.scan(rows)
		if err != nil {
			return err
		}
		j.facts, j.members, j.due = append(j.facts, f), append(j.members, members), append(j.due, due)
		if len(j.facts) == bulkBatch {
			jobs <- j
			j = newJob()
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if len(j.facts) > 0 {
		jobs <- j
	}
	return nil
}

// decide records the differences between the decisions ds on the
// customers of j and what is stored.
func (p *bulkPart) decide(j bulkJob, ds []domain.SegmentDecision, evaluated []string, keepDue bool) {
	index := func(k int, id string) int {
		if k < len(j.facts) && j.facts[k].Customer.ID == id {
			return k
		}
		return slices.IndexFunc(j.facts, func(f domain.SegmentFacts) bool { return f.Customer.ID == id })
	}
	for k, d := range ds {
		i := index(k, d.CustomerID)
		if i < 0 {
			continue // not a customer of the batch
		}
		for _, sg := range evaluated {
			want, in := slices.Contains(d.Members, sg), slices.Contains(j.members[i], sg)
			switch {
			case want && !in:
				p.changes = append(p.changes, bulkChange{customer: d.CustomerID, segment: sg, kind: domain.SegmentEntered})
			case !want && in:
				p.changes = append(p.changes, bulkChange{customer: d.CustomerID, segment: sg, kind: domain.SegmentExited})
			}
		}
		if keepDue {
			continue
		}
		due, cur := normTime(d.Due), j.due[i]
		switch {
		case due.IsZero() && cur.Valid:
			p.clearIDs = append(p.clearIDs, d.CustomerID)
		case !due.IsZero() && (!cur.Valid || !cur.Time.Equal(due)):
			p.dueIDs, p.dues = append(p.dueIDs, d.CustomerID), append(p.dues, due)
		}
	}
}

// bulkWrite writes res after the log head head on tx, which holds the
// tenant's segment log lock.
func bulkWrite(ctx context.Context, tx pgx.Tx, sc scope, head int64, res *bulkResult, run domain.SegmentRun, now time.Time) error {
	b := &pgx.Batch{}
	var addSeg, addCust, rmSeg, rmCust []string
	for _, c := range res.changes {
		if c.kind == domain.SegmentEntered {
			addSeg, addCust = append(addSeg, c.segment), append(addCust, c.customer)
		} else {
			rmSeg, rmCust = append(rmSeg, c.segment), append(rmCust, c.customer)
		}
	}
	chunks(len(addSeg), func(i, j int) { b.Queue(qAddMembers, sc.tenant, addSeg[i:j], addCust[i:j], now) })
	chunks(len(rmSeg), func(i, j int) { b.Queue(qRemoveMembers, sc.tenant, rmSeg[i:j], rmCust[i:j]) })
	chunks(len(res.changes), func(i, j int) {
		segs, custs, kinds := make([]string, 0, j-i), make([]string, 0, j-i), make([]int16, 0, j-i)
		for _, c := range res.changes[i:j] {
			segs, custs, kinds = append(segs, c.segment), append(custs, c.customer), append(kinds, int16(c.kind))
		}
		b.Queue(qAppendEvents, sc.tenant, head+int64(i), segs, custs, kinds, now, run.Cause)
	})
	chunks(len(res.dueIDs), func(i, j int) { b.Queue(qSetDue, sc.tenant, res.dueIDs[i:j], res.dues[i:j]) })
	chunks(len(res.clearIDs), func(i, j int) { b.Queue(qClearDue, sc.tenant, res.clearIDs[i:j]) })
	// The head is set even without events: its new row version tells a
	// concurrent bulk run that this one wrote.
	b.Queue(qSetLogHead, sc.tenant, head+int64(len(res.changes)))
	if len(res.changes) > 0 {
		b.Queue(qNotify, sc.tenant)
	}
	return tx.SendBatch(ctx, b).Close()
}

// chunks calls fn with the bounds of consecutive chunks of at most
// bulkChunk of n items.
func chunks(n int, fn func(i, j int)) {
	for i := 0; i < n; i += bulkChunk {
		fn(i, min(i+bulkChunk, n))
	}
}

// errLogMoved ends the write of a bulk run whose snapshot is no longer
// the log's state.
var errLogMoved = errors.New("postgres: the segment log moved since the snapshot")
