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

// cloneCustomer returns a deep copy of c with empty collections as nil.
func cloneCustomer(c *domain.Customer) domain.Customer {
	out := *c
	out.AcceptedChannels = nil
	if len(c.AcceptedChannels) > 0 {
		out.AcceptedChannels = slices.Clone(c.AcceptedChannels)
	}
	out.Attributes = nil
	if len(c.Attributes) > 0 {
		out.Attributes = maps.Clone(c.Attributes)
	}
	return out
}

// normAttributes keeps only the meaningful field of each attribute value,
// times at microsecond precision in UTC, as they come back from PostgreSQL.
func normAttributes(m map[string]domain.AttributeValue) map[string]domain.AttributeValue {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]domain.AttributeValue, len(m))
	for k, a := range m {
		v := domain.AttributeValue{Kind: a.Kind}
		switch a.Kind {
		case domain.AttrString:
			v.String = a.String
		case domain.AttrNumber:
			v.Number = a.Number + 0 // PostgreSQL's numeric has no negative zero
		case domain.AttrBool:
			v.Bool = a.Bool
		case domain.AttrTime:
			v.Time = normTime(a.Time)
		}
		out[k] = v
	}
	return out
}

// clientFields returns c's client-set fields in stored form: copied, times
// normalised, attributes reduced to their meaningful fields.
func clientFields(c *domain.Customer) domain.Customer {
	out := cloneCustomer(c)
	out.Attributes = normAttributes(c.Attributes)
	out.Qualification.DecisionTime = normTime(c.Qualification.DecisionTime)
	return out
}

// setClientFields copies the client-set fields of src into dst.
func setClientFields(dst *domain.Customer, src *domain.Customer) {
	dst.ExternalID, dst.Kind = src.ExternalID, src.Kind
	dst.DisplayName, dst.GivenName, dst.FamilyName, dst.CompanyName = src.DisplayName, src.GivenName, src.FamilyName, src.CompanyName
	dst.Email, dst.Phone, dst.AcceptedChannels = src.Email, src.Phone, src.AcceptedChannels
	dst.Country, dst.Region, dst.City = src.Country, src.Region, src.City
	dst.AgeBand, dst.Gender, dst.Industry, dst.CompanySize = src.AgeBand, src.Gender, src.Industry, src.CompanySize
	dst.AcquisitionChannel, dst.Attributes, dst.Qualification = src.AcquisitionChannel, src.Attributes, src.Qualification
}

// CreateCustomer stores c with Version 1 and empty statistics.
func (s *Store) CreateCustomer(_ context.Context, c domain.Customer) (domain.Customer, error) {
	tenantID, tenantOK := parseID(c.TenantID)
	id, ok := parseID(c.ID)
	if !ok {
		return domain.Customer{}, domain.Invalid("id", "must be a UUID")
	}
	if field, err := checkCustomer(&c); err != nil {
		return domain.Customer{}, fieldError(field, err)
	}
	if err := checkTime(c.CreateTime); err != nil {
		return domain.Customer{}, fieldError("create_time", err)
	}
	if err := checkTime(c.UpdateTime); err != nil {
		return domain.Customer{}, fieldError("update_time", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.data[tenantID]
	if !tenantOK || d == nil {
		return domain.Customer{}, fmt.Errorf("%w: tenant %q", domain.ErrNotFound, c.TenantID)
	}
	if _, dup := d.customers[id]; dup {
		return domain.Customer{}, fmt.Errorf("%w: customer %s exists", domain.ErrConflict, id)
	}
	if _, dup := d.byExternal[c.ExternalID]; dup && c.ExternalID != "" {
		return domain.Customer{}, fmt.Errorf("%w: external id %q is taken", domain.ErrConflict, c.ExternalID)
	}
	stored := clientFields(&c)
	stored.ID, stored.TenantID, stored.Version = id, tenantID, 1
	stored.CreateTime, stored.UpdateTime = normTime(c.CreateTime), normTime(c.UpdateTime)
	stored.Purchases, stored.Engagement, stored.Assessment = domain.PurchaseStats{}, domain.EngagementStats{}, domain.Assessment{}
	d.insertCustomer(&stored)
	return cloneCustomer(&stored), nil
}

func (d *tenantData) insertCustomer(c *domain.Customer) {
	d.customers[c.ID] = c
	if c.ExternalID != "" {
		d.byExternal[c.ExternalID] = c.ID
	}
}

// find resolves a reference: by id (and then the external id must match too,
// if given) or by external id. It returns nil if nothing matches.
func (d *tenantData) find(ref domain.CustomerRef) *domain.Customer {
	if d == nil {
		return nil
	}
	if ref.ID != "" {
		id, ok := parseID(ref.ID)
		if !ok {
			return nil
		}
		c := d.customers[id]
		if c == nil || (ref.ExternalID != "" && c.ExternalID != ref.ExternalID) {
			return nil
		}
		return c
	}
	if ref.ExternalID == "" {
		return nil
	}
	return d.customers[d.byExternal[ref.ExternalID]]
}

// GetCustomer returns a customer by id or by external id; with both, the
// customer must match both.
func (s *Store) GetCustomer(_ context.Context, tenantID string, ref domain.CustomerRef) (domain.Customer, error) {
	if ref.ID == "" && ref.ExternalID == "" {
		return domain.Customer{}, domain.Invalid("customer", "set either id or external_id")
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	c := s.tenant(tenantID).find(ref)
	if c == nil {
		return domain.Customer{}, notFound(ref)
	}
	return cloneCustomer(c), nil
}

func notFound(ref domain.CustomerRef) error {
	if ref.ID != "" {
		return fmt.Errorf("%w: customer %q", domain.ErrNotFound, ref.ID)
	}
	return fmt.Errorf("%w: customer with external id %q", domain.ErrNotFound, ref.ExternalID)
}

// UpdateCustomer replaces the client-set fields of customer c.ID if it is at
// c.Version.
func (s *Store) UpdateCustomer(_ context.Context, c domain.Customer) (domain.Customer, error) {
	if field, err := checkCustomer(&c); err != nil {
		return domain.Customer{}, fieldError(field, err)
	}
	if err := checkTime(c.UpdateTime); err != nil {
		return domain.Customer{}, fieldError("update_time", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.tenant(c.TenantID)
	cur := d.find(domain.CustomerRef{ID: c.ID})
	switch {
	case cur == nil:
		return domain.Customer{}, notFound(domain.CustomerRef{ID: c.ID})
	case cur.Version != c.Version:
		return domain.Customer{}, fmt.Errorf("%w: customer is at version %d, not %d", domain.ErrStale, cur.Version, c.Version)
	}
	if other, taken := d.byExternal[c.ExternalID]; taken && c.ExternalID != "" && other != cur.ID {
		return domain.Customer{}, fmt.Errorf("%w: external id %q is taken", domain.ErrConflict, c.ExternalID)
	}
	next := clientFields(&c)
	if cur.ExternalID != "" {
		delete(d.byExternal, cur.ExternalID)
	}
	setClientFields(cur, &next)
	cur.Version = c.Version + 1
	cur.UpdateTime = normTime(c.UpdateTime)
	if cur.ExternalID != "" {
		d.byExternal[cur.ExternalID] = cur.ID
	}
	return cloneCustomer(cur), nil
}

// DeleteCustomer erases a customer with its transactions, interactions,
// referrals, assessment and lifecycle transitions, corrects the referral
// statistics of the customers on the other side of its referrals, and
// stores the audit records.
func (s *Store) DeleteCustomer(_ context.Context, tenantID, id string, audit ...domain.AuditEvent) error {
	if err := checkAudit(audit); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.tenant(tenantID)
	c := d.find(domain.CustomerRef{ID: id})
	if c == nil {
		return notFound(domain.CustomerRef{ID: id})
	}
	tid, _ := parseID(tenantID)
	if err := s.auditConflict(tid, audit); err != nil {
		return err
	}
	s.appendAudit(tid, audit)
	delete(d.customers, c.ID)
	if c.ExternalID != "" {
		delete(d.byExternal, c.ExternalID)
	}
	d.deleteFeedbackOf(c.ID)
	d.deleteScoringOf(c.ID)
	d.deleteConversionOf(c.ID)
	d.deleteSegmentsOf(c.ID)
	d.transitions = slices.DeleteFunc(d.transitions, func(tr transition) bool { return tr.customerID == c.ID })
	ev := d.events[c.ID]
	delete(d.events, c.ID)
	if ev == nil {
		return nil
	}
	for _, t := range ev.txs {
		delete(d.txs, t.ExternalID)
		delete(d.txIDs, t.ID)
	}
	for _, it := range ev.its {
		delete(d.its, it.ExternalID)
		delete(d.itIDs, it.ID)
	}
	others := map[string]bool{}
	for _, r := range ev.refs {
		delete(d.refs, r.ExternalID)
		delete(d.refIDs, r.ID)
		other := r.ReferrerID
		if other == c.ID {
			other = r.ReferredID
		}
		others[other] = true
		if oe := d.events[other]; oe != nil {
			oe.refs = slices.DeleteFunc(oe.refs, func(x *domain.Referral) bool { return x == r })
		}
	}
	for other := range others {
		o := d.customers[other]
		o.Engagement = engagement(other, d.events[other])
	}
	return nil
}

// ListCustomers returns up to q.Limit customers matching q.Filter in
// (q.Order field, id) order, strictly after q.After.
func (s *Store) ListCustomers(_ context.Context, tenantID string, q domain.CustomerQuery) ([]domain.Customer, error) {
	q, err := checkQuery(q)
	if err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	d := s.tenant(tenantID)
	if d == nil {
		return nil, nil
	}
	field := q.Order.Field
	dir := 1
	if q.Order.Desc {
		dir = -1
	}
	cmp := func(v any, id string, c *domain.Customer) int { // position of c relative to (v, id), in listing order
		if r := domain.Compare(c.SortValue(field), v); r != 0 {
			return r * dir
		}
		return strings.Compare(c.ID, id) * dir
	}
	var rows []*domain.Customer
	for _, c := range d.customers {
		if !q.Filter.MatchesWith(c, relations{d}) {
			continue
		}
		if q.After != nil && cmp(q.After.Value, q.After.ID, c) <= 0 {
			continue
		}
		rows = append(rows, c)
	}
	slices.SortFunc(rows, func(a, b *domain.Customer) int { return cmp(a.SortValue(field), a.ID, b) * -1 })
	if len(rows) > q.Limit {
		rows = rows[:q.Limit]
	}
	out := make([]domain.Customer, len(rows))
	for i, c := range rows {
		out[i] = cloneCustomer(c)
	}
	return out, nil
}

// UpsertCustomers creates or replaces customers by external id, all or nothing.
func (s *Store) UpsertCustomers(_ context.Context, tenantID string, cs []domain.Customer, now time.Time) ([]domain.UpsertOutcome, error) {
	ids, err := checkUpsert(cs)
	if err != nil {
		return nil, err
	}
	if err := checkTime(now); err != nil {
		return nil, fieldError("update_time", err)
	}
	now = normTime(now)
	tid, _ := parseID(tenantID)
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.data[tid]
	out := make([]domain.UpsertOutcome, len(cs))
	changed := make([]*domain.Customer, len(cs)) // the stored customer an item replaces
	creates := map[string]bool{}
	for i := range cs {
		next := clientFields(&cs[i])
		var cur *domain.Customer
		if d != nil {
			cur = d.customers[d.byExternal[next.ExternalID]]
		}
		switch {
		case cur == nil:
			if d == nil {
				return nil, fmt.Errorf("%w: tenant %q", domain.ErrNotFound, tenantID)
			}
			if _, dup := d.customers[ids[i]]; dup || creates[ids[i]] {
				return nil, fmt.Errorf("%w: customer %s exists", domain.ErrConflict, ids[i])
			}
			creates[ids[i]] = true
			next.ID, next.TenantID, next.Version = ids[i], tid, 1
			next.CreateTime, next.UpdateTime = now, now
			next.Purchases, next.Engagement, next.Assessment = domain.PurchaseStats{}, domain.EngagementStats{}, domain.Assessment{}
			out[i] = domain.UpsertOutcome{Customer: next, Created: true}
		case domain.SameClientFields(cur, &next):
			out[i] = domain.UpsertOutcome{Customer: *cur}
		default:
			upd := *cur
			setClientFields(&upd, &next)
			upd.Version++
			upd.UpdateTime = now
			out[i] = domain.UpsertOutcome{Customer: upd}
			changed[i] = cur
		}
	}
	// Everything is checked: apply. External ids do not change, so the
	// index by external id only gains the created customers.
	for i := range out {
		switch {
		case out[i].Created:
			c := out[i].Customer
			d.insertCustomer(&c)
		case changed[i] != nil:
			*changed[i] = out[i].Customer
		}
		out[i].Customer = cloneCustomer(&out[i].Customer)
	}
	return out, nil
}

// checkUpsert checks an upsert batch and returns the id each item would be
// created with.
func checkUpsert(cs []domain.Customer) ([]string, error) {
	ids := make([]string, len(cs))
	seen := make(map[string]bool, len(cs))
	for i := range cs {
		c := &cs[i]
		if c.ExternalID == "" {
			return nil, &domain.ItemError{Index: i, Field: "external_id", Err: fmt.Errorf("%w: required for an upsert", domain.ErrInvalid)}
		}
		if seen[c.ExternalID] {
			return nil, &domain.ItemError{Index: i, Field: "external_id", Err: fmt.Errorf("%w: repeats an earlier item", domain.ErrInvalid)}
		}
		seen[c.ExternalID] = true
		if c.ID == "" {
			ids[i] = domain.NewID()
		} else if id, ok := parseID(c.ID); ok {
			ids[i] = id
		} else {
			return nil, &domain.ItemError{Index: i, Field: "id", Err: fmt.Errorf("%w: must be a UUID", domain.ErrInvalid)}
		}
		if field, err := checkCustomer(c); err != nil {
			return nil, &domain.ItemError{Index: i, Field: field, Err: err}
		}
	}
	return ids, nil
}

// relations reads a tenant's grades and segment members for a filter; the
// caller holds the store's lock.
type relations struct{ d *tenantData }

func (r relations) Grade(customerID string) string {
	if r.d.scoring == nil {
		return ""
	}
	return r.d.scoring.grades[customerID].Grade
}

func (r relations) IsMember(segmentID, customerID string) bool {
	if r.d.segments == nil {
		return false
	}
	_, ok := r.d.segments.members[segmentID][customerID]
	return ok
}
