package memory

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/potentialhq/potential/domain"
)

// scoringData is one tenant's scoring models, rules, ledgers, grading
// policies and grades.
type scoringData struct {
	models   map[string]*domain.ScoringModel         // by id
	rules    map[string]*domain.ScoringRule          // current versions, by id
	versions map[string][]domain.ScoringRule         // every version, by rule id
	ledger   map[string][]domain.LedgerEntry         // by customer id
	policies []domain.GradingPolicy                  // every version, oldest first
	grades   map[string]domain.CustomerGrade         // by customer id
	changes  []domain.GradeChange                    // in the order recorded
	quals    map[string][]domain.QualificationChange // by customer id, oldest first
	qualIDs  map[string]bool
}

// scores returns d's scoring data, creating it on first use.
func (d *tenantData) scores() *scoringData {
	if d.scoring == nil {
		d.scoring = &scoringData{
			models: map[string]*domain.ScoringModel{}, rules: map[string]*domain.ScoringRule{},
			versions: map[string][]domain.ScoringRule{}, ledger: map[string][]domain.LedgerEntry{},
			grades: map[string]domain.CustomerGrade{}, quals: map[string][]domain.QualificationChange{},
			qualIDs: map[string]bool{},
		}
	}
	return d.scoring
}

// deleteScoringOf erases what scoring keeps about a customer: its ledger,
// grade, grade changes and qualification changes.
func (d *tenantData) deleteScoringOf(customerID string) {
	sd := d.scoring
	if sd == nil {
		return
	}
	delete(sd.ledger, customerID)
	delete(sd.grades, customerID)
	sd.changes = slices.DeleteFunc(sd.changes, func(c domain.GradeChange) bool { return c.CustomerID == customerID })
	for _, q := range sd.quals[customerID] {
		delete(sd.qualIDs, q.ID)
	}
	delete(sd.quals, customerID)
}

// scoringTenant returns the data of tenantID or ErrNotFound.
func (s *Store) scoringTenant(tenantID string) (*tenantData, error) {
	d := s.tenant(tenantID)
	if d == nil {
		return nil, fmt.Errorf("%w: tenant %q", domain.ErrNotFound, tenantID)
	}
	return d, nil
}

func scoringModelNotFound(id string) error {
	return fmt.Errorf("%w: scoring model %q", domain.ErrNotFound, id)
}
func scoringRuleNotFound(id string) error {
	return fmt.Errorf("%w: scoring rule %q", domain.ErrNotFound, id)
}

// CreateScoringModel stores m; ErrConflict if its name is taken.
func (s *Store) CreateScoringModel(_ context.Context, m domain.ScoringModel) (domain.ScoringModel, error) {
	id, ok := parseID(m.ID)
	if !ok {
		return domain.ScoringModel{}, domain.Invalid("id", "must be a UUID")
	}
	for _, f := range []struct{ field, s string }{{"display_name", m.Name}, {"description", m.Description}} {
		if err := checkText(f.s); err != nil {
			return domain.ScoringModel{}, fieldError(f.field, err)
		}
	}
	if err := checkTime(m.CreateTime); err != nil {
		return domain.ScoringModel{}, fieldError("create_time", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d, err := s.scoringTenant(m.TenantID)
	if err != nil {
		return domain.ScoringModel{}, err
	}
	sd := d.scores()
	if _, dup := sd.models[id]; dup {
		return domain.ScoringModel{}, fmt.Errorf("%w: scoring model %s exists", domain.ErrConflict, id)
	}
	for _, o := range sd.models {
		if o.Name == m.Name {
			return domain.ScoringModel{}, fmt.Errorf("%w: scoring model name %q is taken", domain.ErrConflict, m.Name)
		}
	}
	m.ID, m.TenantID, m.CreateTime = id, scoringTenantID(m.TenantID), normTime(m.CreateTime)
	m.Revision, m.ScoredRevision = 0, 0
	sd.models[id] = &m
	return m, nil
}

func scoringTenantID(id string) string {
	id, _ = parseID(id)
	return id
}

// model returns a model of the tenant, or nil.
func (s *Store) model(tenantID, id string) (*tenantData, *domain.ScoringModel) {
	d := s.tenant(tenantID)
	mid, ok := parseID(id)
	if d == nil || d.scoring == nil || !ok {
		return d, nil
	}
	return d, d.scoring.models[mid]
}

// GetScoringModel returns a model by id.
func (s *Store) GetScoringModel(_ context.Context, tenantID, id string) (domain.ScoringModel, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	_, m := s.model(tenantID, id)
	if m == nil {
		return domain.ScoringModel{}, scoringModelNotFound(id)
	}
	return *m, nil
}

// ListScoringModels returns the tenant's models by name.
func (s *Store) ListScoringModels(_ context.Context, tenantID string) ([]domain.ScoringModel, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	d := s.tenant(tenantID)
	if d == nil || d.scoring == nil {
		return nil, nil
	}
	var out []domain.ScoringModel
	for _, m := range d.scoring.models {
		out = append(out, *m)
	}
	slices.SortFunc(out, func(a, b domain.ScoringModel) int {
		return cmp.Or(strings.Compare(a.Name, b.Name), strings.Compare(a.ID, b.ID))
	})
	return out, nil
}

// DeleteScoringModel deletes a model with its rules, versions and ledger entries.
func (s *Store) DeleteScoringModel(_ context.Context, tenantID, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, m := s.model(tenantID, id)
	if m == nil {
		return scoringModelNotFound(id)
	}
	sd := d.scoring
	delete(sd.models, m.ID)
	for rid, r := range sd.rules {
		if r.ModelID == m.ID {
			delete(sd.rules, rid)
		}
	}
	for rid, vs := range sd.versions {
		if len(vs) > 0 && vs[0].ModelID == m.ID {
			delete(sd.versions, rid)
		}
	}
	for cid, es := range sd.ledger {
		sd.ledger[cid] = slices.DeleteFunc(es, func(e domain.LedgerEntry) bool { return e.ModelID == m.ID })
	}
	return nil
}

// MarkScored raises the model's ScoredRevision to revision.
func (s *Store) MarkScored(_ context.Context, tenantID, modelID string, revision int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, m := s.model(tenantID, modelID)
	if m == nil {
		return scoringModelNotFound(modelID)
	}
	m.ScoredRevision = max(m.ScoredRevision, min(revision, m.Revision))
	return nil
}

// checkRule checks what a rule needs to be storable.
func checkScoringRule(r *domain.ScoringRule) error {
	for _, f := range []struct{ field, s string }{{"display_name", r.Name}, {"description", r.Description}, {"event_kind", string(r.EventKind)}, {"condition", r.Condition}} {
		if err := checkText(f.s); err != nil {
			return fieldError("rule."+f.field, err)
		}
	}
	for _, f := range []struct {
		field string
		t     time.Time
	}{{"create_time", r.CreateTime}, {"update_time", r.UpdateTime}} {
		if err := checkTime(f.t); err != nil {
			return fieldError("rule."+f.field, err)
		}
	}
	return nil
}

func normScoringRule(r domain.ScoringRule) domain.ScoringRule {
	r.CreateTime, r.UpdateTime, r.DeleteTime = normTime(r.CreateTime), normTime(r.UpdateTime), normTime(r.DeleteTime)
	r.Validity = r.Validity.Truncate(time.Microsecond)
	if !r.HasValidity {
		r.Validity = 0
	}
	return r
}

// CreateScoringRule stores r (Version 1) and increments its model's revision.
func (s *Store) CreateScoringRule(_ context.Context, r domain.ScoringRule) (domain.ScoringRule, int64, error) {
	id, ok := parseID(r.ID)
	if !ok {
		return domain.ScoringRule{}, 0, domain.Invalid("rule.id", "must be a UUID")
	}
	if err := checkScoringRule(&r); err != nil {
		return domain.ScoringRule{}, 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d, m := s.model(r.TenantID, r.ModelID)
	if m == nil {
		return domain.ScoringRule{}, 0, scoringModelNotFound(r.ModelID)
	}
	sd := d.scoring
	if _, dup := sd.versions[id]; dup {
		return domain.ScoringRule{}, 0, fmt.Errorf("%w: scoring rule %s exists", domain.ErrConflict, id)
	}
	r = normScoringRule(r)
	r.ID, r.TenantID, r.ModelID, r.Version, r.DeleteTime = id, scoringTenantID(r.TenantID), m.ID, 1, time.Time{}
	sd.rules[id] = &r
	sd.versions[id] = []domain.ScoringRule{r}
	m.Revision++
	return r, m.Revision, nil
}

// UpdateScoringRule replaces rule r.ID if it is at r.Version.
func (s *Store) UpdateScoringRule(_ context.Context, r domain.ScoringRule) (domain.ScoringRule, int64, error) {
	if err := checkScoringRule(&r); err != nil {
		return domain.ScoringRule{}, 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, d := s.rule(r.TenantID, r.ID)
	if cur == nil {
		return domain.ScoringRule{}, 0, scoringRuleNotFound(r.ID)
	}
	if cur.Version != r.Version {
		return domain.ScoringRule{}, 0, fmt.Errorf("%w: rule is at version %d, not %d", domain.ErrStale, cur.Version, r.Version)
	}
	next := normScoringRule(r)
	next.ID, next.TenantID, next.ModelID, next.CreateTime, next.DeleteTime = cur.ID, cur.TenantID, cur.ModelID, cur.CreateTime, time.Time{}
	next.Version = cur.Version + 1
	sd := d.scoring
	*cur = next
	sd.versions[next.ID] = append(sd.versions[next.ID], next)
	m := sd.models[next.ModelID]
	m.Revision++
	return next, m.Revision, nil
}

// rule returns the current version of a rule of the tenant, or nil.
func (s *Store) rule(tenantID, id string) (*domain.ScoringRule, *tenantData) {
	d := s.tenant(tenantID)
	rid, ok := parseID(id)
	if d == nil || d.scoring == nil || !ok {
		return nil, d
	}
	return d.scoring.rules[rid], d
}

// DeleteScoringRule deletes rule id if it is at version (0: any).
func (s *Store) DeleteScoringRule(_ context.Context, tenantID, id string, version int64, at time.Time) (domain.ScoringRule, int64, error) {
	if err := checkTime(at); err != nil {
		return domain.ScoringRule{}, 0, fieldError("delete_time", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, d := s.rule(tenantID, id)
	if cur == nil {
		return domain.ScoringRule{}, 0, scoringRuleNotFound(id)
	}
	if version != 0 && cur.Version != version {
		return domain.ScoringRule{}, 0, fmt.Errorf("%w: rule is at version %d, not %d", domain.ErrStale, cur.Version, version)
	}
	sd := d.scoring
	old := *cur
	tomb := old
	tomb.Version++
	tomb.UpdateTime, tomb.DeleteTime = normTime(at), normTime(at)
	sd.versions[old.ID] = append(sd.versions[old.ID], tomb)
	delete(sd.rules, old.ID)
	m := sd.models[old.ModelID]
	m.Revision++
	return old, m.Revision, nil
}

// GetScoringRule returns a rule's current version.
func (s *Store) GetScoringRule(_ context.Context, tenantID, id string) (domain.ScoringRule, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	r, _ := s.rule(tenantID, id)
	if r == nil {
		return domain.ScoringRule{}, scoringRuleNotFound(id)
	}
	return *r, nil
}

// ScoringRuleVersions returns every version of a rule, oldest first.
func (s *Store) ScoringRuleVersions(_ context.Context, tenantID, id string) ([]domain.ScoringRule, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	d := s.tenant(tenantID)
	rid, ok := parseID(id)
	if d == nil || d.scoring == nil || !ok || len(d.scoring.versions[rid]) == 0 {
		return nil, scoringRuleNotFound(id)
	}
	return slices.Clone(d.scoring.versions[rid]), nil
}

// ListScoringRules returns current rules by model, creation time, id.
func (s *Store) ListScoringRules(_ context.Context, tenantID, modelID string) ([]domain.ScoringRule, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.currentRules(s.tenant(tenantID), modelID), nil
}

func (s *Store) currentRules(d *tenantData, modelID string) []domain.ScoringRule {
	if d == nil || d.scoring == nil {
		return nil
	}
	mid, _ := parseID(modelID)
	var out []domain.ScoringRule
	for _, r := range d.scoring.rules {
		if modelID == "" || r.ModelID == mid {
			out = append(out, *r)
		}
	}
	slices.SortFunc(out, func(a, b domain.ScoringRule) int {
		return cmp.Or(strings.Compare(a.ModelID, b.ModelID), a.CreateTime.Compare(b.CreateTime), strings.Compare(a.ID, b.ID))
	})
	return out
}

// scoringIDs returns the ids a scoring query selects that exist, sorted.
func (d *tenantData) scoringIDs(q domain.ScoringQuery) []string {
	var ids []string
	if q.All {
		ids = slices.Collect(maps.Keys(d.customers))
	} else {
		for _, id := range q.CustomerIDs {
			if cid, ok := parseID(id); ok && d.customers[cid] != nil {
				ids = append(ids, cid)
			}
		}
	}
	slices.Sort(ids)
	return slices.Compact(ids)
}

// scoringBatch reads the batch of customers ids.
func (s *Store) scoringBatch(d *tenantData, ids []string, events bool) *domain.ScoringBatch {
	b := &domain.ScoringBatch{Rules: s.currentRules(d, "")}
	sd := d.scores()
	if n := len(sd.policies); n > 0 {
		b.Policy, b.HasPolicy = cloneGradingPolicy(sd.policies[n-1]), true
	}
	for _, id := range ids {
		c := d.customers[id]
		if c == nil {
			continue
		}
		in := domain.ScoringInput{Customer: cloneCustomer(c), Ledger: slices.Clone(sd.ledger[id]), Grade: sd.grades[id], LeadScores: d.leadScores(id)}
		if events { // as the port says, whether or not there are rules (conversion reads them too)
			in.Events = d.scoringEvents(id)
		}
		b.Customers = append(b.Customers, in)
	}
	return b
}

// scoringEvents builds a customer's scoring events from its transactions,
// interactions, referrals (referral_given as the referrer,
// referral_received as the referred), feedback and qualification changes.
func (d *tenantData) scoringEvents(customerID string) []domain.ScoringEvent {
	var out []domain.ScoringEvent
	if ev := d.events[customerID]; ev != nil {
		for _, t := range ev.txs {
			e := domain.ScoringEvent{Kind: domain.EventKindOrder, ID: t.ID, Ref: t.ExternalID, At: t.OccurredAt, Amount: t.Amount, Quantity: t.Quantity}
			if t.Kind == domain.TxRefund {
				e.Kind = domain.EventKindRefund
			}
			if t.HasMargin {
				e.Margin = t.Margin
			}
			out = append(out, e)
		}
		for _, it := range ev.its {
			out = append(out, domain.ScoringEvent{Kind: domain.EventKind(it.Type), ID: it.ID, Ref: it.ExternalID, At: it.OccurredAt, Channel: it.Channel, Direction: string(it.Direction)})
		}
		for _, r := range ev.refs {
			kind := domain.EventKindReferralGiven
			if r.ReferredID == customerID {
				kind = domain.EventKindReferralReceived
			}
			out = append(out, domain.ScoringEvent{Kind: kind, ID: r.ID, Ref: r.ExternalID, At: r.OccurredAt})
		}
	}
	if fd := d.feedbackOf(false); fd != nil {
		for _, f := range fd.byID {
			if f.CustomerID == customerID {
				out = append(out, domain.FeedbackScoringEvents(f)...)
			}
		}
	}
	if sd := d.scoring; sd != nil {
		for _, q := range sd.quals[customerID] {
			out = append(out, domain.ScoringEvent{Kind: domain.EventKindQualificationChanged, ID: q.ID, At: q.At})
		}
	}
	domain.SortScoringEvents(out)
	return out
}

// ReadScoring hands fn the batches of q, read under the read lock.
func (s *Store) ReadScoring(ctx context.Context, tenantID string, q domain.ScoringQuery, fn func(*domain.ScoringBatch) error) error {
	return s.scoringRun(ctx, tenantID, q, false, func(b *domain.ScoringBatch) ([]domain.ScoringUpdate, error) { return nil, fn(b) })
}

// UpdateScoring hands fn the batches of q and applies its updates, each
// batch under the write lock.
func (s *Store) UpdateScoring(ctx context.Context, tenantID string, q domain.ScoringQuery, fn func(*domain.ScoringBatch) ([]domain.ScoringUpdate, error)) error {
	return s.scoringRun(ctx, tenantID, q, true, fn)
}

func (s *Store) scoringRun(ctx context.Context, tenantID string, q domain.ScoringQuery, write bool, fn func(*domain.ScoringBatch) ([]domain.ScoringUpdate, error)) error {
	s.mu.RLock()
	d := s.tenant(tenantID)
	var ids []string
	if d != nil {
		ids = d.scoringIDs(q)
	}
	s.mu.RUnlock()
	for start := 0; start < len(ids); start += domain.ScoringBatchSize {
		if err := ctx.Err(); err != nil {
			return err
		}
		chunk := ids[start:min(start+domain.ScoringBatchSize, len(ids))]
		if err := s.scoringStep(d, chunk, q.Events, write, fn); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) scoringStep(d *tenantData, ids []string, events, write bool, fn func(*domain.ScoringBatch) ([]domain.ScoringUpdate, error)) error {
	if write {
		s.mu.Lock()
		defer s.mu.Unlock()
	} else {
		s.mu.RLock()
		defer s.mu.RUnlock()
	}
	if write {
		d.scores()
	}
	var b *domain.ScoringBatch
	if d.scoring == nil {
		b = &domain.ScoringBatch{}
		for _, id := range ids {
			if c := d.customers[id]; c != nil {
				b.Customers = append(b.Customers, domain.ScoringInput{Customer: cloneCustomer(c), LeadScores: d.leadScores(id)})
			}
		}
	} else {
		b = s.scoringBatch(d, ids, events)
	}
	ups, err := fn(b)
	if err != nil || !write {
		return err
	}
	if err := checkScoringUpdates(ups); err != nil {
		return err
	}
	sd := d.scoring
	for _, up := range ups {
		cid, _ := parseID(up.CustomerID)
		if d.customers[cid] == nil {
			continue
		}
		if up.SetLedger {
			ledger := make([]domain.LedgerEntry, len(up.Ledger))
			for i, e := range up.Ledger {
				e.CustomerID = cid
				e.AwardedAt, e.ExpiresAt = normTime(e.AwardedAt), normTime(e.ExpiresAt)
				ledger[i] = e
			}
			slices.SortFunc(ledger, compareLedgerEntries)
			if len(ledger) == 0 {
				delete(sd.ledger, cid)
			} else {
				sd.ledger[cid] = ledger
			}
		}
		if up.Grade != nil {
			g := *up.Grade
			g.CustomerID, g.GradeTime = cid, normTime(g.GradeTime)
			sd.grades[cid] = g
		}
		if up.Change != nil {
			c := *up.Change
			c.CustomerID, c.Time = cid, normTime(c.Time)
			sd.changes = append(sd.changes, c)
		}
	}
	return nil
}

// checkScoringUpdates checks what PostgreSQL would refuse to store.
func checkScoringUpdates(ups []domain.ScoringUpdate) error {
	for _, up := range ups {
		for _, e := range up.Ledger {
			for _, t := range []time.Time{e.AwardedAt, e.ExpiresAt} {
				if err := checkTime(t); err != nil {
					return fieldError("ledger", err)
				}
			}
			if err := checkText(e.EventID + e.EventRef); err != nil {
				return fieldError("ledger", err)
			}
		}
		if up.Change != nil {
			if err := checkText(up.Change.Reason); err != nil {
				return fieldError("reason", err)
			}
		}
	}
	return nil
}

func compareLedgerEntries(a, b domain.LedgerEntry) int {
	return cmp.Or(strings.Compare(a.ModelID, b.ModelID), a.AwardedAt.Compare(b.AwardedAt), strings.Compare(a.ID, b.ID))
}

// CustomerLedger returns a customer's entries by model, awarded_at, id.
func (s *Store) CustomerLedger(_ context.Context, tenantID, customerID string) ([]domain.LedgerEntry, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	d := s.tenant(tenantID)
	cid, ok := parseID(customerID)
	if d == nil || d.scoring == nil || !ok {
		return nil, nil
	}
	return slices.Clone(d.scoring.ledger[cid]), nil
}

// TopScores ranks every customer by its score in modelID at asOf.
func (s *Store) TopScores(_ context.Context, tenantID, modelID string, asOf time.Time, limit int, after *domain.ScoreCursor) ([]domain.CustomerScore, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	d := s.tenant(tenantID)
	if d == nil || limit <= 0 {
		return nil, nil
	}
	mid, _ := parseID(modelID)
	var rows []domain.CustomerScore
	for id := range d.customers {
		var score int64
		if d.scoring != nil {
			score = domain.ScoreAt(d.scoring.ledger[id], mid, asOf)
		}
		if after != nil && (score > after.Score || (score == after.Score && id <= after.ID)) {
			continue
		}
		rows = append(rows, domain.CustomerScore{CustomerID: id, Score: score})
	}
	slices.SortFunc(rows, func(a, b domain.CustomerScore) int {
		return cmp.Or(cmp.Compare(b.Score, a.Score), strings.Compare(a.CustomerID, b.CustomerID))
	})
	return rows[:min(limit, len(rows))], nil
}

func cloneGradingPolicy(p domain.GradingPolicy) domain.GradingPolicy {
	p.Grades, p.Fit, p.Cutoffs, p.Cuts = slices.Clone(p.Grades), slices.Clone(p.Fit), slices.Clone(p.Cutoffs), slices.Clone(p.Cuts)
	return p
}

// SaveGradingPolicy stores p if it is the next version.
func (s *Store) SaveGradingPolicy(_ context.Context, p domain.GradingPolicy) (domain.GradingPolicy, error) {
	for _, t := range []time.Time{p.CreateTime, p.CalibrateTime} {
		if err := checkTime(t); err != nil {
			return domain.GradingPolicy{}, fieldError("policy", err)
		}
	}
	texts := append(slices.Clone(p.Grades), p.EngagementModelID, string(p.ValueSource), string(p.Thresholds))
	for _, f := range p.Fit {
		texts = append(texts, f.Name, f.Condition)
	}
	for _, t := range texts {
		if err := checkText(t); err != nil {
			return domain.GradingPolicy{}, fieldError("policy", err)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d, err := s.scoringTenant(p.TenantID)
	if err != nil {
		return domain.GradingPolicy{}, err
	}
	sd := d.scores()
	if want := int64(len(sd.policies)) + 1; p.Version != want {
		return domain.GradingPolicy{}, fmt.Errorf("%w: the next policy version is %d, not %d", domain.ErrStale, want, p.Version)
	}
	p = cloneGradingPolicy(p)
	p.TenantID, p.CreateTime, p.CalibrateTime = scoringTenantID(p.TenantID), normTime(p.CreateTime), normTime(p.CalibrateTime)
	sd.policies = append(sd.policies, p)
	return cloneGradingPolicy(p), nil
}

// GetGradingPolicy returns the current policy.
func (s *Store) GetGradingPolicy(_ context.Context, tenantID string) (domain.GradingPolicy, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	d := s.tenant(tenantID)
	if d == nil || d.scoring == nil || len(d.scoring.policies) == 0 {
		return domain.GradingPolicy{}, fmt.Errorf("%w: grading policy", domain.ErrNotFound)
	}
	return cloneGradingPolicy(d.scoring.policies[len(d.scoring.policies)-1]), nil
}

// SetGradingCuts sets the calibrated cuts of the current policy version.
func (s *Store) SetGradingCuts(_ context.Context, tenantID string, version int64, cuts []float64, at time.Time) error {
	if err := checkTime(at); err != nil {
		return fieldError("calibrate_time", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.tenant(tenantID)
	if d == nil || d.scoring == nil || len(d.scoring.policies) == 0 {
		return fmt.Errorf("%w: grading policy", domain.ErrNotFound)
	}
	p := &d.scoring.policies[len(d.scoring.policies)-1]
	if p.Version != version {
		return fmt.Errorf("%w: the policy is at version %d, not %d", domain.ErrStale, p.Version, version)
	}
	p.Cuts, p.CalibrateTime = slices.Clone(cuts), normTime(at)
	return nil
}

// CountGrades counts the stored grades.
func (s *Store) CountGrades(_ context.Context, tenantID string) (map[string]int64, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := map[string]int64{}
	d := s.tenant(tenantID)
	if d == nil || d.scoring == nil {
		return out, nil
	}
	for _, g := range d.scoring.grades {
		out[g.Grade]++
	}
	return out, nil
}

// CustomerGrades returns the stored grades of the given customers.
func (s *Store) CustomerGrades(_ context.Context, tenantID string, customerIDs []string) (map[string]domain.CustomerGrade, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := map[string]domain.CustomerGrade{}
	d := s.tenant(tenantID)
	if d == nil || d.scoring == nil {
		return out, nil
	}
	for _, id := range customerIDs {
		if cid, ok := parseID(id); ok {
			if g, ok := d.scoring.grades[cid]; ok {
				out[cid] = g
			}
		}
	}
	return out, nil
}

// TopGrades lists graded customers by rank, composite descending, id.
func (s *Store) TopGrades(_ context.Context, tenantID string, limit int, after *domain.GradeCursor) ([]domain.CustomerGrade, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	d := s.tenant(tenantID)
	if d == nil || d.scoring == nil || limit <= 0 {
		return nil, nil
	}
	order := func(a, b domain.CustomerGrade) int {
		return cmp.Or(cmp.Compare(a.Rank, b.Rank), cmp.Compare(b.Composite, a.Composite), strings.Compare(a.CustomerID, b.CustomerID))
	}
	var rows []domain.CustomerGrade
	for _, g := range d.scoring.grades {
		if after != nil && order(g, domain.CustomerGrade{Rank: after.Rank, Composite: after.Composite, CustomerID: after.ID}) <= 0 {
			continue
		}
		rows = append(rows, g)
	}
	slices.SortFunc(rows, order)
	return rows[:min(limit, len(rows))], nil
}

// ListGradeChanges returns changes newest first.
func (s *Store) ListGradeChanges(_ context.Context, tenantID string, q domain.GradeChangeQuery) ([]domain.GradeChange, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	d := s.tenant(tenantID)
	if d == nil || d.scoring == nil || q.Limit <= 0 {
		return nil, nil
	}
	cid, _ := parseID(q.CustomerID)
	newest := func(a, b domain.GradeChange) int { return cmp.Or(b.Time.Compare(a.Time), strings.Compare(b.ID, a.ID)) }
	var out []domain.GradeChange
	for _, c := range d.scoring.changes {
		if q.CustomerID != "" && c.CustomerID != cid {
			continue
		}
		if q.After != nil {
			at, _ := q.After.Value.(time.Time)
			if newest(c, domain.GradeChange{Time: at, ID: q.After.ID}) <= 0 {
				continue
			}
		}
		out = append(out, c)
	}
	slices.SortFunc(out, newest)
	return out[:min(q.Limit, len(out))], nil
}

// RecordQualificationChanges stores the changes that differ from their
// customer's latest one.
func (s *Store) RecordQualificationChanges(_ context.Context, tenantID string, cs []domain.QualificationChange) (int, error) {
	for _, c := range cs {
		if _, ok := parseID(c.ID); !ok {
			return 0, domain.Invalid("id", "must be a UUID")
		}
		if err := checkTime(c.At); err != nil {
			return 0, fieldError("time", err)
		}
		if err := checkText(c.Qualification.Need + string(c.Qualification.Authority)); err != nil {
			return 0, fieldError("qualification", err)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.tenant(tenantID)
	if d == nil {
		return 0, nil
	}
	sd := d.scores()
	n := 0
	for _, c := range cs {
		id, _ := parseID(c.ID)
		cid, ok := parseID(c.CustomerID)
		if !ok || d.customers[cid] == nil || sd.qualIDs[id] {
			continue
		}
		var last domain.Qualification
		if qs := sd.quals[cid]; len(qs) > 0 {
			last = slices.MaxFunc(qs, func(a, b domain.QualificationChange) int {
				return cmp.Or(a.At.Compare(b.At), strings.Compare(a.ID, b.ID))
			}).Qualification
		}
		c.Qualification.DecisionTime = normTime(c.Qualification.DecisionTime)
		if sameQualification(last, c.Qualification) {
			continue
		}
		c.ID, c.CustomerID, c.At = id, cid, normTime(c.At)
		sd.quals[cid] = append(sd.quals[cid], c)
		sd.qualIDs[id] = true
		n++
	}
	return n, nil
}

func sameQualification(a, b domain.Qualification) bool {
	return a.Budget == b.Budget && a.Authority == b.Authority && a.Need == b.Need && a.DecisionTime.Equal(b.DecisionTime)
}
