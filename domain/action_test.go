package domain_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/potentialhq/potential/domain"
	"github.com/potentialhq/potential/domain/conversiontest"
)

// memberIDs returns the ids of a segment's members, sorted.
func (e *scoringEnv) memberIDs(segmentID string) []string {
	e.t.Helper()
	var out []string
	token := ""
	for {
		ms, next, err := e.svc.ListSegmentMembers(e.ctx, segmentID, 1000, token)
		if err != nil {
			e.t.Fatal(err)
		}
		for _, m := range ms {
			out = append(out, m.CustomerID)
		}
		if next == "" {
			return out
		}
		token = next
	}
}

// allEvents returns every segment event of the tenant.
func (e *scoringEnv) allEvents() []domain.SegmentEvent {
	e.t.Helper()
	var out []domain.SegmentEvent
	var after int64
	for {
		evs, last, err := e.svc.ListSegmentEvents(e.ctx, domain.ListSegmentEventsRequest{AfterCursor: after, PageSize: 1000})
		if err != nil {
			e.t.Fatal(err)
		}
		out = append(out, evs...)
		if len(evs) < 1000 {
			return out
		}
		after = last
	}
}

// storedLeadScores returns every stored lead score of the tenant under
// scoring model modelID, by customer id.
func (e *scoringEnv) storedLeadScores(modelID string) map[string]domain.LeadScore {
	e.t.Helper()
	cst := e.store.(domain.ConversionStore)
	out := map[string]domain.LeadScore{}
	var after *domain.LeadScoreCursor
	for {
		page, err := cst.TopLeadScores(e.ctx, e.tn.ID, modelID, 1000, after)
		if err != nil {
			e.t.Fatal(err)
		}
		for _, s := range page {
			out[s.CustomerID] = s
		}
		if len(page) < 1000 {
			return out
		}
		last := page[len(page)-1]
		after = &domain.LeadScoreCursor{Probability: last.Probability, ID: last.CustomerID}
	}
}

func (e *scoringEnv) dynamicSegment(name, rule string) domain.Segment {
	e.t.Helper()
	sg, err := e.svc.CreateSegment(e.ctx, domain.Segment{Name: name, Kind: domain.SegmentDynamic, Rule: rule}, nil)
	if err != nil {
		e.t.Fatalf("CreateSegment(%s): %v", rule, err)
	}
	return sg
}

// TestConversionInSegmentsAndGrades trains a conversion model on a
// synthetic tenant, on both stores, and checks what reads the stored lead
// scores: a segment `conversion.probability > 0.5` gains exactly the leads
// whose stored probability is above 0.5 (none before training), with
// conversion_changed events; a preview of the rule counts the same
// members; a fit criterion on the probability moves exactly those leads to
// the top grade; and the default action table's hot-lead rule recommends
// a sales call to exactly them, in segments (`action.name`), in the
// assessment and in ListTopCustomers filtered by action.
func TestConversionInSegmentsAndGrades(t *testing.T) {
	t.Parallel()
	for _, st := range scoringStores {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			e := newScoringEnvOn(t, scoringDay(0), st.open(t))
			leads := conversiontest.Generate(t, e.ctx, e.svc, e.clock.Set, scoringDay(0), 800, 7)
			// A scoring model with a rule: the PostgreSQL store reads no
			// events for tenants without scoring rules, and conversion
			// needs the orders.
			m := e.model("engagement")
			e.rule(domain.ScoringRule{ModelID: m.ID, Name: "meetings", EventKind: domain.EventKindMeeting, Points: 10})
			// Fit only: 100 points for a likely convert, nothing from BANT.
			pol := domain.DefaultGradingPolicy()
			pol.ValueWeight, pol.FitWeight = 0, 1
			pol.BANT = domain.BANT{}
			pol.Fit = []domain.FitCriterion{{Name: "likely to convert", Condition: `conversion.available && conversion.probability > 0.5`, Points: 100}}
			if _, err := e.svc.UpdateGradingPolicy(e.ctx, pol, ""); err != nil {
				t.Fatal(err)
			}
			const rule = `conversion.available && conversion.probability > 0.5`
			likely := e.dynamicSegment("likely", rule)
			unscored := e.dynamicSegment("unscored", `customer.kind == "lead" && !conversion.available`)
			calls := e.dynamicSegment("sales calls", `action.name == "sales_call"`)
			if m := e.memberIDs(likely.ID); len(m) != 0 {
				t.Fatalf("before training %d members", len(m))
			}
			if m := e.memberIDs(unscored.ID); len(m) != len(leads) {
				t.Fatalf("before training %d unscored leads, want %d", len(m), len(leads))
			}
			for id, g := range e.grades() {
				if g != "F" {
					t.Fatalf("before training customer %s has grade %q, want F", id, g)
				}
			}
			events := len(e.allEvents())

			state, err := e.svc.TrainConversionModel(e.ctx, domain.TrainConversionRequest{})
			if err != nil {
				t.Fatal(err)
			}
			if state.Status() != domain.ConversionReady {
				t.Fatalf("not trained: %+v", state.LastAttempt)
			}
			scores := e.storedLeadScores(m.ID)
			var want, hot []string
			for id, s := range scores {
				if s.Probability > 0.5 {
					want = append(want, id)
				}
				if s.Band == domain.BandHot {
					hot = append(hot, id)
				}
			}
			slices.Sort(want)
			slices.Sort(hot)
			t.Logf("%d leads, %d scored, %d above 0.5, %d hot", len(leads), len(scores), len(want), len(hot))
			if len(want) == 0 || len(want) == len(scores) {
				t.Fatalf("%d of %d scored leads above 0.5: the test needs some on each side", len(want), len(scores))
			}
			if got := e.memberIDs(likely.ID); !slices.Equal(got, want) {
				t.Errorf("segment %q has %d members, want the %d leads scored above 0.5", rule, len(got), len(want))
			}
			if got := e.memberIDs(unscored.ID); len(got) != len(leads)-len(scores) {
				t.Errorf("%d unscored leads after training, want %d", len(got), len(leads)-len(scores))
			}
			if got := e.memberIDs(calls.ID); !slices.Equal(got, hot) {
				t.Errorf("%d customers with action sales_call, want the %d hot leads", len(got), len(hot))
			}
			entered := 0
			for _, ev := range e.allEvents()[events:] {
				if ev.SegmentID == likely.ID && ev.Kind == domain.SegmentEntered {
					entered++
					if ev.Cause != "conversion_changed" {
						t.Errorf("entered event caused by %q", ev.Cause)
					}
				}
			}
			if entered != len(want) {
				t.Errorf("%d entered events, want %d", entered, len(want))
			}
			// Preview equals membership.
			pv, err := e.svc.PreviewSegment(e.ctx, rule, 5)
			if err != nil {
				t.Fatal(err)
			}
			if pv.Count != int64(len(want)) {
				t.Errorf("preview counts %d, membership is %d", pv.Count, len(want))
			}
			// The fit criterion re-graded exactly the likely leads.
			for id, g := range e.grades() {
				if wantA := slices.Contains(want, id); (g == "A") != wantA {
					t.Errorf("customer %s: grade %q, scored above 0.5: %v", id, g, wantA)
				}
			}
			changes, _, err := e.svc.ListGradeChanges(e.ctx, domain.ListGradeChangesRequest{PageSize: 1})
			if err != nil || len(changes) != 1 || changes[0].Cause != domain.CauseConversionChanged {
				t.Errorf("latest grade change %+v, %v; want one caused by conversion_changed", changes, err)
			}
			// The assessment's action, and the ranked list filtered by it.
			ca, err := e.svc.GetCustomerAssessment(e.ctx, domain.CustomerRef{ID: hot[0]})
			if err != nil {
				t.Fatal(err)
			}
			if ca.Action.Name != "sales_call" || ca.Action.DueWithinDays != 3 || !strings.HasPrefix(ca.Action.Reason, "Hot lead: conversion probability 0.") {
				t.Errorf("hot lead's action %+v", ca.Action)
			}
			var listed []string
			token := ""
			for {
				top, err := e.svc.ListTopCustomers(e.ctx, domain.ListTopCustomersRequest{Order: domain.TopByGrade, Action: "sales_call", PageSize: 7, PageToken: token})
				if err != nil {
					t.Fatal(err)
				}
				for _, row := range top.Customers {
					if row.Action.Name != "sales_call" {
						t.Errorf("listed %s with action %q", row.Customer.ID, row.Action.Name)
					}
					listed = append(listed, row.Customer.ID)
				}
				if token = top.NextPageToken; token == "" {
					break
				}
			}
			slices.Sort(listed)
			if !slices.Equal(listed, hot) {
				t.Errorf("ListTopCustomers(action sales_call) listed %d customers, want the %d hot leads", len(listed), len(hot))
			}
		})
	}
}

// TestActionTable updates a tenant's action table: a condition or reason
// that does not type-check is an InvalidArgument naming the rule with the
// line and column, and leaves the stored table as it was; a saved table
// gives every customer the first matching rule's action with its reason
// filled in, and moves customers into segments that read `action`.
func TestActionTable(t *testing.T) {
	t.Parallel()
	for _, st := range scoringStores {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			e := newScoringEnvOn(t, scoringDay(0), st.open(t))
			e.customer("krk", func(c *domain.Customer) { c.City = "Kraków" })
			e.customer("ber", func(c *domain.Customer) { c.Country = "DE" })
			visits := e.dynamicSegment("visits", `action.name == "visit" && action.due_within_days == 5`)
			if m := e.members(visits.ID); len(m) != 0 {
				t.Fatalf("members before the table %v", m)
			}
			def, err := e.svc.GetActionTable(e.ctx)
			if err != nil || def.Version != 0 || len(def.Rules) != len(domain.DefaultActionTable().Rules) {
				t.Fatalf("default table %+v, %v", def, err)
			}
			good := []domain.ActionRule{
				{Action: "visit", Condition: `customer.country == "PL"`, Reason: `Visit them in {{ customer.city }} ({{ customer.orders }} orders)`, DueWithinDays: 5},
				{Action: "email", Condition: `true`, Reason: "Send the newsletter"},
			}
			v1, err := e.svc.UpdateActionTable(e.ctx, good, "")
			if err != nil {
				t.Fatal(err)
			}
			if got := e.members(visits.ID); !slices.Equal(got, []string{"krk"}) {
				t.Errorf("visits %v after the update, want [krk]", got)
			}
			if pv, err := e.svc.PreviewSegment(e.ctx, visits.Rule, 10); err != nil || pv.Count != 1 || pv.Sample[0].ExternalID != "krk" {
				t.Errorf("preview of %q: %+v, %v; want krk, as the membership", visits.Rule, pv, err)
			}
			ca, err := e.svc.GetCustomerAssessment(e.ctx, domain.CustomerRef{ExternalID: "krk"})
			if err != nil {
				t.Fatal(err)
			}
			if want := (domain.Action{Name: "visit", Reason: "Visit them in Kraków (0 orders)", DueWithinDays: 5, Rule: 0, TableVersion: 1}); ca.Action != want {
				t.Errorf("krk's action %+v, want %+v", ca.Action, want)
			}
			ca, err = e.svc.GetCustomerAssessment(e.ctx, domain.CustomerRef{ExternalID: "ber"})
			if err != nil || ca.Action.Name != "email" || ca.Action.Rule != 1 || ca.Action.DueWithinDays != 0 {
				t.Errorf("ber's action %+v, %v", ca.Action, err)
			}

			bad := []struct {
				rules []domain.ActionRule
				field string
				desc  string
			}{
				{[]domain.ActionRule{good[0], {Action: "x", Condition: `customer.contry == "PL"`, Reason: "r"}}, "action_table.rules[1].condition", "line 1, column 9"},
				{[]domain.ActionRule{{Action: "x", Condition: `clv.predicted > "a"`, Reason: "r"}}, "action_table.rules[0].condition", "line 1, column 15"},
				{[]domain.ActionRule{{Action: "x", Condition: `action.name == "y"`, Reason: "r"}}, "action_table.rules[0].condition", "line 1, column 1"},
				{[]domain.ActionRule{{Action: "x", Condition: `true`, Reason: "ok {{ rfm.sgment }}"}}, "action_table.rules[0].reason", "line 1, column 10"},
				{[]domain.ActionRule{{Action: "x", Condition: `true`, Reason: "ok {{ stage"}}, "action_table.rules[0].reason", "line 1, column 4"},
				{[]domain.ActionRule{{Action: "none", Condition: `true`}}, "action_table.rules[0].action", ""},
				{[]domain.ActionRule{{Action: "Call!", Condition: `true`}}, "action_table.rules[0].action", ""},
				{[]domain.ActionRule{{Action: "x", Condition: `1 + 1`}}, "action_table.rules[0].condition", "not a bool"},
				{[]domain.ActionRule{{Action: "x", Condition: `true`, DueWithinDays: -1}}, "action_table.rules[0].due_within_days", ""},
				{[]domain.ActionRule{{Action: "x", Condition: `true`, Reason: "a\x00b"}}, "action_table.rules[0].reason", "UTF-8"},
				{[]domain.ActionRule{{Action: "x", Condition: "\xff == 1"}}, "action_table.rules[0].condition", "UTF-8"},
			}
			for _, b := range bad {
				_, err := e.svc.UpdateActionTable(e.ctx, b.rules, "")
				var ve *domain.ValidationError
				if !errors.As(err, &ve) || !errors.Is(err, domain.ErrInvalid) {
					t.Errorf("%+v: error %v, want a validation error", b.rules, err)
					continue
				}
				found := false
				for _, v := range ve.Violations {
					if v.Field == b.field && strings.Contains(v.Description, b.desc) {
						found = true
					}
				}
				if !found {
					t.Errorf("%+v: violations %+v, want %s with %q", b.rules, ve.Violations, b.field, b.desc)
				}
			}
			cur, err := e.svc.GetActionTable(e.ctx)
			if err != nil || cur.Version != v1.Version || !slices.Equal(cur.Rules, good) {
				t.Errorf("after the rejected updates the table is %+v, %v; want version %d unchanged", cur, err, v1.Version)
			}
			// A stale etag is refused; the current one is taken.
			if _, err := e.svc.UpdateActionTable(e.ctx, good[1:], domain.ETag(v1.Version+1)); !errors.Is(err, domain.ErrStale) {
				t.Errorf("stale etag: %v", err)
			}
			v2, err := e.svc.UpdateActionTable(e.ctx, good[1:], domain.ETag(v1.Version))
			if err != nil || v2.Version != 2 {
				t.Fatalf("UpdateActionTable at the current etag: %+v, %v", v2, err)
			}
			if got := e.members(visits.ID); len(got) != 0 {
				t.Errorf("visits %v after the visit rule went", got)
			}
			var causes []string
			for _, ev := range e.allEvents() {
				if ev.SegmentID == visits.ID {
					causes = append(causes, ev.Kind.String()+" "+ev.Cause)
				}
			}
			if want := []string{"entered action_changed", "exited action_changed"}; !slices.Equal(causes, want) {
				t.Errorf("visits events %v, want %v", causes, want)
			}
			// The replica that replaced the table shows it at once; another
			// replica, which cached the older one, within modelCacheTTL.
			if ca, err := e.svc.GetCustomerAssessment(e.ctx, domain.CustomerRef{ExternalID: "krk"}); err != nil || ca.Action.TableVersion != 2 || ca.Action.Name != "email" {
				t.Errorf("krk's action after the update %+v, %v; want email of table 2", ca.Action, err)
			}
			other := domain.NewService(e.store, e.clock.Now)
			if ca, err := other.GetCustomerAssessment(e.ctx, domain.CustomerRef{ExternalID: "krk"}); err != nil || ca.Action.TableVersion != 2 {
				t.Fatalf("krk's action on another replica %+v, %v", ca.Action, err)
			}
			if _, err := e.svc.UpdateActionTable(e.ctx, good, domain.ETag(v2.Version)); err != nil {
				t.Fatal(err)
			}
			if ca, err := other.GetCustomerAssessment(e.ctx, domain.CustomerRef{ExternalID: "krk"}); err != nil || ca.Action.TableVersion != 2 {
				t.Errorf("krk's action on another replica at once %+v, %v; want the cached table 2", ca.Action, err)
			}
			e.clock.Set(scoringDay(0).Add(5 * time.Second))
			if ca, err := other.GetCustomerAssessment(e.ctx, domain.CustomerRef{ExternalID: "krk"}); err != nil || ca.Action.TableVersion != 3 || ca.Action.Name != "visit" {
				t.Errorf("krk's action on another replica 5 s later %+v, %v; want visit of table 3", ca.Action, err)
			}
		})
	}
}
