package memory

import (
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/potentialhq/potential/domain"
	"github.com/potentialhq/potential/domain/rfm"
)

// The value models' storage (domain.AssessmentStore), as store/postgres
// keeps it: a customer's stored assessment is its Customer.Assessment (the
// zero value until the first PutAssessments), the models are versioned per
// tenant and every change of a customer's stage is a transition.

var _ domain.AssessmentStore = (*Store)(nil)

// inputBatch is the number of inputs AssessmentInputs hands over at once.
const inputBatch = 5000

// transition is one recorded change of a customer's lifecycle stage.
type transition struct {
	customerID string
	from, to   domain.LifecycleStage
	at         time.Time
}

// assessed reports whether c has a stored assessment.
func assessed(c *domain.Customer) bool { return !c.Assessment.AssessTime.IsZero() }

// validSegments are the segments an assessment may name.
var validSegments = append([]rfm.Segment{rfm.Unknown}, rfm.Segments()...)

// checkAssessment reports what of a store/postgres cannot store; see its
// checkAssessment.
func checkAssessment(a *domain.Assessment) (field string, err error) {
	invalid := func(f, what string) (string, error) {
		return f, fmt.Errorf("%w: %s", domain.ErrInvalid, what)
	}
	if _, ok := parseID(a.CustomerID); !ok {
		return invalid("customer_id", "must be a UUID")
	}
	if a.AssessTime.IsZero() {
		return invalid("assess_time", "required")
	}
	if err := checkTime(a.AssessTime); err != nil {
		return "assess_time", err
	}
	if a.ModelVersion < 0 {
		return invalid("model_version", "must not be negative")
	}
	for _, s := range []int{a.RFM.R, a.RFM.F, a.RFM.M} {
		if s < 0 || s > 5 {
			return invalid("rfm", "scores must be 0-5")
		}
	}
	if !slices.Contains(validSegments, a.Segment) {
		return invalid("segment", "unknown segment")
	}
	for _, f := range []struct {
		name string
		v    float64
	}{{"p_alive", a.PAlive}, {"expected_purchases", a.ExpectedPurchases}, {"cadence_days", a.CadenceDays}} {
		if math.IsNaN(f.v) || math.IsInf(f.v, 0) {
			return invalid(f.name, "must be a finite number")
		}
	}
	if a.Churn < domain.ChurnNone || a.Churn > domain.ChurnHigh {
		return invalid("churn_level", "unknown level")
	}
	if a.Stage < domain.StageUnknown || a.Stage > domain.StageReactivated {
		return invalid("stage", "unknown stage")
	}
	if a.SilenceDays < math.MinInt32 || a.SilenceDays > math.MaxInt32 {
		return invalid("silence_days", "out of range")
	}
	return "", nil
}

// sortedCustomers returns d's customers in id order.
func (d *tenantData) sortedCustomers() []*domain.Customer {
	out := make([]*domain.Customer, 0, len(d.customers))
	for _, c := range d.customers {
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b *domain.Customer) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// midnight is the start of UTC day d (days since the epoch).
func midnight(d int64) time.Time { return time.Unix(d*86400, 0).UTC() }

// PurchaseSummaries calls fn for every customer of the tenant with a
// purchase on or before end's UTC day, with its first and last purchase
// days (UTC midnight), days, total and first day's spend up to that day.
func (s *Store) PurchaseSummaries(_ context.Context, tenantID string, end time.Time, fn func(domain.PurchaseSummary) error) error {
	if err := checkTime(end); err != nil {
		return fieldError("observation_end", err)
	}
	var out []domain.PurchaseSummary
	s.mu.RLock()
	if d := s.tenant(tenantID); d != nil {
		last := day(end)
		for _, c := range d.sortedCustomers() {
			days := map[int64]domain.Money{}
			if ev := d.events[c.ID]; ev != nil {
				for _, t := range ev.txs {
					if dd := day(t.OccurredAt); t.Kind == domain.TxOrder && dd <= last {
						days[dd] += t.Amount
					}
				}
			}
			if len(days) == 0 {
				continue
			}
			keys := slices.Sorted(maps.Keys(days))
			ps := domain.PurchaseSummary{CustomerID: c.ID, First: midnight(keys[0]), Last: midnight(keys[len(keys)-1]),
				Days: len(keys), FirstDaySpend: days[keys[0]]}
			for _, a := range days {
				var err error
				if ps.TotalSpend, err = add(ps.TotalSpend, a); err != nil {
					s.mu.RUnlock()
					return err
				}
			}
			out = append(out, ps)
		}
	}
	s.mu.RUnlock()
	for _, ps := range out {
		if err := fn(ps); err != nil {
			return err
		}
	}
	return nil
}

// PurchaseDaysBetween returns, per customer id, the number of distinct UTC
// purchase days after from's day and up to to's day.
func (s *Store) PurchaseDaysBetween(_ context.Context, tenantID string, from, to time.Time) (map[string]int, error) {
	for _, t := range []time.Time{from, to} {
		if err := checkTime(t); err != nil {
			return nil, fieldError("time", err)
		}
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := map[string]int{}
	d := s.tenant(tenantID)
	if d == nil {
		return out, nil
	}
	lo, hi := day(from), day(to)
	for id, ev := range d.events {
		days := map[int64]bool{}
		for _, t := range ev.txs {
			if dd := day(t.OccurredAt); t.Kind == domain.TxOrder && dd > lo && dd <= hi {
				days[dd] = true
			}
		}
		if len(days) > 0 {
			out[id] = len(days)
		}
	}
	return out, nil
}

// cloneModel returns a deep copy of m.
func cloneModel(m domain.ValueModel) domain.ValueModel {
	m.BGNBDFit.StdErr = slices.Clone(m.BGNBDFit.StdErr)
	m.SpendFit.StdErr = slices.Clone(m.SpendFit.StdErr)
	m.Holdout = slices.Clone(m.Holdout)
	m.Histogram = slices.Clone(m.Histogram)
	return m
}

// SaveValueModel stores m as the tenant's next version and returns it with
// Version set and times in UTC at microsecond precision.
func (s *Store) SaveValueModel(_ context.Context, m domain.ValueModel) (domain.ValueModel, error) {
	for _, f := range []struct {
		name string
		t    time.Time
	}{{"fit_time", m.FitTime}, {"observation_end", m.ObservationEnd}, {"holdout_end", m.HoldoutEnd}} {
		if err := checkTime(f.t); err != nil {
			return domain.ValueModel{}, fieldError(f.name, err)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.tenant(m.TenantID)
	if d == nil {
		return domain.ValueModel{}, fmt.Errorf("%w: tenant %q", domain.ErrNotFound, m.TenantID)
	}
	m = cloneModel(m)
	m.TenantID, _ = parseID(m.TenantID)
	m.FitTime, m.ObservationEnd, m.HoldoutEnd = normTime(m.FitTime), normTime(m.ObservationEnd), normTime(m.HoldoutEnd)
	m.Version = int64(len(d.models)) + 1
	d.models = append(d.models, m)
	return cloneModel(m), nil
}

// GetValueModel returns the tenant's latest model; ErrNotFound if none.
func (s *Store) GetValueModel(_ context.Context, tenantID string) (domain.ValueModel, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	d := s.tenant(tenantID)
	if d == nil || len(d.models) == 0 {
		return domain.ValueModel{}, fmt.Errorf("%w: no value model", domain.ErrNotFound)
	}
	return cloneModel(d.models[len(d.models)-1]), nil
}

// AssessmentInputs calls fn with batches of at most 5,000 inputs as of now,
// in id order: for the customers ids (unknown and malformed ids are
// skipped), or for every customer of the tenant when ids is nil.
// Interactions in [now-30d, now) are Recent, in [now-120d, now-30d)
// Baseline; OpenComplaints is 0.
func (s *Store) AssessmentInputs(_ context.Context, tenantID string, ids []string, now time.Time, fn func([]domain.AssessmentInput) error) error {
	if err := checkTime(now); err != nil {
		return fieldError("now", err)
	}
	now = normTime(now)
	base, recent := now.Add(-120*24*time.Hour), now.Add(-30*24*time.Hour)
	var out []domain.AssessmentInput
	s.mu.RLock()
	if d := s.tenant(tenantID); d != nil {
		var cs []*domain.Customer
		if ids == nil {
			cs = d.sortedCustomers()
		} else {
			var canon []string
			for _, id := range ids {
				if id, ok := parseID(id); ok {
					canon = append(canon, id)
				}
			}
			for _, id := range distinct(canon) {
				if c := d.customers[id]; c != nil {
					cs = append(cs, c)
				}
			}
		}
		for _, c := range cs {
			in := domain.AssessmentInput{CustomerID: c.ID, Kind: c.Kind, CreateTime: c.CreateTime, Purchases: c.Purchases}
			if ids != nil { // as store/postgres: not in the whole tenant's read
				in.PreviousStage = c.Assessment.Stage
			}
			if ev := d.events[c.ID]; ev != nil {
				for _, it := range ev.its {
					switch at := it.OccurredAt; {
					case !at.Before(recent) && at.Before(now):
						in.Recent++
					case !at.Before(base) && at.Before(recent):
						in.Baseline++
					}
				}
			}
			out = append(out, in)
		}
	}
	s.mu.RUnlock()
	for start := 0; start < len(out); start += inputBatch {
		if err := fn(out[start:min(start+inputBatch, len(out))]); err != nil {
			return err
		}
	}
	return nil
}

// PutAssessments replaces the stored assessments of the customers in as
// and records a lifecycle transition (at the assessment time) for each
// whose stage differs from the stored one. Of several assessments of one
// customer the last counts; customers that do not exist are skipped. An
// assessment that cannot be stored fails the call with an *ItemError.
func (s *Store) PutAssessments(_ context.Context, tenantID string, as []domain.Assessment) error {
	last, err := lastAssessments(as)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.tenant(tenantID)
	if d == nil {
		return nil
	}
	for _, id := range slices.Sorted(maps.Keys(last)) {
		if c := d.customers[id]; c != nil {
			d.assess(c, last[id])
		}
	}
	return nil
}

// lastAssessments checks as and returns each customer's last, with its
// canonical id and normalised time; an assessment that cannot be stored
// is an *ItemError.
func lastAssessments(as []domain.Assessment) (map[string]domain.Assessment, error) {
	last := make(map[string]domain.Assessment, len(as))
	for i := range as {
		if field, err := checkAssessment(&as[i]); err != nil {
			return nil, &domain.ItemError{Index: i, Field: field, Err: err}
		}
		a := as[i]
		a.CustomerID, _ = parseID(a.CustomerID)
		a.AssessTime = normTime(a.AssessTime)
		last[a.CustomerID] = a
	}
	return last, nil
}

// assess stores a as c's assessment, and a lifecycle transition (at the
// assessment time) if the stage changes.
func (d *tenantData) assess(c *domain.Customer, a domain.Assessment) {
	if from := c.Assessment.Stage; from != a.Stage {
		d.transitions = append(d.transitions, transition{customerID: c.ID, from: from, to: a.Stage, at: a.AssessTime})
	}
	c.Assessment = a
}

// RewriteAssessments collects what write puts and then stores it under
// one lock, as PutAssessments does, except for customers whose stored
// assessment changed while write ran (a concurrent writer's, which is
// newer) and customers created meanwhile: the semantics of
// domain.AssessmentRewriter, which store/postgres implements with a table
// swap. It always accepts.
func (s *Store) RewriteAssessments(_ context.Context, tenantID string, write func(put func([]domain.Assessment) error) error) (bool, error) {
	// The stored assessments as the rewrite begins.
	began := map[string]domain.Assessment{}
	s.mu.RLock()
	if d := s.tenant(tenantID); d != nil {
		for id, c := range d.customers {
			began[id] = c.Assessment
		}
	}
	s.mu.RUnlock()
	var mu sync.Mutex
	next := map[string]domain.Assessment{}
	err := write(func(as []domain.Assessment) error {
		batch, err := lastAssessments(as)
		if err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		maps.Copy(next, batch)
		return nil
	})
	if err != nil {
		return true, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.tenant(tenantID)
	if d == nil {
		return true, nil
	}
	for _, id := range slices.Sorted(maps.Keys(next)) {
		c := d.customers[id]
		if was, ok := began[id]; c != nil && ok && c.Assessment == was {
			d.assess(c, next[id])
		}
	}
	return true, nil
}

// GetAssessment returns a customer's stored assessment; ErrNotFound if the
// customer has none (or does not exist).
func (s *Store) GetAssessment(_ context.Context, tenantID, customerID string) (domain.Assessment, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	c := s.tenant(tenantID).find(domain.CustomerRef{ID: customerID})
	if c == nil || !assessed(c) {
		return domain.Assessment{}, fmt.Errorf("%w: no assessment of customer %q", domain.ErrNotFound, customerID)
	}
	return c.Assessment, nil
}

// AssessmentStats aggregates the tenant's assessed customers and recorded
// transitions.
func (s *Store) AssessmentStats(_ context.Context, tenantID string) (domain.AssessmentStats, error) {
	st := domain.AssessmentStats{Segments: map[rfm.Segment]int64{}, Churn: map[domain.ChurnLevel]domain.ValueCount{},
		Reasons: map[domain.ChurnReason]domain.ValueCount{}, Stages: map[domain.LifecycleStage]int64{},
		Transitions: map[[2]domain.LifecycleStage]int64{}}
	s.mu.RLock()
	defer s.mu.RUnlock()
	d := s.tenant(tenantID)
	if d == nil {
		return st, nil
	}
	count := func(v domain.ValueCount, a *domain.Assessment) (domain.ValueCount, error) {
		var err error
		v.Customers++
		if v.Predicted, err = add(v.Predicted, a.PredictedValue); err != nil {
			return v, err
		}
		v.ValueAtRisk, err = add(v.ValueAtRisk, a.ValueAtRisk)
		return v, err
	}
	for _, c := range d.customers {
		if !assessed(c) {
			continue
		}
		a := &c.Assessment
		st.Customers++
		if r, f := a.RFM.R, a.RFM.F; r >= 1 && r <= 5 && f >= 1 && f <= 5 {
			st.RF[r-1][f-1]++
		}
		st.Segments[a.Segment]++
		st.Stages[a.Stage]++
		var err error
		if st.Churn[a.Churn], err = count(st.Churn[a.Churn], a); err != nil {
			return domain.AssessmentStats{}, err
		}
		for _, r := range domain.ChurnReasons {
			if a.HasReason(r) {
				if st.Reasons[r], err = count(st.Reasons[r], a); err != nil {
					return domain.AssessmentStats{}, err
				}
			}
		}
	}
	for _, tr := range d.transitions {
		st.Transitions[[2]domain.LifecycleStage{tr.from, tr.to}]++
	}
	return st, nil
}

// ListTenants returns every tenant, oldest first (ties by id).
func (s *Store) ListTenants(context.Context) ([]domain.Tenant, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []domain.Tenant
	for _, t := range s.tenants {
		out = append(out, *t)
	}
	slices.SortFunc(out, func(a, b domain.Tenant) int {
		if c := a.CreateTime.Compare(b.CreateTime); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, nil
}
