package domain

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/potentialhq/potential/domain/rules"
)

// Grading: every customer has a grade (A-F by default) that a tenant's
// grading policy derives from three components, each a sub-score from 0 to
// 100:
//
//	value       100 × min(1, max(0, v / ValueTarget)), where v is the
//	            predicted lifetime value of the customer's stored assessment
//	            (ValueSource predicted, when the customer has been assessed
//	            with a value model) or its historical value, orders minus
//	            refunds (ValueSource historical, or no model yet)
//	engagement  100 × min(1, max(0, s / EngagementTarget)), where s is the
//	            customer's score now in the scoring model EngagementModelID
//	fit         min(100, max(0, Σ points of the fit criteria whose CEL
//	            condition holds for the customer + BANT points)); BANT points
//	            (budget, authority, need, timeline) are earned by leads from
//	            their qualification facts and count in full for customers,
//	            who have shown all four by buying
//
// The composite is their weighted mean, Σ wᵢ·sᵢ / Σ wᵢ, also 0-100. The
// grade is the first one (best first) whose cut the composite reaches, and
// the last grade otherwise. Absolute thresholds are the cuts themselves;
// percentile thresholds are cumulative shares of customers from the top
// (e.g. 10, 30, 60 …: the top 10 % get A, the next 20 % B …), turned into
// cuts by Calibrate over the composites of every customer whenever the
// whole tenant is graded (a policy change, a rule change, RegradeAll).

// ValueSource says which lifetime value the value component uses.
type ValueSource string

// Value sources.
const (
	// ValuePredicted is the predicted lifetime value of the stored
	// assessment, or the historical value when the customer has no
	// assessment from a value model yet.
	ValuePredicted ValueSource = "predicted"
	// ValueHistorical is net spend so far: orders minus refunds.
	ValueHistorical ValueSource = "historical"
)

// ThresholdMode says how a policy's cutoffs are read.
type ThresholdMode string

// Threshold modes.
const (
	// ThresholdsAbsolute: cutoff i is the composite (0-100) from which a
	// customer gets grade i; cutoffs strictly decrease.
	ThresholdsAbsolute ThresholdMode = "absolute"
	// ThresholdsPercentile: cutoff i is the share (percent, 0-100
	// exclusive) of customers, from the top, that get grade i or better;
	// cutoffs strictly increase.
	ThresholdsPercentile ThresholdMode = "percentile"
)

// FitCriterion adds Points to the fit sub-score of customers for whom
// Condition (CEL over `customer`, `attributes` and a lead's `conversion`
// — its stored probability and band, see RuleLeadScore and
// rules.CompileFit) holds. Negative points mark a poor fit.
type FitCriterion struct {
	Name      string
	Condition string
	Points    float64
}

// BANT awards fit points for a lead's qualification facts: BudgetPoints
// for a known budget of at least BudgetMin, AuthorityPoints for a decision
// maker or budget approver (half for an influencer), NeedPoints for a
// stated need, TimelinePoints for an expected decision within TimelineDays
// from the grading time. Customers (kind customer) get all four.
type BANT struct {
	BudgetMin       Money
	BudgetPoints    float64
	AuthorityPoints float64
	NeedPoints      float64
	TimelinePoints  float64
	TimelineDays    int
}

// GradingPolicy is how a tenant grades its customers. Every change is a new
// Version; grades and their changes name the version that made them.
type GradingPolicy struct {
	TenantID string
	Version  int64
	// Grades are the labels, best first (default A, B, C, D, E, F).
	Grades []string
	// Weights of the components in the composite; a zero weight leaves the
	// component out.
	ValueWeight, EngagementWeight, FitWeight float64
	ValueSource                              ValueSource
	ValueTarget                              Money // value earning the full value sub-score
	EngagementModelID                        string
	EngagementTarget                         int64 // score earning the full engagement sub-score
	Fit                                      []FitCriterion
	BANT                                     BANT
	Thresholds                               ThresholdMode
	// Cutoffs has one entry per grade but the last (see ThresholdMode).
	Cutoffs []float64
	// Cuts are the composites from which each grade but the last starts:
	// the cutoffs under absolute thresholds, the calibrated cuts under
	// percentile thresholds (see Calibrate), as of CalibrateTime.
	Cuts          []float64
	CalibrateTime time.Time
	CreateTime    time.Time
}

// DefaultGradingPolicy is the policy of a tenant that has not set one:
// grades A-F; 60 % value (predicted, full marks at 1,000.00), 40 % fit
// (BANT, 25 points each for a budget, a decision maker, a need and a
// decision within 90 days), no engagement component (it needs a scoring
// model); absolute cutoffs 80, 65, 50, 35, 20.
func DefaultGradingPolicy() GradingPolicy {
	p := GradingPolicy{
		Grades:      []string{"A", "B", "C", "D", "E", "F"},
		ValueWeight: 60, FitWeight: 40,
		ValueSource: ValuePredicted, ValueTarget: 1000 * microsPerUnit,
		EngagementTarget: 100,
		BANT:             BANT{BudgetPoints: 25, AuthorityPoints: 25, NeedPoints: 25, TimelinePoints: 25, TimelineDays: 90},
		Thresholds:       ThresholdsAbsolute,
		Cutoffs:          []float64{80, 65, 50, 35, 20},
	}
	p.Cuts = slices.Clone(p.Cutoffs)
	return p
}

// Limits of a grading policy.
const (
	MinGrades       = 2
	MaxGrades       = 10
	maxGradeBytes   = 16
	MaxFitCriteria  = 50
	maxTimelineDays = 3650
)

// Validate checks a policy as a client sent it, compiling its fit
// conditions; the fields are named under "policy.". Conflicting thresholds
// (not strictly ordered, outside their range, or one too many or few) name
// the cutoff at fault.
func (p *GradingPolicy) Validate() error {
	v := violations{prefix: "policy"}
	switch {
	case len(p.Grades) < MinGrades || len(p.Grades) > MaxGrades:
		v.add("grades", "need %d to %d grades, best first", MinGrades, MaxGrades)
	default:
		seen := map[string]int{}
		for i, g := range p.Grades {
			if g == "" || len(g) > maxGradeBytes || !utf8.ValidString(g) || strings.TrimSpace(g) != g || strings.IndexByte(g, 0) >= 0 {
				v.add(fmt.Sprintf("grades[%d]", i), "must be 1-%d bytes of UTF-8 without surrounding spaces", maxGradeBytes)
			} else if j, dup := seen[g]; dup {
				v.add(fmt.Sprintf("grades[%d]", i), "repeats grades[%d]", j)
			}
			seen[g] = i
		}
	}
	for _, w := range []struct {
		field string
		w     float64
	}{{"value_weight", p.ValueWeight}, {"engagement_weight", p.EngagementWeight}, {"fit_weight", p.FitWeight}} {
		if !(w.w >= 0 && w.w <= 1000) {
			v.add(w.field, "must be between 0 and 1000")
		}
	}
	if !(p.ValueWeight+p.EngagementWeight+p.FitWeight > 0) {
		v.add("value_weight", "at least one of value_weight, engagement_weight, fit_weight must be positive")
	}
	if p.ValueSource != ValuePredicted && p.ValueSource != ValueHistorical {
		v.add("value_source", "must be predicted or historical")
	}
	if p.ValueWeight > 0 && p.ValueTarget <= 0 {
		v.add("value_target", "must be positive: the value that earns the full value sub-score")
	}
	if p.EngagementWeight > 0 {
		if p.EngagementModelID == "" {
			v.add("engagement_model_id", "required when engagement_weight is positive: the scoring model whose score is the engagement")
		}
		if p.EngagementTarget <= 0 {
			v.add("engagement_target", "must be positive: the score that earns the full engagement sub-score")
		}
	}
	if len(p.Fit) > MaxFitCriteria {
		v.add("fit", "at most %d criteria", MaxFitCriteria)
	}
	for i, f := range p.Fit {
		path := fmt.Sprintf("fit[%d]", i)
		validName(&v, path+".display_name", f.Name)
		if _, err := rules.CompileFit(f.Condition); err != nil {
			v.add(path+".condition", "%v", err)
		} else if strings.TrimSpace(f.Condition) == "" {
			v.add(path+".condition", "required")
		}
		if !(f.Points >= -100 && f.Points <= 100) {
			v.add(path+".points", "must be between -100 and 100")
		}
	}
	b := p.BANT
	if b.BudgetMin < 0 {
		v.add("bant.budget_min", "must not be negative")
	}
	for _, f := range []struct {
		field string
		x     float64
	}{{"bant.budget_points", b.BudgetPoints}, {"bant.authority_points", b.AuthorityPoints}, {"bant.need_points", b.NeedPoints}, {"bant.timeline_points", b.TimelinePoints}} {
		if !(f.x >= 0 && f.x <= 100) {
			v.add(f.field, "must be between 0 and 100")
		}
	}
	if b.TimelineDays < 0 || b.TimelineDays > maxTimelineDays {
		v.add("bant.timeline_days", "must be between 0 and %d", maxTimelineDays)
	}
	p.validateCutoffs(&v)
	return v.err()
}

func (p *GradingPolicy) validateCutoffs(v *violations) {
	if p.Thresholds != ThresholdsAbsolute && p.Thresholds != ThresholdsPercentile {
		v.add("thresholds", "must be absolute or percentile")
		return
	}
	if len(p.Grades) < MinGrades || len(p.Grades) > MaxGrades {
		return // reported above
	}
	if len(p.Cutoffs) != len(p.Grades)-1 {
		v.add("cutoffs", "need %d cutoffs, one per grade but the last, got %d", len(p.Grades)-1, len(p.Cutoffs))
		return
	}
	for i, c := range p.Cutoffs {
		field := fmt.Sprintf("cutoffs[%d]", i)
		switch p.Thresholds {
		case ThresholdsAbsolute:
			switch {
			case !(c >= 0 && c <= 100):
				v.add(field, "an absolute cutoff is a composite score between 0 and 100, got %g", c)
			case i > 0 && !(c < p.Cutoffs[i-1]):
				v.add(field, "conflicts with cutoffs[%d]: grade %s must start below grade %s (%g is not below %g)", i-1, p.Grades[i], p.Grades[i-1], c, p.Cutoffs[i-1])
			}
		case ThresholdsPercentile:
			switch {
			case !(c > 0 && c < 100):
				v.add(field, "a percentile cutoff is a share of customers strictly between 0 and 100, got %g", c)
			case i > 0 && !(c > p.Cutoffs[i-1]):
				v.add(field, "conflicts with cutoffs[%d]: the top %g %% cannot hold fewer customers than the top %g %%", i-1, c, p.Cutoffs[i-1])
			}
		}
	}
}

// Calibrate turns percentile cutoffs into cuts over the given composites
// (in any order): with the composites sorted in descending order c₁ ≥ … ≥
// c_N and kᵢ = ⌈cutoffᵢ/100 × N⌉, grade i starts just above c_{kᵢ+1}, the
// best composite outside the top cutoffᵢ %, so customers tied at a boundary
// all get the lower grade and no grade holds more than its share (or at
// c_N when kᵢ = N). With no composites, the cuts are 100 − cutoffᵢ, as if
// composites were spread evenly over 0-100.
func Calibrate(cutoffs []float64, composites []float64) []float64 {
	cuts := make([]float64, len(cutoffs))
	n := len(composites)
	if n == 0 {
		for i, c := range cutoffs {
			cuts[i] = 100 - c
		}
		return cuts
	}
	sorted := slices.Clone(composites)
	slices.SortFunc(sorted, func(a, b float64) int { return cmpFloat(b, a) })
	for i, c := range cutoffs {
		k := int(math.Ceil(c / 100 * float64(n)))
		k = min(max(k, 1), n)
		if k == n {
			cuts[i] = sorted[n-1]
		} else {
			cuts[i] = math.Nextafter(sorted[k], math.Inf(1))
		}
	}
	return cuts
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// CustomerGrade is a customer's grade with the components it came from.
type CustomerGrade struct {
	CustomerID string
	Grade      string // "" when the customer has no grade yet
	Rank       int    // index of Grade in the policy's grades, 0 = best
	// Composite and the sub-scores, each 0-100.
	Composite, Value, Engagement, Fit float64
	PolicyVersion                     int64 // 0 for the default policy
	GradeTime                         time.Time
}

// GradeCause says what made a grade change.
type GradeCause string

// Grade causes.
const (
	CauseCreated         GradeCause = "customer_created"
	CauseCustomerUpdated GradeCause = "customer_updated"
	CauseEvents          GradeCause = "events_recorded"
	CausePolicyChanged   GradeCause = "policy_changed"
	CauseRulesChanged    GradeCause = "rules_changed"
	CauseRegrade         GradeCause = "regrade"
	// CauseConversionChanged: a conversion model's training replaced the
	// stored lead scores a fit criterion reads.
	CauseConversionChanged GradeCause = "conversion_changed"
)

// GradeChange records one change of a customer's grade.
type GradeChange struct {
	ID            string
	CustomerID    string
	From, To      string // From is "" for the first grade
	Time          time.Time
	PolicyVersion int64
	Cause         GradeCause
	// Reason says in a sentence how the new grade was reached.
	Reason string
}

// grader is a policy ready to grade: its fit conditions compiled and its
// cuts settled.
type grader struct {
	p    *GradingPolicy
	fit  []*rules.Condition
	cuts []float64
}

// newGrader compiles p. cuts overrides p.Cuts (calibrated percentile cuts);
// nil takes p.Cuts, or for absolute thresholds the cutoffs.
func newGrader(p *GradingPolicy, cuts []float64) (*grader, error) {
	g := &grader{p: p, cuts: cuts}
	for _, f := range p.Fit {
		c, err := compileFitCondition(f.Condition)
		if err != nil {
			return nil, prefixViolations(Invalid("condition", "%v", err), "policy.fit")
		}
		g.fit = append(g.fit, c)
	}
	switch {
	case g.cuts != nil:
	case p.Thresholds == ThresholdsAbsolute:
		g.cuts = p.Cutoffs
	case len(p.Cuts) == len(p.Cutoffs):
		g.cuts = p.Cuts
	default: // percentile, never calibrated
		g.cuts = Calibrate(p.Cutoffs, nil)
	}
	return g, nil
}

// gradeParts are the facts behind a grade, for its explanation.
type gradeParts struct {
	value       Money
	predicted   bool
	score       int64
	fitMatched  []string
	bant        []string
	fitPoints   float64
	isCustomer  bool
	composite   float64
	subV, subE  float64
	subF        float64
	grade, rank int
}

// components computes the sub-scores and composite of customer c with
// engagement score `score`, at now.
func (g *grader) components(c *Customer, score int64, scores []LeadScore, now time.Time) gradeParts {
	p := g.p
	var gp gradeParts
	gp.value = c.Purchases.NetSpend()
	if p.ValueSource == ValuePredicted && c.Assessment.ModelVersion > 0 {
		gp.value, gp.predicted = c.Assessment.PredictedValue, true
	}
	if p.ValueWeight > 0 && p.ValueTarget > 0 {
		gp.subV = 100 * clamp01(float64(gp.value)/float64(p.ValueTarget))
	}
	gp.score = score
	if p.EngagementWeight > 0 && p.EngagementTarget > 0 {
		gp.subE = 100 * clamp01(float64(score)/float64(p.EngagementTarget))
	}
	if p.FitWeight > 0 {
		g.fitScore(c, scores, now, &gp)
	}
	var sum, weights float64
	for _, part := range []struct{ w, s float64 }{{p.ValueWeight, gp.subV}, {p.EngagementWeight, gp.subE}, {p.FitWeight, gp.subF}} {
		if part.w > 0 {
			sum += part.w * part.s
			weights += part.w
		}
	}
	if weights > 0 {
		gp.composite = sum / weights
	}
	gp.rank = len(p.Grades) - 1
	for i, cut := range g.cuts {
		if gp.composite >= cut {
			gp.rank = i
			break
		}
	}
	return gp
}

// fitScore sets the fit sub-score of customer c, with stored lead
// conversion scores scores (see RuleLeadScore), at now, with its reasons.
func (g *grader) fitScore(c *Customer, scores []LeadScore, now time.Time, gp *gradeParts) {
	p := g.p
	if len(g.fit) > 0 {
		cu := celCustomer(c)
		cu.Orders, cu.PurchaseDays, cu.TotalSpend = c.Purchases.Orders, c.Purchases.PurchaseDays, c.Purchases.TotalSpend.Float()
		var ev rules.Event
		conv := ruleConversion(RuleLeadScore(scores, p.EngagementModelID))
		for i, cond := range g.fit {
			if ok, err := cond.EvalFit(&ev, &cu, &conv); err == nil && ok {
				gp.fitPoints += p.Fit[i].Points
				gp.fitMatched = append(gp.fitMatched, fmt.Sprintf("%s %+g", p.Fit[i].Name, p.Fit[i].Points))
			}
		}
	}
	b, q := p.BANT, c.Qualification
	gp.isCustomer = c.Kind == KindCustomer
	bant := func(name string, points float64, ok bool) {
		if ok && points > 0 {
			gp.fitPoints += points
			gp.bant = append(gp.bant, fmt.Sprintf("%s %+g", name, points))
		}
	}
	if gp.isCustomer {
		bant("budget", b.BudgetPoints, true)
		bant("authority", b.AuthorityPoints, true)
		bant("need", b.NeedPoints, true)
		bant("timeline", b.TimelinePoints, true)
	} else {
		bant("budget", b.BudgetPoints, q.Budget > 0 && q.Budget >= b.BudgetMin)
		switch q.Authority {
		case AuthorityDecisionMaker, AuthorityBudgetApprover:
			bant("authority", b.AuthorityPoints, true)
		case AuthorityInfluencer:
			bant("authority (influencer)", b.AuthorityPoints/2, true)
		}
		bant("need", b.NeedPoints, strings.TrimSpace(q.Need) != "")
		deadline := now.AddDate(0, 0, b.TimelineDays)
		bant("timeline", b.TimelinePoints, !q.DecisionTime.IsZero() && !q.DecisionTime.Before(now) && !q.DecisionTime.After(deadline))
	}
	gp.subF = math.Min(100, math.Max(0, gp.fitPoints))
}

func clamp01(x float64) float64 { return math.Min(1, math.Max(0, x)) }

// grade grades customer c (engagement score `score`) at now.
func (g *grader) grade(c *Customer, score int64, scores []LeadScore, now time.Time) (CustomerGrade, gradeParts) {
	gp := g.components(c, score, scores, now)
	return CustomerGrade{
		CustomerID: c.ID, Grade: g.p.Grades[gp.rank], Rank: gp.rank,
		Composite: gp.composite, Value: gp.subV, Engagement: gp.subE, Fit: gp.subF,
		PolicyVersion: g.p.Version, GradeTime: now,
	}, gp
}

// explain says in a few sentences how grade gp was reached.
func (g *grader) explain(gp gradeParts) string {
	p := g.p
	var parts []string
	if p.ValueWeight > 0 {
		src := "historical value (orders minus refunds)"
		if gp.predicted {
			src = "predicted lifetime value"
		}
		parts = append(parts, fmt.Sprintf("value %.1f × %g (%s %s of target %s)", gp.subV, p.ValueWeight, src, gp.value, p.ValueTarget))
	}
	if p.EngagementWeight > 0 {
		parts = append(parts, fmt.Sprintf("engagement %.1f × %g (score %d of target %d)", gp.subE, p.EngagementWeight, gp.score, p.EngagementTarget))
	}
	if p.FitWeight > 0 {
		var why []string
		why = append(why, gp.fitMatched...)
		if len(gp.bant) > 0 {
			who := "lead"
			if gp.isCustomer {
				who = "customer: BANT counts in full"
			}
			why = append(why, fmt.Sprintf("BANT %s (%s)", strings.Join(gp.bant, ", "), who))
		}
		if len(why) == 0 {
			why = append(why, "no fit criterion holds")
		}
		parts = append(parts, fmt.Sprintf("fit %.1f × %g (%s)", gp.subF, p.FitWeight, strings.Join(why, "; ")))
	}
	grade := p.Grades[gp.rank]
	var threshold string
	switch {
	case gp.rank < len(g.cuts):
		threshold = fmt.Sprintf("at least %.2f, the cut of grade %s", g.cuts[gp.rank], grade)
	default:
		threshold = fmt.Sprintf("below %.2f, the cut of grade %s", g.cuts[len(g.cuts)-1], p.Grades[len(p.Grades)-2])
	}
	mode := ""
	if p.Thresholds == ThresholdsPercentile {
		mode = " (percentile thresholds, calibrated over the tenant's customers)"
	}
	version := fmt.Sprintf("policy v%d", p.Version)
	if p.Version == 0 {
		version = "the default policy"
	}
	return fmt.Sprintf("Grade %s under %s: composite %.2f is %s%s. Composite = weighted mean of %s.",
		grade, version, gp.composite, threshold, mode, strings.Join(parts, ", "))
}
