package domain

import (
	"reflect"
	"testing"
	"time"
)

func TestTopFactors(t *testing.T) {
	t.Parallel()
	names := []string{"a", "b", "c", "d", "e", "f"}
	x := []float64{1, 2, 3, 4, 5, 6}
	contrib := []float64{2, -1, 0.5, -3, 1, 0}
	pos, neg := topFactors(names, x, contrib)
	wantPos := []ConversionFactor{{"a", 1, 2}, {"e", 5, 1}, {"c", 3, 0.5}}
	wantNeg := []ConversionFactor{{"d", 4, -3}, {"b", 2, -1}}
	if !reflect.DeepEqual(pos, wantPos) || !reflect.DeepEqual(neg, wantNeg) {
		t.Errorf("topFactors = %v, %v; want %v, %v", pos, neg, wantPos, wantNeg)
	}
	// More than three: the three largest, in order.
	pos, _ = topFactors([]string{"p", "q", "r", "s"}, make([]float64, 4), []float64{0.1, 0.4, 0.3, 0.2})
	if len(pos) != 3 || pos[0].Feature != "q" || pos[1].Feature != "r" || pos[2].Feature != "s" {
		t.Errorf("top three = %v", pos)
	}
}

// TestLabelLead checks the outcome rules by hand, with a 90-day window and
// a 7-day observation age, now = day 200.
func TestLabelLead(t *testing.T) {
	t.Parallel()
	d := func(n int) time.Time { return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, n) }
	order := func(n int) ScoringEvent { return ScoringEvent{Kind: EventKindOrder, At: d(n)} }
	meeting := func(n int) ScoringEvent { return ScoringEvent{Kind: EventKindMeeting, At: d(n)} }
	lead := Customer{Kind: KindLead, CreateTime: d(10)}
	cust := Customer{Kind: KindCustomer, CreateTime: d(10)}
	window, obs, now := 90*24*time.Hour, 7*24*time.Hour, d(200)
	for _, tc := range []struct {
		name    string
		h       LeadHistory
		want    LeadLabel
		outcome time.Time
	}{
		{"order within the window", LeadHistory{Customer: lead, Events: []ScoringEvent{meeting(11), order(40)}}, LabelConverted, d(40)},
		{"won before the first order", LeadHistory{Customer: lead, Events: []ScoringEvent{order(40)}, Outcome: &LeadOutcome{Result: LeadWon, At: d(30)}}, LabelConverted, d(30)},
		{"order after the window: lost at its end", LeadHistory{Customer: lead, Events: []ScoringEvent{order(120)}}, LabelLost, d(100)},
		{"explicitly lost", LeadHistory{Customer: lead, Outcome: &LeadOutcome{Result: LeadLost, At: d(50)}}, LabelLost, d(50)},
		{"lost then ordered: lost", LeadHistory{Customer: lead, Events: []ScoringEvent{order(60)}, Outcome: &LeadOutcome{Result: LeadLost, At: d(50)}}, LabelLost, d(50)},
		{"explicit lost after the window: lost at its end", LeadHistory{Customer: lead, Outcome: &LeadOutcome{Result: LeadLost, At: d(150)}}, LabelLost, d(100)},
		{"decided before the observation age", LeadHistory{Customer: lead, Events: []ScoringEvent{order(15)}}, LabelEarly, d(15)},
		{"open", LeadHistory{Customer: Customer{Kind: KindLead, CreateTime: d(150)}}, LabelOpen, time.Time{}},
		{"start is the first event when earlier", LeadHistory{Customer: lead, Events: []ScoringEvent{meeting(1), order(95)}}, LabelLost, d(91)},
		{"customer created before its first order was a lead", LeadHistory{Customer: cust, Events: []ScoringEvent{order(30)}}, LabelConverted, d(30)},
		{"customer whose history starts with an order never was", LeadHistory{Customer: Customer{Kind: KindCustomer, CreateTime: d(30)}, Events: []ScoringEvent{order(5)}}, LabelNotLead, time.Time{}},
	} {
		got := LabelLead(&tc.h, window, obs, now)
		if got.Label != tc.want || !got.Outcome.Equal(tc.outcome) {
			t.Errorf("%s: %+v, want %s at %v", tc.name, got, tc.want, tc.outcome)
		}
		if (got.Label == LabelConverted || got.Label == LabelLost) && !got.Cutoff.Equal(got.Start.Add(obs)) {
			t.Errorf("%s: cut-off %v, want start + 7 days", tc.name, got.Cutoff)
		}
	}
}
