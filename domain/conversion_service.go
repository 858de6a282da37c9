package domain

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"sync"
	"time"

	"github.com/potentialhq/potential/domain/conversion"
	"github.com/potentialhq/potential/domain/rules"
)

// conversionStore returns the store's ConversionStore or an error saying
// that this store keeps no conversion models.
func (s *Service) conversionStore() (ConversionStore, error) {
	if st, ok := s.store.(ConversionStore); ok {
		return st, nil
	}
	return nil, fmt.Errorf("%w: this store keeps no conversion models", ErrFailedPrecondition)
}

// SetLeadOutcomes records explicit outcomes of leads (won or lost, and
// when), replacing earlier ones; all or nothing. Each outcome addresses
// its lead by id or external id.
func (s *Service) SetLeadOutcomes(ctx context.Context, os []LeadOutcome) error {
	p, err := PrincipalFrom(ctx)
	if err != nil {
		return err
	}
	cst, err := s.conversionStore()
	if err != nil {
		return err
	}
	if len(os) == 0 || len(os) > MaxBatch {
		return Invalid("outcomes", "must hold 1 to %d outcomes", MaxBatch)
	}
	now := s.Now()
	var v violations
	for i, o := range os {
		f := fmt.Sprintf("outcomes[%d]", i)
		validRef(&v, f+".customer", o.Customer)
		if o.Result != LeadWon && o.Result != LeadLost {
			v.add(f+".result", "must be won or lost")
		}
		if o.At.IsZero() || o.At.After(now) {
			v.add(f+".time", "required, and not in the future")
		}
	}
	if err := v.err(); err != nil {
		return err
	}
	out := make([]LeadOutcome, len(os))
	for i, o := range os {
		c, err := s.store.GetCustomer(ctx, p.TenantID, o.Customer)
		if err != nil {
			return &ItemError{Index: i, Field: fmt.Sprintf("outcomes[%d].customer", i), Err: err}
		}
		o.CustomerID, o.At = c.ID, o.At.UTC().Truncate(time.Microsecond)
		out[i] = o
	}
	return cst.SetLeadOutcomes(ctx, p.TenantID, out)
}

// TrainConversionRequest asks for a conversion model to be trained.
type TrainConversionRequest struct {
	// ScoringModelID is the scoring model whose points are a feature ("":
	// the tenant's default, see resolveModel; none if it has no model).
	ScoringModelID string
	// WindowDays is the conversion window (0: the state's window, else
	// DefaultConversionWindowDays); ObservationDays the age at which
	// labelled leads are observed (0: the state's, else
	// DefaultObservationDays; below WindowDays).
	WindowDays, ObservationDays int
}

// TrainConversionModel trains the caller's conversion model for a scoring
// model now and returns the resulting state: with too little data the
// attempt says so with the counts (not an error); a new model replaces the
// one in use only if it is not worse on validation (see trainConversion).
func (s *Service) TrainConversionModel(ctx context.Context, r TrainConversionRequest) (ConversionState, error) {
	p, err := PrincipalFrom(ctx)
	if err != nil {
		return ConversionState{}, err
	}
	if r.WindowDays < 0 || r.WindowDays > MaxConversionWindowDays {
		return ConversionState{}, Invalid("conversion_window_days", "must be 1 to %d (0 for the default)", MaxConversionWindowDays)
	}
	if r.ObservationDays < 0 || (r.ObservationDays > 0 && r.WindowDays > 0 && r.ObservationDays >= r.WindowDays) || r.ObservationDays >= MaxConversionWindowDays {
		return ConversionState{}, Invalid("observation_days", "must be below conversion_window_days (0 for the default)")
	}
	modelID, err := s.conversionScoringModel(ctx, p.TenantID, r.ScoringModelID)
	if err != nil {
		return ConversionState{}, err
	}
	return s.trainConversion(ctx, p.TenantID, modelID, r.WindowDays, r.ObservationDays)
}

// conversionScoringModel resolves the scoring model of a conversion model:
// "" when the tenant has none and none was asked for.
func (s *Service) conversionScoringModel(ctx context.Context, tenantID, id string) (string, error) {
	st, err := s.scoringStore()
	if err != nil {
		return "", err
	}
	m, err := s.resolveModel(ctx, st, tenantID, id)
	switch {
	case err == nil:
		return m.ID, nil
	case id == "" && errors.Is(err, ErrNotFound):
		return "", nil
	}
	return "", err
}

// RetrainConversionModels retrains every conversion model the tenant has
// (one per scoring model it was ever trained for, with that model's
// window) and returns how many it retrained. Each new fit is used only if
// it is not worse on its validation leads than the model in use, so a
// scheduler can call this as often as it likes (daily is plenty); a tenant
// that never trained a conversion model is left alone. It takes no
// principal: the caller is trusted with tenantID.
func (s *Service) RetrainConversionModels(ctx context.Context, tenantID string) (int, error) {
	cst, err := s.conversionStore()
	if err != nil {
		return 0, err
	}
	states, err := cst.ListConversionStates(ctx, tenantID)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, st := range states {
		if _, err := s.trainConversion(ctx, tenantID, st.ScoringModelID, st.WindowDays, st.ObservationDays); err != nil {
			if errors.Is(err, ErrNotFound) { // the scoring model was deleted
				continue
			}
			return n, err
		}
		n++
	}
	return n, nil
}

// loadLeadHistories reads the histories of the tenant's customers (ids:
// those; nil: all), calling keep to decide which to retain.
func (s *Service) loadLeadHistories(ctx context.Context, tenantID string, ids []string, keep func(*LeadHistory) bool) ([]*LeadHistory, error) {
	st, err := s.scoringStore()
	if err != nil {
		return nil, err
	}
	cst, err := s.conversionStore()
	if err != nil {
		return nil, err
	}
	outcomes, err := cst.LeadOutcomes(ctx, tenantID, ids)
	if err != nil {
		return nil, err
	}
	quals, err := cst.QualificationHistory(ctx, tenantID, ids)
	if err != nil {
		return nil, err
	}
	var (
		mu  sync.Mutex
		out []*LeadHistory
	)
	q := ScoringQuery{CustomerIDs: ids, All: ids == nil, Events: true}
	err = st.ReadScoring(ctx, tenantID, q, func(b *ScoringBatch) error {
		local := make([]*LeadHistory, 0, len(b.Customers))
		for i := range b.Customers {
			in := &b.Customers[i]
			h := &LeadHistory{Customer: in.Customer, Events: in.Events, Ledger: in.Ledger, Qualifications: quals[in.Customer.ID]}
			if o, ok := outcomes[in.Customer.ID]; ok {
				h.Outcome = &o
			}
			if keep(h) {
				local = append(local, h)
			}
		}
		mu.Lock()
		out = append(out, local...)
		mu.Unlock()
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Customer.ID < out[j].Customer.ID })
	return out, nil
}

// LabelledLead is a lead of a training set: its labelling and the values
// of its features at its cut-off.
type LabelledLead struct {
	CustomerID string
	Labelling
	Features []float64
}

// ConversionDataset returns the labelled leads (converted or lost) of a
// tenant with a window and an observation age, each with the values of the
// named features (nil: every base feature) at its cut-off, by customer id,
// and the names used. It is what trainConversion learns from, exposed for
// diagnostics and the leakage tests.
func (s *Service) ConversionDataset(ctx context.Context, tenantID, scoringModelID string, windowDays, observationDays int, names []string) ([]LabelledLead, []string, error) {
	if names == nil {
		names = baseFeatures
	}
	window, obs := days(windowDays), days(observationDays)
	now := s.Now()
	hs, err := s.loadLeadHistories(ctx, tenantID, nil, func(h *LeadHistory) bool {
		l := LabelLead(h, window, obs, now).Label
		return l == LabelConverted || l == LabelLost
	})
	if err != nil {
		return nil, nil, err
	}
	out := make([]LabelledLead, len(hs))
	for i, h := range hs {
		l := LabelLead(h, window, obs, now)
		out[i] = LabelledLead{CustomerID: h.Customer.ID, Labelling: l, Features: LeadFeatures(h, names, l.Cutoff, scoringModelID)}
	}
	return out, names, nil
}

func days(n int) time.Duration { return time.Duration(n) * 24 * time.Hour }

// trainConversion trains the (tenant, scoring model) conversion model:
//  1. label every lead (LabelLead) with the window and observation age
//     (0: the stored state's, else the defaults);
//  2. with fewer than MinConvertedLeads converted or MinLostLeads lost,
//     record an insufficient-data attempt with the counts and stop;
//  3. split by observation time: the latest quarter of cut-offs validates;
//  4. fit conversion.Fit on the training leads' features at their
//     cut-offs, and evaluate it on the validation leads;
//  5. evaluate the model in use (if any) on the same validation leads,
//     with its own features; the new model replaces it only if its Brier
//     score there is not higher (the Brier score is a strictly proper
//     scoring rule: it rewards calibration and discrimination together).
func (s *Service) trainConversion(ctx context.Context, tenantID, modelID string, windowDays, obsDays int) (ConversionState, error) {
	cst, err := s.conversionStore()
	if err != nil {
		return ConversionState{}, err
	}
	state, err := cst.GetConversionState(ctx, tenantID, modelID)
	switch {
	case errors.Is(err, ErrNotFound):
		state = ConversionState{TenantID: tenantID, ScoringModelID: modelID}
	case err != nil:
		return ConversionState{}, err
	}
	if windowDays == 0 {
		windowDays = state.WindowDays
	}
	if windowDays == 0 {
		windowDays = DefaultConversionWindowDays
	}
	if obsDays == 0 {
		obsDays = state.ObservationDays
	}
	if obsDays == 0 {
		obsDays = DefaultObservationDays
	}
	if obsDays >= windowDays {
		return ConversionState{}, Invalid("observation_days", "must be below conversion_window_days (%d)", windowDays)
	}
	if (windowDays != state.WindowDays || obsDays != state.ObservationDays) && state.Current != nil {
		// A model of another window or age answers another question:
		// the new one is not compared with it.
		state.Current = nil
	}
	state.WindowDays, state.ObservationDays = windowDays, obsDays
	window, obs := days(windowDays), days(obsDays)
	now := s.Now()

	type row struct {
		h   *LeadHistory
		y   float64
		cut time.Time
	}
	var rows []row
	var open []*LeadHistory // the leads a model in use scores
	attempt := ConversionAttempt{Time: now}
	if _, err := s.loadLeadHistories(ctx, tenantID, nil, func(h *LeadHistory) bool {
		l := LabelLead(h, window, obs, now)
		if scorable(h, l.Label) {
			open = append(open, h)
		}
		switch l.Label {
		case LabelConverted:
			attempt.Converted++
			rows = append(rows, row{h, 1, l.Cutoff})
		case LabelLost:
			attempt.Lost++
			rows = append(rows, row{h, 0, l.Cutoff})
		case LabelEarly:
			attempt.DecidedEarly++
		case LabelOpen:
			attempt.Open++
		}
		return false
	}); err != nil {
		return ConversionState{}, err
	}
	// save stores the state, then the scores of the open leads under the
	// model in use (none without one), for ListTopCustomers.
	save := func() (ConversionState, error) {
		state.LastAttempt = attempt
		if err := cst.SaveConversionState(ctx, state); err != nil {
			return ConversionState{}, err
		}
		var scores []LeadScore
		if fit := state.Current; fit != nil {
			fs := CompileFeatures(fit.FeatureNames())
			x := make([]float64, len(fs.Names))
			scratch := make([]float64, len(baseFeatures))
			scores = make([]LeadScore, len(open))
			for i, h := range open {
				fs.Values(x, scratch, h, now, modelID)
				p, _ := fit.Probability(x)
				scores[i] = LeadScore{CustomerID: h.Customer.ID, Probability: p, Band: BandOf(p), FitID: fit.ID, At: now}
			}
		}
		if err := cst.ReplaceLeadScores(ctx, tenantID, modelID, scores); err != nil {
			return ConversionState{}, err
		}
		return state, s.conversionChanged(ctx, tenantID)
	}
	insufficient := func(reason string) (ConversionState, error) {
		attempt.Result, attempt.Reason = AttemptInsufficientData, reason
		return save()
	}
	if attempt.Converted < MinConvertedLeads || attempt.Lost < MinLostLeads {
		return insufficient(fmt.Sprintf("%d converted and %d lost leads (open %d days after their start); at least %d converted and %d lost are needed",
			attempt.Converted, attempt.Lost, obsDays, MinConvertedLeads, MinLostLeads))
	}
	// Order rows by cut-off, then id, so that the split and the fit are
	// deterministic whatever order ReadScoring delivered them in.
	sort.Slice(rows, func(i, j int) bool {
		if !rows[i].cut.Equal(rows[j].cut) {
			return rows[i].cut.Before(rows[j].cut)
		}
		return rows[i].h.Customer.ID < rows[j].h.Customer.ID
	})
	k := len(rows) * 3 / 4
	split := rows[k].cut
	for k > 0 && !rows[k-1].cut.Before(split) {
		k--
	}
	train, val := rows[:k], rows[k:]
	count := func(rs []row) (c, l int) {
		for _, r := range rs {
			if r.y == 1 {
				c++
			} else {
				l++
			}
		}
		return c, l
	}
	tc, tl := count(train)
	vc, vl := count(val)
	if tc == 0 || tl == 0 || vc == 0 || vl == 0 {
		return insufficient(fmt.Sprintf("training has %d converted and %d lost, validation %d and %d; both need some of each", tc, tl, vc, vl))
	}
	hs := make([]*LeadHistory, len(train))
	for i, r := range train {
		hs[i] = r.h
	}
	names := conversionSpec(hs)
	design := func(rs []row, names []string) *conversion.Data {
		fs := CompileFeatures(names)
		scratch := make([]float64, len(baseFeatures))
		d := &conversion.Data{X: make([]float64, len(rs)*len(names)), Y: make([]float64, len(rs)), N: len(rs), P: len(names)}
		for i, r := range rs {
			fs.Values(d.Row(i), scratch, r.h, r.cut, modelID)
			d.Y[i] = r.y
		}
		return d
	}
	m, err := conversion.Fit(design(train, names), conversion.Options{})
	if err != nil {
		return insufficient(fmt.Sprintf("the training leads cannot be fitted: %v", err))
	}
	fit := &ConversionFit{ID: NewID(), TrainTime: now, SplitTime: split, TrainConverted: tc, TrainLost: tl,
		ValidationConverted: vc, ValidationLost: vl, Intercept: m.Intercept, Lambda: conversion.DefaultLambda,
		Iterations: m.Iterations, Converged: m.Converged}
	for j, n := range names {
		fit.Features = append(fit.Features, FeatureWeight{Name: n, Weight: m.Weights[j], Mean: m.Mean[j], Scale: m.Scale[j]})
	}
	valData := design(val, names)
	fit.Validation, err = evaluateFit(fit, valData)
	if err != nil {
		return ConversionState{}, err
	}
	attempt.Candidate = fit
	attempt.Result, attempt.Reason = AttemptInstalled, "first model"
	if cur := state.Current; cur != nil {
		curMetrics, err := evaluateFit(cur, design(val, cur.FeatureNames()))
		if err != nil {
			return ConversionState{}, err
		}
		attempt.CurrentOnValidation = &curMetrics
		if fit.Validation.Brier <= curMetrics.Brier {
			attempt.Reason = fmt.Sprintf("validation Brier score %.4f is not worse than the current model's %.4f", fit.Validation.Brier, curMetrics.Brier)
		} else {
			attempt.Result = AttemptKeptCurrent
			attempt.Reason = fmt.Sprintf("validation Brier score %.4f is worse than the current model's %.4f", fit.Validation.Brier, curMetrics.Brier)
		}
	}
	if attempt.Result == AttemptInstalled {
		state.Current = fit
	}
	return save()
}

// scorable reports whether lead h, labelled l, gets a probability: a lead
// without a conversion (no order, not won) and not explicitly lost, open
// or past its window.
func scorable(h *LeadHistory, l LeadLabel) bool {
	switch l {
	case LabelOpen:
		return true
	case LabelLost:
		return h.Outcome == nil && firstOrderTime(h).IsZero()
	}
	return false
}

// evaluateFit measures fit on d (built with fit's features).
func evaluateFit(fit *ConversionFit, d *conversion.Data) (ConversionMetrics, error) {
	p := make([]float64, d.N)
	for i := range p {
		p[i], _ = fit.Probability(d.Row(i))
	}
	e, err := conversion.Evaluate(p, d.Y)
	if err != nil {
		return ConversionMetrics{}, err
	}
	out := ConversionMetrics{AUC: e.AUC, Brier: e.Brier, LogLoss: e.LogLoss}
	for _, b := range e.Calibration {
		out.Calibration = append(out.Calibration, CalibrationRow{Decile: b.Decile, Count: b.Count, MeanPredicted: b.MeanPredicted, ObservedRate: b.ObservedRate})
	}
	if math.IsNaN(out.AUC) {
		out.AUC = 0
	}
	return out, nil
}

// GetConversionModel returns the caller's conversion state for a scoring
// model ("": the default); ErrNotFound if it was never trained.
func (s *Service) GetConversionModel(ctx context.Context, scoringModelID string) (ConversionState, error) {
	p, err := PrincipalFrom(ctx)
	if err != nil {
		return ConversionState{}, err
	}
	cst, err := s.conversionStore()
	if err != nil {
		return ConversionState{}, err
	}
	modelID, err := s.conversionScoringModel(ctx, p.TenantID, scoringModelID)
	if err != nil {
		return ConversionState{}, err
	}
	st, err := cst.GetConversionState(ctx, p.TenantID, modelID)
	if errors.Is(err, ErrNotFound) {
		return ConversionState{}, fmt.Errorf("%w: no conversion model trained yet; call TrainConversionModel", ErrNotFound)
	}
	return st, err
}

// GetLeadConversion returns a lead's conversion output now: with a model
// in use, an open lead's probability, band and top factors; else the
// status says why there is none (and the state's counts say how much data
// there is), and the lead keeps its rule score (Points).
func (s *Service) GetLeadConversion(ctx context.Context, ref CustomerRef, scoringModelID string) (LeadConversion, error) {
	p, err := PrincipalFrom(ctx)
	if err != nil {
		return LeadConversion{}, err
	}
	cst, err := s.conversionStore()
	if err != nil {
		return LeadConversion{}, err
	}
	modelID, err := s.conversionScoringModel(ctx, p.TenantID, scoringModelID)
	if err != nil {
		return LeadConversion{}, err
	}
	c, err := s.store.GetCustomer(ctx, p.TenantID, ref)
	if err != nil {
		return LeadConversion{}, err
	}
	return s.leadConversionOf(ctx, cst, p.TenantID, c.ID, modelID)
}

// leadConversionOf is GetLeadConversion for customer id of the tenant under
// the resolved scoring model modelID.
func (s *Service) leadConversionOf(ctx context.Context, cst ConversionStore, tenantID, id, modelID string) (LeadConversion, error) {
	st, err := cst.GetConversionState(ctx, tenantID, modelID)
	switch {
	case errors.Is(err, ErrNotFound):
		st = ConversionState{TenantID: tenantID, ScoringModelID: modelID, WindowDays: DefaultConversionWindowDays, ObservationDays: DefaultObservationDays}
	case err != nil:
		return LeadConversion{}, err
	}
	hs, err := s.loadLeadHistories(ctx, tenantID, []string{id}, func(*LeadHistory) bool { return true })
	if err != nil {
		return LeadConversion{}, err
	}
	if len(hs) == 0 {
		return LeadConversion{}, fmt.Errorf("%w: customer %s", ErrNotFound, id)
	}
	return leadConversion(hs[0], &st, s.Now()), nil
}

// leadConversion is the output of lead h at now under state st.
func leadConversion(h *LeadHistory, st *ConversionState, now time.Time) LeadConversion {
	out := LeadConversion{CustomerID: h.Customer.ID, State: *st}
	if st.ScoringModelID != "" {
		out.Points = ScoreAt(h.Ledger, st.ScoringModelID, now)
	}
	label := LabelLead(h, days(max(st.WindowDays, 1)), days(st.ObservationDays), now).Label
	switch {
	case label == LabelNotLead:
		out.Status = LeadNotALead
	case label == LabelConverted || (h.Outcome == nil && !firstOrderTime(h).IsZero()) || (h.Outcome != nil && h.Outcome.Result == LeadWon):
		out.Status = LeadConverted
	case h.Outcome != nil && h.Outcome.Result == LeadLost:
		out.Status = LeadClosedLost
	case st.Current == nil:
		out.Status = LeadNoModel
	default:
		// Open, or past the window with no outcome: scored as it is now.
		sc := ScoreLead(st.Current, CompileFeatures(st.Current.FeatureNames()), h, now, st.ScoringModelID)
		out.Status, out.Probability, out.Band, out.ModelID = LeadScored, sc.Probability, sc.Band, sc.ModelID
		out.Positive, out.Negative = sc.Positive, sc.Negative
	}
	return out
}

func firstOrderTime(h *LeadHistory) time.Time {
	for i := range h.Events {
		if h.Events[i].Kind == EventKindOrder {
			return h.Events[i].At
		}
	}
	return time.Time{}
}

// ConversionSpecOf returns the feature names a model trained on leads
// would have (baseFeatures and the frequent categories).
func ConversionSpecOf(leads []*LeadHistory) []string { return conversionSpec(leads) }

// ScoreLead scores lead h at now with fit (whose features are names): the
// probability, band and top factors of an open lead.
func ScoreLead(fit *ConversionFit, fs *FeatureSet, h *LeadHistory, now time.Time, modelID string) LeadConversion {
	names := fs.Names
	x := make([]float64, len(names))
	fs.Values(x, nil, h, now, modelID)
	p, contrib := fit.Probability(x)
	out := LeadConversion{CustomerID: h.Customer.ID, Status: LeadScored, Probability: p, Band: BandOf(p), ModelID: fit.ID}
	out.Positive, out.Negative = topFactors(names, x, contrib)
	return out
}

// conversionChanged re-evaluates what reads the stored lead scores after a
// training run replaced them: over every customer, the dynamic segments
// whose rules read `conversion` or `action` (the default action table's
// hot-lead rule reads it); then every grade, when a fit criterion of the
// grading policy reads `conversion` (the customers whose grade changes
// are re-evaluated in every segment). Nothing is read beyond the segments
// and the policy when no rule reads the scores.
func (s *Service) conversionChanged(ctx context.Context, tenantID string) error {
	if err := s.refreshSegmentsUsing(ctx, tenantID, "conversion_changed", func(r *rules.SegmentRule) bool {
		return r.UsesConversion() || r.UsesAction()
	}); err != nil {
		return err
	}
	st := s.scoring()
	if st == nil {
		return nil
	}
	pol, err := st.GetGradingPolicy(ctx, tenantID)
	switch {
	case errors.Is(err, ErrNotFound):
		return nil
	case err != nil:
		return err
	}
	for _, f := range pol.Fit {
		if c, err := compileFitCondition(f.Condition); err == nil && c.UsesConversion() {
			return s.refreshAll(ctx, tenantID, false, CauseConversionChanged)
		}
	}
	return nil
}
