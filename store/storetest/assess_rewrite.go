package storetest

import (
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/potentialhq/potential/domain"
)

// rewriter returns s as a domain.AssessmentRewriter; the suite's stores
// all are one.
func rewriter(t *testing.T, s domain.Store) domain.AssessmentRewriter {
	t.Helper()
	rw, ok := s.(domain.AssessmentRewriter)
	if !ok {
		t.Skipf("%T rewrites no assessments", s)
	}
	return rw
}

// rewrite rewrites the tenant's assessments with as (two batches put from
// two goroutines), calling during (if not nil) after they were put and
// before the rewrite ends, as a concurrent writer would.
func rewrite(t *testing.T, s domain.Store, tenant domain.Tenant, as []domain.Assessment, during func()) {
	t.Helper()
	ok, err := rewriter(t, s).RewriteAssessments(ctx(t), tenant.ID, func(put func([]domain.Assessment) error) error {
		var wg sync.WaitGroup
		errs := make([]error, 2)
		half := len(as) / 2
		for i, part := range [][]domain.Assessment{as[:half], as[half:]} {
			wg.Go(func() { errs[i] = put(part) })
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			return err
		}
		if during != nil {
			during()
		}
		return nil
	})
	if err != nil || !ok {
		t.Fatalf("RewriteAssessments: %v, %v", ok, err)
	}
}

// at returns x assessed at time when.
func at(x domain.Assessment, when time.Time) domain.Assessment {
	x.AssessTime = when
	return x
}

// stored returns the tenant's stored assessments by customer id (the
// assessed customers only).
func stored(t *testing.T, s domain.Store, tenant domain.Tenant) map[string]domain.Assessment {
	t.Helper()
	out := map[string]domain.Assessment{}
	for _, c := range listAll(t, s, tenant, domain.CustomerQuery{}, 100) {
		if !c.Assessment.AssessTime.IsZero() {
			out[c.ID] = c.Assessment
		}
	}
	return out
}

var assessRewriteTests = []test{
	{"Assess/Rewrite", func(t *testing.T, s domain.Store) {
		tn, nb := newTenant(t, s), newTenant(t, s)
		id := map[string]string{}
		for _, ext := range []string{"a", "b", "c", "d", "e", "f", "k"} {
			id[ext] = create(t, s, newCustomer(tn, ext)).ID
		}
		x := create(t, s, newCustomer(nb, "x"))
		put(t, s, nb, assessment(x.ID, domain.StageActive, 3))
		put(t, s, tn, assessment(id["a"], domain.StageNew, 1), assessment(id["b"], domain.StageActive, 2),
			assessment(id["c"], domain.StageActive, 3), assessment(id["d"], domain.StageActive, 4),
			assessment(id["e"], domain.StageAtRisk, 5), assessment(id["k"], domain.StageLead, 6)) // f is not assessed yet

		// The day after: every customer but k re-assessed as of asOf, a
		// to active, e to churned, f assessed for the first time, a
		// customer of no tenant's among them; meanwhile b is re-assessed,
		// c deleted, g created and h created and assessed.
		asOf := t0.AddDate(0, 0, 1)
		next := map[string]domain.Assessment{
			"a": at(assessment(id["a"], domain.StageActive, 11), asOf), "b": at(assessment(id["b"], domain.StageAtRisk, 12), asOf),
			"c": at(assessment(id["c"], domain.StageActive, 13), asOf), "d": at(assessment(id["d"], domain.StageActive, 14), asOf),
			"e": at(assessment(id["e"], domain.StageChurned, 15), asOf), "f": at(assessment(id["f"], domain.StageNew, 16), asOf),
		}
		as := []domain.Assessment{at(assessment(domain.NewID(), domain.StageLead, 17), asOf)}
		for _, ext := range slices.Sorted(func(yield func(string) bool) {
			for k := range next {
				if !yield(k) {
					return
				}
			}
		}) {
			as = append(as, next[ext])
		}
		// A concurrent writer's assessment wins, whatever its time.
		concurrent := at(assessment(id["b"], domain.StageChurned, 21), asOf.Add(-time.Hour))
		var g, h domain.Customer
		var hAssessed domain.Assessment
		rewrite(t, s, tn, as, func() {
			put(t, s, tn, concurrent)
			if err := s.DeleteCustomer(ctx(t), tn.ID, id["c"]); err != nil {
				t.Errorf("DeleteCustomer: %v", err)
			}
			g, h = create(t, s, newCustomer(tn, "g")), create(t, s, newCustomer(tn, "h"))
			hAssessed = at(assessment(h.ID, domain.StageNew, 22), asOf.Add(2*time.Hour))
			put(t, s, tn, hAssessed)
		})

		want := map[string]domain.Assessment{id["a"]: next["a"], id["b"]: concurrent, id["d"]: next["d"], id["e"]: next["e"],
			id["f"]: next["f"], h.ID: hAssessed, id["k"]: assessment(id["k"], domain.StageLead, 6)}
		wantEqual(t, "stored assessments", stored(t, s, tn), want)
		for ext, c := range map[string]string{"c": id["c"], "g": g.ID} {
			_, err := s.GetAssessment(ctx(t), tn.ID, c)
			wantErr(t, "assessment of "+ext, err, domain.ErrNotFound)
		}
		if got := get(t, s, tn, g.ID); got.ExternalID != "g" {
			t.Errorf("customer g: %+v", got)
		}
		wantEqual(t, "the neighbour's", stored(t, s, nb), map[string]domain.Assessment{x.ID: assessment(x.ID, domain.StageActive, 3)})
		// Transitions: the first assessments (c's went with c), a and e
		// by the rewrite, f's first, b's by the concurrent writer (not
		// the rewrite's active -> at risk), h's first.
		wantEqual(t, "transitions", stats(t, s, tn).Transitions, map[[2]domain.LifecycleStage]int64{
			{domain.StageUnknown, domain.StageNew}: 3, {domain.StageUnknown, domain.StageActive}: 2, {domain.StageUnknown, domain.StageAtRisk}: 1,
			{domain.StageUnknown, domain.StageLead}: 1, {domain.StageNew, domain.StageActive}: 1, {domain.StageAtRisk, domain.StageChurned}: 1, {domain.StageActive, domain.StageChurned}: 1})

		// Listings by value read the rewritten rows in order.
		top, err := s.ListCustomers(ctx(t), tn.ID, domain.CustomerQuery{Order: domain.Order{Field: "predicted_value", Desc: true}, Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		var got []domain.Money
		for _, c := range top {
			got = append(got, c.Assessment.PredictedValue)
		}
		if !slices.IsSortedFunc(got, func(a, b domain.Money) int { return int(b - a) }) || len(got) != 8 {
			t.Errorf("predicted values by value: %v", got)
		}

		// A second rewrite replaces the first; unchanged stages record
		// nothing.
		before := stats(t, s, tn).Transitions
		again := make([]domain.Assessment, 0, len(want))
		for _, a := range want {
			again = append(again, at(a, asOf.AddDate(0, 0, 1)))
		}
		rewrite(t, s, tn, again, nil)
		for c, a := range want {
			want[c] = at(a, asOf.AddDate(0, 0, 1))
		}
		wantEqual(t, "stored after a second rewrite", stored(t, s, tn), want)
		wantEqual(t, "transitions after a second rewrite", stats(t, s, tn).Transitions, before)
		// Single writes go on as before.
		put(t, s, tn, at(assessment(id["a"], domain.StageAtRisk, 30), asOf.AddDate(0, 0, 2)))
		if a, _ := s.GetAssessment(ctx(t), tn.ID, id["a"]); a.Stage != domain.StageAtRisk {
			t.Errorf("a after a put: %+v", a)
		}
	}},
	{"Assess/RewriteFails", func(t *testing.T, s domain.Store) {
		tn := newTenant(t, s)
		a, b := create(t, s, newCustomer(tn, "a")), create(t, s, newCustomer(tn, "b"))
		put(t, s, tn, assessment(a.ID, domain.StageNew, 1), assessment(b.ID, domain.StageNew, 2))
		before, beforeStats := stored(t, s, tn), stats(t, s, tn)
		asOf := t0.AddDate(0, 0, 1)
		rw := rewriter(t, s)

		// write fails after putting: nothing changes.
		boom := errors.New("boom")
		ok, err := rw.RewriteAssessments(ctx(t), tn.ID, func(put func([]domain.Assessment) error) error {
			if err := put([]domain.Assessment{at(assessment(a.ID, domain.StageActive, 3), asOf)}); err != nil {
				return err
			}
			return boom
		})
		if !ok || !errors.Is(err, boom) {
			t.Fatalf("a failing write: %v, %v; want boom", ok, err)
		}
		wantEqual(t, "after a failing write", stored(t, s, tn), before)

		// An assessment that cannot be stored: put reports it, nothing
		// changes.
		bad := at(assessment(b.ID, domain.StageActive, 4), asOf)
		bad.Churn = 9
		ok, err = rw.RewriteAssessments(ctx(t), tn.ID, func(put func([]domain.Assessment) error) error {
			return put([]domain.Assessment{at(assessment(a.ID, domain.StageActive, 3), asOf), bad})
		})
		var ie *domain.ItemError
		if !ok || !errors.As(err, &ie) || ie.Index != 1 || ie.Field != "churn_level" || !errors.Is(err, domain.ErrInvalid) {
			t.Fatalf("an invalid assessment: %v, %v; want an *ItemError for item 1, churn_level", ok, err)
		}
		wantEqual(t, "after an invalid assessment", stored(t, s, tn), before)
		wantEqual(t, "stats after the failures", stats(t, s, tn), beforeStats)
		noTime := at(assessment(b.ID, domain.StageActive, 4), time.Time{})
		_, err = rw.RewriteAssessments(ctx(t), tn.ID, func(put func([]domain.Assessment) error) error {
			return put([]domain.Assessment{noTime})
		})
		if !errors.As(err, &ie) || ie.Index != 0 || ie.Field != "assess_time" || !errors.Is(err, domain.ErrInvalid) {
			t.Fatalf("an assessment without a time: %v; want an *ItemError for item 0, assess_time", err)
		}
		wantEqual(t, "after an assessment without a time", stored(t, s, tn), before)

		// The next rewrite works.
		next := []domain.Assessment{at(assessment(a.ID, domain.StageActive, 5), asOf), at(assessment(b.ID, domain.StageNew, 6), asOf)}
		rewrite(t, s, tn, next, nil)
		wantEqual(t, "after a rewrite", stored(t, s, tn), map[string]domain.Assessment{a.ID: next[0], b.ID: next[1]})
	}},
}
