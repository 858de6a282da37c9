package domain

import (
	"errors"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"
)

// scoringDay0 is the fixed clock of the ledger tests: the day of the first event.
var scoringDay0 = time.Date(2026, 1, 10, 9, 0, 0, 0, time.UTC)

func onDay(n int) time.Time { return scoringDay0.AddDate(0, 0, n) }

const ruleDays = 24 * time.Hour

func testRule(id string, kind EventKind, points int64, opts ...func(*ScoringRule)) ScoringRule {
	r := ScoringRule{ID: id, ModelID: "m", Name: id, EventKind: kind, Points: points, Version: 1}
	for _, o := range opts {
		o(&r)
	}
	return r
}

func validFor(d time.Duration) func(*ScoringRule) {
	return func(r *ScoringRule) { r.HasValidity, r.Validity = true, d }
}

func cappedAt(n int64) func(*ScoringRule) { return func(r *ScoringRule) { r.Cap = n } }

func onlyWhen(cond string) func(*ScoringRule) { return func(r *ScoringRule) { r.Condition = cond } }

func testEvent(kind EventKind, id string, at time.Time) ScoringEvent {
	return ScoringEvent{Kind: kind, ID: id, Ref: "crm-" + id, At: at}
}

func orderEv(id string, at time.Time, amount float64) ScoringEvent {
	e := testEvent(EventKindOrder, id, at)
	e.Amount = MoneyFromFloat(amount)
	return e
}

func mustRules(t *testing.T, rs ...ScoringRule) *RuleSet {
	t.Helper()
	set, err := CompileRules(rs)
	if err != nil {
		t.Fatal(err)
	}
	return set
}

func TestAwardAndScore(t *testing.T) {
	t.Parallel()
	pl := &Customer{ID: "c", Kind: KindCustomer, Country: "PL"}
	de := &Customer{ID: "c", Kind: KindCustomer, Country: "DE"}
	type at struct {
		t    time.Time
		want int64
	}
	cases := []struct {
		name   string
		rules  []ScoringRule
		cu     *Customer
		events []ScoringEvent
		checks []at
	}{
		{
			name:   "order +50 valid 180 days: counts on day 179, gone on day 181",
			rules:  []ScoringRule{testRule("order", EventKindOrder, 50, validFor(180*ruleDays))},
			cu:     pl,
			events: []ScoringEvent{orderEv("o1", onDay(0), 10)},
			checks: []at{{onDay(0).Add(-time.Second), 0}, {onDay(0), 50}, {onDay(179), 50}, {onDay(180).Add(-time.Microsecond), 50}, {onDay(180), 0}, {onDay(181), 0}},
		},
		{
			name: "an unjustified complaint at -40 lowers the score",
			rules: []ScoringRule{
				testRule("order", EventKindOrder, 50, validFor(180*ruleDays)),
				testRule("unjustified", EventKindComplaintResolvedUnjustified, -40, validFor(365*ruleDays)),
			},
			cu:     pl,
			events: []ScoringEvent{orderEv("o1", onDay(0), 10), testEvent(EventKindComplaintResolvedUnjustified, "f1/resolution/2", onDay(3))},
			checks: []at{{onDay(2), 50}, {onDay(3), 10}, {onDay(181), -40}, {onDay(369), 0}},
		},
		{
			name:  "a capped rule stops at its cap and awards again when points expire",
			rules: []ScoringRule{testRule("click", EventKindEmailClicked, 30, validFor(30*ruleDays), cappedAt(100))},
			cu:    pl,
			events: []ScoringEvent{
				testEvent(EventKindEmailClicked, "k1", onDay(0)), testEvent(EventKindEmailClicked, "k2", onDay(1)),
				testEvent(EventKindEmailClicked, "k3", onDay(2)), testEvent(EventKindEmailClicked, "k4", onDay(3)), // 30+30+30+10: capped
				testEvent(EventKindEmailClicked, "k5", onDay(4)),  // nothing fits
				testEvent(EventKindEmailClicked, "k6", onDay(30)), // k1 expired at day 30: 30 fit
			},
			checks: []at{{onDay(2), 90}, {onDay(3), 100}, {onDay(4), 100}, {onDay(29), 100}, {onDay(30), 100}, {onDay(31), 70}, {onDay(34), 30}},
		},
		{
			name:   "a negative capped rule stops at its cap in absolute value",
			rules:  []ScoringRule{testRule("complaint", EventKindComplaint, -40, cappedAt(60))},
			cu:     pl,
			events: []ScoringEvent{testEvent(EventKindComplaint, "f1", onDay(0)), testEvent(EventKindComplaint, "f2", onDay(1)), testEvent(EventKindComplaint, "f3", onDay(2))},
			checks: []at{{onDay(0), -40}, {onDay(1), -60}, {onDay(5000), -60}},
		},
		{
			name:   "a CEL condition selects only matching events",
			rules:  []ScoringRule{testRule("big-pl", EventKindOrder, 100, onlyWhen(`event.amount > 1000.0 && customer.country == "PL"`))},
			cu:     pl,
			events: []ScoringEvent{orderEv("o1", onDay(0), 999.99), orderEv("o2", onDay(1), 1000.01), orderEv("o3", onDay(2), 5000)},
			checks: []at{{onDay(0), 0}, {onDay(1), 100}, {onDay(2), 200}},
		},
		{
			name:   "the same condition for a customer elsewhere",
			rules:  []ScoringRule{testRule("big-pl", EventKindOrder, 100, onlyWhen(`event.amount > 1000.0 && customer.country == "PL"`))},
			cu:     de,
			events: []ScoringEvent{orderEv("o2", onDay(1), 1000.01)},
			checks: []at{{onDay(2), 0}},
		},
		{
			name:   "purchase counts are as of the event: only the first order is the first",
			rules:  []ScoringRule{testRule("first", EventKindOrder, 25, onlyWhen(`customer.orders == 1`)), testRule("third-day", EventKindOrder, 7, onlyWhen(`customer.purchase_days == 3`))},
			cu:     pl,
			events: []ScoringEvent{orderEv("o3", onDay(2), 1), orderEv("o1", onDay(0), 1), orderEv("o2", onDay(0).Add(time.Hour), 1), orderEv("o4", onDay(9), 1)},
			checks: []at{{onDay(0), 25}, {onDay(2), 25}, {onDay(9), 32}, {onDay(20), 32}},
		},
		{
			name:   "a condition that fails to evaluate does not hold",
			rules:  []ScoringRule{testRule("gold", EventKindOrder, 10, onlyWhen(`attributes["tier"] == "gold"`))},
			cu:     pl,
			events: []ScoringEvent{orderEv("o1", onDay(0), 1)},
			checks: []at{{onDay(1), 0}},
		},
		{
			name:   "points without validity never expire; other kinds are ignored",
			rules:  []ScoringRule{testRule("ref", EventKindReferralGiven, 30)},
			cu:     pl,
			events: []ScoringEvent{testEvent(EventKindReferralGiven, "r1", onDay(0)), testEvent(EventKindReferralReceived, "r2", onDay(0)), orderEv("o1", onDay(0), 1)},
			checks: []at{{onDay(100000), 30}},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			set := mustRules(t, c.rules...)
			ledger := Award(set, c.cu, c.events)
			for _, chk := range c.checks {
				if got := ScoreAt(ledger, "m", chk.t); got != chk.want {
					t.Errorf("score at day %.2f = %d, want %d (ledger %+v)", chk.t.Sub(scoringDay0).Hours()/24, got, chk.want, ledger)
				}
			}
			// Explaining gives the valid entries, largest first, summing to the score.
			for _, chk := range c.checks {
				var sum int64
				entries := ExplainAt(ledger, "m", chk.t)
				for i, e := range entries {
					sum += e.Points
					if i > 0 && absInt(e.Points) > absInt(entries[i-1].Points) {
						t.Errorf("explanation not largest first: %+v", entries)
					}
				}
				if sum != chk.want {
					t.Errorf("explanation at %v sums to %d, want %d", chk.t, sum, chk.want)
				}
			}
		})
	}
}

func TestAwardCappedEntriesSayHowMuch(t *testing.T) {
	t.Parallel()
	set := mustRules(t, testRule("click", EventKindEmailClicked, 30, cappedAt(50)))
	got := Award(set, &Customer{ID: "c"}, []ScoringEvent{testEvent(EventKindEmailClicked, "k1", onDay(0)), testEvent(EventKindEmailClicked, "k2", onDay(1)), testEvent(EventKindEmailClicked, "k3", onDay(2))})
	if len(got) != 2 || got[0].Points != 30 || got[0].Capped || got[1].Points != 20 || !got[1].Capped {
		t.Fatalf("entries = %+v, want 30 and 20 (capped), and none for k3", got)
	}
	if got[1].EventRef != "crm-k2" || got[1].EventKind != EventKindEmailClicked || got[1].RuleVersion != 1 || !got[1].ExpiresAt.IsZero() {
		t.Fatalf("entry = %+v", got[1])
	}
}

func TestAwardIsDeterministic(t *testing.T) {
	t.Parallel()
	set := mustRules(t,
		testRule("order", EventKindOrder, 50, validFor(180*ruleDays)),
		testRule("big", EventKindOrder, 20, onlyWhen(`event.amount >= 100.0`), cappedAt(50)),
		testRule("click", EventKindEmailClicked, 5, validFor(30*ruleDays), cappedAt(20)),
		testRule("ref", EventKindReferralGiven, 30),
	)
	rng := rand.New(rand.NewPCG(7, 9))
	var events []ScoringEvent
	kinds := []EventKind{EventKindOrder, EventKindEmailClicked, EventKindReferralGiven, EventKindPageView}
	for i := range 300 {
		e := testEvent(kinds[rng.IntN(len(kinds))], "e"+string(rune('a'+i%26))+strings.Repeat("x", i/26), onDay(rng.IntN(400)))
		e.Amount = MoneyFromFloat(float64(rng.IntN(300)))
		events = append(events, e)
	}
	cu := &Customer{ID: "c", Country: "PL"}
	first := Award(set, cu, events)
	rng.Shuffle(len(events), func(i, j int) { events[i], events[j] = events[j], events[i] })
	second := Award(set, cu, events)
	if !reflect.DeepEqual(first, second) {
		t.Fatal("the same events in another order gave another ledger")
	}
	if len(first) == 0 {
		t.Fatal("no entries")
	}
	seen := map[string]bool{}
	for _, e := range first {
		if seen[e.ID] {
			t.Fatalf("entry id %s repeats", e.ID)
		}
		seen[e.ID] = true
		if e.ID != LedgerEntryID(e.RuleID, e.RuleVersion, e.EventKind, e.EventID) {
			t.Fatalf("entry id of %+v is not derived from its rule and event", e)
		}
	}
}

func TestLedgerEntryIDDependsOnRuleVersionAndEvent(t *testing.T) {
	t.Parallel()
	a := LedgerEntryID("r", 1, EventKindOrder, "e")
	for _, other := range []string{
		LedgerEntryID("r", 2, EventKindOrder, "e"),
		LedgerEntryID("r", 1, EventKindRefund, "e"),
		LedgerEntryID("r", 1, EventKindOrder, "f"),
		LedgerEntryID("s", 1, EventKindOrder, "e"),
	} {
		if other == a {
			t.Fatalf("ids collide: %s", a)
		}
	}
	if a != LedgerEntryID("r", 1, EventKindOrder, "e") {
		t.Fatal("id is not stable")
	}
}

func TestRuleValidation(t *testing.T) {
	t.Parallel()
	ok := ScoringRule{ModelID: "m", Name: "Orders", EventKind: EventKindOrder, Points: 50, HasValidity: true, Validity: 180 * ruleDays}
	cases := []struct {
		name   string
		mutate func(*ScoringRule)
		field  string
		text   string
	}{
		{"unknown kind", func(r *ScoringRule) { r.EventKind = "purchase" }, "rule.event_kind", "unknown event kind"},
		{"bad CEL", func(r *ScoringRule) { r.Condition = "event.amount > 1.0 &&\n  customer.contry == \"PL\"" }, "rule.condition", "line 2, column 11"},
		{"misspelt field", func(r *ScoringRule) { r.Condition = `event.amout > 1.0` }, "rule.condition", "line 1, column 6"},
		{"zero-width window", func(r *ScoringRule) { r.Validity = 0 }, "rule.validity", "zero-width"},
		{"negative window", func(r *ScoringRule) { r.Validity = -ruleDays }, "rule.validity", "positive"},
		{"zero points", func(r *ScoringRule) { r.Points = 0 }, "rule.points", "zero"},
		{"negative cap", func(r *ScoringRule) { r.Cap = -1 }, "rule.cap", "between"},
		{"no name", func(r *ScoringRule) { r.Name = " " }, "rule.display_name", "required"},
	}
	for _, c := range cases {
		r := ok
		c.mutate(&r)
		err := r.Validate()
		var ve *ValidationError
		if !errors.As(err, &ve) || len(ve.Violations) != 1 || ve.Violations[0].Field != c.field || !strings.Contains(ve.Violations[0].Description, c.text) {
			t.Errorf("%s: got %v, want one violation of %s mentioning %q", c.name, err, c.field, c.text)
		}
	}
	r := ok
	if err := r.Validate(); err != nil {
		t.Fatalf("valid rule: %v", err)
	}
	r.HasValidity, r.Validity = false, 0
	r.Condition = `event.amount > 1000.0 && customer.country == "PL"`
	if err := r.Validate(); err != nil {
		t.Fatalf("rule without validity: %v", err)
	}
}
