package rules

import (
	"errors"
	"testing"
)

func TestSegmentRules(t *testing.T) {
	t.Parallel()
	s := &Subject{
		Customer: Customer{Country: "PL", Attributes: map[string]any{"vip": true}},
		RFM:      RFM{RecencyScore: 2, FrequencyScore: 4, MonetaryScore: 5, Segment: "cant_lose_them"},
		CLV:      CLV{Predicted: 812.5, Historical: 1200},
		PAlive:   0.41, Churn: Churn{Level: "high", Reasons: []string{"low_p_alive", "open_complaint"}},
		Stage: "at_risk", Grade: "A", Score: 81, Interactions: Interactions{Last7Days: 0, Last30Days: 1, Last90Days: 5, DaysSinceLast: 12},
		DaysSinceLastPurchase: 40, OpenComplaints: 1,
	}
	for _, tc := range []struct {
		src  string
		want bool
		time bool
	}{
		{`customer.country == "PL" && rfm.recency_score <= 2 && clv.predicted > 500.0`, true, false},
		{`rfm.segment == "champions"`, false, false},
		{`"open_complaint" in churn.reasons && churn.level == "high" && open_complaints > 0`, true, false},
		{`p_alive < 0.5 && stage == "at_risk" && grade == "A" && score >= 80.0`, true, false},
		{`interactions.last_30_days == 0`, false, true},
		{`days_since_last_purchase >= 30`, true, true},
		{`attributes["vip"] == true`, true, false},
	} {
		r, err := CompileSegmentRule(tc.src)
		if err != nil {
			t.Fatalf("%s: %v", tc.src, err)
		}
		got, err := r.Eval(s)
		if err != nil || got != tc.want || r.TimeDependent() != tc.time {
			t.Errorf("%s = %v, %v (time %v); want %v (time %v)", tc.src, got, err, r.TimeDependent(), tc.want, tc.time)
		}
	}
	for _, tc := range []struct {
		src       string
		line, col int
	}{
		{`customer.contry == "PL"`, 1, 9},
		{"rfm.recency_score <= 2 &&\n  clv.predicted > \"500\"", 2, 17},
		{`score`, 1, 1},
	} {
		_, err := CompileSegmentRule(tc.src)
		var ce *CompileError
		if !errors.As(err, &ce) || ce.Line != tc.line || ce.Column != tc.col {
			t.Errorf("%q: %v; want line %d column %d", tc.src, err, tc.line, tc.col)
		}
	}
}

func FuzzCompileSegmentRule(f *testing.F) {
	for _, s := range []string{`rfm.recency_score <= 2`, `interactions.last_30_days == 0 || attributes["x"] > 1.0`, `(`, `churn.reasons.exists(r, r == "x")`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		r, err := CompileSegmentRule(src)
		if err != nil {
			return
		}
		_, _ = r.Eval(&Subject{})
	})
}
