package storetest

import (
	"errors"
	"reflect"
	"testing"

	"github.com/potentialhq/potential/domain"
)

var conversionTests = []test{
	{"conversion/outcomes are stored, replaced, filtered, tenant-scoped and erased with the customer", testLeadOutcomes},
	{"conversion/an unknown customer fails the whole outcome batch", testLeadOutcomesAllOrNothing},
	{"conversion/qualification history oldest first", testQualificationHistory},
	{"conversion/states round-trip per scoring model", testConversionStates},
	{"conversion/lead scores are replaced whole and ranked by probability, then id", testLeadScores},
}

func testLeadScores(t *testing.T, s domain.Store) {
	cs := conv(t, s)
	tn, other := newTenant(t, s), newTenant(t, s)
	var ids []string
	for _, ext := range []string{"a", "b", "c", "d"} {
		ids = append(ids, create(t, s, newCustomer(tn, ext)).ID)
	}
	at := day(3, 0)
	score := func(i int, p float64) domain.LeadScore {
		return domain.LeadScore{CustomerID: ids[i], Probability: p, Band: domain.BandOf(p), FitID: "fit-1", At: at}
	}
	if err := cs.ReplaceLeadScores(ctx(t), tn.ID, "m", []domain.LeadScore{score(0, 0.2), score(1, 0.7), score(2, 0.2), score(3, 0.9),
		{CustomerID: domain.NewID(), Probability: 0.99, Band: domain.BandHot, At: at}}); err != nil {
		t.Fatal(err)
	}
	// Ties on probability go by id.
	lo, hi := ids[0], ids[2]
	loI, hiI := 0, 2
	if hi < lo {
		loI, hiI = 2, 0
	}
	want := []domain.LeadScore{score(3, 0.9), score(1, 0.7), score(loI, 0.2), score(hiI, 0.2)}
	all, err := cs.TopLeadScores(ctx(t), tn.ID, "m", 10, nil)
	if err != nil || !reflect.DeepEqual(all, want) {
		t.Fatalf("TopLeadScores = %+v, %v\nwant %+v", all, err, want)
	}
	// Pages of two, and a page starting inside the tie.
	p1, _ := cs.TopLeadScores(ctx(t), tn.ID, "m", 2, nil)
	p2, _ := cs.TopLeadScores(ctx(t), tn.ID, "m", 2, &domain.LeadScoreCursor{Probability: p1[1].Probability, ID: p1[1].CustomerID})
	p3, _ := cs.TopLeadScores(ctx(t), tn.ID, "m", 2, &domain.LeadScoreCursor{Probability: want[2].Probability, ID: want[2].CustomerID})
	if !reflect.DeepEqual(append(p1, p2...), want) || !reflect.DeepEqual(p3, want[3:]) {
		t.Errorf("pages %+v %+v %+v", p1, p2, p3)
	}
	if o, err := cs.TopLeadScores(ctx(t), tn.ID, "other-model", 10, nil); err != nil || len(o) != 0 {
		t.Errorf("another scoring model: %+v, %v", o, err)
	}
	if o, err := cs.TopLeadScores(ctx(t), other.ID, "m", 10, nil); err != nil || len(o) != 0 {
		t.Errorf("another tenant: %+v, %v", o, err)
	}
	if err := s.DeleteCustomer(ctx(t), tn.ID, ids[3]); err != nil {
		t.Fatal(err)
	}
	if o, _ := cs.TopLeadScores(ctx(t), tn.ID, "m", 10, nil); !reflect.DeepEqual(o, want[1:]) {
		t.Errorf("after erasing the top lead: %+v", o)
	}
	if err := cs.ReplaceLeadScores(ctx(t), tn.ID, "m", []domain.LeadScore{score(0, 0.5)}); err != nil {
		t.Fatal(err)
	}
	if o, _ := cs.TopLeadScores(ctx(t), tn.ID, "m", 10, nil); !reflect.DeepEqual(o, []domain.LeadScore{score(0, 0.5)}) {
		t.Errorf("after replacing: %+v", o)
	}
}

func conv(t *testing.T, s domain.Store) domain.ConversionStore {
	t.Helper()
	cs, ok := s.(domain.ConversionStore)
	if !ok {
		t.Fatal("the store keeps no conversion models")
	}
	return cs
}

func testLeadOutcomes(t *testing.T, s domain.Store) {
	cs := conv(t, s)
	tn, other := newTenant(t, s), newTenant(t, s)
	a, b := create(t, s, newCustomer(tn, "a")), create(t, s, newCustomer(tn, "b"))
	if err := cs.SetLeadOutcomes(ctx(t), tn.ID, []domain.LeadOutcome{
		{CustomerID: a.ID, Result: domain.LeadLost, At: day(3, 1)},
		{CustomerID: b.ID, Result: domain.LeadWon, At: day(4, 2.5)},
	}); err != nil {
		t.Fatal(err)
	}
	if err := cs.SetLeadOutcomes(ctx(t), tn.ID, []domain.LeadOutcome{{CustomerID: a.ID, Result: domain.LeadWon, At: day(5, 0)}}); err != nil {
		t.Fatal(err)
	}
	all, err := cs.LeadOutcomes(ctx(t), tn.ID, nil)
	want := map[string]domain.LeadOutcome{
		a.ID: {CustomerID: a.ID, Result: domain.LeadWon, At: day(5, 0)},
		b.ID: {CustomerID: b.ID, Result: domain.LeadWon, At: day(4, 2.5)},
	}
	if err != nil || !reflect.DeepEqual(all, want) {
		t.Errorf("LeadOutcomes = %+v, %v; want %+v", all, err, want)
	}
	some, err := cs.LeadOutcomes(ctx(t), tn.ID, []string{b.ID, "not-a-uuid"})
	if err != nil || len(some) != 1 || some[b.ID].Result != domain.LeadWon {
		t.Errorf("LeadOutcomes(b) = %+v, %v", some, err)
	}
	if o, err := cs.LeadOutcomes(ctx(t), other.ID, nil); err != nil || len(o) != 0 {
		t.Errorf("other tenant sees %+v, %v", o, err)
	}
	if err := cs.SetLeadOutcomes(ctx(t), other.ID, []domain.LeadOutcome{{CustomerID: a.ID, Result: domain.LeadLost, At: day(5, 0)}}); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("another tenant's customer: %v, want ErrNotFound", err)
	}
	if err := s.DeleteCustomer(ctx(t), tn.ID, a.ID); err != nil {
		t.Fatal(err)
	}
	if o, err := cs.LeadOutcomes(ctx(t), tn.ID, nil); err != nil || len(o) != 1 {
		t.Errorf("after erasing a: %+v, %v", o, err)
	}
}

func testLeadOutcomesAllOrNothing(t *testing.T, s domain.Store) {
	cs := conv(t, s)
	tn := newTenant(t, s)
	a := create(t, s, newCustomer(tn, "a"))
	err := cs.SetLeadOutcomes(ctx(t), tn.ID, []domain.LeadOutcome{
		{CustomerID: a.ID, Result: domain.LeadWon, At: day(1, 0)},
		{CustomerID: domain.NewID(), Result: domain.LeadLost, At: day(1, 0)},
	})
	var ie *domain.ItemError
	if !errors.Is(err, domain.ErrNotFound) || !errors.As(err, &ie) || ie.Index != 1 {
		t.Fatalf("err = %v, want an ItemError at 1 wrapping ErrNotFound", err)
	}
	if o, err := cs.LeadOutcomes(ctx(t), tn.ID, nil); err != nil || len(o) != 0 {
		t.Errorf("stored %+v, %v after a failed batch", o, err)
	}
}

func testQualificationHistory(t *testing.T, s domain.Store) {
	cs := conv(t, s)
	tn := newTenant(t, s)
	a, b := create(t, s, newCustomer(tn, "a")), create(t, s, newCustomer(tn, "b"))
	q1 := domain.QualificationChange{ID: domain.NewID(), CustomerID: a.ID, At: day(2, 0), Qualification: domain.Qualification{Budget: 5_000_000, Authority: domain.AuthorityInfluencer}}
	q0 := domain.QualificationChange{ID: domain.NewID(), CustomerID: a.ID, At: day(1, 0), Qualification: domain.Qualification{Need: "crm", DecisionTime: day(30, 0)}}
	qb := domain.QualificationChange{ID: domain.NewID(), CustomerID: b.ID, At: day(1, 0), Qualification: domain.Qualification{Authority: domain.AuthorityDecisionMaker}}
	if n, err := s.RecordQualificationChanges(ctx(t), tn.ID, []domain.QualificationChange{q0, q1, qb}); err != nil || n != 3 {
		t.Fatalf("RecordQualificationChanges = %d, %v", n, err)
	}
	all, err := cs.QualificationHistory(ctx(t), tn.ID, nil)
	if err != nil || !reflect.DeepEqual(all, map[string][]domain.QualificationChange{a.ID: {q0, q1}, b.ID: {qb}}) {
		t.Errorf("QualificationHistory = %+v, %v", all, err)
	}
	some, err := cs.QualificationHistory(ctx(t), tn.ID, []string{b.ID})
	if err != nil || len(some) != 1 || len(some[b.ID]) != 1 {
		t.Errorf("QualificationHistory(b) = %+v, %v", some, err)
	}
}

func testConversionStates(t *testing.T, s domain.Store) {
	cs := conv(t, s)
	tn, other := newTenant(t, s), newTenant(t, s)
	if _, err := cs.GetConversionState(ctx(t), tn.ID, ""); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("before any: %v, want ErrNotFound", err)
	}
	fit := &domain.ConversionFit{ID: domain.NewID(), TrainTime: day(9, 0), SplitTime: day(8, 0), TrainConverted: 40, TrainLost: 50,
		ValidationConverted: 12, ValidationLost: 15, Intercept: -0.25, Lambda: 1, Iterations: 17, Converged: true,
		Validation: domain.ConversionMetrics{AUC: 0.75, Brier: 0.18, LogLoss: 0.5, Calibration: []domain.CalibrationRow{{Decile: 1, Count: 3, MeanPredicted: 0.1, ObservedRate: 0}}},
		Features:   []domain.FeatureWeight{{Name: "meeting_count_90d", Weight: 0.5, Mean: 0.3, Scale: 0.9}}}
	ready := domain.ConversionState{TenantID: tn.ID, ScoringModelID: "m1", WindowDays: 90, ObservationDays: 7, Current: fit,
		LastAttempt: domain.ConversionAttempt{Time: day(9, 0), Result: domain.AttemptInstalled, Reason: "first model", Converted: 52, Lost: 65, Open: 3, Candidate: fit}}
	none := domain.ConversionState{TenantID: tn.ID, WindowDays: 60, ObservationDays: 3,
		LastAttempt: domain.ConversionAttempt{Time: day(9, 1), Result: domain.AttemptInsufficientData, Converted: 2, Lost: 7}}
	for _, st := range []domain.ConversionState{ready, none} {
		if err := cs.SaveConversionState(ctx(t), st); err != nil {
			t.Fatal(err)
		}
	}
	got, err := cs.GetConversionState(ctx(t), tn.ID, "m1")
	if err != nil || !reflect.DeepEqual(got, ready) {
		t.Errorf("GetConversionState = %+v, %v\nwant %+v", got, err, ready)
	}
	none.LastAttempt.Time = day(10, 0)
	if err := cs.SaveConversionState(ctx(t), none); err != nil {
		t.Fatal(err)
	}
	list, err := cs.ListConversionStates(ctx(t), tn.ID)
	if err != nil || !reflect.DeepEqual(list, []domain.ConversionState{none, ready}) {
		t.Errorf("ListConversionStates = %+v, %v", list, err)
	}
	if list, err := cs.ListConversionStates(ctx(t), other.ID); err != nil || len(list) != 0 {
		t.Errorf("other tenant: %+v, %v", list, err)
	}
	if _, err := cs.GetConversionState(ctx(t), other.ID, "m1"); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("other tenant: %v, want ErrNotFound", err)
	}
}
