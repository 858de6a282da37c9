package domain

import (
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
	"time"
)

var gradeNow = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

func testPolicy() GradingPolicy {
	return GradingPolicy{
		Version:     3,
		Grades:      []string{"A", "B", "C", "D", "E", "F"},
		ValueWeight: 50, EngagementWeight: 30, FitWeight: 20,
		ValueSource: ValuePredicted, ValueTarget: MoneyFromFloat(1000),
		EngagementModelID: "m", EngagementTarget: 100,
		Fit:        []FitCriterion{{Name: "Poland", Condition: `customer.country == "PL"`, Points: 10}, {Name: "small", Condition: `customer.company_size == "1_10"`, Points: -30}},
		BANT:       BANT{BudgetMin: MoneyFromFloat(1000), BudgetPoints: 25, AuthorityPoints: 25, NeedPoints: 25, TimelinePoints: 25, TimelineDays: 90},
		Thresholds: ThresholdsAbsolute,
		Cutoffs:    []float64{80, 65, 50, 35, 20},
	}
}

func TestGradeComponents(t *testing.T) {
	t.Parallel()
	lead := Customer{ID: "l", Kind: KindLead, Country: "PL",
		Assessment:    Assessment{ModelVersion: 1, PredictedValue: MoneyFromFloat(500)},
		Qualification: Qualification{Budget: MoneyFromFloat(5000), Authority: AuthorityDecisionMaker, DecisionTime: gradeNow.AddDate(0, 0, 30)},
	}
	cases := []struct {
		name                       string
		c                          Customer
		score                      int64
		value, eng, fit, composite float64
		grade                      string
	}{
		// value 500/1000 → 50; engagement 80/100 → 80; fit 10 (PL) + 25
		// budget + 25 authority + 25 timeline (no need) = 85;
		// composite (50·50 + 30·80 + 20·85) / 100 = 66 ≥ 65 → B.
		{"lead", lead, 80, 50, 80, 85, 66, "B"},
		// Without an assessment from a value model the value is historical:
		// net spend 300 − 50 → 25. Score above target is capped at 100.
		// An influencer earns half the authority points; a past decision
		// date earns none. fit 10 + 25 + 12.5 = 47.5.
		// composite (50·25 + 30·100 + 20·47.5) / 100 = 52 → C.
		{"historical", func() Customer {
			c := lead
			c.Assessment = Assessment{}
			c.Purchases = PurchaseStats{TotalSpend: MoneyFromFloat(300), RefundTotal: MoneyFromFloat(50)}
			c.Qualification.Authority = AuthorityInfluencer
			c.Qualification.DecisionTime = gradeNow.AddDate(0, 0, -1)
			return c
		}(), 250, 25, 100, 47.5, 52, "C"},
		// A customer earns every BANT point: fit 100 + (-30 small) = 70, and
		// a negative score counts as 0. (50·0 + 30·0 + 20·70) / 100 = 14 → F.
		{"customer", Customer{ID: "c", Kind: KindCustomer, CompanySize: Size1to10}, -20, 0, 0, 70, 14, "F"},
	}
	pol := testPolicy()
	g, err := newGrader(&pol, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		got, parts := g.grade(&c.c, c.score, nil, gradeNow)
		if math.Abs(got.Value-c.value) > 1e-9 || math.Abs(got.Engagement-c.eng) > 1e-9 || math.Abs(got.Fit-c.fit) > 1e-9 ||
			math.Abs(got.Composite-c.composite) > 1e-9 || got.Grade != c.grade || got.PolicyVersion != 3 {
			t.Errorf("%s: got %+v, want value %g engagement %g fit %g composite %g grade %s", c.name, got, c.value, c.eng, c.fit, c.composite, c.grade)
		}
		if e := g.explain(parts); !strings.Contains(e, "Grade "+c.grade+" under policy v3") {
			t.Errorf("%s: explanation %q", c.name, e)
		}
	}
}

func TestGradeLeavesOutZeroWeights(t *testing.T) {
	t.Parallel()
	pol := DefaultGradingPolicy()
	g, err := newGrader(&pol, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Default: 60 value (none) + 40 fit (customer: all BANT = 100) → 40 → D.
	got, _ := g.grade(&Customer{ID: "c", Kind: KindCustomer}, 1000, nil, gradeNow)
	if got.Composite != 40 || got.Grade != "D" || got.Engagement != 0 {
		t.Fatalf("default policy grade = %+v, want composite 40, D", got)
	}
}

func TestCalibrate(t *testing.T) {
	t.Parallel()
	composites := []float64{10, 80, 90, 70, 60, 50, 80, 40, 30, 20}
	cases := []struct {
		cutoffs []float64
		want    []string // grades of the composites 90, 80, 80, 70, 60, 50, 40, 30, 20, 10
	}{
		// Top 10 % (1 customer) A, top 30 % (3) B: 90 A, 80 80 B.
		{[]float64{10, 30}, []string{"A", "B", "B", "C", "C", "C", "C", "C", "C", "C"}},
		// Top 20 % would split the tie at 80: both get the lower grade.
		{[]float64{20, 50}, []string{"A", "B", "B", "B", "B", "C", "C", "C", "C", "C"}},
		// Top 95 % = 10 customers: everyone.
		{[]float64{50, 95}, []string{"A", "A", "A", "A", "A", "B", "B", "B", "B", "B"}},
	}
	for _, c := range cases {
		cuts := Calibrate(c.cutoffs, composites)
		pol := GradingPolicy{Grades: []string{"A", "B", "C"}, Thresholds: ThresholdsPercentile, Cutoffs: c.cutoffs, FitWeight: 1}
		g, err := newGrader(&pol, cuts)
		if err != nil {
			t.Fatal(err)
		}
		sorted := slices.Clone(composites)
		slices.SortFunc(sorted, func(a, b float64) int { return cmpFloat(b, a) })
		var got []string
		for _, x := range sorted {
			rank := len(pol.Grades) - 1
			for i, cut := range g.cuts {
				if x >= cut {
					rank = i
					break
				}
			}
			got = append(got, pol.Grades[rank])
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("cutoffs %v: cuts %v give %v, want %v", c.cutoffs, cuts, got, c.want)
		}
	}
	if got := Calibrate([]float64{10, 30}, nil); !slices.Equal(got, []float64{90, 70}) {
		t.Errorf("no composites: %v, want [90 70]", got)
	}
}

func TestPolicyValidation(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		mutate func(*GradingPolicy)
		field  string
	}{
		{"absolute cutoffs not decreasing", func(p *GradingPolicy) { p.Cutoffs = []float64{80, 65, 70, 35, 20} }, "policy.cutoffs[2]"},
		{"absolute cutoffs equal", func(p *GradingPolicy) { p.Cutoffs = []float64{80, 65, 50, 50, 20} }, "policy.cutoffs[3]"},
		{"absolute cutoff above 100", func(p *GradingPolicy) { p.Cutoffs = []float64{120, 65, 50, 35, 20} }, "policy.cutoffs[0]"},
		{"percentile cutoffs not increasing", func(p *GradingPolicy) {
			p.Thresholds, p.Cutoffs = ThresholdsPercentile, []float64{10, 30, 30, 80, 90}
		}, "policy.cutoffs[2]"},
		{"percentile cutoff of 100", func(p *GradingPolicy) {
			p.Thresholds, p.Cutoffs = ThresholdsPercentile, []float64{10, 30, 60, 80, 100}
		}, "policy.cutoffs[4]"},
		{"one cutoff too few", func(p *GradingPolicy) { p.Cutoffs = []float64{80, 65, 50, 35} }, "policy.cutoffs"},
		{"repeated grade", func(p *GradingPolicy) { p.Grades = []string{"A", "B", "C", "D", "B", "F"} }, "policy.grades[4]"},
		{"engagement without a model", func(p *GradingPolicy) { p.EngagementModelID = "" }, "policy.engagement_model_id"},
		{"no weight", func(p *GradingPolicy) { p.ValueWeight, p.EngagementWeight, p.FitWeight = 0, 0, 0 }, "policy.value_weight"},
		{"bad fit condition", func(p *GradingPolicy) { p.Fit[0].Condition = `customer.county == "PL"` }, "policy.fit[0].condition"},
	}
	for _, c := range cases {
		p := testPolicy()
		p.Fit = slices.Clone(p.Fit)
		c.mutate(&p)
		err := p.Validate()
		var ve *ValidationError
		if !errors.As(err, &ve) || len(ve.Violations) != 1 || ve.Violations[0].Field != c.field {
			t.Errorf("%s: got %v, want one violation of %s", c.name, err, c.field)
		}
	}
	p := testPolicy()
	if err := p.Validate(); err != nil {
		t.Fatalf("valid policy: %v", err)
	}
	d := DefaultGradingPolicy()
	if err := d.Validate(); err != nil {
		t.Fatalf("default policy: %v", err)
	}
	numeric := testPolicy()
	numeric.Grades, numeric.Cutoffs = []string{"5", "4", "3", "2", "1"}, []float64{80, 60, 40, 20}
	if err := numeric.Validate(); err != nil {
		t.Fatalf("grades 5-1: %v", err)
	}
}
