package domain

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
)

// GetGradingPolicy returns the caller's grading policy: the stored one, or
// DefaultGradingPolicy (Version 0) when the tenant never set one.
func (s *Service) GetGradingPolicy(ctx context.Context) (GradingPolicy, error) {
	p, err := PrincipalFrom(ctx)
	if err != nil {
		return GradingPolicy{}, err
	}
	st, err := s.scoringStore()
	if err != nil {
		return GradingPolicy{}, err
	}
	return currentPolicy(ctx, st, p.TenantID)
}

func currentPolicy(ctx context.Context, st ScoringStore, tenantID string) (GradingPolicy, error) {
	pol, err := st.GetGradingPolicy(ctx, tenantID)
	if errors.Is(err, ErrNotFound) {
		pol = DefaultGradingPolicy()
		pol.TenantID = tenantID
		return pol, nil
	}
	return pol, err
}

// normalizePolicy canonicalises a policy as a client sent it.
func normalizePolicy(p *GradingPolicy) {
	for i := range p.Grades {
		p.Grades[i] = strings.TrimSpace(p.Grades[i])
	}
	for i := range p.Fit {
		p.Fit[i].Name = strings.TrimSpace(p.Fit[i].Name)
	}
	if p.ValueSource == "" {
		p.ValueSource = ValuePredicted
	}
	if p.Thresholds == "" {
		p.Thresholds = ThresholdsAbsolute
	}
}

// checkPolicy validates a proposed policy, including that its engagement
// model exists.
func (s *Service) checkPolicy(ctx context.Context, st ScoringStore, tenantID string, pol *GradingPolicy) error {
	normalizePolicy(pol)
	if err := pol.Validate(); err != nil {
		return err
	}
	if pol.EngagementWeight > 0 {
		if _, err := uuid.Parse(pol.EngagementModelID); err != nil {
			return Invalid("policy.engagement_model_id", "must be a UUID")
		}
		if _, err := st.GetScoringModel(ctx, tenantID, pol.EngagementModelID); errors.Is(err, ErrNotFound) {
			return Invalid("policy.engagement_model_id", "no scoring model %q in this tenant", pol.EngagementModelID)
		} else if err != nil {
			return err
		}
	} else {
		pol.EngagementModelID = ""
	}
	return nil
}

// UpdateGradingPolicy validates pol and stores it as the caller's next
// policy version (only if the current one is at etag, when given), then
// re-grades every customer under it.
func (s *Service) UpdateGradingPolicy(ctx context.Context, pol GradingPolicy, etag string) (GradingPolicy, error) {
	p, err := PrincipalFrom(ctx)
	if err != nil {
		return GradingPolicy{}, err
	}
	st, err := s.scoringStore()
	if err != nil {
		return GradingPolicy{}, err
	}
	if err := s.checkPolicy(ctx, st, p.TenantID, &pol); err != nil {
		return GradingPolicy{}, err
	}
	cur, err := currentPolicy(ctx, st, p.TenantID)
	if err != nil {
		return GradingPolicy{}, err
	}
	if etag != "" {
		want, err := parseETag(etag)
		if err != nil && cur.Version == 0 && etag == ETag(0) {
			want, err = 0, nil
		}
		if err != nil {
			return GradingPolicy{}, err
		}
		if want != cur.Version {
			return GradingPolicy{}, fmt.Errorf("%w: the policy is at %s, not %s", ErrStale, ETag(cur.Version), etag)
		}
	}
	now := s.Now()
	pol.TenantID, pol.Version, pol.CreateTime = p.TenantID, cur.Version+1, now
	pol.Cuts, pol.CalibrateTime = nil, time.Time{}
	if pol.Thresholds == ThresholdsAbsolute {
		pol.Cuts, pol.CalibrateTime = slices.Clone(pol.Cutoffs), now
	}
	saved, err := st.SaveGradingPolicy(ctx, pol)
	if err != nil {
		return GradingPolicy{}, err
	}
	var before any
	if cur.Version > 0 {
		before = cur
	}
	if err := s.audit(ctx, "grading_policy.update", "grading_policy", p.TenantID, before, saved); err != nil {
		return GradingPolicy{}, err
	}
	if err := s.refreshAll(ctx, p.TenantID, false, CausePolicyChanged); err != nil {
		return GradingPolicy{}, err
	}
	return currentPolicy(ctx, st, p.TenantID)
}

// GradePreview is what a proposed rule or policy change would do to the
// tenant's grades and scores now, computed from the stored history
// without saving anything.
type GradePreview struct {
	// Customers previewed, and those whose grade would change.
	Customers, GradeChanges int64
	// ScoreChanges counts customers whose score in the changed model would
	// change (rule previews only).
	ScoreChanges int64
	// Transitions counts customers per (current grade, proposed grade),
	// unchanged ones included; the current grade is "" for a customer
	// never graded.
	Transitions []GradeTransition
	// Samples are up to PreviewSamples affected customers, those whose
	// grade changes first, then by id.
	Samples []PreviewSample
	// Policy is the policy the proposed grades are under.
	Policy GradingPolicy
}

// GradeTransition counts customers moving from one grade to another.
type GradeTransition struct {
	From, To string
	Count    int64
}

// PreviewSample is one customer of a preview, as it is and as it would be.
type PreviewSample struct {
	CustomerID, ExternalID, DisplayName string
	FromGrade, ToGrade                  string
	FromComposite, ToComposite          float64
	FromScore, ToScore                  int64
	// Explanation of the proposed grade.
	Explanation string
}

// PreviewSamples is the number of sample customers of a preview.
const PreviewSamples = 20

// PreviewPolicyChange grades every customer of the caller's tenant now
// under the proposed policy, from the stored ledgers and assessments,
// without saving anything, and compares with the stored grades.
// UpdateGradingPolicy with the same policy on unchanged data produces
// exactly the proposed grades.
func (s *Service) PreviewPolicyChange(ctx context.Context, pol GradingPolicy) (GradePreview, error) {
	p, err := PrincipalFrom(ctx)
	if err != nil {
		return GradePreview{}, err
	}
	st, err := s.scoringStore()
	if err != nil {
		return GradePreview{}, err
	}
	if err := s.checkPolicy(ctx, st, p.TenantID, &pol); err != nil {
		return GradePreview{}, err
	}
	cur, err := currentPolicy(ctx, st, p.TenantID)
	if err != nil {
		return GradePreview{}, err
	}
	pol.TenantID, pol.Version = p.TenantID, cur.Version+1
	return s.preview(ctx, st, p.TenantID, &pol, nil, "")
}

// RuleChange is a proposed change of one scoring rule.
type RuleChange struct {
	// Exactly one of: Create (a new rule), Update (the id of a rule and a
	// mutation of it, as UpdateScoringRule), Delete (the id of a rule).
	Create *ScoringRule
	Update string
	Mutate func(*ScoringRule) error
	Delete string
}

// PreviewRuleChange re-scores every customer of the caller's tenant from
// the stored events under the rules as the change would leave them, and
// grades them now, without saving anything. Applying the same change on
// unchanged data produces exactly the proposed scores and grades.
func (s *Service) PreviewRuleChange(ctx context.Context, ch RuleChange) (GradePreview, error) {
	p, err := PrincipalFrom(ctx)
	if err != nil {
		return GradePreview{}, err
	}
	st, err := s.scoringStore()
	if err != nil {
		return GradePreview{}, err
	}
	rs, err := st.ListScoringRules(ctx, p.TenantID, "")
	if err != nil {
		return GradePreview{}, err
	}
	var modelID string
	switch {
	case ch.Create != nil:
		r := *ch.Create
		r.Normalize()
		if err := r.Validate(); err != nil {
			return GradePreview{}, err
		}
		if err := s.checkRuleRoom(ctx, st, p.TenantID, r.ModelID); err != nil {
			return GradePreview{}, err
		}
		r.ID, r.TenantID, r.Version = NewID(), p.TenantID, 1
		rs, modelID = append(rs, r), r.ModelID
	case ch.Update != "":
		_, next, err := s.proposeRuleUpdate(ctx, st, p.TenantID, ch.Update, "", ch.Mutate)
		if err != nil {
			return GradePreview{}, err
		}
		next.Version++
		for i := range rs {
			if rs[i].ID == next.ID {
				rs[i] = next
			}
		}
		modelID = next.ModelID
	case ch.Delete != "":
		old, err := st.GetScoringRule(ctx, p.TenantID, ch.Delete)
		if err != nil {
			return GradePreview{}, err
		}
		rs = slices.DeleteFunc(rs, func(r ScoringRule) bool { return r.ID == old.ID })
		modelID = old.ModelID
	default:
		return GradePreview{}, Invalid("change", "set create, update or delete")
	}
	if rs == nil {
		rs = []ScoringRule{}
	}
	pol, err := currentPolicy(ctx, st, p.TenantID)
	if err != nil {
		return GradePreview{}, err
	}
	return s.preview(ctx, st, p.TenantID, &pol, rs, modelID)
}

// preview grades everyone under pol; with rules (not nil), after
// recomputing every ledger from the events under them.
func (s *Service) preview(ctx context.Context, st ScoringStore, tenantID string, pol *GradingPolicy, rs []ScoringRule, modelID string) (GradePreview, error) {
	now := s.Now()
	q := ScoringQuery{All: true, Events: rs != nil}
	cal, err := s.calibrate(ctx, st, tenantID, q, pol, rs, now)
	if err != nil {
		return GradePreview{}, err
	}
	var cuts []float64
	if cal != nil {
		cuts = cal.cuts
	}
	g, err := newGrader(pol, cuts)
	if err != nil {
		return GradePreview{}, err
	}
	var set *RuleSet
	if rs != nil {
		if set, err = CompileRules(rs); err != nil {
			return GradePreview{}, err
		}
	}
	var (
		mu      sync.Mutex
		out     = GradePreview{Policy: *pol}
		counts  = map[[2]string]int64{}
		samples []PreviewSample
	)
	if cal != nil {
		out.Policy.Cuts, out.Policy.CalibrateTime = cal.cuts, now
	} else if pol.Thresholds == ThresholdsAbsolute {
		out.Policy.Cuts = slices.Clone(pol.Cutoffs)
	}
	err = st.ReadScoring(ctx, tenantID, q, func(b *ScoringBatch) error {
		var local []PreviewSample
		localCounts := map[[2]string]int64{}
		var n, gradeChanges, scoreChanges int64
		for i := range b.Customers {
			in := &b.Customers[i]
			ledger := in.Ledger
			if set != nil {
				ledger = Award(set, &in.Customer, in.Events)
			}
			grade, parts := g.grade(&in.Customer, ScoreAt(ledger, pol.EngagementModelID, now), in.LeadScores, now)
			n++
			localCounts[[2]string{in.Grade.Grade, grade.Grade}]++
			var fromScore, toScore int64
			if modelID != "" {
				fromScore, toScore = ScoreAt(in.Ledger, modelID, now), ScoreAt(ledger, modelID, now)
			}
			changed := in.Grade.Grade != grade.Grade
			if changed {
				gradeChanges++
			}
			if fromScore != toScore {
				scoreChanges++
			}
			if changed || fromScore != toScore {
				local = append(local, PreviewSample{
					CustomerID: in.Customer.ID, ExternalID: in.Customer.ExternalID, DisplayName: in.Customer.DisplayName,
					FromGrade: in.Grade.Grade, ToGrade: grade.Grade, FromComposite: in.Grade.Composite, ToComposite: grade.Composite,
					FromScore: fromScore, ToScore: toScore, Explanation: g.explain(parts),
				})
			}
		}
		mu.Lock()
		defer mu.Unlock()
		out.Customers += n
		out.GradeChanges += gradeChanges
		out.ScoreChanges += scoreChanges
		for k, c := range localCounts {
			counts[k] += c
		}
		samples = append(samples, local...)
		sortSamples(samples)
		if len(samples) > PreviewSamples {
			samples = samples[:PreviewSamples]
		}
		return nil
	})
	if err != nil {
		return GradePreview{}, err
	}
	out.Samples = samples
	out.Transitions = transitions(counts, pol.Grades)
	return out, nil
}

func sortSamples(s []PreviewSample) {
	slices.SortFunc(s, func(a, b PreviewSample) int {
		ac, bc := a.FromGrade != a.ToGrade, b.FromGrade != b.ToGrade
		if ac != bc {
			if ac {
				return -1
			}
			return 1
		}
		return cmp.Compare(a.CustomerID, b.CustomerID)
	})
}

// transitions lists counts in the order of the grades (unknown grades,
// e.g. of an earlier policy, and "" last, by label).
func transitions(counts map[[2]string]int64, grades []string) []GradeTransition {
	rank := func(g string) int {
		if i := slices.Index(grades, g); i >= 0 {
			return i
		}
		return len(grades) + 1
	}
	out := make([]GradeTransition, 0, len(counts))
	for k, c := range counts {
		out = append(out, GradeTransition{From: k[0], To: k[1], Count: c})
	}
	slices.SortFunc(out, func(a, b GradeTransition) int {
		return cmp.Or(cmp.Compare(rank(a.From), rank(b.From)), cmp.Compare(a.From, b.From), cmp.Compare(rank(a.To), rank(b.To)), cmp.Compare(a.To, b.To))
	})
	return out
}

// GradeView is a customer's grade now, with how it was reached.
type GradeView struct {
	Grade       CustomerGrade
	Explanation string
	Policy      GradingPolicy
}

// GetCustomerGrade grades a customer now under the current policy and
// explains it. The stored grade is refreshed at the same time (and a
// change recorded if it differs).
func (s *Service) GetCustomerGrade(ctx context.Context, ref CustomerRef) (GradeView, error) {
	p, err := PrincipalFrom(ctx)
	if err != nil {
		return GradeView{}, err
	}
	st, err := s.scoringStore()
	if err != nil {
		return GradeView{}, err
	}
	c, err := s.store.GetCustomer(ctx, p.TenantID, ref)
	if err != nil {
		return GradeView{}, err
	}
	now := s.Now()
	var out GradeView
	found := false
	err = st.UpdateScoring(ctx, p.TenantID, ScoringQuery{CustomerIDs: []string{c.ID}}, func(b *ScoringBatch) ([]ScoringUpdate, error) {
		ups, err := evaluate(b, false, nil, now, CauseRegrade)
		if err != nil || len(b.Customers) != 1 {
			return ups, err
		}
		pol := b.Policy
		if !b.HasPolicy {
			pol = DefaultGradingPolicy()
			pol.TenantID = p.TenantID
		}
		g, err := newGrader(&pol, nil)
		if err != nil {
			return nil, err
		}
		in := &b.Customers[0]
		grade, parts := g.grade(&in.Customer, ScoreAt(in.Ledger, pol.EngagementModelID, now), in.LeadScores, now)
		out, found = GradeView{Grade: grade, Explanation: g.explain(parts), Policy: pol}, true
		return ups, nil
	})
	if err != nil {
		return GradeView{}, err
	}
	if !found {
		return GradeView{}, fmt.Errorf("%w: customer %q", ErrNotFound, c.ID)
	}
	return out, nil
}

// ListGradeChangesRequest is one page request of ListGradeChanges.
type ListGradeChangesRequest struct {
	Customer  CustomerRef // zero: every customer
	PageSize  int
	PageToken string
}

const gradeChangesListing = "grade_changes"

// ListGradeChanges returns one page of grade changes, newest first, and
// the token of the next page ("" on the last).
func (s *Service) ListGradeChanges(ctx context.Context, r ListGradeChangesRequest) ([]GradeChange, string, error) {
	p, err := PrincipalFrom(ctx)
	if err != nil {
		return nil, "", err
	}
	st, err := s.scoringStore()
	if err != nil {
		return nil, "", err
	}
	size, err := scoringPageSize(r.PageSize)
	if err != nil {
		return nil, "", err
	}
	q := GradeChangeQuery{Limit: size + 1}
	if r.Customer.ID != "" || r.Customer.ExternalID != "" {
		c, err := s.store.GetCustomer(ctx, p.TenantID, r.Customer)
		if err != nil {
			return nil, "", err
		}
		q.CustomerID = c.ID
	}
	filter := gradeChangesListing + "/" + q.CustomerID
	cur, err := DecodePageToken(p.TenantID, filter, "time desc", r.PageToken)
	if err != nil {
		return nil, "", err
	}
	if cur != nil {
		if _, ok := cur.Value.(time.Time); !ok {
			return nil, "", Invalid("page_token", "malformed page token")
		}
		q.After = cur
	}
	out, err := st.ListGradeChanges(ctx, p.TenantID, q)
	if err != nil {
		return nil, "", err
	}
	out, next := trimPage(out, size, func(last *GradeChange) string {
		return EncodePageToken(p.TenantID, filter, "time desc", Cursor{Value: last.Time, ID: last.ID})
	})
	return out, next, nil
}

// scoringPageSize checks a request's page size and returns the one to use:
// DefaultPageSize for 0, at most MaxPageSize.
func scoringPageSize(n int) (int, error) {
	if n < 0 {
		return 0, Invalid("page_size", "must not be negative")
	}
	if n == 0 {
		return DefaultPageSize, nil
	}
	return min(n, MaxPageSize), nil
}

// TopOrder is what ListTopCustomers ranks by.
type TopOrder string

// Top orders.
const (
	TopByScore          TopOrder = "score"           // score in a model now, highest first
	TopByGrade          TopOrder = "grade"           // best grade first, then highest composite
	TopByPredictedValue TopOrder = "predicted_value" // predicted lifetime value, highest first
	TopByValueAtRisk    TopOrder = "value_at_risk"   // predicted value × churn probability, highest first
	// TopByConversion ranks open leads by conversion probability, highest
	// first, as the last conversion training run scored them (see
	// TrainConversionModel; RetrainConversionModels refreshes them), for
	// the conversion model of the list's scoring model.
	TopByConversion TopOrder = "conversion"
)

// ListTopCustomersRequest is one page request of ListTopCustomers.
type ListTopCustomersRequest struct {
	Order     TopOrder
	ModelID   string // the scoring model of the scores (see GetScore); optional
	PageSize  int
	PageToken string
	// Action, when set, keeps only the customers whose next best action
	// now has this name (e.g. "call", or ActionNone).
	Action string
}

// TopCustomer is one row of a ranked list.
type TopCustomer struct {
	Customer Customer // with its stored assessment
	Score    int64    // in the list's model now; 0 without a model
	Grade    CustomerGrade
	// Conversion is the lead's stored conversion score (TopByConversion
	// lists only).
	Conversion *LeadScore
	// Action is the customer's next best action now.
	Action Action
}

// TopCustomers is one page of ListTopCustomers.
type TopCustomers struct {
	Customers     []TopCustomer
	Model         *ScoringModel // the model of the scores; nil if the tenant has none
	NextPageToken string
}

// ListTopCustomers ranks the caller's customers by score, grade, predicted
// lifetime value or value at risk (from the stored assessments), each row
// with its score, grade and values.
func (s *Service) ListTopCustomers(ctx context.Context, r ListTopCustomersRequest) (TopCustomers, error) {
	p, err := PrincipalFrom(ctx)
	if err != nil {
		return TopCustomers{}, err
	}
	st, err := s.scoringStore()
	if err != nil {
		return TopCustomers{}, err
	}
	size, err := scoringPageSize(r.PageSize)
	if err != nil {
		return TopCustomers{}, err
	}
	var out TopCustomers
	m, err := s.resolveModel(ctx, st, p.TenantID, r.ModelID)
	switch {
	case err == nil:
		out.Model = &m
	case r.Order == TopByScore || r.ModelID != "":
		return TopCustomers{}, err
	case !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrInvalid):
		return TopCustomers{}, err
	}
	modelID := ""
	if out.Model != nil {
		modelID = out.Model.ID
	}
	listing := "top/" + string(r.Order) + "/" + modelID
	cur, err := DecodePageToken(p.TenantID, listing, string(r.Order), r.PageToken)
	if err != nil {
		return TopCustomers{}, err
	}
	if r.Action != "" && (len(r.Action) > maxActionNameBytes || (r.Action != ActionNone && !actionNamePattern.MatchString(r.Action))) {
		return TopCustomers{}, Invalid("action", "must be an action name: lowercase letters, digits and underscores")
	}
	now := s.Now()
	var conv map[string]*LeadScore
	var nextCursor func(last *TopCustomer) Cursor
	// fetch returns the ids of at most limit customers after cur in the
	// order of the list.
	fetch := func(cur *Cursor, limit int) ([]string, error) {
		var ids []string
		switch r.Order {
		case TopByScore:
			var after *ScoreCursor
			if cur != nil {
				v, ok := cur.Value.(int64)
				if !ok {
					return nil, Invalid("page_token", "malformed page token")
				}
				after = &ScoreCursor{Score: v, ID: cur.ID}
			}
			rows, err := st.TopScores(ctx, p.TenantID, modelID, now, limit, after)
			if err != nil {
				return nil, err
			}
			for _, row := range rows {
				ids = append(ids, row.CustomerID)
			}
			nextCursor = func(last *TopCustomer) Cursor { return Cursor{Value: last.Score, ID: last.Customer.ID} }
		case TopByGrade:
			var after *GradeCursor
			if cur != nil {
				gc, ok := parseGradeCursor(cur)
				if !ok {
					return nil, Invalid("page_token", "malformed page token")
				}
				after = &gc
			}
			rows, err := st.TopGrades(ctx, p.TenantID, limit, after)
			if err != nil {
				return nil, err
			}
			for _, row := range rows {
				ids = append(ids, row.CustomerID)
			}
			nextCursor = func(last *TopCustomer) Cursor {
				return Cursor{Value: formatGradeCursor(last.Grade.Rank, last.Grade.Composite), ID: last.Customer.ID}
			}
		case TopByPredictedValue, TopByValueAtRisk:
			q := CustomerQuery{Order: Order{Field: string(r.Order), Desc: true}, Limit: limit}
			if cur != nil {
				if _, ok := cur.Value.(Money); !ok {
					return nil, Invalid("page_token", "malformed page token")
				}
				q.After = cur
			}
			cs, err := s.store.ListCustomers(ctx, p.TenantID, q)
			if err != nil {
				return nil, err
			}
			for _, c := range cs {
				ids = append(ids, c.ID)
			}
			field := string(r.Order)
			nextCursor = func(last *TopCustomer) Cursor {
				return Cursor{Value: last.Customer.SortValue(field), ID: last.Customer.ID}
			}
		case TopByConversion:
			cst, err := s.conversionStore()
			if err != nil {
				return nil, err
			}
			var after *LeadScoreCursor
			if cur != nil {
				v, ok := cur.Value.(float64)
				if !ok {
					return nil, Invalid("page_token", "malformed page token")
				}
				after = &LeadScoreCursor{Probability: v, ID: cur.ID}
			}
			scores, err := cst.TopLeadScores(ctx, p.TenantID, modelID, limit, after)
			if err != nil {
				return nil, err
			}
			if conv == nil {
				conv = make(map[string]*LeadScore, len(scores))
			}
			for i := range scores {
				ids = append(ids, scores[i].CustomerID)
				conv[scores[i].CustomerID] = &scores[i]
			}
			nextCursor = func(last *TopCustomer) Cursor {
				return Cursor{Value: last.Conversion.Probability, ID: last.Customer.ID}
			}
		default:
			return nil, Invalid("order_by", "must be score, grade, predicted_value, value_at_risk or conversion")
		}
		return ids, nil
	}
	// Without a filter, one read of size+1 rows tells whether there is a
	// next page. With one, the list is read in chunks, each row's action
	// decided, until size+1 rows match or the list ends: the cost grows
	// with the rows read to find them.
	chunk := size + 1
	if r.Action != "" {
		chunk = max(chunk, 200)
	}
	var rows []TopCustomer
	for {
		ids, err := fetch(cur, chunk)
		if err != nil {
			return TopCustomers{}, err
		}
		got, err := s.topRows(ctx, st, p.TenantID, ids, modelID, now)
		if err != nil {
			return TopCustomers{}, err
		}
		if err := s.addActions(ctx, p.TenantID, got); err != nil {
			return TopCustomers{}, err
		}
		for i := range got {
			got[i].Conversion = conv[got[i].Customer.ID]
			if r.Action == "" || got[i].Action.Name == r.Action {
				rows = append(rows, got[i])
			}
		}
		if len(rows) > size || len(ids) < chunk || len(got) == 0 {
			break
		}
		c := nextCursor(&got[len(got)-1])
		cur = &c
	}
	out.Customers, out.NextPageToken = trimPage(rows, size, func(last *TopCustomer) string {
		return EncodePageToken(p.TenantID, listing, string(r.Order), nextCursor(last))
	})
	return out, nil
}

// addActions sets the next best action of each row now.
func (s *Service) addActions(ctx context.Context, tenantID string, rows []TopCustomer) error {
	if len(rows) == 0 {
		return nil
	}
	ids := make([]string, len(rows))
	for i := range rows {
		ids[i] = rows[i].Customer.ID
	}
	acts, err := s.customerActions(ctx, tenantID, ids)
	if err != nil {
		return err
	}
	for i := range rows {
		rows[i].Action = acts[rows[i].Customer.ID]
	}
	return nil
}

// topRows reads the customers ids (in that order; deleted ones are left
// out) with their scores in modelID at now and their grades.
func (s *Service) topRows(ctx context.Context, st ScoringStore, tenantID string, ids []string, modelID string, now time.Time) ([]TopCustomer, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	byID := make(map[string]TopCustomer, len(ids))
	var mu sync.Mutex
	err := st.ReadScoring(ctx, tenantID, ScoringQuery{CustomerIDs: ids}, func(b *ScoringBatch) error {
		mu.Lock()
		defer mu.Unlock()
		for i := range b.Customers {
			in := &b.Customers[i]
			row := TopCustomer{Customer: in.Customer, Grade: in.Grade}
			if modelID != "" {
				row.Score = ScoreAt(in.Ledger, modelID, now)
			}
			byID[in.Customer.ID] = row
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]TopCustomer, 0, len(ids))
	for _, id := range ids {
		if row, ok := byID[id]; ok {
			out = append(out, row)
		}
	}
	return out, nil
}

// formatGradeCursor encodes a (rank, composite) position exactly.
func formatGradeCursor(rank int, composite float64) string {
	return strconv.Itoa(rank) + ":" + strconv.FormatUint(math.Float64bits(composite), 16)
}

func parseGradeCursor(c *Cursor) (GradeCursor, bool) {
	s, ok := c.Value.(string)
	if !ok {
		return GradeCursor{}, false
	}
	r, bits, ok := strings.Cut(s, ":")
	rank, err1 := strconv.Atoi(r)
	b, err2 := strconv.ParseUint(bits, 16, 64)
	if !ok || err1 != nil || err2 != nil || rank < 0 {
		return GradeCursor{}, false
	}
	return GradeCursor{Rank: rank, Composite: math.Float64frombits(b), ID: c.ID}, true
}

// GradeCount is how many customers hold one grade.
type GradeCount struct {
	Grade     string
	Customers int64
}

// GradeDistribution is the caller's tenant's customers by grade.
type GradeDistribution struct {
	// PolicyVersion is the version of the current policy (0: the default).
	PolicyVersion int64
	// Grades lists every grade of the current policy, best first, with its
	// customers (0 when none holds it), then any grade of an earlier
	// policy that customers still hold, in letter order.
	Grades []GradeCount
	// Customers is the sum of Grades' customers.
	Customers int64
}

// GradeDistribution counts the tenant's customers by their stored grade:
// the histogram of the dashboard's insights.
func (s *Service) GradeDistribution(ctx context.Context) (GradeDistribution, error) {
	p, err := PrincipalFrom(ctx)
	if err != nil {
		return GradeDistribution{}, err
	}
	st, err := s.scoringStore()
	if err != nil {
		return GradeDistribution{}, err
	}
	pol, err := currentPolicy(ctx, st, p.TenantID)
	if err != nil {
		return GradeDistribution{}, err
	}
	counts, err := st.CountGrades(ctx, p.TenantID)
	if err != nil {
		return GradeDistribution{}, err
	}
	out := GradeDistribution{PolicyVersion: pol.Version}
	for _, g := range pol.Grades {
		out.Grades = append(out.Grades, GradeCount{Grade: g, Customers: counts[g]})
		delete(counts, g)
	}
	rest := make([]string, 0, len(counts))
	for g := range counts {
		rest = append(rest, g)
	}
	sortStrings(rest)
	for _, g := range rest {
		out.Grades = append(out.Grades, GradeCount{Grade: g, Customers: counts[g]})
	}
	for _, g := range out.Grades {
		out.Customers += g.Customers
	}
	return out, nil
}
