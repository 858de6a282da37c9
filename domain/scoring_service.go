package domain

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
)

// scoring returns the store's ScoringStore, or nil if it has none.
func (s *Service) scoring() ScoringStore {
	if st, ok := s.store.(ScoringStore); ok {
		return st
	}
	return nil
}

// scoringStore returns the store's ScoringStore or an error saying that
// this store keeps no scores.
func (s *Service) scoringStore() (ScoringStore, error) {
	st := s.scoring()
	if st == nil {
		return nil, fmt.Errorf("%w: this store keeps no scores", ErrFailedPrecondition)
	}
	return st, nil
}

// CreateScoringModel creates a named scoring model (a rule set with a
// score of its own) in the caller's tenant.
func (s *Service) CreateScoringModel(ctx context.Context, m ScoringModel) (ScoringModel, error) {
	p, err := PrincipalFrom(ctx)
	if err != nil {
		return ScoringModel{}, err
	}
	st, err := s.scoringStore()
	if err != nil {
		return ScoringModel{}, err
	}
	m.Name, m.Description = strings.TrimSpace(m.Name), strings.TrimSpace(m.Description)
	if err := m.Validate(); err != nil {
		return ScoringModel{}, err
	}
	existing, err := st.ListScoringModels(ctx, p.TenantID)
	if err != nil {
		return ScoringModel{}, err
	}
	if len(existing) >= MaxScoringModels {
		return ScoringModel{}, fmt.Errorf("%w: a tenant has at most %d scoring models", ErrFailedPrecondition, MaxScoringModels)
	}
	m.ID, m.TenantID, m.CreateTime, m.Revision, m.ScoredRevision = NewID(), p.TenantID, s.Now(), 0, 0
	out, err := st.CreateScoringModel(ctx, m)
	if errors.Is(err, ErrConflict) {
		return ScoringModel{}, fmt.Errorf("%w: a scoring model named %q exists", ErrConflict, m.Name)
	}
	return out, err
}

// GetScoringModel returns a scoring model of the caller's tenant.
func (s *Service) GetScoringModel(ctx context.Context, id string) (ScoringModel, error) {
	p, err := PrincipalFrom(ctx)
	if err != nil {
		return ScoringModel{}, err
	}
	st, err := s.scoringStore()
	if err != nil {
		return ScoringModel{}, err
	}
	return st.GetScoringModel(ctx, p.TenantID, id)
}

// ListScoringModels returns the caller's scoring models by name.
func (s *Service) ListScoringModels(ctx context.Context) ([]ScoringModel, error) {
	p, err := PrincipalFrom(ctx)
	if err != nil {
		return nil, err
	}
	st, err := s.scoringStore()
	if err != nil {
		return nil, err
	}
	return st.ListScoringModels(ctx, p.TenantID)
}

// DeleteScoringModel deletes a model with its rules and ledger. The model
// the grading policy takes engagement from cannot be deleted.
func (s *Service) DeleteScoringModel(ctx context.Context, id string) error {
	p, err := PrincipalFrom(ctx)
	if err != nil {
		return err
	}
	st, err := s.scoringStore()
	if err != nil {
		return err
	}
	m, err := st.GetScoringModel(ctx, p.TenantID, id)
	if err != nil {
		return err
	}
	pol, err := st.GetGradingPolicy(ctx, p.TenantID)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return err
	}
	if err == nil && pol.EngagementModelID == m.ID {
		return fmt.Errorf("%w: the grading policy (v%d) takes engagement from this model; change the policy first", ErrFailedPrecondition, pol.Version)
	}
	if err := st.DeleteScoringModel(ctx, p.TenantID, m.ID); err != nil {
		return err
	}
	return s.audit(ctx, "scoring_model.delete", "scoring_model", m.ID, m, nil)
}

// CreateScoringRule validates and stores a new rule, then re-scores every
// customer from the stored events and re-grades them (see applyRuleChange).
func (s *Service) CreateScoringRule(ctx context.Context, r ScoringRule) (ScoringRule, error) {
	p, err := PrincipalFrom(ctx)
	if err != nil {
		return ScoringRule{}, err
	}
	st, err := s.scoringStore()
	if err != nil {
		return ScoringRule{}, err
	}
	r.Normalize()
	if err := r.Validate(); err != nil {
		return ScoringRule{}, err
	}
	if err := s.checkRuleRoom(ctx, st, p.TenantID, r.ModelID); err != nil {
		return ScoringRule{}, err
	}
	now := s.Now()
	r.ID, r.TenantID, r.Version, r.CreateTime, r.UpdateTime = NewID(), p.TenantID, 1, now, now
	out, rev, err := st.CreateScoringRule(ctx, r)
	if err != nil {
		return ScoringRule{}, err
	}
	if err := s.audit(ctx, "scoring_rule.create", "scoring_rule", out.ID, nil, out); err != nil {
		return ScoringRule{}, err
	}
	return out, s.applyRuleChange(ctx, p.TenantID, out.ModelID, rev)
}

// checkRuleRoom reports ErrNotFound for a missing model and
// ErrFailedPrecondition for a full one.
func (s *Service) checkRuleRoom(ctx context.Context, st ScoringStore, tenantID, modelID string) error {
	if _, err := uuid.Parse(modelID); err != nil {
		return Invalid("rule.model_id", "must be a UUID")
	}
	if _, err := st.GetScoringModel(ctx, tenantID, modelID); err != nil {
		if errors.Is(err, ErrNotFound) {
			return fmt.Errorf("%w: scoring model %q", ErrNotFound, modelID)
		}
		return err
	}
	rs, err := st.ListScoringRules(ctx, tenantID, modelID)
	if err != nil {
		return err
	}
	if len(rs) >= MaxRulesPerModel {
		return fmt.Errorf("%w: a scoring model has at most %d rules", ErrFailedPrecondition, MaxRulesPerModel)
	}
	return nil
}

// GetScoringRule returns a rule of the caller's tenant.
func (s *Service) GetScoringRule(ctx context.Context, id string) (ScoringRule, error) {
	p, err := PrincipalFrom(ctx)
	if err != nil {
		return ScoringRule{}, err
	}
	st, err := s.scoringStore()
	if err != nil {
		return ScoringRule{}, err
	}
	return st.GetScoringRule(ctx, p.TenantID, id)
}

// ScoringRuleVersions returns every version of a rule, oldest first; a
// deleted rule's last version has DeleteTime set.
func (s *Service) ScoringRuleVersions(ctx context.Context, id string) ([]ScoringRule, error) {
	p, err := PrincipalFrom(ctx)
	if err != nil {
		return nil, err
	}
	st, err := s.scoringStore()
	if err != nil {
		return nil, err
	}
	return st.ScoringRuleVersions(ctx, p.TenantID, id)
}

// ListScoringRules returns the rules of model modelID, or of every model
// when modelID is "".
func (s *Service) ListScoringRules(ctx context.Context, modelID string) ([]ScoringRule, error) {
	p, err := PrincipalFrom(ctx)
	if err != nil {
		return nil, err
	}
	st, err := s.scoringStore()
	if err != nil {
		return nil, err
	}
	if modelID != "" {
		if _, err := st.GetScoringModel(ctx, p.TenantID, modelID); err != nil {
			return nil, err
		}
	}
	return st.ListScoringRules(ctx, p.TenantID, modelID)
}

// UpdateScoringRule applies mutate to the stored rule id and saves it as
// its next version (only at that etag, when given), then re-scores and
// re-grades every customer. A rule cannot move to another model.
func (s *Service) UpdateScoringRule(ctx context.Context, id, etag string, mutate func(*ScoringRule) error) (ScoringRule, error) {
	p, err := PrincipalFrom(ctx)
	if err != nil {
		return ScoringRule{}, err
	}
	st, err := s.scoringStore()
	if err != nil {
		return ScoringRule{}, err
	}
	cur, next, err := s.proposeRuleUpdate(ctx, st, p.TenantID, id, etag, mutate)
	if err != nil {
		return ScoringRule{}, err
	}
	if SameRule(&cur, &next) {
		return cur, nil
	}
	next.UpdateTime = s.Now()
	out, rev, err := st.UpdateScoringRule(ctx, next)
	if err != nil {
		return ScoringRule{}, err
	}
	if err := s.audit(ctx, "scoring_rule.update", "scoring_rule", out.ID, cur, out); err != nil {
		return ScoringRule{}, err
	}
	return out, s.applyRuleChange(ctx, p.TenantID, out.ModelID, rev)
}

// proposeRuleUpdate returns the stored rule and what mutate makes of it,
// validated.
func (s *Service) proposeRuleUpdate(ctx context.Context, st ScoringStore, tenantID, id, etag string, mutate func(*ScoringRule) error) (cur, next ScoringRule, err error) {
	cur, err = st.GetScoringRule(ctx, tenantID, id)
	if err != nil {
		return cur, next, err
	}
	if etag != "" {
		want, err := parseETag(etag)
		if err != nil {
			return cur, next, err
		}
		if want != cur.Version {
			return cur, next, fmt.Errorf("%w: rule is at %s, not %s", ErrStale, ETag(cur.Version), etag)
		}
	}
	next = cur
	if err := mutate(&next); err != nil {
		return cur, next, err
	}
	next.Normalize()
	if next.ModelID != cur.ModelID {
		return cur, next, Invalid("rule.model_id", "a rule cannot move to another model; create a new rule there")
	}
	if err := next.Validate(); err != nil {
		return cur, next, err
	}
	next.ID, next.TenantID, next.Version, next.CreateTime = cur.ID, cur.TenantID, cur.Version, cur.CreateTime
	return cur, next, nil
}

// DeleteScoringRule deletes a rule (only at that etag, when given), then
// re-scores and re-grades every customer: the rule's points leave every
// ledger.
func (s *Service) DeleteScoringRule(ctx context.Context, id, etag string) error {
	p, err := PrincipalFrom(ctx)
	if err != nil {
		return err
	}
	st, err := s.scoringStore()
	if err != nil {
		return err
	}
	var want int64
	if etag != "" {
		if want, err = parseETag(etag); err != nil {
			return err
		}
	}
	old, rev, err := st.DeleteScoringRule(ctx, p.TenantID, id, want, s.Now())
	if err != nil {
		return err
	}
	if err := s.audit(ctx, "scoring_rule.delete", "scoring_rule", old.ID, old, nil); err != nil {
		return err
	}
	return s.applyRuleChange(ctx, p.TenantID, old.ModelID, rev)
}

// applyRuleChange re-scores every customer of the tenant from the stored
// events with the current rules, re-grades everyone (re-calibrating
// percentile thresholds), and marks the model scored at revision. If it is
// interrupted, the model stays marked stale until RescoreStale or the next
// rule change finishes the work.
func (s *Service) applyRuleChange(ctx context.Context, tenantID, modelID string, revision int64) error {
	if err := s.refreshAll(ctx, tenantID, true, CauseRulesChanged); err != nil {
		return err
	}
	return s.scoring().MarkScored(ctx, tenantID, modelID, revision)
}

// RescoreStale finishes the re-scoring of every model of the tenant whose
// ledgers are older than its rules (an interrupted rule change); a no-op
// when all are current.
func (s *Service) RescoreStale(ctx context.Context, tenantID string) error {
	st := s.scoring()
	if st == nil {
		return nil
	}
	ms, err := st.ListScoringModels(ctx, tenantID)
	if err != nil {
		return err
	}
	var stale []ScoringModel
	for _, m := range ms {
		if m.ScoredRevision < m.Revision {
			stale = append(stale, m)
		}
	}
	if len(stale) == 0 {
		return nil
	}
	if err := s.refreshAll(ctx, tenantID, true, CauseRulesChanged); err != nil {
		return err
	}
	for _, m := range stale {
		if err := st.MarkScored(ctx, tenantID, m.ID, m.Revision); err != nil {
			return err
		}
	}
	return nil
}

// RegradeAll re-grades every customer of the tenant now, re-calibrating
// percentile thresholds: the engagement component changes as points
// expire, without any event, so a daily run keeps grades current.
func (s *Service) RegradeAll(ctx context.Context, tenantID string) error {
	if s.scoring() == nil {
		return nil
	}
	return s.refreshAll(ctx, tenantID, false, CauseRegrade)
}

// refreshAll re-grades (and, with rescore, first re-scores from the events)
// every customer of the tenant. Under percentile thresholds it first reads
// everyone to calibrate the cuts, and grades with them.
func (s *Service) refreshAll(ctx context.Context, tenantID string, rescore bool, cause GradeCause) error {
	st := s.scoring()
	now := s.Now()
	q := ScoringQuery{All: true, Events: rescore}
	cuts, err := s.calibrate(ctx, st, tenantID, q, nil, nil, now)
	if err != nil {
		return err
	}
	var mu sync.Mutex
	var changed []string
	err = st.UpdateScoring(ctx, tenantID, q, func(b *ScoringBatch) ([]ScoringUpdate, error) {
		ups, err := evaluate(b, rescore, cuts, now, cause)
		mu.Lock()
		for i := range ups {
			if ups[i].Grade != nil {
				changed = append(changed, ups[i].CustomerID)
			}
		}
		mu.Unlock()
		return ups, err
	})
	if err != nil {
		return err
	}
	// Only the customers whose grade changed can change segments.
	return s.refreshSegments(ctx, tenantID, changed, false, "grade_changed")
}

// calibration is the outcome of calibrate: the cuts to grade with, for the
// policy version they were computed for.
type calibration struct {
	version int64
	cuts    []float64
}

// calibrate computes the cuts of the tenant's policy (or of override, when
// not nil) over every customer read by q, with the ledgers recomputed under
// rules (when not nil) or as stored, and stores them for the tenant's own
// policy. Under absolute thresholds it returns nil without reading.
func (s *Service) calibrate(ctx context.Context, st ScoringStore, tenantID string, q ScoringQuery, override *GradingPolicy, ruleOverride []ScoringRule, now time.Time) (*calibration, error) {
	var pol GradingPolicy
	switch {
	case override != nil:
		pol = *override
	default:
		p, err := st.GetGradingPolicy(ctx, tenantID)
		switch {
		case errors.Is(err, ErrNotFound):
			p = DefaultGradingPolicy()
		case err != nil:
			return nil, err
		}
		pol = p
	}
	if pol.Thresholds != ThresholdsPercentile {
		return nil, nil
	}
	g, err := newGrader(&pol, pol.Cutoffs) // any cuts: only composites are used
	if err != nil {
		return nil, err
	}
	var mu sync.Mutex
	var composites []float64
	err = st.ReadScoring(ctx, tenantID, q, func(b *ScoringBatch) error {
		rs := b.Rules
		if ruleOverride != nil {
			rs = ruleOverride
		}
		set, err := CompileRules(rs)
		if err != nil {
			return err
		}
		local := make([]float64, 0, len(b.Customers))
		for i := range b.Customers {
			in := &b.Customers[i]
			ledger := in.Ledger
			if q.Events {
				ledger = Award(set, &in.Customer, in.Events)
			}
			gp := g.components(&in.Customer, ScoreAt(ledger, pol.EngagementModelID, now), in.LeadScores, now)
			local = append(local, gp.composite)
		}
		mu.Lock()
		composites = append(composites, local...)
		mu.Unlock()
		return nil
	})
	if err != nil {
		return nil, err
	}
	cal := &calibration{version: pol.Version, cuts: Calibrate(pol.Cutoffs, composites)}
	if override == nil && pol.Version > 0 {
		if err := st.SetGradingCuts(ctx, tenantID, pol.Version, cal.cuts, now); err != nil && !errors.Is(err, ErrStale) {
			return nil, err
		}
	}
	return cal, nil
}

// evaluate computes the updates of one batch: with rescore, each
// customer's ledger from its events under the batch's rules; then its
// grade under the batch's policy (with the calibrated cuts when they were
// computed for that policy version), recording a change when the grade
// differs from the stored one.
func evaluate(b *ScoringBatch, rescore bool, cal *calibration, now time.Time, cause GradeCause) ([]ScoringUpdate, error) {
	set, err := CompileRules(b.Rules)
	if err != nil {
		return nil, err
	}
	pol := b.Policy
	if !b.HasPolicy {
		pol = DefaultGradingPolicy()
	}
	var cuts []float64
	if cal != nil && cal.version == pol.Version {
		cuts = cal.cuts
	}
	g, err := newGrader(&pol, cuts)
	if err != nil {
		return nil, err
	}
	out := make([]ScoringUpdate, 0, len(b.Customers))
	for i := range b.Customers {
		in := &b.Customers[i]
		up := ScoringUpdate{CustomerID: in.Customer.ID}
		ledger := in.Ledger
		if rescore {
			ledger = Award(set, &in.Customer, in.Events)
			up.SetLedger, up.Ledger = true, ledger
		}
		grade, parts := g.grade(&in.Customer, ScoreAt(ledger, pol.EngagementModelID, now), in.LeadScores, now)
		if !sameGrade(&in.Grade, &grade) {
			up.Grade = &grade
		}
		if in.Grade.Grade != grade.Grade {
			up.Change = &GradeChange{
				ID: NewID(), CustomerID: in.Customer.ID, From: in.Grade.Grade, To: grade.Grade, Time: now,
				PolicyVersion: pol.Version, Cause: cause, Reason: g.explain(parts),
			}
		}
		out = append(out, up)
	}
	return out, nil
}

// sameGrade reports whether two grades agree on everything but their time.
func sameGrade(a, b *CustomerGrade) bool {
	return a.Grade == b.Grade && a.Rank == b.Rank && a.Composite == b.Composite && a.Value == b.Value &&
		a.Engagement == b.Engagement && a.Fit == b.Fit && a.PolicyVersion == b.PolicyVersion
}

// refreshCustomers re-scores the given customers from their events and
// re-grades them: what recording events, creating and updating customers
// need.
func (s *Service) refreshCustomers(ctx context.Context, tenantID string, ids []string, cause GradeCause) error {
	st := s.scoring()
	if st == nil || len(ids) == 0 {
		return nil
	}
	now := s.Now()
	err := st.UpdateScoring(ctx, tenantID, ScoringQuery{CustomerIDs: ids, Events: true}, func(b *ScoringBatch) ([]ScoringUpdate, error) {
		return evaluate(b, true, nil, now, cause)
	})
	if err != nil {
		return err
	}
	// The customers' events, assessments and grades are current: move
	// them between segments.
	segCause := "customer_changed"
	if cause == CauseEvents {
		segCause = "events_recorded"
	}
	return s.refreshSegments(ctx, tenantID, ids, false, segCause)
}

// scoreEvents awards the points of newly recorded events and re-grades
// their customers (ids: every customer the batch referred to).
func (s *Service) scoreEvents(ctx context.Context, tenantID string, ids []string) error {
	return s.refreshCustomers(ctx, tenantID, ids, CauseEvents)
}

// scoreNewCustomers records the qualification of new customers (a
// qualification_changed event when it is not empty) and scores and grades
// them: every customer has a grade from its creation.
func (s *Service) scoreNewCustomers(ctx context.Context, tenantID string, cs []Customer) error {
	if s.scoring() == nil || len(cs) == 0 {
		return nil
	}
	if err := s.recordQualifications(ctx, tenantID, cs, func(c *Customer) time.Time { return c.CreateTime }); err != nil {
		return err
	}
	ids := make([]string, len(cs))
	for i := range cs {
		ids[i] = cs[i].ID
	}
	return s.refreshCustomers(ctx, tenantID, ids, CauseCreated)
}

// scoreUpdatedCustomers records the qualification changes of updated
// customers and re-scores and re-grades them (conditions and fit read the
// customer's fields).
func (s *Service) scoreUpdatedCustomers(ctx context.Context, tenantID string, cs []Customer) error {
	if s.scoring() == nil || len(cs) == 0 {
		return nil
	}
	if err := s.recordQualifications(ctx, tenantID, cs, func(c *Customer) time.Time { return c.UpdateTime }); err != nil {
		return err
	}
	ids := make([]string, len(cs))
	for i := range cs {
		ids[i] = cs[i].ID
	}
	return s.refreshCustomers(ctx, tenantID, ids, CauseCustomerUpdated)
}

// scoreUpserted scores the customers of an upsert: created ones as new,
// changed ones as updated.
func (s *Service) scoreUpserted(ctx context.Context, tenantID string, outs []UpsertOutcome) error {
	var created, updated []Customer
	for _, o := range outs {
		switch {
		case o.Created:
			created = append(created, o.Customer)
		case o.Updated:
			updated = append(updated, o.Customer)
		}
	}
	if err := s.scoreNewCustomers(ctx, tenantID, created); err != nil {
		return err
	}
	return s.scoreUpdatedCustomers(ctx, tenantID, updated)
}

// scoreUpdatedCustomer is scoreUpdatedCustomers for one customer, after
// UpdateCustomer stored it (err is the store's error: then it does nothing).
func (s *Service) scoreUpdatedCustomer(ctx context.Context, tenantID string, c Customer, err error) (Customer, error) {
	if err != nil {
		return c, err
	}
	return c, s.scoreUpdatedCustomers(ctx, tenantID, []Customer{c})
}

func (s *Service) recordQualifications(ctx context.Context, tenantID string, cs []Customer, at func(*Customer) time.Time) error {
	changes := make([]QualificationChange, 0, len(cs))
	for i := range cs {
		c := &cs[i]
		changes = append(changes, QualificationChange{ID: QualificationChangeID(c.ID, c.Version), CustomerID: c.ID, At: at(c), Qualification: c.Qualification})
	}
	_, err := s.scoring().RecordQualificationChanges(ctx, tenantID, changes)
	return err
}

// qualificationNamespace is the UUID namespace of qualification change ids.
var qualificationNamespace = uuid.MustParse("0c7e3f51-2a9d-4b67-8e15-93f4d2a6c8b0")

// QualificationChangeID is the id of the qualification change of customer
// id at version: a name-based UUID (version 5), so that retrying an update
// records it once.
func QualificationChangeID(customerID string, version int64) string {
	return uuid.NewSHA1(qualificationNamespace, []byte(customerID+"/"+strconv.FormatInt(version, 10))).String()
}

// resolveModel returns the model a score request means: modelID, or when
// it is "", the grading policy's engagement model, else the tenant's only
// model.
func (s *Service) resolveModel(ctx context.Context, st ScoringStore, tenantID, modelID string) (ScoringModel, error) {
	if modelID != "" {
		if _, err := uuid.Parse(modelID); err != nil {
			return ScoringModel{}, Invalid("model_id", "must be a UUID")
		}
		return st.GetScoringModel(ctx, tenantID, modelID)
	}
	pol, err := st.GetGradingPolicy(ctx, tenantID)
	switch {
	case err == nil && pol.EngagementModelID != "":
		return st.GetScoringModel(ctx, tenantID, pol.EngagementModelID)
	case err != nil && !errors.Is(err, ErrNotFound):
		return ScoringModel{}, err
	}
	ms, err := st.ListScoringModels(ctx, tenantID)
	if err != nil {
		return ScoringModel{}, err
	}
	switch len(ms) {
	case 0:
		return ScoringModel{}, fmt.Errorf("%w: the tenant has no scoring model yet", ErrNotFound)
	case 1:
		return ms[0], nil
	}
	return ScoringModel{}, Invalid("model_id", "required: the tenant has %d scoring models and the grading policy names none", len(ms))
}

// Score is a customer's score in one model at one time.
type Score struct {
	CustomerID string
	Model      ScoringModel
	Points     int64
	AsOf       time.Time
	// Stale: the model's rules changed and not every ledger has been
	// recomputed yet.
	Stale bool
}

// ScoreExplanation is a score with the ledger entries that make it up,
// largest first, each with the rule that awarded it.
type ScoreExplanation struct {
	Score   Score
	Entries []ExplainedEntry
}

// ExplainedEntry is a ledger entry with its rule (zero if the rule has been
// deleted since: its points leave the ledger once re-scoring finishes).
type ExplainedEntry struct {
	Entry LedgerEntry
	Rule  ScoringRule
}

// GetScore returns a customer's score in a model (see resolveModel) at
// asOf (zero: now): the sum of the model's ledger entries valid then.
func (s *Service) GetScore(ctx context.Context, ref CustomerRef, modelID string, asOf time.Time) (Score, error) {
	e, err := s.explain(ctx, ref, modelID, asOf, false)
	return e.Score, err
}

// ExplainScore returns GetScore's score with its ledger entries, largest
// first, with the rules' names and when each expires.
func (s *Service) ExplainScore(ctx context.Context, ref CustomerRef, modelID string, asOf time.Time) (ScoreExplanation, error) {
	return s.explain(ctx, ref, modelID, asOf, true)
}

func (s *Service) explain(ctx context.Context, ref CustomerRef, modelID string, asOf time.Time, entries bool) (ScoreExplanation, error) {
	p, err := PrincipalFrom(ctx)
	if err != nil {
		return ScoreExplanation{}, err
	}
	st, err := s.scoringStore()
	if err != nil {
		return ScoreExplanation{}, err
	}
	c, err := s.store.GetCustomer(ctx, p.TenantID, ref)
	if err != nil {
		return ScoreExplanation{}, err
	}
	m, err := s.resolveModel(ctx, st, p.TenantID, modelID)
	if err != nil {
		return ScoreExplanation{}, err
	}
	if asOf.IsZero() {
		asOf = s.Now()
	}
	asOf = asOf.UTC().Truncate(time.Microsecond)
	ledger, err := st.CustomerLedger(ctx, p.TenantID, c.ID)
	if err != nil {
		return ScoreExplanation{}, err
	}
	out := ScoreExplanation{Score: Score{CustomerID: c.ID, Model: m, Points: ScoreAt(ledger, m.ID, asOf), AsOf: asOf, Stale: m.ScoredRevision < m.Revision}}
	if !entries {
		return out, nil
	}
	rs, err := st.ListScoringRules(ctx, p.TenantID, m.ID)
	if err != nil {
		return ScoreExplanation{}, err
	}
	byID := make(map[string]ScoringRule, len(rs))
	for _, r := range rs {
		byID[r.ID] = r
	}
	for _, e := range ExplainAt(ledger, m.ID, asOf) {
		out.Entries = append(out.Entries, ExplainedEntry{Entry: e, Rule: byID[e.RuleID]})
	}
	return out, nil
}

// audit records a change of a scoring model, rule or grading policy in
// the tenant's audit log (action "<resource type>.<verb>", the resource
// before and after; nil when it did not exist). Rules and policies are
// settings, with no personal data.
func (s *Service) audit(ctx context.Context, action, resourceType, resourceID string, before, after any) error {
	ev, err := s.NewAuditEvent(ctx, action, resourceType, resourceID, before, after)
	if err != nil {
		return err
	}
	return s.RecordAudit(ctx, ev)
}
