package domain

import (
	"testing"

	"github.com/potentialhq/potential/domain/rules"
)

func TestRuleFacts(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		rule string
		want SegmentFactSet
	}{
		{`customer.country == "PL" && interactions.last_90_days >= 0`, FactCountry | FactInteractions | FactEngagement},
		{`customer.orders > 2 && customer.city == "Kraków"`, FactPurchases | FactCity},
		{`customer == customer`, FactProfile | FactPurchases},
		{`rfm.segment == "champions"`, FactAssessment},
		{`stage == "new"`, FactAssessment | FactPurchases},
		{`clv.historical > 10.0 || grade == "A"`, FactAssessment | FactPurchases | FactGrade},
		{`open_complaints > 0 && attributes["vip"] == true`, FactComplaints | FactAttributes},
		{`days_since_last_purchase > 30`, FactPurchases},
		{`true`, 0},
	} {
		r, err := rules.CompileSegmentRule(tc.rule)
		if err != nil {
			t.Fatalf("%s: %v", tc.rule, err)
		}
		if got := ruleFacts(r); got != tc.want {
			t.Errorf("%s: facts %b, want %b", tc.rule, got, tc.want)
		}
	}
	// Every variable of a rule has its facts: a rule whose variable is
	// missing from the table would read every fact.
	for _, v := range []string{"attributes", "rfm", "clv", "p_alive", "churn", "stage", "grade", "score", "engagement",
		"interactions", "days_since_last_purchase", "open_complaints"} {
		if _, ok := segmentVariableFacts[v]; !ok {
			t.Errorf("variable %s has no facts", v)
		}
	}
}
