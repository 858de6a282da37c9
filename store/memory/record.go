package memory

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/potentialhq/potential/domain"
)

// batch stages the effects of one ingestion call on a tenant: customers it
// creates and, per touched customer, the events it adds. Nothing reaches the
// tenant until apply, after every check has passed.
type batch struct {
	d       *tenantData
	tenant  string
	now     time.Time
	create  bool
	created []*domain.Customer
	byExt   map[string]*domain.Customer // customers created by this batch
}

func (s *Store) newBatch(tenantID string, opts domain.RecordOptions) *batch {
	tid, _ := parseID(tenantID)
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	return &batch{d: s.data[tid], tenant: tid, now: normTime(now), create: opts.CreateMissingCustomers, byExt: map[string]*domain.Customer{}}
}

// resolve returns the id of the customer ref points at, creating a minimal
// customer when the batch asks for it and ref names an external id only.
// It returns "" if there is no such customer.
func (b *batch) resolve(ref domain.CustomerRef) string {
	if c := b.d.find(ref); c != nil {
		return c.ID
	}
	if !b.create || ref.ID != "" || ref.ExternalID == "" {
		return ""
	}
	if c, ok := b.byExt[ref.ExternalID]; ok {
		return c.ID
	}
	c := &domain.Customer{
		ID: domain.NewID(), TenantID: b.tenant, ExternalID: ref.ExternalID, Kind: domain.KindCustomer,
		CreateTime: b.now, UpdateTime: b.now, Version: 1,
	}
	b.byExt[ref.ExternalID] = c
	b.created = append(b.created, c)
	return c.ID
}

// missing reports whether the batch would have to create customers in a
// tenant that does not exist (PostgreSQL's foreign key on the tenant).
func (b *batch) missing(tenantID string) error {
	if len(b.created) > 0 && b.d == nil {
		return fmt.Errorf("%w: tenant %q", domain.ErrNotFound, tenantID)
	}
	return nil
}

// itemErr reports an unknown customer of item i.
func unknownCustomer(i int, field string, ref domain.CustomerRef) error {
	return &domain.ItemError{Index: i, Field: field, Err: notFound(ref)}
}

// idReused reports that item i repeats a recorded id with another payload.
func idReused(i int) error {
	return &domain.ItemError{Index: i, Field: "external_id", Err: domain.ErrIDReused}
}

// RecordTransactions stores the batch's new transactions and maintains the
// customers' PurchaseStats, all or nothing.
func (s *Store) RecordTransactions(_ context.Context, tenantID string, txs []domain.Transaction, opts domain.RecordOptions) (domain.BatchResult, error) {
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
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.newBatch(tenantID, opts)
	var fresh []*domain.Transaction
	var cids []string
	first := map[string]*domain.Transaction{} // by external id, the batch's new items
	for i := range txs {
		t := txs[i]
		cid := b.resolve(t.Customer)
		if cid == "" {
			return domain.BatchResult{}, unknownCustomer(i, "customer", t.Customer)
		}
		cids = append(cids, cid)
		t.OccurredAt = normTime(t.OccurredAt)
		if !t.HasMargin {
			t.Margin = 0
		}
		prev := first[t.ExternalID]
		if prev == nil && b.d != nil {
			prev = b.d.txs[t.ExternalID]
		}
		if prev != nil {
			if prev.CustomerID != cid || prev.Kind != t.Kind || prev.Amount != t.Amount || prev.HasMargin != t.HasMargin ||
				prev.Margin != t.Margin || prev.Quantity != t.Quantity || !prev.OccurredAt.Equal(t.OccurredAt) {
				return domain.BatchResult{}, idReused(i)
			}
			continue
		}
		t.ID, _ = parseID(t.ID)
		t.TenantID, t.CustomerID, t.Customer = b.tenant, cid, domain.CustomerRef{ID: cid}
		first[t.ExternalID] = &t
		fresh = append(fresh, &t)
	}
	if err := b.missing(tenantID); err != nil {
		return domain.BatchResult{}, err
	}
	ids := map[string]bool{}
	for _, t := range fresh {
		if b.d.txIDs[t.ID] || ids[t.ID] {
			return domain.BatchResult{}, fmt.Errorf("%w: transaction %s exists", domain.ErrConflict, t.ID)
		}
		ids[t.ID] = true
	}
	// Compute the new statistics of every touched customer before changing
	// anything: a sum that overflows fails the batch.
	touched := map[string][]*domain.Transaction{}
	for _, t := range fresh {
		touched[t.CustomerID] = append(touched[t.CustomerID], t)
	}
	stats := map[string]domain.PurchaseStats{}
	for cid, add := range touched {
		var all []*domain.Transaction
		if ev := b.d.events[cid]; ev != nil {
			all = append(all, ev.txs...)
		}
		st, err := purchases(append(all, add...))
		if err != nil {
			return domain.BatchResult{}, err
		}
		stats[cid] = st
	}
	b.apply()
	for _, t := range fresh {
		b.d.txs[t.ExternalID] = t
		b.d.txIDs[t.ID] = true
		ev := b.d.eventsOf(t.CustomerID)
		ev.txs = append(ev.txs, t)
	}
	for cid, st := range stats {
		b.d.customers[cid].Purchases = st
	}
	return domain.BatchResult{Created: len(fresh), AlreadyKnown: len(txs) - len(fresh), CreatedCustomers: len(b.created), CustomerIDs: distinct(cids)}, nil
}

// apply adds the customers the batch created.
func (b *batch) apply() {
	for _, c := range b.created {
		b.d.insertCustomer(c)
	}
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

// day is the UTC calendar day of t, as days since the Unix epoch.
func day(t time.Time) int64 {
	d := t.Unix() / 86400
	if t.Unix()%86400 < 0 {
		d--
	}
	return d
}

// add returns a+b, or an error if the sum leaves the range of int64 (as
// PostgreSQL's bigint does).
func add(a, b domain.Money) (domain.Money, error) {
	s := a + b
	if (b > 0 && s < a) || (b < 0 && s > a) {
		return 0, fmt.Errorf("%w: a purchase total leaves the range of 64-bit micro-units", domain.ErrInvalid)
	}
	return s, nil
}

// purchases computes PurchaseStats from scratch from a customer's distinct
// transactions: days are UTC calendar days, the first day's spend is the sum
// of the orders on the earliest day with an order.
func purchases(txs []*domain.Transaction) (domain.PurchaseStats, error) {
	var st domain.PurchaseStats
	days := map[int64]domain.Money{}
	var err error
	for _, t := range txs {
		switch t.Kind {
		case domain.TxOrder:
			st.Orders++
			if st.TotalSpend, err = add(st.TotalSpend, t.Amount); err != nil {
				return st, err
			}
			if t.HasMargin {
				if st.TotalMargin, err = add(st.TotalMargin, t.Margin); err != nil {
					return st, err
				}
			}
			if days[day(t.OccurredAt)], err = add(days[day(t.OccurredAt)], t.Amount); err != nil {
				return st, err
			}
			if st.FirstPurchaseTime.IsZero() || t.OccurredAt.Before(st.FirstPurchaseTime) {
				st.FirstPurchaseTime = t.OccurredAt
			}
			if t.OccurredAt.After(st.LastPurchaseTime) {
				st.LastPurchaseTime = t.OccurredAt
			}
		case domain.TxRefund:
			st.Refunds++
			if st.RefundTotal, err = add(st.RefundTotal, t.Amount); err != nil {
				return st, err
			}
		}
	}
	st.PurchaseDays = int64(len(days))
	if st.Orders > 0 {
		st.FirstDaySpend = days[day(st.FirstPurchaseTime)]
	}
	st.MedianGapDays, st.LastGapDays = gaps(slices.Sorted(maps.Keys(days)))
	return st, nil
}

// gaps returns the median of the differences between consecutive days
// (sorted, distinct) and the last difference; zeros with fewer than two
// days. The median of an even number of gaps is the mean of the middle
// two, computed as PostgreSQL's percentile_cont(0.5) does: lo + 0.5·(hi−lo).
func gaps(days []int64) (median float64, last int64) {
	if len(days) < 2 {
		return 0, 0
	}
	g := make([]int64, len(days)-1)
	for i := range g {
		g[i] = days[i+1] - days[i]
	}
	last = g[len(g)-1]
	slices.Sort(g)
	lo, hi := g[(len(g)-1)/2], g[len(g)/2]
	return float64(lo) + 0.5*float64(hi-lo), last
}

// engagement computes EngagementStats from scratch from a customer's events.
// The referrer is the one of the earliest referral (by occurrence time, then
// external id).
func engagement(customerID string, ev *customerEvents) domain.EngagementStats {
	var st domain.EngagementStats
	if ev == nil {
		return st
	}
	for _, it := range ev.its {
		st.Interactions++
		if it.OccurredAt.After(st.LastInteractionTime) {
			st.LastInteractionTime = it.OccurredAt
		}
	}
	var first *domain.Referral
	for _, r := range ev.refs {
		if r.ReferrerID == customerID {
			st.ReferralsGiven++
		}
		if r.ReferredID == customerID {
			if first == nil || r.OccurredAt.Before(first.OccurredAt) ||
				(r.OccurredAt.Equal(first.OccurredAt) && strings.Compare(r.ExternalID, first.ExternalID) < 0) {
				first = r
			}
		}
	}
	if first != nil {
		st.ReferredBy = first.ReferrerID
	}
	return st
}

// RecordInteractions stores the batch's new interactions and maintains the
// customers' EngagementStats, all or nothing.
func (s *Store) RecordInteractions(_ context.Context, tenantID string, its []domain.Interaction, opts domain.RecordOptions) (domain.BatchResult, error) {
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
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.newBatch(tenantID, opts)
	var fresh []*domain.Interaction
	var cids []string
	first := map[string]*domain.Interaction{} // by external id, the batch's new items
	for i := range its {
		it := its[i]
		cid := b.resolve(it.Customer)
		if cid == "" {
			return domain.BatchResult{}, unknownCustomer(i, "customer", it.Customer)
		}
		cids = append(cids, cid)
		it.OccurredAt = normTime(it.OccurredAt)
		prev := first[it.ExternalID]
		if prev == nil && b.d != nil {
			prev = b.d.its[it.ExternalID]
		}
		if prev != nil {
			if prev.CustomerID != cid || prev.Type != it.Type || prev.Direction != it.Direction || prev.Channel != it.Channel ||
				!prev.OccurredAt.Equal(it.OccurredAt) {
				return domain.BatchResult{}, idReused(i)
			}
			continue
		}
		it.ID, _ = parseID(it.ID)
		it.TenantID, it.CustomerID, it.Customer = b.tenant, cid, domain.CustomerRef{ID: cid}
		first[it.ExternalID] = &it
		fresh = append(fresh, &it)
	}
	if err := b.missing(tenantID); err != nil {
		return domain.BatchResult{}, err
	}
	ids := map[string]bool{}
	for _, it := range fresh {
		if b.d.itIDs[it.ID] || ids[it.ID] {
			return domain.BatchResult{}, fmt.Errorf("%w: interaction %s exists", domain.ErrConflict, it.ID)
		}
		ids[it.ID] = true
	}
	b.apply()
	touched := map[string]bool{}
	for _, it := range fresh {
		b.d.its[it.ExternalID] = it
		b.d.itIDs[it.ID] = true
		ev := b.d.eventsOf(it.CustomerID)
		ev.its = append(ev.its, it)
		touched[it.CustomerID] = true
	}
	for cid := range touched {
		b.d.customers[cid].Engagement = engagement(cid, b.d.events[cid])
	}
	return domain.BatchResult{Created: len(fresh), AlreadyKnown: len(its) - len(fresh), CreatedCustomers: len(b.created), CustomerIDs: distinct(cids)}, nil
}

// RecordReferrals stores the batch's new referrals and maintains the
// referrers' ReferralsGiven and the referred customers' ReferredBy, all or
// nothing. A referral whose two sides are one customer is invalid.
func (s *Store) RecordReferrals(_ context.Context, tenantID string, rs []domain.Referral, opts domain.RecordOptions) (domain.BatchResult, error) {
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
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.newBatch(tenantID, opts)
	var fresh []*domain.Referral
	var cids []string
	first := map[string]*domain.Referral{} // by external id, the batch's new items
	for i := range rs {
		r := rs[i]
		from := b.resolve(r.Referrer)
		if from == "" {
			return domain.BatchResult{}, unknownCustomer(i, "referrer", r.Referrer)
		}
		to := b.resolve(r.Referred)
		if to == "" {
			return domain.BatchResult{}, unknownCustomer(i, "referred", r.Referred)
		}
		if from == to {
			return domain.BatchResult{}, &domain.ItemError{Index: i, Field: "referred", Err: fmt.Errorf("%w: a customer cannot refer itself", domain.ErrInvalid)}
		}
		cids = append(cids, from, to)
		r.OccurredAt = normTime(r.OccurredAt)
		prev := first[r.ExternalID]
		if prev == nil && b.d != nil {
			prev = b.d.refs[r.ExternalID]
		}
		if prev != nil {
			if prev.ReferrerID != from || prev.ReferredID != to || !prev.OccurredAt.Equal(r.OccurredAt) {
				return domain.BatchResult{}, idReused(i)
			}
			continue
		}
		r.ID, _ = parseID(r.ID)
		r.TenantID, r.ReferrerID, r.ReferredID = b.tenant, from, to
		r.Referrer, r.Referred = domain.CustomerRef{ID: from}, domain.CustomerRef{ID: to}
		first[r.ExternalID] = &r
		fresh = append(fresh, &r)
	}
	if err := b.missing(tenantID); err != nil {
		return domain.BatchResult{}, err
	}
	ids := map[string]bool{}
	for _, r := range fresh {
		if b.d.refIDs[r.ID] || ids[r.ID] {
			return domain.BatchResult{}, fmt.Errorf("%w: referral %s exists", domain.ErrConflict, r.ID)
		}
		ids[r.ID] = true
	}
	b.apply()
	touched := map[string]bool{}
	for _, r := range fresh {
		b.d.refs[r.ExternalID] = r
		b.d.refIDs[r.ID] = true
		for _, cid := range []string{r.ReferrerID, r.ReferredID} {
			ev := b.d.eventsOf(cid)
			ev.refs = append(ev.refs, r)
			touched[cid] = true
		}
	}
	for cid := range touched {
		b.d.customers[cid].Engagement = engagement(cid, b.d.events[cid])
	}
	return domain.BatchResult{Created: len(fresh), AlreadyKnown: len(rs) - len(fresh), CreatedCustomers: len(b.created), CustomerIDs: distinct(cids)}, nil
}

// ListTransactions returns a customer's transactions, oldest first (ties by
// id); none for a customer that does not exist.
func (s *Store) ListTransactions(_ context.Context, tenantID, customerID string) ([]domain.Transaction, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	d := s.tenant(tenantID)
	c := d.find(domain.CustomerRef{ID: customerID})
	if c == nil || d.events[c.ID] == nil {
		return nil, nil
	}
	var out []domain.Transaction
	for _, t := range d.events[c.ID].txs {
		out = append(out, *t)
	}
	slices.SortFunc(out, func(a, b domain.Transaction) int {
		if c := a.OccurredAt.Compare(b.OccurredAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, nil
}

// distinct returns the distinct elements of ids, sorted.
func distinct(ids []string) []string {
	out := slices.Clone(ids)
	slices.Sort(out)
	return slices.Compact(out)
}
