package storetest

import (
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/potentialhq/potential/domain"
)

var actionTests = []test{
	{"actions/table versions, round trip, isolation and segment batches", testActionTable},
	{"conversion/segment facts and scoring batches carry the stored lead scores", testLeadScoreFacts},
}

func testActionTable(t *testing.T, s domain.Store) {
	ctx := t.Context()
	tn, other := newTenant(t, s), newTenant(t, s)
	if _, err := s.GetActionTable(ctx, tn.ID); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("GetActionTable before any: %v, want ErrNotFound", err)
	}
	v1 := domain.ActionTable{TenantID: tn.ID, Version: 1, UpdateTime: t0, Rules: []domain.ActionRule{
		{Action: "call", Condition: `churn.level == "high"`, Reason: "Call {{ customer.city }}", DueWithinDays: 7},
		{Action: "mail", Condition: `true`, Reason: "Mail them"},
	}}
	if _, err := s.SaveActionTable(ctx, domain.ActionTable{TenantID: tn.ID, Version: 2, UpdateTime: t0}); !errors.Is(err, domain.ErrStale) {
		t.Errorf("SaveActionTable version 2 first: %v, want ErrStale", err)
	}
	if _, err := s.SaveActionTable(ctx, v1); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetActionTable(ctx, tn.ID)
	if err != nil || !reflect.DeepEqual(got, v1) {
		t.Errorf("GetActionTable = %+v, %v; want %+v", got, err, v1)
	}
	if _, err := s.SaveActionTable(ctx, v1); !errors.Is(err, domain.ErrStale) {
		t.Errorf("SaveActionTable version 1 again: %v, want ErrStale", err)
	}
	v2 := domain.ActionTable{TenantID: tn.ID, Version: 2, UpdateTime: day(1, 0), Rules: v1.Rules[1:]}
	if _, err := s.SaveActionTable(ctx, v2); err != nil {
		t.Fatal(err)
	}
	if got, err := s.GetActionTable(ctx, tn.ID); err != nil || !reflect.DeepEqual(got, v2) {
		t.Errorf("GetActionTable = %+v, %v; want %+v", got, err, v2)
	}
	if _, err := s.GetActionTable(ctx, other.ID); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("another tenant's table: %v, want ErrNotFound", err)
	}
	// Segment batches carry the table, read with the segments.
	newCustomers(t, s, tn, "a")
	newSegment(t, s, tn, "dyn", domain.SegmentDynamic, `action.name == "mail"`)
	var seen []domain.ActionTable
	if err := s.EvaluateSegments(ctx, tn.ID, domain.SegmentRun{All: true, Now: t0, Cause: "test"}, func(b *domain.SegmentBatch) ([]domain.SegmentDecision, error) {
		seen = append(seen, b.Actions)
		return nil, nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(seen) != 1 || !reflect.DeepEqual(seen[0], v2) {
		t.Errorf("batches saw action tables %+v, want [%+v]", seen, v2)
	}
	newCustomers(t, s, other, "b")
	newSegment(t, s, other, "dyn", domain.SegmentDynamic, `true`)
	seen = nil
	if err := s.EvaluateSegments(ctx, other.ID, domain.SegmentRun{All: true, Now: t0, Cause: "test"}, func(b *domain.SegmentBatch) ([]domain.SegmentDecision, error) {
		seen = append(seen, b.Actions)
		return nil, nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(seen) != 1 || seen[0].Version != 0 || len(seen[0].Rules) != 0 {
		t.Errorf("a tenant without a table: batches saw %+v, want the zero table", seen)
	}
}

// scoreKey is what the test compares of a lead score.
func scoreKey(sc *domain.LeadScore) string {
	if sc == nil {
		return "none"
	}
	return fmt.Sprintf("%s %.2f %s", sc.ScoringModelID, sc.Probability, sc.Band)
}

func testLeadScoreFacts(t *testing.T, s domain.Store) {
	ctx := t.Context()
	cst, ok := s.(domain.ConversionStore)
	if !ok {
		t.Skip("the store keeps no conversion models")
	}
	tn := newTenant(t, s)
	cs := newCustomers(t, s, tn, "a", "b", "c")
	a, b, c := cs[0].ID, cs[1].ID, cs[2].ID
	m1, m2 := "11111111-0000-4000-8000-000000000000", "22222222-0000-4000-8000-000000000000"
	if err := cst.ReplaceLeadScores(ctx, tn.ID, m1, []domain.LeadScore{
		{CustomerID: a, Probability: 0.7, Band: domain.BandHot, FitID: "f1", At: t0},
		{CustomerID: b, Probability: 0.1, Band: domain.BandCold, FitID: "f1", At: t0},
	}); err != nil {
		t.Fatal(err)
	}
	if err := cst.ReplaceLeadScores(ctx, tn.ID, m2, []domain.LeadScore{
		{CustomerID: b, Probability: 0.9, Band: domain.BandHot, FitID: "f2", At: t0},
	}); err != nil {
		t.Fatal(err)
	}
	check := func(when string, want map[string]string) {
		t.Helper()
		got := map[string]string{}
		if err := s.ReadSegmentFacts(ctx, tn.ID, nil, t0, func(fs []domain.SegmentFacts) error {
			for _, f := range fs {
				got[f.Customer.ID] = scoreKey(f.Conversion)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: ReadSegmentFacts conversions %v, want %v", when, got, want)
		}
		newSegment(t, s, tn, "dyn "+when, domain.SegmentDynamic, `conversion.available`)
		got = map[string]string{}
		if err := s.EvaluateSegments(ctx, tn.ID, domain.SegmentRun{All: true, Now: t0, Cause: "test"}, func(bt *domain.SegmentBatch) ([]domain.SegmentDecision, error) {
			for _, f := range bt.Facts {
				got[f.Customer.ID] = scoreKey(f.Conversion)
			}
			return nil, nil
		}); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: EvaluateSegments conversions %v, want %v", when, got, want)
		}
	}
	// Without a policy naming a model, a lead's only score; none of two.
	check("no policy", map[string]string{a: m1 + " 0.70 hot", b: "none", c: "none"})
	// Every stored score reaches the scoring batch, by model id.
	scores := map[string][]string{}
	if err := s.ReadScoring(ctx, tn.ID, domain.ScoringQuery{All: true}, func(bt *domain.ScoringBatch) error {
		for _, in := range bt.Customers {
			for i := range in.LeadScores {
				scores[in.Customer.ID] = append(scores[in.Customer.ID], scoreKey(&in.LeadScores[i]))
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if want := map[string][]string{a: {m1 + " 0.70 hot"}, b: {m1 + " 0.10 cold", m2 + " 0.90 hot"}}; !reflect.DeepEqual(scores, want) {
		t.Errorf("ReadScoring lead scores %v, want %v", scores, want)
	}
	// A policy naming an engagement model chooses its scores.
	pol := domain.DefaultGradingPolicy()
	pol.TenantID, pol.Version, pol.EngagementModelID, pol.CreateTime = tn.ID, 1, m2, t0
	if _, err := s.SaveGradingPolicy(ctx, pol); err != nil {
		t.Fatal(err)
	}
	check("policy names m2", map[string]string{a: "none", b: m2 + " 0.90 hot", c: "none"})
	// A new training replaces a model's scores.
	if err := cst.ReplaceLeadScores(ctx, tn.ID, m2, []domain.LeadScore{
		{CustomerID: c, Probability: 0.3, Band: domain.BandWarm, FitID: "f3", At: t0},
	}); err != nil {
		t.Fatal(err)
	}
	check("m2 retrained", map[string]string{a: "none", b: "none", c: m2 + " 0.30 warm"})
}
