package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/potentialhq/potential/domain"
)

func segmentNotFound(id string) error { return fmt.Errorf("%w: segment %q", domain.ErrNotFound, id) }

func scanSegment(row pgx.Row, tenant string) (domain.Segment, error) {
	sg := domain.Segment{TenantID: tenant}
	var kind string
	var created, updated pgtype.Timestamptz
	err := row.Scan(&sg.ID, &sg.Name, &sg.Description, &kind, &sg.Rule, &sg.BuiltIn, &sg.Version, &created, &updated)
	sg.Kind, sg.CreateTime, sg.UpdateTime = domain.SegmentKind(kind), goTime(created), goTime(updated)
	return sg, err
}

func checkSegment(sg *domain.Segment) error {
	for _, t := range []string{sg.Name, sg.Description, sg.Rule} {
		if err := checkText(t); err != nil {
			return fieldError("segment", err)
		}
	}
	return nil
}

// CreateSegment stores sg; ErrConflict if its name is taken.
func (s *Store) CreateSegment(ctx context.Context, sg domain.Segment) (domain.Segment, error) {
	if err := checkSegment(&sg); err != nil {
		return domain.Segment{}, err
	}
	sc, ok := tenantScope(sg.TenantID)
	id, idOK := parseID(sg.ID)
	if !ok || !idOK {
		return domain.Segment{}, domain.Invalid("segment", "tenant and id must be UUIDs")
	}
	sg.TenantID, sg.ID, sg.Version = sc.tenant, id, 1
	sg.CreateTime = normTime(sg.CreateTime)
	sg.UpdateTime = sg.CreateTime
	err := s.batch(ctx, sc, func(b *pgx.Batch) {
		b.Queue(qCreateSegment, sc.tenant, id, sg.Name, sg.Description, string(sg.Kind), sg.Rule, sg.BuiltIn, sortTime(sg.CreateTime))
	}, func(br pgx.BatchResults) error {
		_, err := br.Exec()
		return err
	})
	if err != nil {
		return domain.Segment{}, err
	}
	return sg, nil
}

// GetSegment returns a segment by id.
func (s *Store) GetSegment(ctx context.Context, tenantID, id string) (domain.Segment, error) {
	sc, ok := tenantScope(tenantID)
	sid, idOK := parseID(id)
	if !ok || !idOK {
		return domain.Segment{}, segmentNotFound(id)
	}
	var sg domain.Segment
	err := s.batch(ctx, sc, func(b *pgx.Batch) {
		b.Queue(qGetSegment, sc.tenant, sid)
	}, func(br pgx.BatchResults) (err error) {
		sg, err = scanSegment(br.QueryRow(), sc.tenant)
		if errors.Is(err, pgx.ErrNoRows) {
			return segmentNotFound(id)
		}
		return err
	})
	return sg, err
}

// ListSegments returns the tenant's segments by name.
func (s *Store) ListSegments(ctx context.Context, tenantID string) ([]domain.Segment, error) {
	sc, ok := tenantScope(tenantID)
	if !ok {
		return nil, nil
	}
	var out []domain.Segment
	err := s.batch(ctx, sc, func(b *pgx.Batch) {
		b.Queue(qListSegments, sc.tenant)
	}, func(br pgx.BatchResults) error {
		rows, err := br.Query()
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (domain.Segment, error) { return scanSegment(r, sc.tenant) })
		return err
	})
	return out, err
}

// UpdateSegment replaces the client-set fields of sg.ID at sg.Version.
func (s *Store) UpdateSegment(ctx context.Context, sg domain.Segment) (domain.Segment, error) {
	if err := checkSegment(&sg); err != nil {
		return domain.Segment{}, err
	}
	sc, ok := tenantScope(sg.TenantID)
	sid, idOK := parseID(sg.ID)
	if !ok || !idOK {
		return domain.Segment{}, segmentNotFound(sg.ID)
	}
	var next domain.Segment
	err := s.tx(ctx, sc, func(b *pgx.Batch) {
		b.Queue(qLockSegment, sc.tenant, sid)
	}, func(br pgx.BatchResults) error {
		cur, err := scanSegment(br.QueryRow(), sc.tenant)
		if errors.Is(err, pgx.ErrNoRows) {
			return segmentNotFound(sg.ID)
		}
		if err != nil {
			return err
		}
		if cur.Version != sg.Version {
			return fmt.Errorf("%w: segment is at version %d, not %d", domain.ErrStale, cur.Version, sg.Version)
		}
		next = cur
		next.Name, next.Description, next.Rule = sg.Name, sg.Description, sg.Rule
		next.Version, next.UpdateTime = cur.Version+1, normTime(sg.UpdateTime)
		return nil
	}, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, qUpdateSegment, sc.tenant, sid, next.Name, next.Description, next.Rule, sortTime(next.UpdateTime))
		return err
	})
	return next, err
}

// DeleteSegment deletes a segment with its members, each with an exited
// event.
func (s *Store) DeleteSegment(ctx context.Context, tenantID, id string, version int64, at time.Time) error {
	sc, ok := tenantScope(tenantID)
	sid, idOK := parseID(id)
	if !ok || !idOK {
		return segmentNotFound(id)
	}
	var head int64
	return s.tx(ctx, sc, func(b *pgx.Batch) {
		b.Queue(qLockLogHead, sc.tenant)
		b.Queue(qLockSegment, sc.tenant, sid)
	}, func(br pgx.BatchResults) error {
		if err := br.QueryRow().Scan(&head); err != nil {
			return err
		}
		cur, err := scanSegment(br.QueryRow(), sc.tenant)
		if errors.Is(err, pgx.ErrNoRows) {
			return segmentNotFound(id)
		}
		if err != nil {
			return err
		}
		if version != 0 && cur.Version != version {
			return fmt.Errorf("%w: segment is at version %d, not %d", domain.ErrStale, cur.Version, version)
		}
		return nil
	}, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, qDropMembers, sc.tenant, sid)
		if err != nil {
			return err
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		slices.Sort(ids)
		w := logWrites{}
		for _, cid := range ids {
			w.event(sid, cid, domain.SegmentExited)
		}
		b := &pgx.Batch{}
		w.queue(b, sc.tenant, head, normTime(at), "segment_changed")
		b.Queue(qDeleteSegment, sc.tenant, sid)
		return tx.SendBatch(ctx, b).Close()
	})
}

// logWrites are the membership changes of one transaction, with their
// events in the order they get cursors.
type logWrites struct {
	addSeg, addCust []string
	rmSeg, rmCust   []string
	evSeg, evCust   []string
	evKind          []int16
}

func (w *logWrites) event(segmentID, customerID string, kind domain.SegmentEventKind) {
	w.evSeg, w.evCust, w.evKind = append(w.evSeg, segmentID), append(w.evCust, customerID), append(w.evKind, int16(kind))
}

func (w *logWrites) enter(segmentID, customerID string) {
	w.addSeg, w.addCust = append(w.addSeg, segmentID), append(w.addCust, customerID)
	w.event(segmentID, customerID, domain.SegmentEntered)
}

func (w *logWrites) exit(segmentID, customerID string) {
	w.rmSeg, w.rmCust = append(w.rmSeg, segmentID), append(w.rmCust, customerID)
	w.event(segmentID, customerID, domain.SegmentExited)
}

// queue queues the writes after the log head head: members, events with
// the next cursors, the new head, and the wake-up of watchers (sent at the
// commit).
func (w *logWrites) queue(b *pgx.Batch, tenant string, head int64, at time.Time, cause string) {
	if len(w.addSeg) > 0 {
		b.Queue(qAddMembers, tenant, w.addSeg, w.addCust, at)
	}
	if len(w.rmSeg) > 0 {
		b.Queue(qRemoveMembers, tenant, w.rmSeg, w.rmCust)
	}
	if len(w.evSeg) == 0 {
		return
	}
	b.Queue(qAppendEvents, tenant, head, w.evSeg, w.evCust, w.evKind, at, cause)
	b.Queue(qSetLogHead, tenant, head+int64(len(w.evSeg)))
	b.Queue(qNotify, tenant)
}

// factRow scans the extra columns of qSegmentFacts after a customer's.
type factRow struct {
	row   pgx.Row
	extra []any
}

func (r factRow) Scan(dest ...any) error { return r.row.Scan(append(dest, r.extra...)...) }

// readFacts reads the facts of ids (sorted) at now.
func readFacts(rows pgx.Rows) ([]domain.SegmentFacts, error) {
	defer rows.Close()
	var out []domain.SegmentFacts
	for rows.Next() {
		var f domain.SegmentFacts
		var times []time.Time
		var models, bands []string
		var probs []float64
		var policyModel string
		c, err := scanCustomer(factRow{rows, []any{&f.Grade.Grade, &f.Grade.Composite, &f.Grade.Engagement, &f.OpenComplaints, &times,
			&models, &probs, &bands, &policyModel}})
		if err != nil {
			return nil, err
		}
		f.Conversion = ruleLeadScore(c.ID, models, probs, bands, policyModel)
		f.Customer, f.Grade.CustomerID = c, c.ID
		for _, t := range times {
			f.RecentInteractions = append(f.RecentInteractions, t.UTC())
		}
		out = append(out, f)
	}
	return out, rows.Err()
}

// segmentIDs returns the canonical, sorted, distinct ids among ids.
func canonicalIDs(ids []string) []string {
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if cid, ok := parseID(id); ok {
			out = append(out, cid)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// segmentBatchSize is the number of customers of one segment transaction.
const segmentBatchSize = 2000

// segmentRun calls step with each batch of the listed customers (sorted),
// or of every customer of the tenant in id order.
func (s *Store) segmentRun(ctx context.Context, sc scope, ids []string, all bool, step func(ids []string) error) error {
	if !all {
		ids = canonicalIDs(ids)
		for start := 0; start < len(ids); start += segmentBatchSize {
			if err := step(ids[start:min(start+segmentBatchSize, len(ids))]); err != nil {
				return err
			}
		}
		return nil
	}
	var pending []string
	err := s.pageCustomerIDs(ctx, sc, func(page []string) error {
		pending = append(pending, page...)
		if len(pending) < segmentBatchSize {
			return nil
		}
		err := step(pending)
		pending = nil
		return err
	})
	if err == nil && len(pending) > 0 {
		err = step(pending)
	}
	return err
}

// ReadSegmentFacts hands fn the facts of the customers in batches, without
// locking anything.
func (s *Store) ReadSegmentFacts(ctx context.Context, tenantID string, ids []string, now time.Time, fn func([]domain.SegmentFacts) error) error {
	sc, ok := tenantScope(tenantID)
	if !ok {
		return nil
	}
	now = normTime(now)
	return s.segmentRun(ctx, sc, ids, ids == nil, func(ids []string) error {
		// One round trip: the plan's settings are local to the batch's
		// implicit transaction. The read uses qSegmentFacts' generic plan
		// (qPointPlan), which TestSegmentPlans checks for a batch of this
		// size.
		var fs []domain.SegmentFacts
		err := s.batch(ctx, sc, func(b *pgx.Batch) {
			b.Queue(qSegmentPlan)
			b.Queue(qPointPlan)
			b.Queue(qSegmentFacts, sc.tenant, ids, now)
		}, func(br pgx.BatchResults) error {
			for range 2 {
				if _, err := br.Exec(); err != nil {
					return err
				}
			}
			rows, err := br.Query()
			if err != nil {
				return err
			}
			fs, err = readFacts(rows)
			return err
		})
		if err != nil || len(fs) == 0 {
			return err
		}
		return fn(fs)
	})
}

// EvaluateSegments runs fn over the customers of run, one transaction per
// batch: it locks the tenant's log head first (so that it reads facts
// committed by every earlier evaluation, and its cursors follow theirs),
// reads the dynamic segments, the facts and the current members, and
// writes the differences fn decides with their events and the due times.
func (s *Store) EvaluateSegments(ctx context.Context, tenantID string, run domain.SegmentRun, fn func(*domain.SegmentBatch) ([]domain.SegmentDecision, error)) error {
	sc, ok := tenantScope(tenantID)
	if !ok {
		return nil
	}
	// A tenant without dynamic segments has nothing to evaluate: skip
	// the log lock, which would serialise its concurrent ingestion. A
	// segment created after this check is populated from what committed
	// before its creation, which includes the events of this run.
	var has bool
	if err := s.batch(ctx, sc, func(b *pgx.Batch) {
		b.Queue(qHasDynamicSegments, sc.tenant)
	}, func(br pgx.BatchResults) error {
		return br.QueryRow().Scan(&has)
	}); err != nil || !has {
		return err
	}
	if run.All {
		return s.evaluateAll(ctx, sc, run, fn)
	}
	now := normTime(run.Now)
	return s.segmentRun(ctx, sc, run.CustomerIDs, run.All, func(ids []string) error {
		var fnErr error
		err := s.evaluateBatch(ctx, sc, ids, run, now, fn, &fnErr)
		if fnErr != nil {
			return fnErr
		}
		return err
	})
}

func (s *Store) evaluateBatch(ctx context.Context, sc scope, ids []string, run domain.SegmentRun, now time.Time,
	fn func(*domain.SegmentBatch) ([]domain.SegmentDecision, error), fnErr *error) error {
	var head int64
	return s.tx(ctx, sc, func(b *pgx.Batch) {
		b.Queue(qLockLogHead, sc.tenant)
		b.Queue(qSegmentPlan)
	}, func(br pgx.BatchResults) error {
		if err := br.QueryRow().Scan(&head); err != nil {
			return err
		}
		_, err := br.Exec()
		return err
	}, func(tx pgx.Tx) error {
		// The reads follow the lock: under READ COMMITTED each statement
		// sees what committed before it started, so every evaluation
		// reads what the one before it wrote.
		b := &domain.SegmentBatch{}
		rb := &pgx.Batch{}
		rb.Queue(qDynamicSegments, sc.tenant)
		rb.Queue(qGetActionTable, sc.tenant)
		rb.Queue(qSegmentFacts, sc.tenant, ids, now)
		br := tx.SendBatch(ctx, rb)
		rows, err := br.Query()
		if err == nil {
			b.Segments, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (domain.Segment, error) { return scanSegment(r, sc.tenant) })
		}
		if err == nil {
			// No row: the default table (Version 0).
			if b.Actions, err = scanActionTable(br.QueryRow(), sc.tenant); errors.Is(err, pgx.ErrNoRows) {
				b.Actions, err = domain.ActionTable{}, nil
			}
		}
		if err == nil {
			rows, err = br.Query()
		}
		if err == nil {
			b.Facts, err = readFacts(rows)
		}
		if cerr := br.Close(); err == nil {
			err = cerr
		}
		if err != nil || len(b.Facts) == 0 || len(b.Segments) == 0 {
			return err
		}
		var evaluated []string
		for _, sg := range b.Segments {
			if run.SegmentIDs == nil || slices.Contains(run.SegmentIDs, sg.ID) {
				evaluated = append(evaluated, sg.ID)
			}
		}
		factIDs := make([]string, len(b.Facts))
		for i := range b.Facts {
			factIDs[i] = b.Facts[i].Customer.ID
		}
		current := map[[2]string]bool{}
		rows, err = tx.Query(ctx, qMembersOf, sc.tenant, factIDs, evaluated)
		if err != nil {
			return err
		}
		var sid, cid string
		if _, err := pgx.ForEachRow(rows, []any{&sid, &cid}, func() error {
			current[[2]string{sid, cid}] = true
			return nil
		}); err != nil {
			return err
		}
		ds, err := fn(b)
		if *fnErr = err; err != nil {
			return err
		}
		w := logWrites{}
		var dueIDs, clearIDs []string
		var dues []time.Time
		for _, d := range ds {
			want := map[string]bool{}
			for _, id := range d.Members {
				want[id] = true
			}
			for _, sg := range evaluated {
				in := current[[2]string{sg, d.CustomerID}]
				switch {
				case want[sg] && !in:
					w.enter(sg, d.CustomerID)
				case !want[sg] && in:
					w.exit(sg, d.CustomerID)
				}
			}
			switch {
			case d.Due.IsZero() && run.SegmentIDs != nil: // another rule may need it
			case d.Due.IsZero():
				clearIDs = append(clearIDs, d.CustomerID)
			default:
				dueIDs, dues = append(dueIDs, d.CustomerID), append(dues, normTime(d.Due))
			}
		}
		wb := &pgx.Batch{}
		w.queue(wb, sc.tenant, head, now, run.Cause)
		if len(dueIDs) > 0 && !run.KeepDue {
			wb.Queue(qSetDue, sc.tenant, dueIDs, dues, run.SegmentIDs != nil)
		}
		if len(clearIDs) > 0 && !run.KeepDue {
			wb.Queue(qClearDue, sc.tenant, clearIDs)
		}
		return tx.SendBatch(ctx, wb).Close()
	})
}

// ChangeStaticMembers adds and removes members of a static segment.
func (s *Store) ChangeStaticMembers(ctx context.Context, tenantID, segmentID string, add, remove []string, at time.Time) (int, error) {
	sc, ok := tenantScope(tenantID)
	sid, idOK := parseID(segmentID)
	if !ok || !idOK {
		return 0, segmentNotFound(segmentID)
	}
	add, remove = canonicalIDs(add), canonicalIDs(remove)
	var head int64
	var n int
	err := s.tx(ctx, sc, func(b *pgx.Batch) {
		b.Queue(qLockLogHead, sc.tenant)
		b.Queue(qGetSegment, sc.tenant, sid)
	}, func(br pgx.BatchResults) error {
		if err := br.QueryRow().Scan(&head); err != nil {
			return err
		}
		sg, err := scanSegment(br.QueryRow(), sc.tenant)
		if errors.Is(err, pgx.ErrNoRows) {
			return segmentNotFound(segmentID)
		}
		if err != nil {
			return err
		}
		if sg.Kind != domain.SegmentStatic {
			return fmt.Errorf("%w: segment %q is dynamic", domain.ErrFailedPrecondition, sg.Name)
		}
		return nil
	}, func(tx pgx.Tx) error {
		n = 0
		all := append(append([]string(nil), add...), remove...)
		current := map[string]bool{}
		rows, err := tx.Query(ctx, qMembersOf, sc.tenant, all, []string{sid})
		if err != nil {
			return err
		}
		var s2, cid string
		if _, err := pgx.ForEachRow(rows, []any{&s2, &cid}, func() error {
			current[cid] = true
			return nil
		}); err != nil {
			return err
		}
		// Only customers that exist may enter.
		exists := map[string]bool{}
		rows, err = tx.Query(ctx, qSegmentCustomersExist, sc.tenant, add)
		if err != nil {
			return err
		}
		if _, err := pgx.ForEachRow(rows, []any{&cid}, func() error {
			exists[cid] = true
			return nil
		}); err != nil {
			return err
		}
		w := logWrites{}
		for _, id := range add {
			if exists[id] && !current[id] {
				w.enter(sid, id)
				current[id] = true
			}
		}
		for _, id := range remove {
			if current[id] && !slices.Contains(add, id) {
				w.exit(sid, id)
			}
		}
		n = len(w.evSeg)
		b := &pgx.Batch{}
		w.queue(b, sc.tenant, head, normTime(at), "static")
		return tx.SendBatch(ctx, b).Close()
	})
	return n, err
}

// ListSegmentMembers lists members in customer id order after after.
func (s *Store) ListSegmentMembers(ctx context.Context, tenantID, segmentID, after string, limit int) ([]domain.SegmentMember, error) {
	sc, ok := tenantScope(tenantID)
	sid, idOK := parseID(segmentID)
	if !ok || !idOK {
		return nil, segmentNotFound(segmentID)
	}
	if a, ok := parseID(after); ok {
		after = a
	} else {
		after = "00000000-0000-0000-0000-000000000000"
	}
	var out []domain.SegmentMember
	err := s.batch(ctx, sc, func(b *pgx.Batch) {
		b.Queue(qListMembers, sc.tenant, sid, after, limit)
	}, func(br pgx.BatchResults) error {
		rows, err := br.Query()
		if err != nil {
			return err
		}
		out = out[:0]
		var m domain.SegmentMember
		var since pgtype.Timestamptz
		_, err = pgx.ForEachRow(rows, []any{&m.CustomerID, &since}, func() error {
			m.Since = goTime(since)
			out = append(out, m)
			return nil
		})
		return err
	})
	return out, err
}

// CustomerSegments returns the ids of the segments a customer is in.
func (s *Store) CustomerSegments(ctx context.Context, tenantID, customerID string) ([]string, error) {
	sc, ok := tenantScope(tenantID)
	cid, idOK := parseID(customerID)
	if !ok || !idOK {
		return nil, nil
	}
	var out []string
	err := s.batch(ctx, sc, func(b *pgx.Batch) {
		b.Queue(qCustomerSegments, sc.tenant, cid)
	}, func(br pgx.BatchResults) error {
		rows, err := br.Query()
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})
	return out, err
}

// ListSegmentEvents returns events of the log in cursor order.
func (s *Store) ListSegmentEvents(ctx context.Context, tenantID string, q domain.SegmentEventQuery) ([]domain.SegmentEvent, error) {
	sc, ok := tenantScope(tenantID)
	if !ok || q.Limit <= 0 {
		return nil, nil
	}
	sql, args := qListEvents, []any{sc.tenant, q.After, q.Limit}
	switch {
	case q.CustomerID != "":
		cid, ok := parseID(q.CustomerID)
		if !ok {
			return nil, nil
		}
		sql, args = qEventsOfCustomer, append(args, cid)
		if q.SegmentIDs != nil {
			sql, args = qEventsOfCustomerSegs, append(args, canonicalIDs(q.SegmentIDs))
		}
	case q.SegmentIDs != nil:
		sql, args = qEventsOfSegs, append(args, canonicalIDs(q.SegmentIDs))
	}
	var out []domain.SegmentEvent
	err := s.batch(ctx, sc, func(b *pgx.Batch) {
		b.Queue(sql, args...)
	}, func(br pgx.BatchResults) error {
		rows, err := br.Query()
		if err != nil {
			return err
		}
		out = out[:0]
		var ev domain.SegmentEvent
		var kind int16
		var at pgtype.Timestamptz
		_, err = pgx.ForEachRow(rows, []any{&ev.Cursor, &ev.SegmentID, &ev.CustomerID, &kind, &at, &ev.Cause}, func() error {
			ev.Kind, ev.Time = domain.SegmentEventKind(kind), goTime(at)
			out = append(out, ev)
			return nil
		})
		return err
	})
	return out, err
}

// DueSegmentCustomers returns customers due at or before now, earliest
// first, by segment_due_time.
func (s *Store) DueSegmentCustomers(ctx context.Context, tenantID string, now time.Time, limit int) ([]string, error) {
	sc, ok := tenantScope(tenantID)
	if !ok {
		return nil, nil
	}
	var out []string
	err := s.batch(ctx, sc, func(b *pgx.Batch) {
		b.Queue(qDueCustomers, sc.tenant, normTime(now), limit)
	}, func(br pgx.BatchResults) error {
		rows, err := br.Query()
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})
	return out, err
}

// listener wakes the subscribers of each tenant when a NOTIFY on
// segmentChannel names it. It holds one connection of the pool, LISTENing,
// from the first subscription until the store closes.
type listener struct {
	mu   sync.Mutex
	subs map[string]map[chan struct{}]struct{} // tenant id -> subscribers
	once sync.Once
	stop context.CancelFunc
	done chan struct{}
}

// SubscribeSegmentEvents wakes the caller when a transaction of any process
// appended events of the tenant (LISTEN/NOTIFY). It is a wake-up only; a
// lost notification delays a watcher until its next poll.
func (s *Store) SubscribeSegmentEvents(tenantID string) (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	sc, ok := tenantScope(tenantID)
	if !ok {
		return ch, func() {}
	}
	l := &s.listen
	l.once.Do(func() {
		ctx, cancel := context.WithCancel(context.Background())
		l.stop, l.done = cancel, make(chan struct{})
		go s.listenLoop(ctx)
	})
	l.mu.Lock()
	if l.subs == nil {
		l.subs = map[string]map[chan struct{}]struct{}{}
	}
	if l.subs[sc.tenant] == nil {
		l.subs[sc.tenant] = map[chan struct{}]struct{}{}
	}
	l.subs[sc.tenant][ch] = struct{}{}
	l.mu.Unlock()
	return ch, func() {
		l.mu.Lock()
		delete(l.subs[sc.tenant], ch)
		if len(l.subs[sc.tenant]) == 0 {
			delete(l.subs, sc.tenant)
		}
		l.mu.Unlock()
	}
}

func (s *Store) listenLoop(ctx context.Context) {
	l := &s.listen
	defer close(l.done)
	for ctx.Err() == nil {
		err := s.listenOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		_ = err
		// Wake everyone: a notification may have been missed while the
		// connection was down.
		l.wakeAll("")
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

func (s *Store) listenOnce(ctx context.Context) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "LISTEN "+segmentChannel); err != nil {
		return err
	}
	defer func() {
		// The connection goes back to the pool: stop listening on it.
		_, _ = conn.Exec(context.Background(), "UNLISTEN *")
	}()
	for {
		n, err := conn.Conn().WaitForNotification(ctx)
		if err != nil {
			return err
		}
		s.listen.wakeAll(n.Payload)
	}
}

// wakeAll wakes the subscribers of tenant, or of every tenant when "".
func (l *listener) wakeAll(tenant string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for t, subs := range l.subs {
		if tenant != "" && t != tenant {
			continue
		}
		for ch := range subs {
			select {
			case ch <- struct{}{}:
			default:
			}
		}
	}
}

// ruleLeadScore is the lead score rules see (domain.RuleLeadScore) of
// customer id's stored scores, read as parallel arrays of scoring model,
// probability and band; nil when it has none.
func ruleLeadScore(id string, models []string, probs []float64, bands []string, policyModel string) *domain.LeadScore {
	if len(models) == 0 || len(probs) != len(models) || len(bands) != len(models) {
		return nil
	}
	scores := make([]domain.LeadScore, len(models))
	for i := range models {
		scores[i] = domain.LeadScore{ScoringModelID: models[i], CustomerID: id, Probability: probs[i], Band: domain.ConversionBand(bands[i])}
	}
	return domain.RuleLeadScore(scores, policyModel)
}
