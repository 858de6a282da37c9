package domain_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/potentialhq/potential/domain"
)

// lowEngagement is the rule of the acceptance tests: no interaction and no
// order for 30 days.
const lowEngagement = `interactions.last_30_days == 0 && interactions.days_since_last >= 0 && (days_since_last_purchase < 0 || days_since_last_purchase >= 30)`

func (e *scoringEnv) order(ext, customer string, day int) {
	e.t.Helper()
	tx := domain.Transaction{ExternalID: ext, Customer: domain.CustomerRef{ExternalID: customer}, Kind: domain.TxOrder,
		Amount: domain.MoneyFromFloat(100), OccurredAt: scoringDay(day)}
	if _, err := e.svc.RecordTransactions(e.ctx, []domain.Transaction{tx}, true); err != nil {
		e.t.Fatal(err)
	}
}

func (e *scoringEnv) interaction(ext, customer string, day int) {
	e.t.Helper()
	it := domain.Interaction{ExternalID: ext, Customer: domain.CustomerRef{ExternalID: customer}, Type: domain.InteractionCall,
		OccurredAt: scoringDay(day)}
	if _, err := e.svc.RecordInteractions(e.ctx, []domain.Interaction{it}, true); err != nil {
		e.t.Fatal(err)
	}
}

func (e *scoringEnv) events(after int64) []domain.SegmentEvent {
	e.t.Helper()
	evs, _, err := e.svc.ListSegmentEvents(e.ctx, domain.ListSegmentEventsRequest{AfterCursor: after, PageSize: 1000})
	if err != nil {
		e.t.Fatal(err)
	}
	return evs
}

func (e *scoringEnv) segmentEvents(segmentID string, after int64) []string {
	e.t.Helper()
	evs, _, err := e.svc.ListSegmentEvents(e.ctx, domain.ListSegmentEventsRequest{SegmentIDs: []string{segmentID}, AfterCursor: after, PageSize: 1000})
	if err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for _, ev := range evs {
		c, err := e.svc.GetCustomer(e.ctx, domain.CustomerRef{ID: ev.CustomerID})
		if err != nil {
			e.t.Fatal(err)
		}
		out = append(out, ev.Kind.String()+" "+c.ExternalID)
	}
	return out
}

func (e *scoringEnv) members(segmentID string) []string {
	e.t.Helper()
	var out []string
	token := ""
	for {
		ms, next, err := e.svc.ListSegmentMembers(e.ctx, segmentID, 2, token)
		if err != nil {
			e.t.Fatal(err)
		}
		for _, m := range ms {
			c, err := e.svc.GetCustomer(e.ctx, domain.CustomerRef{ID: m.CustomerID})
			if err != nil {
				e.t.Fatal(err)
			}
			out = append(out, c.ExternalID)
		}
		if next == "" {
			break
		}
		token = next
	}
	slices.Sort(out)
	return out
}

func TestSegmentLowEngagement(t *testing.T) {
	t.Parallel()
	for _, st := range scoringStores {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			e := newScoringEnvOn(t, scoringDay(0), st.open(t))
			e.order("o1", "c1", 0)
			e.interaction("i1", "c1", 0)
			e.order("o2", "c2", 0)
			e.interaction("i2", "c2", 0)
			if _, err := e.svc.CreateCustomer(e.ctx, domain.Customer{ExternalID: "c3", Kind: domain.KindLead}); err != nil {
				t.Fatal(err)
			}
			sg, err := e.svc.CreateSegment(e.ctx, domain.Segment{Name: "low engagement", Kind: domain.SegmentDynamic, Rule: lowEngagement}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := e.members(sg.ID); len(got) != 0 {
				t.Fatalf("members on day 0 = %v", got)
			}
			// c2 stays engaged; c1 goes quiet for a month.
			e.clock.Set(scoringDay(20))
			e.interaction("i3", "c2", 20)
			e.clock.Set(scoringDay(31))
			n, err := e.svc.EvaluateDueSegments(e.ctx, e.tn.ID)
			if err != nil {
				t.Fatal(err)
			}
			if n != 2 { // c1 and c2 (a day passed since their last events), not c3 (no events)
				t.Errorf("EvaluateDueSegments visited %d customers, want 2", n)
			}
			if got, want := e.segmentEvents(sg.ID, 0), []string{"entered c1"}; !slices.Equal(got, want) {
				t.Fatalf("events = %v, want %v", got, want)
			}
			// Nothing else is due until tomorrow.
			if n, err := e.svc.EvaluateDueSegments(e.ctx, e.tn.ID); err != nil || n != 0 {
				t.Fatalf("second EvaluateDueSegments = %d, %v; want 0", n, err)
			}
			e.order("o3", "c1", 31)
			if got, want := e.segmentEvents(sg.ID, 0), []string{"entered c1", "exited c1"}; !slices.Equal(got, want) {
				t.Fatalf("events = %v, want %v", got, want)
			}
			// History per customer: its events only.
			c1, _ := e.svc.GetCustomer(e.ctx, domain.CustomerRef{ExternalID: "c1"})
			hist, _, err := e.svc.ListSegmentEvents(e.ctx, domain.ListSegmentEventsRequest{Customer: domain.CustomerRef{ExternalID: "c1"}, SegmentIDs: []string{sg.ID}})
			if err != nil || len(hist) != 2 || hist[0].CustomerID != c1.ID || hist[0].Cursor >= hist[1].Cursor {
				t.Fatalf("history = %+v, %v", hist, err)
			}
		})
	}
}

func TestSegmentRuleTypeChecked(t *testing.T) {
	t.Parallel()
	e := newScoringEnv(t, scoringDay(0))
	for _, rule := range []string{`customer.contry == "PL"`, `rfm.recency_score <= "2"`, `clv.predicted`, `(`} {
		_, err := e.svc.CreateSegment(e.ctx, domain.Segment{Name: "bad", Kind: domain.SegmentDynamic, Rule: rule}, nil)
		var ve *domain.ValidationError
		if !errors.Is(err, domain.ErrInvalid) || !errors.As(err, &ve) || ve.Violations[0].Field != "segment.rule" ||
			!strings.HasPrefix(ve.Violations[0].Description, "line 1, column ") {
			t.Errorf("rule %q: err = %v", rule, err)
		}
		if _, err := e.svc.PreviewSegment(e.ctx, rule, 0); !errors.Is(err, domain.ErrInvalid) {
			t.Errorf("preview %q: err = %v", rule, err)
		}
	}
	sgs, err := e.svc.ListSegments(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, sg := range sgs {
		if !sg.BuiltIn {
			t.Errorf("stored %+v", sg)
		}
	}
	// Every variable the issue lists type-checks.
	ok := `customer.country == "PL" && rfm.recency_score <= 2 && clv.predicted > 500.0 && clv.historical > 0.0 &&
	  p_alive > 0.5 && churn.level == "high" && "open_complaint" in churn.reasons && stage == "at_risk" &&
	  grade == "A" && score > 50.0 && engagement >= 0.0 && interactions.last_7_days < interactions.last_90_days &&
	  open_complaints > 0 && rfm.segment == "champions" && attributes["vip"] == true`
	if _, err := e.svc.PreviewSegment(e.ctx, ok, 0); err != nil {
		t.Fatal(err)
	}
}

func TestSegmentPreviewEqualsMembership(t *testing.T) {
	t.Parallel()
	for _, st := range scoringStores {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			e := newScoringEnvOn(t, scoringDay(40), st.open(t))
			for i := range 30 {
				c := "c" + string(rune('a'+i%26)) + string(rune('a'+i/26))
				for j := range i % 4 {
					e.order(c+"-o"+string(rune('0'+j)), c, j*10)
				}
				if i%3 == 0 {
					e.interaction(c+"-i", c, 35)
				}
			}
			for _, rule := range []string{
				`customer.orders >= 2`,
				`interactions.last_30_days == 0 && days_since_last_purchase > 15`,
				`stage == "lead" || grade == "A"`,
			} {
				pv, err := e.svc.PreviewSegment(e.ctx, rule, 5)
				if err != nil {
					t.Fatal(err)
				}
				if stored := e.events(0); len(stored) != 0 && rule == `customer.orders >= 2` {
					// Only built-in segments' events, none of the preview's.
					for _, ev := range stored {
						if _, err := e.svc.GetSegment(e.ctx, ev.SegmentID); err != nil {
							t.Fatalf("event of an unknown segment: %+v", ev)
						}
					}
				}
				sg, err := e.svc.CreateSegment(e.ctx, domain.Segment{Name: rule, Kind: domain.SegmentDynamic, Rule: rule}, nil)
				if err != nil {
					t.Fatal(err)
				}
				got := e.members(sg.ID)
				if int64(len(got)) != pv.Count || pv.Count == 0 || len(pv.Sample) != min(5, len(got)) {
					t.Errorf("rule %q: preview %d (sample %d), members %d", rule, pv.Count, len(pv.Sample), len(got))
				}
				for _, c := range pv.Sample {
					if !slices.Contains(got, c.ExternalID) {
						t.Errorf("rule %q: sample %s is no member", rule, c.ExternalID)
					}
				}
			}
		})
	}
}

func TestSegmentStaticMembers(t *testing.T) {
	t.Parallel()
	for _, st := range scoringStores {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			e := newScoringEnvOn(t, scoringDay(0), st.open(t))
			e.order("o1", "c1", 0)
			e.order("o2", "c2", 0)
			c2, _ := e.svc.GetCustomer(e.ctx, domain.CustomerRef{ExternalID: "c2"})
			sg, err := e.svc.CreateSegment(e.ctx, domain.Segment{Name: "vip", Kind: domain.SegmentStatic},
				[]domain.CustomerRef{{ExternalID: "c1"}, {ID: c2.ID}})
			if err != nil {
				t.Fatal(err)
			}
			if got := e.members(sg.ID); !slices.Equal(got, []string{"c1", "c2"}) {
				t.Fatalf("members = %v", got)
			}
			if _, err := e.svc.ChangeSegmentMembers(e.ctx, sg.ID, nil, []domain.CustomerRef{{ExternalID: "nope"}}); !errors.Is(err, domain.ErrInvalid) {
				t.Fatalf("unknown member: %v", err)
			}
			n, err := e.svc.ChangeSegmentMembers(e.ctx, sg.ID, []domain.CustomerRef{{ExternalID: "c1"}}, []domain.CustomerRef{{ExternalID: "c2"}})
			if err != nil || n != 1 {
				t.Fatalf("change = %d, %v", n, err)
			}
			if got, want := e.segmentEvents(sg.ID, 0), []string{"entered c1", "entered c2", "exited c2"}; !slices.Equal(got, want) {
				t.Fatalf("events = %v, want %v", got, want)
			}
			if err := e.svc.DeleteSegment(e.ctx, sg.ID, ""); err != nil {
				t.Fatal(err)
			}
			evs := e.events(0)
			if last := evs[len(evs)-1]; last.Kind != domain.SegmentExited || last.SegmentID != sg.ID {
				t.Fatalf("last event after delete = %+v", last)
			}
			for i := 1; i < len(evs); i++ {
				if evs[i].Cursor != evs[i-1].Cursor+1 {
					t.Fatalf("cursors %d then %d", evs[i-1].Cursor, evs[i].Cursor)
				}
			}
		})
	}
}

func TestSegmentBuiltIns(t *testing.T) {
	t.Parallel()
	e := newScoringEnv(t, scoringDay(0))
	e.order("o1", "c1", 0)
	sgs, err := e.svc.ListSegments(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, sg := range sgs {
		names = append(names, sg.Name)
	}
	for _, want := range []string{"rfm_champions", "rfm_cant_lose_them", "rfm_lost", "stage_lead", "stage_new", "stage_at_risk", "stage_churned", "stage_reactivated", "stage_active"} {
		if !slices.Contains(names, want) {
			t.Errorf("no built-in segment %q in %v", want, names)
		}
	}
	if len(sgs) != 11+6 {
		t.Errorf("%d built-in segments, want 17", len(sgs))
	}
	for _, sg := range sgs {
		if sg.Name == "stage_new" {
			if got := e.members(sg.ID); !slices.Equal(got, []string{"c1"}) {
				t.Errorf("stage_new members = %v", got)
			}
			if err := e.svc.DeleteSegment(e.ctx, sg.ID, ""); !errors.Is(err, domain.ErrFailedPrecondition) {
				t.Errorf("delete built-in: %v", err)
			}
		}
	}
}

func TestSegmentDueAndSubject(t *testing.T) {
	t.Parallel()
	now := scoringDay(100)
	at := func(d float64) time.Time { return now.Add(time.Duration(d * float64(24*time.Hour))) }
	for _, tc := range []struct {
		name      string
		its       []time.Time
		lastBuy   time.Time
		wantDue   time.Time
		wantCount [3]int64 // 7, 30, 90 days
		wantSince int64    // days since the last purchase
	}{
		{"nothing", nil, time.Time{}, time.Time{}, [3]int64{}, -1},
		// An interaction 2.5 days ago leaves the 7-day window in 4.5 days,
		// but a day since it passes first: in half a day.
		{"recent interaction", []time.Time{at(-2.5)}, time.Time{}, at(0.5), [3]int64{1, 1, 1}, -1},
		// 20 and 89.75 days ago: the older leaves the 90-day window in 6 hours.
		{"leaving the window", []time.Time{at(-89.75), at(-20)}, time.Time{}, at(0.25), [3]int64{0, 1, 2}, -1},
		// A purchase 40.9 days ago: 40 whole days; the 41st ends in 0.1 days.
		{"purchase", nil, at(-40.9), at(0.1), [3]int64{}, 40},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := domain.SegmentFacts{RecentInteractions: tc.its}
			f.Customer.Purchases.LastPurchaseTime = tc.lastBuy
			if n := len(tc.its); n > 0 {
				f.Customer.Engagement.LastInteractionTime = tc.its[n-1]
			}
			if got := domain.SegmentDue(&f, now); !got.Equal(tc.wantDue) {
				t.Errorf("due = %v, want %v", got, tc.wantDue)
			}
			s := domain.SegmentSubject(&f, now)
			if got := [3]int64{s.Interactions.Last7Days, s.Interactions.Last30Days, s.Interactions.Last90Days}; got != tc.wantCount || s.DaysSinceLastPurchase != tc.wantSince {
				t.Errorf("counts %v, days since purchase %d; want %v, %d", got, s.DaysSinceLastPurchase, tc.wantCount, tc.wantSince)
			}
		})
	}
}

// TestSegmentsJobMovesCustomersAsTimePasses checks that the scheduler's
// segments job (Service.Jobs) re-evaluates time-dependent rules: a month of
// silence moves a customer into the low-engagement segment with nothing
// recorded, when the job runs.
func TestSegmentsJobMovesCustomersAsTimePasses(t *testing.T) {
	t.Parallel()
	e := newScoringEnv(t, scoringDay(0))
	e.order("o1", "c1", 0)
	e.interaction("i1", "c1", 0)
	sg, err := e.svc.CreateSegment(e.ctx, domain.Segment{Name: "low engagement", Kind: domain.SegmentDynamic, Rule: lowEngagement}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var job domain.Job
	for _, j := range e.svc.Jobs() {
		if j.Name == domain.JobSegments {
			job = j
		}
	}
	if job.Run == nil || job.Interval > time.Minute {
		t.Fatalf("segments job = %+v", job)
	}
	e.clock.Set(scoringDay(31))
	if got := e.segmentEvents(sg.ID, 0); len(got) != 0 {
		t.Fatalf("events before the job ran = %v", got)
	}
	if err := job.Run(t.Context(), e.tn.ID); err != nil {
		t.Fatal(err)
	}
	if got, want := e.segmentEvents(sg.ID, 0), []string{"entered c1"}; !slices.Equal(got, want) {
		t.Fatalf("events = %v, want %v", got, want)
	}
}

// TestSegmentDueOnlyWhereTimeCanChange: a customer gets a due time only
// when time can change a rule's result for it; a customer outside Poland
// never enters `customer.country == "PL" && …`, however long it waits.
func TestSegmentDueOnlyWhereTimeCanChange(t *testing.T) {
	t.Parallel()
	for _, st := range scoringStores {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			e := newScoringEnvOn(t, scoringDay(0), st.open(t))
			for _, c := range []struct{ ext, country string }{{"pl", "PL"}, {"de", "DE"}} {
				if _, err := e.svc.CreateCustomer(e.ctx, domain.Customer{ExternalID: c.ext, Kind: domain.KindCustomer, Country: c.country}); err != nil {
					t.Fatal(err)
				}
				e.interaction("i-"+c.ext, c.ext, 0)
			}
			sg, err := e.svc.CreateSegment(e.ctx, domain.Segment{Name: "quiet poles", Kind: domain.SegmentDynamic,
				Rule: `customer.country == "PL" && interactions.last_7_days == 0`}, nil)
			if err != nil {
				t.Fatal(err)
			}
			e.clock.Set(scoringDay(2))
			if n, err := e.svc.EvaluateDueSegments(e.ctx, e.tn.ID); err != nil || n != 1 {
				t.Errorf("EvaluateDueSegments on day 2 visited %d, %v; want 1 (pl)", n, err)
			}
			e.clock.Set(scoringDay(8))
			if n, err := e.svc.EvaluateDueSegments(e.ctx, e.tn.ID); err != nil || n != 1 {
				t.Errorf("EvaluateDueSegments on day 8 visited %d, %v; want 1 (pl)", n, err)
			}
			if got := e.members(sg.ID); !slices.Equal(got, []string{"pl"}) {
				t.Errorf("members on day 8 = %v, want pl", got)
			}
			// Moved to Poland, de is due too.
			de, err := e.svc.GetCustomer(e.ctx, domain.CustomerRef{ExternalID: "de"})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := e.svc.UpdateCustomer(e.ctx, de.ID, "", func(c *domain.Customer) error {
				c.Country = "PL"
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			e.clock.Set(scoringDay(9))
			if n, err := e.svc.EvaluateDueSegments(e.ctx, e.tn.ID); err != nil || n != 2 {
				t.Errorf("EvaluateDueSegments on day 9 visited %d, %v; want 2", n, err)
			}
		})
	}
}
