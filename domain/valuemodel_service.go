package domain

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/potentialhq/potential/domain/clv"
	"github.com/potentialhq/potential/domain/rfm"
)

// FitRequest asks for a tenant's value models to be fitted.
type FitRequest struct {
	// ObservationEnd ends the calibration period; zero means now.
	ObservationEnd time.Time
	// HoldoutEnd, when after ObservationEnd, adds a holdout comparison of
	// expected and actual purchases in (ObservationEnd, HoldoutEnd].
	HoldoutEnd time.Time
	// Settings for the model and the churn warnings; zero fields take defaults.
	Settings ValueSettings
	// SkipReassess leaves the stored assessments as they are.
	SkipReassess bool
}

// FitProgress reports how far a fit has come.
type FitProgress struct {
	Stage string // "loading", "fitting", "saving", "assessing", "done"
	Done  int64  // customers done in this stage
	Total int64  // customers in this stage, when known
}

// Minimum data for a spend model: fewer repeat customers and expected
// spend falls back to each customer's own mean spend per purchase day.
const minSpendCustomers = 10

// FitValueModel fits BG/NBD and Gamma-Gamma to the caller's tenant by
// maximum likelihood, sets the RFM cut points, saves the model as the next
// version and re-assesses every customer with it. progress, if not nil, is
// called as the work advances.
func (s *Service) FitValueModel(ctx context.Context, req FitRequest, progress func(FitProgress)) (ValueModel, error) {
	p, err := PrincipalFrom(ctx)
	if err != nil {
		return ValueModel{}, err
	}
	if progress == nil {
		progress = func(FitProgress) {}
	}
	st := req.Settings.WithDefaults()
	if err := st.Validate(); err != nil {
		return ValueModel{}, err
	}
	now := s.Now()
	end := req.ObservationEnd
	if end.IsZero() {
		end = now
	}
	if end.After(now) {
		return ValueModel{}, Invalid("observation_end", "must not be in the future")
	}
	if !req.HoldoutEnd.IsZero() && (!req.HoldoutEnd.After(end) || req.HoldoutEnd.After(now)) {
		return ValueModel{}, Invalid("holdout_end", "must be after observation_end and not in the future")
	}

	progress(FitProgress{Stage: "loading"})
	// The customers' ids are kept only for the holdout comparison: at a
	// million customers they would be the largest of these slices.
	holdout := !req.HoldoutEnd.IsZero()
	var (
		ids                 []string
		cal                 []clv.Summary
		spend               []clv.Spend
		rec, freq, monetary []float64
	)
	err = s.store.PurchaseSummaries(ctx, p.TenantID, end, func(ps PurchaseSummary) error {
		sum, err := clv.Summarize(ps.First, ps.Last, ps.Days, end, st.Unit)
		if err != nil {
			return fmt.Errorf("customer %s: %w", ps.CustomerID, err)
		}
		if holdout {
			ids = append(ids, ps.CustomerID)
		}
		cal = append(cal, sum)
		if sum.X > 0 {
			spend = append(spend, clv.Spend{X: sum.X, Zbar: clv.MeanRepeatSpend((ps.TotalSpend - ps.FirstDaySpend).Float(), sum.X)})
		}
		rec = append(rec, float64(recencyDays(ps.Last, end)))
		freq = append(freq, float64(ps.Days))
		monetary = append(monetary, ps.TotalSpend.Float())
		return nil
	})
	if err != nil {
		return ValueModel{}, err
	}
	progress(FitProgress{Stage: "fitting", Total: int64(len(cal))})
	m := ValueModel{TenantID: p.TenantID, FitTime: now, ObservationEnd: end, Settings: st, Customers: int64(len(cal)), Repeaters: int64(len(spend))}
	m.BGNBD, m.BGNBDFit, err = clv.FitBGNBD(cal, clv.FitOptions{})
	switch {
	case errors.Is(err, clv.ErrNoData):
		return ValueModel{}, fmt.Errorf("%w: no customer has a purchase on or before %s", ErrFailedPrecondition, end.Format(time.DateOnly))
	case errors.Is(err, clv.ErrNotIdentified), errors.Is(err, clv.ErrNotConverged):
		return ValueModel{}, fmt.Errorf("%w: the purchase history cannot identify the model (%v); it needs customers with repeat purchases", ErrFailedPrecondition, err)
	case err != nil:
		return ValueModel{}, err
	}
	if len(spend) >= minSpendCustomers {
		if gg, fit, err := clv.FitGammaGamma(spend, clv.FitOptions{}); err == nil {
			m.HasSpend, m.Spend, m.SpendFit = true, gg, fit
		}
	}
	if m.RFM, err = rfm.Fit(rec, freq, monetary); err != nil {
		return ValueModel{}, err
	}
	if m.Histogram, err = clv.FrequencyHistogram(m.BGNBD, cal, 7); err != nil {
		return ValueModel{}, err
	}
	if holdout {
		m.HoldoutEnd = req.HoldoutEnd
		days, err := s.store.PurchaseDaysBetween(ctx, p.TenantID, end, req.HoldoutEnd)
		if err != nil {
			return ValueModel{}, err
		}
		actual := make([]float64, len(ids))
		for i, id := range ids {
			actual[i] = float64(days[id])
		}
		t := float64(daysBetween(end, req.HoldoutEnd)) * float64(clv.Day) / float64(st.Unit)
		if m.Holdout, err = clv.CompareHoldout(m.BGNBD, cal, actual, t, 7); err != nil {
			return ValueModel{}, err
		}
	}
	progress(FitProgress{Stage: "saving"})
	if m, err = s.store.SaveValueModel(ctx, m); err != nil {
		return ValueModel{}, err
	}
	saved := m
	s.models.Store(p.TenantID, cached[*ValueModel]{value: &saved, fetched: s.now()})
	if !req.SkipReassess {
		if _, err := s.reassessAll(ctx, p.TenantID, &m, progress); err != nil {
			return ValueModel{}, err
		}
	}
	progress(FitProgress{Stage: "done"})
	return m, nil
}

// GetValueModel returns the caller's tenant's latest value model.
func (s *Service) GetValueModel(ctx context.Context) (ValueModel, error) {
	p, err := PrincipalFrom(ctx)
	if err != nil {
		return ValueModel{}, err
	}
	m, err := s.store.GetValueModel(ctx, p.TenantID)
	if errors.Is(err, ErrNotFound) {
		return ValueModel{}, fmt.Errorf("%w: no value model yet; call FitValueModel", ErrNotFound)
	}
	return m, err
}

// modelCacheTTL bounds how long a replica uses a cached model after another
// replica fitted a new one.
const modelCacheTTL = 5 * time.Second

// cached is a value of a tenant a Service keeps for modelCacheTTL.
type cached[T any] struct {
	value   T
	fetched time.Time
}

// cachedFor returns the tenant's value in m if it was fetched less than
// modelCacheTTL ago, and otherwise fetches it with load and keeps it.
func cachedFor[T any](s *Service, m *sync.Map, tenantID string, load func() (T, error)) (T, error) {
	if c, ok := m.Load(tenantID); ok && s.now().Sub(c.(cached[T]).fetched) < modelCacheTTL {
		return c.(cached[T]).value, nil
	}
	v, err := load()
	if err == nil {
		m.Store(tenantID, cached[T]{value: v, fetched: s.now()})
	}
	return v, err
}

// currentModel returns the tenant's latest value model (nil before its
// first fit), through the cache of models. The model is the caller's copy.
func (s *Service) currentModel(ctx context.Context, tenantID string) (*ValueModel, error) {
	m, err := cachedFor(s, &s.models, tenantID, func() (*ValueModel, error) {
		m, err := s.store.GetValueModel(ctx, tenantID)
		switch {
		case errors.Is(err, ErrNotFound):
			return nil, nil
		case err != nil:
			return nil, err
		}
		return &m, nil
	})
	if m == nil || err != nil {
		return nil, err
	}
	c := *m
	return &c, nil
}

// reassess re-derives the assessments of the given customers with the
// tenant's current model, e.g. after their events were recorded.
func (s *Service) reassess(ctx context.Context, tenantID string, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	m, err := s.currentModel(ctx, tenantID)
	if err != nil {
		return err
	}
	now := s.Now()
	return s.store.AssessmentInputs(ctx, tenantID, ids, now, func(in []AssessmentInput) error {
		if err := s.addOpenComplaints(ctx, tenantID, in); err != nil {
			return err
		}
		out := make([]Assessment, len(in))
		for i := range in {
			out[i] = Assess(in[i], m, now)
		}
		return s.store.PutAssessments(ctx, tenantID, out)
	})
}

// ReassessAll re-derives every assessment of a tenant with its current
// model: what the daily ageing of recency and P(alive) needs.
func (s *Service) ReassessAll(ctx context.Context, tenantID string) (int64, error) {
	m, err := s.currentModel(ctx, tenantID)
	if err != nil {
		return 0, err
	}
	return s.reassessAll(ctx, tenantID, m, func(FitProgress) {})
}

// reassessAll streams every customer's inputs from the store, assesses
// them on all cores and writes the results back, batch by batch, with the
// store's reads and writes overlapping the computation. A store that can
// rewrite the tenant's assessments whole (AssessmentRewriter) takes them
// all at once; otherwise each batch is a PutAssessments.
func (s *Service) reassessAll(ctx context.Context, tenantID string, m *ValueModel, progress func(FitProgress)) (int64, error) {
	now := s.Now()
	var done int64
	write := func(put func([]Assessment) error) error {
		var err error
		done, err = s.assessAll(ctx, tenantID, m, now, put, progress)
		return err
	}
	ok := false
	var err error
	if rw, can := s.store.(AssessmentRewriter); can {
		ok, err = rw.RewriteAssessments(ctx, tenantID, write)
	}
	if err == nil && !ok {
		err = write(func(out []Assessment) error { return s.store.PutAssessments(ctx, tenantID, out) })
	}
	if err == nil {
		err = s.refreshSegments(ctx, tenantID, nil, true, "assessment_changed")
	}
	return done, err
}

// assessAll streams every customer's inputs from the store, assesses them
// as of now on all cores and hands each batch to put, and returns how
// many it assessed.
func (s *Service) assessAll(ctx context.Context, tenantID string, m *ValueModel, now time.Time, put func([]Assessment) error,
	progress func(FitProgress)) (int64, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	batches := make(chan []AssessmentInput, 4)
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		done int64
	)
	// Customers with open complaints are few: one map for the whole run.
	open, err := s.store.OpenComplaints(ctx, tenantID, nil)
	if err != nil {
		return 0, err
	}
	workers := max(2, runtime.GOMAXPROCS(0))
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for in := range batches {
				out := make([]Assessment, len(in))
				for i := range in {
					in[i].OpenComplaints = open[in[i].CustomerID]
					out[i] = Assess(in[i], m, now)
				}
				if err := put(out); err != nil {
					cancel(err)
					continue
				}
				// progress is called under mu: callers need not be safe
				// for concurrent use (the server sends on one stream).
				mu.Lock()
				done += int64(len(out))
				progress(FitProgress{Stage: "assessing", Done: done})
				mu.Unlock()
			}
		}()
	}
	err = s.store.AssessmentInputs(ctx, tenantID, nil, now, func(in []AssessmentInput) error {
		cp := make([]AssessmentInput, len(in))
		copy(cp, in)
		select {
		case batches <- cp:
			return nil
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	})
	close(batches)
	wg.Wait()
	if cause := context.Cause(ctx); cause != nil && err == nil {
		err = cause
	}
	return done, err
}

// CustomerAssessment is a customer's assessment with what explains it.
type CustomerAssessment struct {
	Assessment  Assessment
	Input       AssessmentInput
	Model       *ValueModel // nil before the first fit
	Explanation Explanation
	// Conversion is a lead's conversion output (GetLeadConversion under
	// the tenant's default scoring model); nil for customers of any other
	// kind, and when the tenant has no scoring model.
	Conversion *LeadConversion
	// Action is the customer's next best action now, from the tenant's
	// action table over the stored facts (the assessment just stored).
	Action Action
}

// GetCustomerAssessment assesses a customer of the caller's tenant now,
// with the current model, and explains it. The stored assessment (what
// lists and segments use) is refreshed at the same time when it differs:
// the models count time in days, so within a day a read finds the stored
// assessment current and writes nothing.
func (s *Service) GetCustomerAssessment(ctx context.Context, ref CustomerRef) (CustomerAssessment, error) {
	p, err := PrincipalFrom(ctx)
	if err != nil {
		return CustomerAssessment{}, err
	}
	c, err := s.store.GetCustomer(ctx, p.TenantID, ref)
	if err != nil {
		return CustomerAssessment{}, err
	}
	m, err := s.currentModel(ctx, p.TenantID)
	if err != nil {
		return CustomerAssessment{}, err
	}
	now := s.Now()
	var out CustomerAssessment
	err = s.store.AssessmentInputs(ctx, p.TenantID, []string{c.ID}, now, func(in []AssessmentInput) error {
		if len(in) == 1 {
			out.Input = in[0]
		}
		return nil
	})
	if err != nil {
		return CustomerAssessment{}, err
	}
	in := []AssessmentInput{out.Input}
	if err := s.addOpenComplaints(ctx, p.TenantID, in); err != nil {
		return CustomerAssessment{}, err
	}
	out.Input = in[0]
	out.Model = m
	out.Assessment = Assess(out.Input, m, now)
	out.Explanation = Explain(out.Assessment, out.Input, m)
	if !sameAssessment(c.Assessment, out.Assessment) {
		if err := s.store.PutAssessments(ctx, p.TenantID, []Assessment{out.Assessment}); err != nil {
			return CustomerAssessment{}, err
		}
		// The stored assessment changed: so may the customer's segments.
		if err := s.refreshSegments(ctx, p.TenantID, []string{c.ID}, false, "assessment_changed"); err != nil {
			return CustomerAssessment{}, err
		}
	}
	if c.Kind == KindLead {
		if out.Conversion, err = s.assessmentConversion(ctx, p.TenantID, c.ID); err != nil {
			return CustomerAssessment{}, err
		}
	}
	acts, err := s.customerActions(ctx, p.TenantID, []string{c.ID})
	if err != nil {
		return CustomerAssessment{}, err
	}
	if a, ok := acts[c.ID]; ok {
		out.Action = a
	} else {
		return CustomerAssessment{}, fmt.Errorf("%w: customer %s", ErrNotFound, c.ID)
	}
	return out, nil
}

// assessmentConversion is the conversion output of lead id for its
// assessment, under the tenant's default scoring model: nil when the
// stores keep no conversion models, or when the tenant has several scoring
// models and its grading policy names none (GetLeadConversion takes the
// model then).
func (s *Service) assessmentConversion(ctx context.Context, tenantID, id string) (*LeadConversion, error) {
	cst, err := s.conversionStore()
	if err != nil {
		return nil, nil
	}
	modelID, err := s.conversionScoringModel(ctx, tenantID, "")
	switch {
	case errors.Is(err, ErrInvalid):
		return nil, nil
	case err != nil:
		return nil, err
	}
	lc, err := s.leadConversionOf(ctx, cst, tenantID, id, modelID)
	switch {
	case errors.Is(err, ErrNotFound) || (err == nil && lc.Status == LeadNotALead):
		return nil, nil
	case err != nil:
		return nil, err
	}
	return &lc, nil
}

// sameAssessment reports whether the stored assessment a (zero if none)
// equals b in everything but the time it was made.
func sameAssessment(a, b Assessment) bool {
	if a.AssessTime.IsZero() {
		return false
	}
	a.AssessTime, a.CustomerID = b.AssessTime, b.CustomerID
	return a == b
}

// AssessmentStats returns the caller's tenant's assessment distributions.
func (s *Service) AssessmentStats(ctx context.Context) (AssessmentStats, error) {
	p, err := PrincipalFrom(ctx)
	if err != nil {
		return AssessmentStats{}, err
	}
	return s.store.AssessmentStats(ctx, p.TenantID)
}

// addOpenComplaints sets each input's count of unresolved complaints, a
// churn reason (ReasonOpenComplaint).
func (s *Service) addOpenComplaints(ctx context.Context, tenantID string, in []AssessmentInput) error {
	ids := make([]string, len(in))
	for i := range in {
		ids[i] = in[i].CustomerID
	}
	open, err := s.store.OpenComplaints(ctx, tenantID, ids)
	if err != nil {
		return err
	}
	for i := range in {
		in[i].OpenComplaints = open[in[i].CustomerID]
	}
	return nil
}
