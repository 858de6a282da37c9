package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/potentialhq/potential/domain"
)

// Ingestion. Every batch takes three round trips however large it is:
//
//  1. BEGIN, the tenant, and qResolveCustomers: the customers the batch
//     references, by id or external id, locked in id order;
//  2. one set-based statement that inserts the events, skips those already
//     known and updates the statistics (preceded by one that creates the
//     missing customers, if the batch asks for that and has any);
//  3. COMMIT.
//
// The items are checked and their customers resolved in Go between 1 and 2,
// so a bad item fails the batch before anything is written.

// refs collects the customer references of a batch for qResolveCustomers.
type refs struct {
	ids, exts []string
}

func (r *refs) add(ref domain.CustomerRef) {
	if id, ok := parseID(ref.ID); ok {
		r.ids = append(r.ids, id)
	} else if ref.ID == "" && ref.ExternalID != "" {
		r.exts = append(r.exts, ref.ExternalID)
	}
}

// resolver resolves a batch's references against the customers found by
// qResolveCustomers, and plans the customers the batch creates.
type resolver struct {
	byID   map[string]string // id -> external id
	byExt  map[string]string // external id -> id
	create bool
	now    time.Time
	// Customers to create, in the order the batch first references them.
	newIDs, newExts []string
}

func newResolver(opts domain.RecordOptions) *resolver {
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	return &resolver{byID: map[string]string{}, byExt: map[string]string{}, create: opts.CreateMissingCustomers, now: now}
}

// read consumes qResolveCustomers' rows.
func (r *resolver) read(br pgx.BatchResults) error {
	rows, err := br.Query()
	if err != nil {
		return err
	}
	var id, ext string
	_, err = pgx.ForEachRow(rows, []any{&id, &ext}, func() error {
		r.byID[id] = ext
		if ext != "" {
			r.byExt[ext] = id
		}
		return nil
	})
	return err
}

// resolve returns the id of the customer ref names, planning a new customer
// when the batch may create one; "" if there is none. It is store/memory's
// rule: by id (and then the external id must match too, if given), else by
// external id.
func (r *resolver) resolve(ref domain.CustomerRef) string {
	if ref.ID != "" {
		id, ok := parseID(ref.ID)
		if !ok {
			return ""
		}
		ext, found := r.byID[id]
		if !found || (ref.ExternalID != "" && ext != ref.ExternalID) {
			return ""
		}
		return id
	}
	if ref.ExternalID == "" {
		return ""
	}
	if id, ok := r.byExt[ref.ExternalID]; ok {
		return id
	}
	if !r.create {
		return ""
	}
	id := domain.NewID()
	r.byExt[ref.ExternalID] = id
	r.newIDs = append(r.newIDs, id)
	r.newExts = append(r.newExts, ref.ExternalID)
	return id
}

// createMissing creates the planned customers. One that a concurrent batch created
// first makes the batch start again (and find it).
func (r *resolver) createMissing(ctx context.Context, tx pgx.Tx, tenant string) error {
	if len(r.newIDs) == 0 {
		return nil
	}
	tag, err := tx.Exec(ctx, qCreateMissingCustomers, tenant, r.newIDs, r.newExts, sortTime(normTime(r.now)))
	if err == nil && int(tag.RowsAffected()) != len(r.newIDs) {
		return errRetry
	}
	return err
}

func unknownCustomer(i int, field string, ref domain.CustomerRef) error {
	return &domain.ItemError{Index: i, Field: field, Err: customerNotFound(ref)}
}

// write is an ingestion batch's write statement, and the check of the items
// it found known: check (with checkArgs) returns the position, in the
// batch's distinct items, of the first known item whose stored payload
// differs, if any; index maps those positions to the batch's items.
type write struct {
	sql       string
	args      []any
	check     string
	checkArgs []any
	index     []int
	// customers are the batch's customers (sorted, distinct): those of
	// the follow-up.
	customers []string
}

// checkKnown runs w's check after its write inserted n of the distinct
// items, when some were known: a known id with another payload fails the
// batch (rolling back the write) with ErrIDReused. Run after the write, the
// check also sees items a concurrent batch committed while the write waited
// for it.
func (w write) checkKnown(ctx context.Context, tx pgx.Tx, n int) error {
	if n >= len(w.index) {
		return nil
	}
	var ord int
	err := tx.QueryRow(ctx, w.check, w.checkArgs...).Scan(&ord)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return nil
	case err != nil:
		return err
	}
	return &domain.ItemError{Index: w.index[ord-1], Field: "external_id", Err: domain.ErrIDReused}
}

// idReused reports that item i repeats an id of the batch with another
// payload.
func idReused(i int) error {
	return &domain.ItemError{Index: i, Field: "external_id", Err: domain.ErrIDReused}
}

// ingest runs one ingestion batch: resolve (in the first round trip) the
// references collected in rs; plan, in Go, resolves every item and returns
// the write statement and its arguments, or an *ItemError that fails the
// batch; then the customers to create, the write, and the statements after
// queues (if any) go in one more round trip.
func (s *Store) ingest(ctx context.Context, tenantID string, rs refs, opts domain.RecordOptions,
	plan func(r *resolver) (w write, err error), after func(b *pgx.Batch, tenant string)) (created, createdCustomers int, followedUp bool, err error) {
	sc, ok := tenantScope(tenantID)
	if !ok {
		// No such tenant, so no customers: fail as the batch would.
		r := newResolver(opts)
		if _, err := plan(r); err != nil {
			return 0, 0, false, err
		}
		return 0, 0, false, fmt.Errorf("%w: tenant %q", domain.ErrNotFound, tenantID)
	}
	var r *resolver
	var fnErr error
	// Writing: its follow-up updates the customers' assessments.
	err = s.tx(ctx, sc.writing(), func(b *pgx.Batch) {
		b.Queue(qResolveCustomers, sc.tenant, rs.ids, rs.exts)
	}, func(br pgx.BatchResults) error {
		r = newResolver(opts)
		return r.read(br)
	}, func(tx pgx.Tx) error {
		w, err := plan(r)
		if err != nil {
			return err
		}
		if err := r.createMissing(ctx, tx, sc.tenant); err != nil {
			return err
		}
		// The write is planned for its actual arguments, as an unnamed
		// statement: the plan a prepared statement settles on cannot know
		// the batch's size and, with hundreds of customers, joins them
		// quadratically. (Forcing custom plans for the whole transaction
		// instead would also re-plan the foreign key check of every row.)
		var n int64
		if err := tx.QueryRow(ctx, w.sql, append([]any{pgx.QueryExecModeCacheDescribe}, w.args...)...).Scan(&n); err != nil {
			return err
		}
		if err := w.checkKnown(ctx, tx, int(n)); err != nil {
			return err
		}
		if after != nil {
			b := &pgx.Batch{}
			after(b, sc.tenant)
			if err := tx.SendBatch(ctx, b).Close(); err != nil {
				return err
			}
		}
		if opts.FollowUp != nil {
			fnErr = nil
			if err := s.followUp(ctx, tx, sc, w.customers, opts.FollowUp, &fnErr); err != nil {
				return err
			}
		}
		created, createdCustomers, followedUp = int(n), len(r.newIDs), opts.FollowUp != nil
		return nil
	})
	if fnErr != nil {
		return 0, 0, false, fnErr
	}
	return created, createdCustomers, followedUp, err
}

// RecordTransactions stores the batch's new transactions and maintains the
// customers' PurchaseStats, all or nothing (see qRecordTransactions).
func (s *Store) RecordTransactions(ctx context.Context, tenantID string, txs []domain.Transaction, opts domain.RecordOptions) (domain.BatchResult, error) {
	var rs refs
	for i := range txs {
		t := &txs[i]
		if err := checkEvent(t.ID, t.ExternalID, t.OccurredAt); err != nil {
			return domain.BatchResult{}, itemField(i, err)
		}
		for _, f := range []struct{ field, s string }{{"kind", string(t.Kind)}, {"customer.external_id", t.Customer.ExternalID}} {
			if err := checkText(f.s); err != nil {
				return domain.BatchResult{}, &domain.ItemError{Index: i, Field: f.field, Err: err}
			}
		}
		rs.add(t.Customer)
	}
	if len(txs) == 0 {
		return domain.BatchResult{}, nil
	}
	var cids []string // the customers of every item
	created, customers, followedUp, err := s.ingest(ctx, tenantID, rs, opts, func(r *resolver) (write, error) {
		n := len(txs)
		ids, exts, customers, kinds := make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n)
		amounts, margins, quantities, times := make([]int64, 0, n), make([]*int64, 0, n), make([]int64, 0, n), make([]time.Time, 0, n)
		index := make([]int, 0, n)
		first := make(map[string]int, n) // external id -> position in the arrays
		cids = cids[:0]
		for i := range txs {
			t := &txs[i]
			cid := r.resolve(t.Customer)
			if cid == "" {
				return write{}, unknownCustomer(i, "customer", t.Customer)
			}
			cids = append(cids, cid)
			var margin *int64
			if t.HasMargin {
				m := int64(t.Margin)
				margin = &m
			}
			if j, ok := first[t.ExternalID]; ok { // the first of repeated items counts; the others must repeat it
				if customers[j] != cid || kinds[j] != string(t.Kind) || amounts[j] != int64(t.Amount) || (margins[j] == nil) != (margin == nil) ||
					(margin != nil && *margins[j] != *margin) || quantities[j] != t.Quantity || !times[j].Equal(t.OccurredAt) {
					return write{}, idReused(i)
				}
				continue
			}
			first[t.ExternalID] = len(ids)
			index = append(index, i)
			id, _ := parseID(t.ID)
			ids, exts, customers, kinds = append(ids, id), append(exts, t.ExternalID), append(customers, cid), append(kinds, string(t.Kind))
			amounts, margins, quantities, times = append(amounts, int64(t.Amount)), append(margins, margin), append(quantities, t.Quantity), append(times, t.OccurredAt)
		}
		tenant := tenantOf(tenantID)
		return write{
			sql:       qRecordTransactions,
			args:      []any{tenant, ids, exts, customers, kinds, amounts, margins, quantities, times, distinct(customers)},
			check:     qReusedTransaction,
			checkArgs: []any{tenant, exts, customers, kinds, amounts, margins, quantities, times},
			index:     index,
			customers: distinct(cids),
		}, nil
	}, nil)
	if err != nil {
		return domain.BatchResult{}, err
	}
	return domain.BatchResult{Created: created, AlreadyKnown: len(txs) - created, CreatedCustomers: customers, CustomerIDs: distinct(cids), FollowedUp: followedUp}, nil
}

// RecordInteractions stores the batch's new interactions and maintains the
// customers' EngagementStats, all or nothing (see qRecordInteractions).
func (s *Store) RecordInteractions(ctx context.Context, tenantID string, its []domain.Interaction, opts domain.RecordOptions) (domain.BatchResult, error) {
	var rs refs
	for i := range its {
		it := &its[i]
		if err := checkEvent(it.ID, it.ExternalID, it.OccurredAt); err != nil {
			return domain.BatchResult{}, itemField(i, err)
		}
		for _, f := range []struct{ field, s string }{{"type", string(it.Type)}, {"direction", string(it.Direction)}, {"channel", it.Channel}, {"customer.external_id", it.Customer.ExternalID}} {
			if err := checkText(f.s); err != nil {
				return domain.BatchResult{}, &domain.ItemError{Index: i, Field: f.field, Err: err}
			}
		}
		rs.add(it.Customer)
	}
	if len(its) == 0 {
		return domain.BatchResult{}, nil
	}
	var cids []string // the customers of every item
	created, customers, followedUp, err := s.ingest(ctx, tenantID, rs, opts, func(r *resolver) (write, error) {
		n := len(its)
		ids, exts, customers := make([]string, 0, n), make([]string, 0, n), make([]string, 0, n)
		types, directions, channels, times := make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]time.Time, 0, n)
		index := make([]int, 0, n)
		first := make(map[string]int, n) // external id -> position in the arrays
		cids = cids[:0]
		for i := range its {
			it := &its[i]
			cid := r.resolve(it.Customer)
			if cid == "" {
				return write{}, unknownCustomer(i, "customer", it.Customer)
			}
			cids = append(cids, cid)
			if j, ok := first[it.ExternalID]; ok {
				if customers[j] != cid || types[j] != string(it.Type) || directions[j] != string(it.Direction) || channels[j] != it.Channel ||
					!times[j].Equal(it.OccurredAt) {
					return write{}, idReused(i)
				}
				continue
			}
			first[it.ExternalID] = len(ids)
			index = append(index, i)
			id, _ := parseID(it.ID)
			ids, exts, customers = append(ids, id), append(exts, it.ExternalID), append(customers, cid)
			types, directions, channels, times = append(types, string(it.Type)), append(directions, string(it.Direction)), append(channels, it.Channel), append(times, it.OccurredAt)
		}
		tenant := tenantOf(tenantID)
		return write{
			sql:       qRecordInteractions,
			args:      []any{tenant, ids, exts, customers, types, directions, channels, times, distinct(customers)},
			check:     qReusedInteraction,
			checkArgs: []any{tenant, exts, customers, types, directions, channels, times},
			index:     index,
			customers: distinct(cids),
		}, nil
	}, nil)
	if err != nil {
		return domain.BatchResult{}, err
	}
	return domain.BatchResult{Created: created, AlreadyKnown: len(its) - created, CreatedCustomers: customers, CustomerIDs: distinct(cids), FollowedUp: followedUp}, nil
}

// RecordReferrals stores the batch's new referrals and maintains the
// referrers' ReferralsGiven and the referred customers' ReferredBy, all or
// nothing. A referral whose two sides are one customer is invalid.
func (s *Store) RecordReferrals(ctx context.Context, tenantID string, rs []domain.Referral, opts domain.RecordOptions) (domain.BatchResult, error) {
	var refs refs
	for i := range rs {
		r := &rs[i]
		if err := checkEvent(r.ID, r.ExternalID, r.OccurredAt); err != nil {
			return domain.BatchResult{}, itemField(i, err)
		}
		for _, f := range []struct{ field, s string }{{"referrer.external_id", r.Referrer.ExternalID}, {"referred.external_id", r.Referred.ExternalID}} {
			if err := checkText(f.s); err != nil {
				return domain.BatchResult{}, &domain.ItemError{Index: i, Field: f.field, Err: err}
			}
		}
		refs.add(r.Referrer)
		refs.add(r.Referred)
	}
	if len(rs) == 0 {
		return domain.BatchResult{}, nil
	}
	var referred, parties []string // the referred customers of new items; both customers of every item
	created, customers, followedUp, err := s.ingest(ctx, tenantID, refs, opts, func(res *resolver) (write, error) {
		n := len(rs)
		ids, exts, froms, tos, times := make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]time.Time, 0, n)
		referred, parties = referred[:0], parties[:0]
		index := make([]int, 0, n)
		first := make(map[string]int, n) // external id -> position in the arrays
		for i := range rs {
			r := &rs[i]
			from := res.resolve(r.Referrer)
			if from == "" {
				return write{}, unknownCustomer(i, "referrer", r.Referrer)
			}
			to := res.resolve(r.Referred)
			if to == "" {
				return write{}, unknownCustomer(i, "referred", r.Referred)
			}
			if from == to {
				return write{}, &domain.ItemError{Index: i, Field: "referred", Err: fmt.Errorf("%w: a customer cannot refer itself", domain.ErrInvalid)}
			}
			parties = append(parties, from, to)
			if j, ok := first[r.ExternalID]; ok {
				if froms[j] != from || tos[j] != to || !times[j].Equal(r.OccurredAt) {
					return write{}, idReused(i)
				}
				continue
			}
			first[r.ExternalID] = len(ids)
			index = append(index, i)
			id, _ := parseID(r.ID)
			ids, exts, froms, tos, times = append(ids, id), append(exts, r.ExternalID), append(froms, from), append(tos, to), append(times, r.OccurredAt)
		}
		referred = tos
		tenant := tenantOf(tenantID)
		return write{
			sql:       qRecordReferrals,
			args:      []any{tenant, ids, exts, froms, tos, times, distinct(froms)},
			check:     qReusedReferral,
			checkArgs: []any{tenant, exts, froms, tos, times},
			index:     index,
			customers: distinct(parties),
		}, nil
	}, func(b *pgx.Batch, tenant string) {
		b.Queue(qReferredBy, tenant, referred)
	})
	if err != nil {
		return domain.BatchResult{}, err
	}
	return domain.BatchResult{Created: created, AlreadyKnown: len(rs) - created, CreatedCustomers: customers, CustomerIDs: distinct(parties), FollowedUp: followedUp}, nil
}

// ListTransactions returns a customer's transactions, oldest first (ties by
// id); none for a customer that does not exist.
func (s *Store) ListTransactions(ctx context.Context, tenantID, customerID string) ([]domain.Transaction, error) {
	sc, ok := tenantScope(tenantID)
	cid, idOK := parseID(customerID)
	if !ok || !idOK {
		return nil, nil
	}
	var out []domain.Transaction
	err := s.batch(ctx, sc, func(b *pgx.Batch) {
		b.Queue(qListTransactions, sc.tenant, cid)
	}, func(br pgx.BatchResults) error {
		rows, err := br.Query()
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (domain.Transaction, error) {
			var t domain.Transaction
			var kind string
			var amount, quantity int64
			var margin *int64
			err := row.Scan(&t.ID, &t.ExternalID, &t.CustomerID, &kind, &amount, &margin, &quantity, &t.OccurredAt)
			t.TenantID, t.Customer, t.Kind = sc.tenant, domain.CustomerRef{ID: t.CustomerID}, domain.TransactionKind(kind)
			t.Amount, t.Quantity, t.OccurredAt = domain.Money(amount), quantity, t.OccurredAt.UTC()
			if margin != nil {
				t.Margin, t.HasMargin = domain.Money(*margin), true
			}
			return t, err
		})
		return err
	})
	if len(out) == 0 {
		out = nil
	}
	return out, err
}

// checkEvent checks the fields every event has.
func checkEvent(id, externalID string, at time.Time) error {
	if _, ok := parseID(id); !ok {
		return &domain.ItemError{Field: "id", Err: fmt.Errorf("%w: must be a UUID", domain.ErrInvalid)}
	}
	if err := checkText(externalID); err != nil {
		return &domain.ItemError{Field: "external_id", Err: err}
	}
	if err := checkTime(at); err != nil {
		return &domain.ItemError{Field: "occurred_at", Err: err}
	}
	return nil
}

// itemField sets the index of an *ItemError made by checkEvent.
func itemField(i int, err error) error {
	ie := err.(*domain.ItemError)
	ie.Index = i
	return ie
}

// tenantOf is the canonical form of a tenant id (ingest has checked it).
func tenantOf(id string) string {
	id, _ = parseID(id)
	return id
}

// distinct returns the distinct elements of ids, sorted.
func distinct(ids []string) []string {
	out := slices.Clone(ids)
	slices.Sort(out)
	return slices.Compact(out)
}
