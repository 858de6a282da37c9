package postgres

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"regexp"
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
// changed dynamic segment, the built-in segments, a model fit). Its
// transaction takes the tenant's segment log lock first and exports its
// snapshot; a second connection imports that snapshot and reads every
// customer's facts in one statement (qBulkFacts, with only the facts the
// rules read); several goroutines evaluate them as they arrive; and the
// first transaction writes the differences in chunks while the read goes
// on, in the order read. The run so takes about the longer of its read and
// its write, not their sum. Under the lock nothing else writes the log,
// the members or the due times (DeleteCustomer takes the lock too), so
// what the snapshot shows of them is what the writes change; a change of a
// customer committed meanwhile is followed by its own evaluation, which
// waits for the lock and so follows this run.

// bulkAfterRead, when set (by tests), runs after a bulk run has read and
// decided every customer, before its last write and its commit, with the
// run's tenant.
var bulkAfterRead func(tenantID string)

// bulkBatch is the number of customers handed to one evaluation.
const bulkBatch = 1000

// bulkChunk bounds the rows of one write statement's arrays.
const bulkChunk = 100_000

// bulkFlush is the number of pending rows (members, events and due times)
// at which a bulk run writes what it has decided so far (Store.bulkFlush
// when set, by tests).
const bulkFlush = 20_000

// bulkChange is a membership change of a bulk run.
type bulkChange struct {
	customer, segment string
	kind              domain.SegmentEventKind
}

// bulkPart is what a bulk run decided for one batch of customers: the
// membership changes in the order of the batch's customers (and of the
// segments' ids), and the due times to insert (customers that had none),
// to change and to clear.
type bulkPart struct {
	seq               int
	changes           []bulkChange
	newDueIDs, dueIDs []string
	newDues, dues     []time.Time
	clearIDs          []string
}

// bulkJob is a batch of facts with each customer's current members (of
// the evaluated segments) and due time; seq numbers the batches in the
// order read.
type bulkJob struct {
	seq     int
	facts   []domain.SegmentFacts
	members [][]string
	due     []pgtype.Timestamptz
}

// evaluateAll is EvaluateSegments over every customer of the tenant.
func (s *Store) evaluateAll(ctx context.Context, sc scope, run domain.SegmentRun, fn func(*domain.SegmentBatch) ([]domain.SegmentDecision, error)) error {
	now := normTime(run.Now)
	var fnErr error
	var head int64
	var snapshot string
	err := s.tx(ctx, sc, func(b *pgx.Batch) {
		// Waits for every writer of the log, including a recorded batch of
		// a tenant that had no dynamic segment when it began (it holds the
		// head share-locked to its commit without evaluating segments):
		// the snapshot taken after it has their writes.
		b.Queue(qLockLogHead, sc.tenant)
		b.Queue(qExportSnapshot)
	}, func(br pgx.BatchResults) error {
		if err := br.QueryRow().Scan(&head); err != nil {
			return err
		}
		return br.QueryRow().Scan(&snapshot)
	}, func(tx pgx.Tx) error {
		fnErr = nil
		w := &bulkWriter{tx: tx, tenant: sc.tenant, head: head, now: now, cause: run.Cause}
		err := s.bulkRun(ctx, sc, snapshot, run, now, fn, &fnErr, w)
		if err != nil || w.evaluated == 0 {
			return err
		}
		if bulkAfterRead != nil {
			bulkAfterRead(sc.tenant)
		}
		return w.finish(ctx)
	})
	if fnErr != nil {
		return fnErr
	}
	return err
}

// bulkRun reads every customer's facts from snapshot on a connection of
// its own, evaluates them with fn on every core and hands the differences
// to w in the order read, which writes them as they accumulate. An error
// of fn is stored in fnErr (and returned).
func (s *Store) bulkRun(ctx context.Context, sc scope, snapshot string, run domain.SegmentRun, now time.Time,
	fn func(*domain.SegmentBatch) ([]domain.SegmentDecision, error), fnErr *error, w *bulkWriter) error {
	if !snapshotID.MatchString(snapshot) {
		return fmt.Errorf("postgres: unexpected snapshot id %q", snapshot)
	}
	// Its own connection, not the pool's: writers waiting for the lock this
	// run holds may hold every pooled connection.
	rc, err := pgx.ConnectConfig(ctx, s.pool.Config().ConnConfig.Copy())
	if err != nil {
		return err
	}
	defer rc.Close(context.WithoutCancel(ctx))
	registerTypes(rc.TypeMap())
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	rtx, err := rc.BeginTx(rctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return err
	}
	defer rtx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // read only
	if _, err := rtx.Exec(rctx, "SET TRANSACTION SNAPSHOT '"+snapshot+"'"); err != nil {
		return err
	}
	if _, err := rtx.Exec(rctx, qSetTenant, sc.tenant); err != nil {
		return err
	}
	rows, err := rtx.Query(rctx, qDynamicSegments, sc.tenant)
	if err != nil {
		return err
	}
	segments, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (domain.Segment, error) { return scanSegment(r, sc.tenant) })
	if err != nil {
		return err
	}
	var evaluated []string
	for _, sg := range segments {
		if run.SegmentIDs == nil || slices.Contains(run.SegmentIDs, sg.ID) {
			evaluated = append(evaluated, sg.ID)
		}
	}
	if w.evaluated = len(evaluated); len(evaluated) == 0 {
		return nil
	}
	// The action table, which rules see as `action` (no row: the default).
	actions, err := scanActionTable(rtx.QueryRow(rctx, qGetActionTable, sc.tenant), sc.tenant)
	if errors.Is(err, pgx.ErrNoRows) {
		actions, err = domain.ActionTable{}, nil
	}
	if err != nil {
		return err
	}

	workers := runtime.GOMAXPROCS(0)
	jobs := make(chan bulkJob, 2*workers)
	parts := make(chan bulkPart, 4*workers)
	free := make(chan bulkJob, 4*workers)
	var failed atomic.Bool
	var once sync.Once
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for j := range jobs {
				if failed.Load() {
					continue
				}
				ds, err := fn(&domain.SegmentBatch{Segments: segments, Facts: j.facts, Actions: actions})
				if err != nil {
					once.Do(func() { *fnErr = err })
					failed.Store(true)
					continue
				}
				parts <- decide(j, ds, evaluated, run.KeepDue, run.SegmentIDs != nil)
				select {
				case free <- j: // its arrays are the read's again
				default:
				}
			}
		})
	}
	var readErr error
	go func() {
		readErr = streamFacts(rctx, rtx, sc, run, now, evaluated, cmp.Or(s.bulkBatch, bulkBatch), &failed, jobs, free)
		close(jobs)
		wg.Wait()
		close(parts)
	}()
	// The parts in the order read, written whenever enough accumulate.
	// The parts in the order read; whenever enough accumulate, their
	// statements go to a goroutine of their own that sends them on the
	// transaction, so that the read never waits for a write.
	batches := make(chan *pgx.Batch, 1024)
	var writeErr error
	written := make(chan struct{})
	go func() {
		defer close(written)
		for b := range batches {
			if writeErr != nil {
				continue // drain
			}
			if writeErr = w.tx.SendBatch(ctx, b).Close(); writeErr != nil {
				failed.Store(true)
				cancel()
			}
		}
	}()
	pending := map[int]bulkPart{}
	next := 0
	for p := range parts {
		if failed.Load() {
			continue // drain
		}
		pending[p.seq] = p
		for p, ok := pending[next]; ok; p, ok = pending[next] {
			delete(pending, next)
			w.add(p)
			next++
		}
		if w.size() >= cmp.Or(s.bulkFlush, bulkFlush) {
			b := &pgx.Batch{}
			w.queue(b)
			batches <- b
		}
	}
	close(batches)
	<-written
	switch {
	case *fnErr != nil:
		return *fnErr
	case writeErr != nil:
		return writeErr
	}
	return readErr
}

// snapshotID matches what pg_export_snapshot returns.
var snapshotID = regexp.MustCompile(`^[0-9A-F]+-[0-9A-F]+(-[0-9]+)?$`)

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
// in batches of batch customers, until they end or stop is set. It fills
// the arrays of the batches on free again before it allocates new ones
// (a SegmentFacts is almost a kilobyte).
func streamFacts(ctx context.Context, tx pgx.Tx, sc scope, run domain.SegmentRun, now time.Time, evaluated []string,
	batch int, stop *atomic.Bool, jobs chan<- bulkJob, free <-chan bulkJob) error {
	// A run that names no facts gets whole customers, as evaluateBatch's.
	s := &bulkScanner{full: run.Facts == 0}
	sql, dest := qBulkFacts(run.Facts, s.full, !run.KeepDue, s)
	s.dest = dest
	rows, err := tx.Query(ctx, sql, sc.tenant, now, evaluated)
	if err != nil {
		return err
	}
	defer rows.Close()
	seq := 0
	newJob := func() bulkJob {
		seq++
		select {
		case j := <-free: // a batch evaluated already
			j.seq, j.facts, j.members, j.due = seq-1, j.facts[:0], j.members[:0], j.due[:0]
			return j
		default:
		}
		return bulkJob{seq: seq - 1, facts: make([]domain.SegmentFacts, 0, batch), members: make([][]string, 0, batch),
			due: make([]pgtype.Timestamptz, 0, batch)}
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
		if len(j.facts) == batch {
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

// decide returns the differences between the decisions ds on the
// customers of j and what is stored.
func decide(j bulkJob, ds []domain.SegmentDecision, evaluated []string, keepDue, restricted bool) bulkPart {
	p := bulkPart{seq: j.seq}
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
		case restricted && cur.Valid && (due.IsZero() || !due.Before(cur.Time)): // another rule may need it
		case due.IsZero() && cur.Valid:
			p.clearIDs = append(p.clearIDs, d.CustomerID)
		case !due.IsZero() && !cur.Valid:
			p.newDueIDs, p.newDues = append(p.newDueIDs, d.CustomerID), append(p.newDues, due)
		case !due.IsZero() && !cur.Time.Equal(due):
			p.dueIDs, p.dues = append(p.dueIDs, d.CustomerID), append(p.dues, due)
		}
	}
	return p
}

// bulkWriter writes a bulk run's differences on tx, which holds the
// tenant's segment log lock: events get the cursors after head in the
// order added.
type bulkWriter struct {
	tx        pgx.Tx
	tenant    string
	head      int64
	now       time.Time
	cause     string
	evaluated int // segments the run evaluates
	written   int64
	pending   bulkPart
}

// add queues the differences of p.
func (w *bulkWriter) add(p bulkPart) {
	q := &w.pending
	q.changes = append(q.changes, p.changes...)
	q.newDueIDs, q.newDues = append(q.newDueIDs, p.newDueIDs...), append(q.newDues, p.newDues...)
	q.dueIDs, q.dues = append(q.dueIDs, p.dueIDs...), append(q.dues, p.dues...)
	q.clearIDs = append(q.clearIDs, p.clearIDs...)
}

// size is the number of rows queued.
func (w *bulkWriter) size() int {
	q := &w.pending
	return 2*len(q.changes) + len(q.newDueIDs) + len(q.dueIDs) + len(q.clearIDs)
}

// finish writes the rest and moves the log head.
func (w *bulkWriter) finish(ctx context.Context) error {
	b := &pgx.Batch{}
	w.queue(b)
	// The head is set even without events: every writer of the log
	// replaces its row.
	b.Queue(qSetLogHead, w.tenant, w.head+w.written)
	if w.written > 0 {
		b.Queue(qNotify, w.tenant)
	}
	return w.tx.SendBatch(ctx, b).Close()
}

// queue queues the statements that write what is pending, and empties it.
func (w *bulkWriter) queue(b *pgx.Batch) {
	q := w.pending
	w.pending = bulkPart{}
	var add, rm []bulkChange
	for _, c := range q.changes {
		if c.kind == domain.SegmentEntered {
			add = append(add, c)
		} else {
			rm = append(rm, c)
		}
	}
	byKey := func(a, b bulkChange) int {
		return cmp.Or(cmp.Compare(a.segment, b.segment), cmp.Compare(a.customer, b.customer))
	}
	slices.SortFunc(add, byKey)
	slices.SortFunc(rm, byKey)
	split := func(cs []bulkChange) (segs, custs []string) {
		segs, custs = make([]string, len(cs)), make([]string, len(cs))
		for i, c := range cs {
			segs[i], custs[i] = c.segment, c.customer
		}
		return segs, custs
	}
	addSeg, addCust := split(add)
	rmSeg, rmCust := split(rm)
	chunks(len(addSeg), func(i, j int) { b.Queue(qAddMembers, w.tenant, addSeg[i:j], addCust[i:j], w.now) })
	chunks(len(rmSeg), func(i, j int) { b.Queue(qRemoveMembers, w.tenant, rmSeg[i:j], rmCust[i:j]) })
	chunks(len(q.changes), func(i, j int) {
		segs, custs, kinds := make([]string, 0, j-i), make([]string, 0, j-i), make([]int16, 0, j-i)
		for _, c := range q.changes[i:j] {
			segs, custs, kinds = append(segs, c.segment), append(custs, c.customer), append(kinds, int16(c.kind))
		}
		b.Queue(qAppendEvents, w.tenant, w.head+w.written+int64(i), segs, custs, kinds, w.now, w.cause)
	})
	w.written += int64(len(q.changes))
	sortDue(q.newDueIDs, q.newDues)
	sortDue(q.dueIDs, q.dues)
	slices.Sort(q.clearIDs)
	chunks(len(q.newDueIDs), func(i, j int) { b.Queue(qInsertDue, w.tenant, q.newDueIDs[i:j], q.newDues[i:j]) })
	// decide kept what a restricted run must not move.
	chunks(len(q.dueIDs), func(i, j int) { b.Queue(qSetDue, w.tenant, q.dueIDs[i:j], q.dues[i:j], false) })
	chunks(len(q.clearIDs), func(i, j int) { b.Queue(qClearDue, w.tenant, q.clearIDs[i:j]) })
}

// sortDue sorts ids, and dues with them.
func sortDue(ids []string, dues []time.Time) {
	idx := make([]int, len(ids))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int { return cmp.Compare(ids[a], ids[b]) })
	sids, sdues := make([]string, len(ids)), make([]time.Time, len(ids))
	for k, i := range idx {
		sids[k], sdues[k] = ids[i], dues[i]
	}
	copy(ids, sids)
	copy(dues, sdues)
}

// chunks calls fn with the bounds of consecutive chunks of at most
// bulkChunk of n items.
func chunks(n int, fn func(i, j int)) {
	for i := 0; i < n; i += bulkChunk {
		fn(i, min(i+bulkChunk, n))
	}
}
