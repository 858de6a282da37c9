package storetest

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/potentialhq/potential/domain"
	"github.com/potentialhq/potential/domain/rfm"
)

// vc is a ValueCount.
func vc(customers int64, predicted, risk domain.Money) domain.ValueCount {
	return domain.ValueCount{Customers: customers, Predicted: predicted, ValueAtRisk: risk}
}

// emptyStats are the statistics of a tenant without assessments.
func emptyStats() domain.AssessmentStats {
	return domain.AssessmentStats{Segments: map[rfm.Segment]int64{}, Churn: map[domain.ChurnLevel]domain.ValueCount{},
		Reasons: map[domain.ChurnReason]domain.ValueCount{}, Stages: map[domain.LifecycleStage]int64{},
		Transitions: map[[2]domain.LifecycleStage]int64{}}
}

var assessStatsTests = []test{
	{"Assess/Stats", func(t *testing.T, s domain.Store) {
		tn := newTenant(t, s)
		wantEqual(t, "no assessments", stats(t, s, tn), emptyStats())
		id := map[string]string{}
		for _, ext := range []string{"a", "b", "c", "d", "e"} {
			id[ext] = create(t, s, newCustomer(tn, ext)).ID
		}
		with := func(x domain.Assessment, r, f int, churn domain.ChurnLevel, reasons domain.ChurnReason, pred, risk domain.Money) domain.Assessment {
			x.RFM, x.Churn, x.Reasons, x.PredictedValue, x.ValueAtRisk = rfm.Cell{R: r, F: f, M: 3}, churn, reasons, pred, risk
			x.Segment = x.RFM.Segment()
			if r == 0 {
				x.RFM, x.Segment = rfm.Cell{}, rfm.Unknown
			}
			return x
		}
		put(t, s, tn,
			with(assessment(id["a"], domain.StageActive, 1), 5, 4, domain.ChurnNone, 0, 1000, 100),
			with(assessment(id["b"], domain.StageChurned, 2), 1, 1, domain.ChurnHigh, domain.ReasonLowPAlive|domain.ReasonLongSilence, 50, 950),
			with(assessment(id["c"], domain.StageAtRisk, 3), 1, 1, domain.ChurnMedium, domain.ReasonLowPAlive, 200, 300),
			with(assessment(id["e"], domain.StageLead, 4), 0, 0, domain.ChurnLow, domain.ReasonEngagementDrop, 0, 0),
		) // d is not assessed
		want := emptyStats()
		want.Customers = 4
		want.RF[4][3], want.RF[0][0] = 1, 2
		want.Segments = map[rfm.Segment]int64{rfm.Champions: 1, rfm.Lost: 2, rfm.Unknown: 1}
		want.Churn = map[domain.ChurnLevel]domain.ValueCount{
			domain.ChurnNone: vc(1, 1000, 100), domain.ChurnHigh: vc(1, 50, 950), domain.ChurnMedium: vc(1, 200, 300), domain.ChurnLow: vc(1, 0, 0)}
		want.Reasons = map[domain.ChurnReason]domain.ValueCount{
			domain.ReasonLowPAlive: vc(2, 250, 1250), domain.ReasonLongSilence: vc(1, 50, 950), domain.ReasonEngagementDrop: vc(1, 0, 0)}
		want.Stages = map[domain.LifecycleStage]int64{domain.StageActive: 1, domain.StageChurned: 1, domain.StageAtRisk: 1, domain.StageLead: 1}
		want.Transitions = map[[2]domain.LifecycleStage]int64{
			{0, domain.StageActive}: 1, {0, domain.StageChurned}: 1, {0, domain.StageAtRisk}: 1, {0, domain.StageLead}: 1}
		wantEqual(t, "stats", stats(t, s, tn), want)

		// b comes back; c is assessed again in the same stage.
		put(t, s, tn,
			with(assessment(id["b"], domain.StageReactivated, 2), 5, 2, domain.ChurnNone, 0, 400, 10),
			with(assessment(id["c"], domain.StageAtRisk, 3), 1, 1, domain.ChurnMedium, domain.ReasonLowPAlive, 200, 300))
		want.RF[0][0], want.RF[4][1] = 1, 1
		want.Segments = map[rfm.Segment]int64{rfm.Champions: 1, rfm.Lost: 1, rfm.PotentialLoyalists: 1, rfm.Unknown: 1}
		want.Churn = map[domain.ChurnLevel]domain.ValueCount{
			domain.ChurnNone: vc(2, 1400, 110), domain.ChurnMedium: vc(1, 200, 300), domain.ChurnLow: vc(1, 0, 0)}
		want.Reasons = map[domain.ChurnReason]domain.ValueCount{domain.ReasonLowPAlive: vc(1, 200, 300), domain.ReasonEngagementDrop: vc(1, 0, 0)}
		want.Stages = map[domain.LifecycleStage]int64{domain.StageActive: 1, domain.StageReactivated: 1, domain.StageAtRisk: 1, domain.StageLead: 1}
		want.Transitions[[2]domain.LifecycleStage{domain.StageChurned, domain.StageReactivated}] = 1
		wantEqual(t, "stats after re-assessing", stats(t, s, tn), want)
	}},
	{"Assess/Isolation", func(t *testing.T, s domain.Store) {
		a, b := newTenant(t, s), newTenant(t, s)
		theirs := create(t, s, newCustomer(b, "x"))
		record(t, s, b, order("o1", "x", 100, day(0, 10)), order("o2", "x", 100, day(3, 10)))
		recordInteractions(t, s, b, domain.RecordOptions{}, interaction("i1", "x", day(1, 0)))
		put(t, s, b, assessment(theirs.ID, domain.StageActive, 5))
		if _, err := s.SaveValueModel(ctx(t), fullModel(b)); err != nil {
			t.Fatal(err)
		}
		mine := create(t, s, newCustomer(a, "x"))
		bStats := stats(t, s, b)

		_, err := s.GetAssessment(ctx(t), a.ID, theirs.ID)
		wantErr(t, "get B's assessment from A", err, domain.ErrNotFound)
		_, err = s.GetValueModel(ctx(t), a.ID)
		wantErr(t, "B's model from A", err, domain.ErrNotFound)
		// A write naming B's customer from A changes nothing.
		put(t, s, a, assessment(theirs.ID, domain.StageChurned, 9))
		got, err := s.GetAssessment(ctx(t), b.ID, theirs.ID)
		if err != nil || got.Stage != domain.StageActive {
			t.Fatalf("B's assessment after A's write: %+v, %v", got, err)
		}
		wantEqual(t, "B's stats", stats(t, s, b), bStats)
		wantEqual(t, "A's stats", stats(t, s, a), emptyStats())
		if in := inputs(t, s, a, []string{theirs.ID, mine.ID}, t0); len(in) != 1 || in[mine.ID].CustomerID != mine.ID {
			t.Fatalf("A's inputs of B's customer: %+v", in)
		}
		if in := inputs(t, s, a, nil, day(2, 0)); len(in) != 1 || in[mine.ID].Recent != 0 || in[mine.ID].Purchases.PurchaseDays != 0 {
			t.Fatalf("A's inputs: %+v", in)
		}
		if got := summaries(t, s, a, day(30, 0)); len(got) != 0 {
			t.Fatalf("A's summaries: %+v", got)
		}
		if got := summaries(t, s, a, day(1, 0)); len(got) != 0 {
			t.Fatalf("A's summaries to a past day: %+v", got)
		}
		if got, err := s.PurchaseDaysBetween(ctx(t), a.ID, day(-1, 0), day(9, 0)); err != nil || len(got) != 0 {
			t.Fatalf("A's purchase days: %+v, %v", got, err)
		}
		rows, _ := s.ListCustomers(ctx(t), a.ID, domain.CustomerQuery{Filter: domain.Filter{cond("lifecycle_stage", domain.OpEq, "active")}, Limit: 10})
		if len(rows) != 0 {
			t.Fatalf("A lists B's assessed customer: %+v", rows)
		}
		// An unknown or malformed tenant has nothing.
		for _, tenant := range []string{domain.NewID(), "nope"} {
			if st, err := s.AssessmentStats(ctx(t), tenant); err != nil || st.Customers != 0 {
				t.Fatalf("stats of tenant %q: %+v, %v", tenant, st, err)
			}
			if err := s.PutAssessments(ctx(t), tenant, []domain.Assessment{assessment(theirs.ID, domain.StageLead, 1)}); err != nil {
				t.Fatalf("put in tenant %q: %v", tenant, err)
			}
			_, err := s.GetAssessment(ctx(t), tenant, theirs.ID)
			wantErr(t, "get in tenant "+tenant, err, domain.ErrNotFound)
		}
		wantEqual(t, "B's stats at the end", stats(t, s, b), bStats)
	}},
	{"Assess/DeleteErases", func(t *testing.T, s domain.Store) {
		tn := newTenant(t, s)
		x, y := create(t, s, newCustomer(tn, "x")), create(t, s, newCustomer(tn, "y"))
		put(t, s, tn, assessment(x.ID, domain.StageNew, 1), assessment(y.ID, domain.StageNew, 2))
		put(t, s, tn, assessment(x.ID, domain.StageActive, 1))
		if err := s.DeleteCustomer(ctx(t), tn.ID, x.ID); err != nil {
			t.Fatal(err)
		}
		_, err := s.GetAssessment(ctx(t), tn.ID, x.ID)
		wantErr(t, "deleted customer's assessment", err, domain.ErrNotFound)
		st := stats(t, s, tn)
		wantEqual(t, "transitions after the delete", st.Transitions, map[[2]domain.LifecycleStage]int64{{0, domain.StageNew}: 1})
		if st.Customers != 1 {
			t.Fatalf("%d assessed customers, want 1", st.Customers)
		}
		// The same external id again is a new customer, not assessed.
		x2 := create(t, s, newCustomer(tn, "x"))
		if c := get(t, s, tn, x2.ID); c.Assessment != (domain.Assessment{}) {
			t.Fatalf("new x carries %+v", c.Assessment)
		}
		if in := inputs(t, s, tn, []string{x2.ID, x.ID}, t0); len(in) != 1 || in[x2.ID].PreviousStage != domain.StageUnknown {
			t.Fatalf("inputs: %+v", in)
		}
		// A late write for the deleted customer is skipped.
		put(t, s, tn, assessment(x.ID, domain.StageChurned, 1))
		wantEqual(t, "after a late write", stats(t, s, tn), st)
	}},
	{"Assess/ConcurrentPuts", func(t *testing.T, s domain.Store) {
		tn := newTenant(t, s)
		var ids []string
		for i := range 6 {
			ids = append(ids, create(t, s, newCustomer(tn, fmt.Sprintf("c%d", i))).ID)
		}
		var wg sync.WaitGroup
		for w := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rng := rand.New(rand.NewPCG(uint64(w), 9))
				for range 15 {
					var as []domain.Assessment
					for _, id := range ids {
						if rng.IntN(3) > 0 {
							as = append(as, assessment(id, domain.LifecycleStages[rng.IntN(3)], rng.IntN(50)))
						}
					}
					rng.Shuffle(len(as), func(i, j int) { as[i], as[j] = as[j], as[i] })
					if err := s.PutAssessments(ctx(t), tn.ID, as); err != nil {
						t.Errorf("PutAssessments: %v", err)
						return
					}
				}
			}()
		}
		wg.Wait()
		// Every customer's transitions form one chain from stage 0 to its
		// stored stage: no change is lost or counted twice, so what flows
		// into a stage, less what flows out, is the customers now in it.
		st := stats(t, s, tn)
		net := map[domain.LifecycleStage]int64{}
		for k, n := range st.Transitions {
			if k[0] == k[1] {
				t.Fatalf("transition %v to itself", k)
			}
			net[k[0]] -= n
			net[k[1]] += n
		}
		want := map[domain.LifecycleStage]int64{0: -int64(len(ids))}
		for _, id := range ids {
			a, err := s.GetAssessment(ctx(t), tn.ID, id)
			if err != nil {
				t.Fatal(err)
			}
			want[a.Stage]++
		}
		for k, v := range want {
			if v == 0 {
				delete(want, k)
			}
		}
		for k, v := range net {
			if v == 0 {
				delete(net, k)
			}
		}
		wantEqual(t, "net transitions per stage", net, want)
	}},
	{"Assess/ListTenants", func(t *testing.T, s domain.Store) {
		var want []domain.Tenant
		for i, at := range []time.Time{t0.Add(time.Hour), t0, t0.Add(time.Hour)} {
			tn := domain.Tenant{ID: domain.NewID(), Name: fmt.Sprintf("t%d", i), CreateTime: at}
			if err := s.CreateTenant(ctx(t), tn); err != nil {
				t.Fatal(err)
			}
			want = append(want, tn)
		}
		slices.SortFunc(want, func(a, b domain.Tenant) int {
			if c := a.CreateTime.Compare(b.CreateTime); c != 0 {
				return c
			}
			if a.ID < b.ID {
				return -1
			}
			return 1
		})
		got, err := s.ListTenants(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		wantEqual(t, "tenants", got, want)
	}},
}
