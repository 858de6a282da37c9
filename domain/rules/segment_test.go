package rules

import (
	"errors"
	"slices"
	"strconv"
	"strings"
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

func TestSegmentRuleVariables(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		src  string
		want []string
	}{
		{`customer.country == "PL" && interactions.last_90_days >= 0`, []string{"customer", "interactions"}},
		{`churn.reasons.exists(r, r == "x") && size(customer.city) > 2`, []string{"churn", "customer"}},
		{`attributes["vip"] == true || open_complaints > 0 || open_complaints < -1`, []string{"attributes", "open_complaints"}},
		{`rfm.segment.startsWith("c") && [1, 2].all(x, x > 0)`, []string{"rfm"}},
		{`true`, nil},
	} {
		r, err := CompileSegmentRule(tc.src)
		if err != nil {
			t.Fatalf("%s: %v", tc.src, err)
		}
		if got := r.Variables(); !slices.Equal(got, tc.want) {
			t.Errorf("%s: variables %v, want %v", tc.src, got, tc.want)
		}
	}
	for _, tc := range []struct {
		src    string
		fields []string
		whole  bool
	}{
		{`customer.country == "PL" && interactions.last_90_days >= 0`, []string{"country"}, false},
		{`has(customer.city) && customer.country in ["PL", "DE"] || customer.orders > 2`, []string{"city", "country", "orders"}, false},
		{`customer == customer`, nil, true},
		{`rfm.segment == "x"`, nil, false},
	} {
		r, err := CompileSegmentRule(tc.src)
		if err != nil {
			t.Fatalf("%s: %v", tc.src, err)
		}
		if fields, whole := r.CustomerFields(); !slices.Equal(fields, tc.fields) || whole != tc.whole {
			t.Errorf("%s: customer fields %v (whole %v), want %v (%v)", tc.src, fields, whole, tc.fields, tc.whole)
		}
	}
}

// TestSubjectActivation checks that the activation of a Subject resolves
// every variable of segment rules, and nothing else.
func TestSubjectActivation(t *testing.T) {
	s := &Subject{}
	act := s.activation(map[string]any{})
	for _, name := range segmentVariables {
		if _, ok := act.ResolveName(name); !ok {
			t.Errorf("%s is not resolved", name)
		}
	}
	if v, ok := act.ResolveName("unknown"); ok {
		t.Errorf("unknown resolved to %v", v)
	}
}

// TestSegmentRuleSettled checks which customers' results of a
// time-dependent rule time cannot change.
func TestSegmentRuleSettled(t *testing.T) {
	pl, de := &Subject{}, &Subject{}
	pl.Customer.Country, de.Customer.Country = "PL", "DE"
	pl.Customer.Kind, de.Customer.Kind = "customer", "customer"
	for _, tc := range []struct {
		rule   string
		pl, de bool // settled
	}{
		{`customer.country == "PL" && interactions.last_90_days >= 0`, false, true},
		{`interactions.last_30_days == 0 && customer.kind == "customer" && customer.country == "PL"`, false, true},
		{`customer.country == "PL" || days_since_last_purchase > 30`, true, false},
		{`customer.country == "PL" && (interactions.last_7_days > 0 || customer.city == "")`, false, true},
		{`(customer.country == "PL" || interactions.last_7_days > 0) && interactions.last_30_days > 0`, false, false},
		{`interactions.last_7_days > 0`, false, false},
		{`customer.country == "PL"`, true, true}, // no time-dependent variable
		{`customer.country == "PL" && action.name == "call"`, false, true},
	} {
		r, err := CompileSegmentRule(tc.rule)
		if err != nil {
			t.Fatalf("%s: %v", tc.rule, err)
		}
		for _, c := range []struct {
			name string
			s    *Subject
			want bool
		}{{"PL", pl, tc.pl}, {"DE", de, tc.de}} {
			held, err := r.Eval(c.s)
			if got := r.Settled(c.s, err == nil && held); got != c.want {
				t.Errorf("%s: settled for %s = %v, want %v", tc.rule, c.name, got, c.want)
			}
		}
	}
}

// TestCostLimit: an expression with a comprehension still stops at the
// cost limit; one without needs none.
func TestCostLimit(t *testing.T) {
	var xs []string
	for i := range 200 {
		xs = append(xs, strconv.Itoa(i))
	}
	list := "[" + strings.Join(xs, ", ") + "]"
	r, err := CompileSegmentRule(list + ".all(x, " + list + ".all(y, x + y >= 0))")
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := r.Eval(&Subject{}); err == nil || !strings.Contains(err.Error(), "cost") {
		t.Errorf("40,000 steps = %v, %v; want the cost limit's error", ok, err)
	}
	if r, err = CompileSegmentRule(list + `.size() == 200 && customer.country == ""`); err != nil {
		t.Fatal(err)
	}
	if ok, err := r.Eval(&Subject{}); err != nil || !ok {
		t.Errorf("no comprehension = %v, %v; want true", ok, err)
	}
}
