package server

import (
	"sort"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/potentialhq/potential/domain"
	scoringv1 "github.com/potentialhq/potential/gen/go/potential/scoring/v1"
)

// Conversions of scoring models, rules, scores and grades.

func scoringModelToProto(m *domain.ScoringModel) *scoringv1.ScoringModel {
	return &scoringv1.ScoringModel{
		Id: m.ID, DisplayName: m.Name, Description: m.Description, Revision: m.Revision,
		ScoredRevision: m.ScoredRevision, CreateTime: fromTime(m.CreateTime),
	}
}

// scoringRuleFromProto converts the client-set fields of p.
func scoringRuleFromProto(p *scoringv1.ScoringRule) (domain.ScoringRule, error) {
	r := domain.ScoringRule{
		ModelID: p.GetModelId(), Name: p.GetDisplayName(), Description: p.GetDescription(),
		EventKind: domain.EventKind(p.GetEventKind()), Condition: p.GetCondition(), Points: p.GetPoints(), Cap: p.GetCap(),
	}
	if v := p.GetValidity(); v != nil {
		if err := v.CheckValid(); err != nil {
			return domain.ScoringRule{}, domain.Invalid("rule.validity", "%v", err)
		}
		r.HasValidity, r.Validity = true, v.AsDuration()
	}
	return r, nil
}

func scoringRuleToProto(r *domain.ScoringRule) *scoringv1.ScoringRule {
	out := &scoringv1.ScoringRule{
		Id: r.ID, ModelId: r.ModelID, DisplayName: r.Name, Description: r.Description, EventKind: string(r.EventKind),
		Condition: r.Condition, Points: r.Points, Cap: r.Cap, Version: r.Version, Etag: domain.ETag(r.Version),
		CreateTime: fromTime(r.CreateTime), UpdateTime: fromTime(r.UpdateTime), DeleteTime: fromTime(r.DeleteTime),
	}
	if r.HasValidity {
		out.Validity = durationpb.New(r.Validity)
	}
	return out
}

// ruleSetters copy one client-set field (named by its update_mask path).
var ruleSetters = map[string]func(dst, src *domain.ScoringRule){
	"display_name": func(d, s *domain.ScoringRule) { d.Name = s.Name },
	"description":  func(d, s *domain.ScoringRule) { d.Description = s.Description },
	"event_kind":   func(d, s *domain.ScoringRule) { d.EventKind = s.EventKind },
	"condition":    func(d, s *domain.ScoringRule) { d.Condition = s.Condition },
	"points":       func(d, s *domain.ScoringRule) { d.Points = s.Points },
	"validity":     func(d, s *domain.ScoringRule) { d.HasValidity, d.Validity = s.HasValidity, s.Validity },
	"cap":          func(d, s *domain.ScoringRule) { d.Cap = s.Cap },
}

// ruleMaskPaths resolves an UpdateScoringRule mask: "*" is every
// client-set field; an empty mask is every such field set in p.
func ruleMaskPaths(p *scoringv1.ScoringRule, paths []string) ([]string, error) {
	switch {
	case len(paths) == 0:
		p.ProtoReflect().Range(func(fd protoreflect.FieldDescriptor, _ protoreflect.Value) bool {
			if _, ok := ruleSetters[string(fd.Name())]; ok {
				paths = append(paths, string(fd.Name()))
			}
			return true
		})
		sort.Strings(paths)
		return paths, nil
	case len(paths) == 1 && paths[0] == "*":
		all := make([]string, 0, len(ruleSetters))
		for k := range ruleSetters {
			all = append(all, k)
		}
		sort.Strings(all)
		return all, nil
	}
	for _, path := range paths {
		switch {
		case ruleSetters[path] != nil:
		case path == "model_id":
			return nil, domain.Invalid("update_mask", "model_id cannot change; create the rule in the other model")
		case path == "id" || path == "version" || path == "etag" || path == "create_time" || path == "update_time" || path == "delete_time":
			return nil, domain.Invalid("update_mask", "%q is output only", path)
		default:
			return nil, domain.Invalid("update_mask", "unknown field %q", path)
		}
	}
	return paths, nil
}

// ruleMutation returns the mutation an UpdateScoringRuleRequest asks for.
func ruleMutation(req *scoringv1.UpdateScoringRuleRequest) (func(*domain.ScoringRule) error, error) {
	pr := req.GetRule()
	paths, err := ruleMaskPaths(pr, req.GetUpdateMask().GetPaths())
	if err != nil {
		return nil, err
	}
	src, err := scoringRuleFromProto(pr)
	if err != nil {
		return nil, err
	}
	return func(dst *domain.ScoringRule) error {
		for _, p := range paths {
			ruleSetters[p](dst, &src)
		}
		return nil
	}, nil
}

func scoreToProto(s *domain.Score) *scoringv1.Score {
	return &scoringv1.Score{
		CustomerId: s.CustomerID, ModelId: s.Model.ID, ModelDisplayName: s.Model.Name, Points: s.Points,
		AsOf: fromTime(s.AsOf), Stale: s.Stale,
	}
}

func ledgerEntryToProto(e *domain.ExplainedEntry) *scoringv1.LedgerEntry {
	return &scoringv1.LedgerEntry{
		Id: e.Entry.ID, RuleId: e.Entry.RuleID, RuleVersion: e.Entry.RuleVersion, RuleDisplayName: e.Rule.Name,
		EventKind: string(e.Entry.EventKind), EventId: e.Entry.EventID, EventExternalId: e.Entry.EventRef,
		Points: e.Entry.Points, AwardTime: fromTime(e.Entry.AwardedAt), ExpireTime: fromTime(e.Entry.ExpiresAt), Capped: e.Entry.Capped,
	}
}

var (
	valueSourceEnum = newEnumMap(map[scoringv1.ValueSource]domain.ValueSource{
		scoringv1.ValueSource_VALUE_SOURCE_PREDICTED:  domain.ValuePredicted,
		scoringv1.ValueSource_VALUE_SOURCE_HISTORICAL: domain.ValueHistorical,
	})
	thresholdEnum = newEnumMap(map[scoringv1.ThresholdMode]domain.ThresholdMode{
		scoringv1.ThresholdMode_THRESHOLD_MODE_ABSOLUTE:   domain.ThresholdsAbsolute,
		scoringv1.ThresholdMode_THRESHOLD_MODE_PERCENTILE: domain.ThresholdsPercentile,
	})
	gradeCauseEnum = newEnumMap(map[scoringv1.GradeChangeCause]domain.GradeCause{
		scoringv1.GradeChangeCause_GRADE_CHANGE_CAUSE_CUSTOMER_CREATED: domain.CauseCreated,
		scoringv1.GradeChangeCause_GRADE_CHANGE_CAUSE_CUSTOMER_UPDATED: domain.CauseCustomerUpdated,
		scoringv1.GradeChangeCause_GRADE_CHANGE_CAUSE_EVENTS_RECORDED:  domain.CauseEvents,
		scoringv1.GradeChangeCause_GRADE_CHANGE_CAUSE_POLICY_CHANGED:   domain.CausePolicyChanged,
		scoringv1.GradeChangeCause_GRADE_CHANGE_CAUSE_RULES_CHANGED:    domain.CauseRulesChanged,
		scoringv1.GradeChangeCause_GRADE_CHANGE_CAUSE_REGRADE:          domain.CauseRegrade,
	})
	topOrderEnum = newEnumMap(map[scoringv1.TopCustomerOrder]domain.TopOrder{
		scoringv1.TopCustomerOrder_TOP_CUSTOMER_ORDER_SCORE:           domain.TopByScore,
		scoringv1.TopCustomerOrder_TOP_CUSTOMER_ORDER_GRADE:           domain.TopByGrade,
		scoringv1.TopCustomerOrder_TOP_CUSTOMER_ORDER_PREDICTED_VALUE: domain.TopByPredictedValue,
		scoringv1.TopCustomerOrder_TOP_CUSTOMER_ORDER_VALUE_AT_RISK:   domain.TopByValueAtRisk,
		scoringv1.TopCustomerOrder_TOP_CUSTOMER_ORDER_CONVERSION:      domain.TopByConversion,
	})
)

// policyFromProto converts a policy as a client sent it.
func policyFromProto(p *scoringv1.GradingPolicy) (domain.GradingPolicy, error) {
	out := domain.GradingPolicy{
		Grades:      p.GetGrades(),
		ValueWeight: p.GetValueWeight(), EngagementWeight: p.GetEngagementWeight(), FitWeight: p.GetFitWeight(),
		ValueSource:       valueSourceEnum.domain(p.GetValueSource()),
		EngagementModelID: p.GetEngagementModelId(), EngagementTarget: p.GetEngagementTarget(),
		Thresholds: thresholdEnum.domain(p.GetThresholds()), Cutoffs: p.GetCutoffs(),
	}
	var err error
	if out.ValueTarget, err = money("policy.value_target", p.GetValueTarget()); err != nil {
		return domain.GradingPolicy{}, err
	}
	for _, f := range p.GetFit() {
		out.Fit = append(out.Fit, domain.FitCriterion{Name: f.GetDisplayName(), Condition: f.GetCondition(), Points: f.GetPoints()})
	}
	b := p.GetBant()
	out.BANT = domain.BANT{BudgetPoints: b.GetBudgetPoints(), AuthorityPoints: b.GetAuthorityPoints(), NeedPoints: b.GetNeedPoints(),
		TimelinePoints: b.GetTimelinePoints(), TimelineDays: int(b.GetTimelineDays())}
	if out.BANT.BudgetMin, err = money("policy.bant.budget_min", b.GetBudgetMin()); err != nil {
		return domain.GradingPolicy{}, err
	}
	return out, nil
}

func policyToProto(p *domain.GradingPolicy) *scoringv1.GradingPolicy {
	out := &scoringv1.GradingPolicy{
		Version: p.Version, Etag: domain.ETag(p.Version), Grades: p.Grades,
		ValueWeight: p.ValueWeight, EngagementWeight: p.EngagementWeight, FitWeight: p.FitWeight,
		ValueSource: valueSourceEnum.proto(p.ValueSource), ValueTarget: moneyString(p.ValueTarget),
		EngagementModelId: p.EngagementModelID, EngagementTarget: p.EngagementTarget,
		Bant: &scoringv1.Bant{BudgetMin: moneyString(p.BANT.BudgetMin), BudgetPoints: p.BANT.BudgetPoints,
			AuthorityPoints: p.BANT.AuthorityPoints, NeedPoints: p.BANT.NeedPoints, TimelinePoints: p.BANT.TimelinePoints,
			TimelineDays: int32(p.BANT.TimelineDays)},
		Thresholds: thresholdEnum.proto(p.Thresholds), Cutoffs: p.Cutoffs, Cuts: p.Cuts,
		CalibrateTime: fromTime(p.CalibrateTime), CreateTime: fromTime(p.CreateTime),
	}
	for _, f := range p.Fit {
		out.Fit = append(out.Fit, &scoringv1.FitCriterion{DisplayName: f.Name, Condition: f.Condition, Points: f.Points})
	}
	return out
}

func customerGradeToProto(g *domain.CustomerGrade, explanation string) *scoringv1.CustomerGrade {
	return &scoringv1.CustomerGrade{
		CustomerId: g.CustomerID, Grade: g.Grade, Rank: int32(g.Rank), Composite: g.Composite,
		ValueScore: g.Value, EngagementScore: g.Engagement, FitScore: g.Fit, PolicyVersion: g.PolicyVersion,
		GradeTime: fromTime(g.GradeTime), Explanation: explanation,
	}
}

func gradeChangeToProto(c *domain.GradeChange) *scoringv1.GradeChange {
	return &scoringv1.GradeChange{
		Id: c.ID, CustomerId: c.CustomerID, FromGrade: c.From, ToGrade: c.To, ChangeTime: fromTime(c.Time),
		PolicyVersion: c.PolicyVersion, Cause: gradeCauseToProto(c.Cause), Reason: c.Reason,
	}
}

func gradePreviewToProto(p *domain.GradePreview) *scoringv1.GradePreview {
	out := &scoringv1.GradePreview{
		Customers: p.Customers, GradeChanges: p.GradeChanges, ScoreChanges: p.ScoreChanges, Policy: policyToProto(&p.Policy),
	}
	for _, t := range p.Transitions {
		out.Transitions = append(out.Transitions, &scoringv1.GradeTransition{FromGrade: t.From, ToGrade: t.To, Count: t.Count})
	}
	for _, s := range p.Samples {
		out.Samples = append(out.Samples, &scoringv1.GradePreviewSample{
			CustomerId: s.CustomerID, ExternalId: s.ExternalID, DisplayName: s.DisplayName, FromGrade: s.FromGrade, ToGrade: s.ToGrade,
			FromComposite: s.FromComposite, ToComposite: s.ToComposite, FromScore: s.FromScore, ToScore: s.ToScore, Explanation: s.Explanation,
		})
	}
	return out
}

func topCustomerToProto(t *domain.TopCustomer) *scoringv1.TopCustomer {
	out := &scoringv1.TopCustomer{
		CustomerId: t.Customer.ID, ExternalId: t.Customer.ExternalID, DisplayName: t.Customer.DisplayName,
		Score: t.Score, Grade: t.Grade.Grade, Composite: t.Grade.Composite,
		PredictedValue: moneyString(t.Customer.Assessment.PredictedValue), ValueAtRisk: moneyString(t.Customer.Assessment.ValueAtRisk),
	}
	out.Action = actionToProto(&t.Action)
	if c := t.Conversion; c != nil {
		out.ConversionProbability, out.ConversionBand = c.Probability, string(c.Band)
	}
	return out
}

// gradeCauseToProto converts a grade change's cause: a change caused by
// new conversion scores is a re-grade on the API (its reason explains it).
func gradeCauseToProto(c domain.GradeCause) scoringv1.GradeChangeCause {
	if c == domain.CauseConversionChanged {
		return scoringv1.GradeChangeCause_GRADE_CHANGE_CAUSE_REGRADE
	}
	return gradeCauseEnum.proto(c)
}
