package storetest

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/potentialhq/potential/domain"
	"github.com/potentialhq/potential/domain/clv"
	"github.com/potentialhq/potential/domain/rfm"
)

// assessment returns a stored-form assessment of customer id: assessed at
// t0, in stage st, with the other fields set from n so that assessments
// differ in every field.
func assessment(id string, st domain.LifecycleStage, n int) domain.Assessment {
	cell := rfm.Cell{R: 1 + n%5, F: 1 + (n/5)%5, M: 1 + (n/25)%5}
	return domain.Assessment{
		CustomerID: id, ModelVersion: int64(1 + n%3), AssessTime: t0, RFM: cell, Segment: cell.Segment(),
		HistoricalValue: domain.Money(1000 * n), PAlive: float64(n%10) / 10, ExpectedPurchases: 0.25 * float64(n),
		ExpectedSpend: domain.Money(7 * n), PredictedValue: domain.Money(100 * (n % 4)), ValueAtRisk: domain.Money(50 * (n % 3)),
		Churn: domain.ChurnLevel(n % 4), Reasons: domain.ChurnReason(n % 16), Stage: st, SilenceDays: int64(n) - 1, CadenceDays: float64(n) / 3,
	}
}

// put stores as in tenant.
func put(t *testing.T, s domain.Store, tenant domain.Tenant, as ...domain.Assessment) {
	t.Helper()
	if err := s.PutAssessments(ctx(t), tenant.ID, as); err != nil {
		t.Fatalf("PutAssessments: %v", err)
	}
}

// stats returns the tenant's assessment statistics.
func stats(t *testing.T, s domain.Store, tenant domain.Tenant) domain.AssessmentStats {
	t.Helper()
	st, err := s.AssessmentStats(ctx(t), tenant.ID)
	if err != nil {
		t.Fatalf("AssessmentStats: %v", err)
	}
	return st
}

// inputs returns every input AssessmentInputs hands over, checking the
// batch sizes, by customer id.
func inputs(t *testing.T, s domain.Store, tenant domain.Tenant, ids []string, now time.Time) map[string]domain.AssessmentInput {
	t.Helper()
	out := map[string]domain.AssessmentInput{}
	err := s.AssessmentInputs(ctx(t), tenant.ID, ids, now, func(in []domain.AssessmentInput) error {
		if len(in) == 0 || len(in) > 5000 {
			t.Errorf("a batch of %d inputs", len(in))
		}
		for _, x := range in {
			if _, dup := out[x.CustomerID]; dup {
				t.Errorf("customer %s twice", x.CustomerID)
			}
			out[x.CustomerID] = x
		}
		return nil
	})
	if err != nil {
		t.Fatalf("AssessmentInputs: %v", err)
	}
	return out
}

// summaries returns PurchaseSummaries(end) by customer id.
func summaries(t *testing.T, s domain.Store, tenant domain.Tenant, end time.Time) map[string]domain.PurchaseSummary {
	t.Helper()
	out := map[string]domain.PurchaseSummary{}
	err := s.PurchaseSummaries(ctx(t), tenant.ID, end, func(ps domain.PurchaseSummary) error {
		if _, dup := out[ps.CustomerID]; dup {
			t.Errorf("customer %s twice", ps.CustomerID)
		}
		out[ps.CustomerID] = ps
		return nil
	})
	if err != nil {
		t.Fatalf("PurchaseSummaries(%v): %v", end, err)
	}
	return out
}

// utcDay is the midnight (UTC) of t's UTC day.
func utcDay(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}

// expectSummary recomputes a customer's summary up to end's day from its
// transactions; ok is false if it has no purchase by then.
func expectSummary(id string, txs []domain.Transaction, end time.Time) (domain.PurchaseSummary, bool) {
	perDay := map[time.Time]domain.Money{}
	for _, tx := range txs {
		if d := utcDay(tx.OccurredAt); tx.Kind == domain.TxOrder && !d.After(utcDay(end)) {
			perDay[d] += tx.Amount
		}
	}
	if len(perDay) == 0 {
		return domain.PurchaseSummary{}, false
	}
	days := slices.SortedFunc(maps.Keys(perDay), time.Time.Compare)
	ps := domain.PurchaseSummary{CustomerID: id, First: days[0], Last: days[len(days)-1], Days: len(days), FirstDaySpend: perDay[days[0]]}
	for _, a := range perDay {
		ps.TotalSpend += a
	}
	return ps, true
}

// fullModel is a value model with every field set.
func fullModel(tenant domain.Tenant) domain.ValueModel {
	cet := time.FixedZone("CET", 3600)
	return domain.ValueModel{
		TenantID: tenant.ID, FitTime: time.Date(2024, 3, 1, 11, 0, 0, 123456789, cet), ObservationEnd: time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC),
		Settings: domain.ValueSettings{Unit: clv.Day, HorizonMonths: 18, AnnualDiscountRate: 0.0725, DefaultMargin: 0.3,
			RetentionCostPerMonth: 1.5, ChurnPAliveMedium: 0.45, ChurnPAliveHigh: 0.15, SilenceFactor: 2.5,
			EngagementDropRatio: 0.4, NewDays: 60, ChurnedDays: 400},
		BGNBD: clv.BGNBD{R: 0.2425945, Alpha: 4.4136019, A: 0.7929199, B: 2.4258881},
		BGNBDFit: clv.FitResult{LogLikelihood: -9582.429, Iterations: 31, Evaluations: 47, Converged: true, Status: "converged ✓",
			StdErr: []float64{0.0126, 0.3779, 0.1718, 0.7047}, Customers: 2357, Groups: 1128},
		HasSpend: true,
		Spend:    clv.GammaGamma{P: 6.2498, Q: 3.7443, Gamma: 15.4425},
		SpendFit: clv.FitResult{LogLikelihood: -4063.2, Iterations: 12, Evaluations: 20, Status: "gradient 1e-10", StdErr: nil, Customers: 946, Groups: 946},
		RFM: rfm.Model{
			Recency:   rfm.Cuts{Edges: [4]float64{300, 120.5, 30, 7}, Direction: rfm.LowerIsBetter},
			Frequency: rfm.Cuts{Edges: [4]float64{1, 1, 2, 4}, Direction: rfm.HigherIsBetter},
			Monetary:  rfm.Cuts{Edges: [4]float64{0.1, 1e-7, 123456.789, 1e300}, Direction: rfm.HigherIsBetter},
		},
		Customers: 2357, Repeaters: 946, HoldoutEnd: time.Date(1998, 6, 30, 0, 0, 0, 1500, time.UTC),
		Holdout:   []clv.HoldoutClass{{Frequency: 0, Customers: 1411, Actual: 0.236, Expected: 0.1416}, {Frequency: 7, OrMore: true, Customers: 28.5, Actual: 7.036, Expected: math.Pi}},
		Histogram: []clv.FrequencyBin{{Frequency: 0, Actual: 1411, Expected: 1403.5}, {Frequency: 1, Actual: 439, Expected: -5e-324}},
	}
}

var assessTests = []test{
	{"Assess/Gaps", func(t *testing.T, s domain.Store) {
		tn := newTenant(t, s)
		create(t, s, newCustomer(tn, "a"))
		gaps := func(what string, median float64, last int64) {
			t.Helper()
			c, err := s.GetCustomer(ctx(t), tn.ID, ref("a"))
			if err != nil {
				t.Fatal(err)
			}
			if c.Purchases.MedianGapDays != median || c.Purchases.LastGapDays != last {
				t.Fatalf("%s: median gap %v, last gap %d; want %v, %d", what, c.Purchases.MedianGapDays, c.Purchases.LastGapDays, median, last)
			}
		}
		record(t, s, tn, order("o1", "a", 10, day(0, 9)), refund("r1", "a", 5, day(4, 0)))
		gaps("one day", 0, 0)
		record(t, s, tn, order("o2", "a", 10, day(10, 9)))
		gaps("one gap", 10, 10)
		// Days 0, 10, 13: gaps 10 and 3, an even count.
		record(t, s, tn, order("o3", "a", 10, day(13, 23)), order("o4", "a", 10, day(13, 1)))
		gaps("two gaps", 6.5, 3)
		// A late order on day 4: days 0, 4, 10, 13, gaps 4, 6, 3.
		record(t, s, tn, order("o5", "a", 10, day(4, 12)))
		gaps("out of order", 4, 3)
		// Orders on known days and refunds change nothing.
		record(t, s, tn, order("o6", "a", 10, day(4, 1)), order("o7", "a", 1, day(0, 0)), refund("r2", "a", 1, day(30, 0)))
		gaps("known days", 4, 3)
		// Days 0, 4, 10, 13, 20 and -1 in one batch: gaps 1, 4, 6, 3, 7.
		record(t, s, tn, order("o8", "a", 10, day(20, 0)), order("o9", "a", 10, day(-1, 0)))
		gaps("two new days", 4, 7)
		// Day 21: gaps 1, 4, 6, 3, 7, 1 (sorted 1 1 3 4 6 7).
		record(t, s, tn, order("o10", "a", 10, day(21, 0)))
		gaps("six gaps", 3.5, 1)
	}},
	{"Assess/CustomerIDs", func(t *testing.T, s domain.Store) {
		tn := newTenant(t, s)
		a, b := create(t, s, newCustomer(tn, "a")), create(t, s, newCustomer(tn, "b"))
		ids := func(cs ...string) []string {
			var out []string
			for _, ext := range cs {
				out = append(out, mustID(t, s, tn, ext))
			}
			slices.Sort(out)
			return out
		}
		res := record(t, s, tn, order("o1", "a", 1, t0), order("o2", "a", 1, t0), order("o3", "b", 1, t0))
		wantEqual(t, "transactions", res.CustomerIDs, ids("a", "b"))
		// Known items count: a resend refers to its customers as well.
		res = record(t, s, tn, order("o1", "a", 1, t0), order("o4", "b", 1, t0))
		wantEqual(t, "known and new transactions", res.CustomerIDs, ids("a", "b"))
		res = record(t, s, tn, order("o1", "a", 1, t0))
		wantEqual(t, "known transaction", res.CustomerIDs, ids("a"))
		txs := []domain.Transaction{order("o5", "n1", 1, t0), order("o6", "a", 1, t0)}
		res, err := s.RecordTransactions(ctx(t), tn.ID, freshTxs(txs), domain.RecordOptions{CreateMissingCustomers: true, Now: t0})
		if err != nil {
			t.Fatal(err)
		}
		wantEqual(t, "created customer", res.CustomerIDs, ids("a", "n1"))

		res = recordInteractions(t, s, tn, domain.RecordOptions{CreateMissingCustomers: true, Now: t0},
			interaction("i1", "b", t0), interaction("i1", "b", t0), interaction("i2", "n2", t0), interaction("i3", "a", t0))
		wantEqual(t, "interactions", res.CustomerIDs, ids("a", "b", "n2"))
		res = recordInteractions(t, s, tn, domain.RecordOptions{}, interaction("i1", "b", t0))
		wantEqual(t, "known interaction", res.CustomerIDs, ids("b"))

		res = recordReferrals(t, s, tn, domain.RecordOptions{CreateMissingCustomers: true, Now: t0},
			referral("f1", domain.CustomerRef{ID: a.ID}, ref("b"), t0), referral("f2", ref("n3"), ref("a"), t0))
		wantEqual(t, "referrals", res.CustomerIDs, ids("a", "b", "n3"))
		res = recordReferrals(t, s, tn, domain.RecordOptions{}, referral("f1", ref("a"), domain.CustomerRef{ID: b.ID}, t0))
		wantEqual(t, "known referral", res.CustomerIDs, ids("a", "b"))
	}},
	{"Assess/SummariesMatchTransactions", func(t *testing.T, s domain.Store) {
		seed := uint64(time.Now().UnixNano())
		t.Logf("seed %d", seed)
		rng := rand.New(rand.NewPCG(seed, 11))
		tn := newTenant(t, s)
		customers := []string{"a", "b", "c", "d", "e", "f"}
		create(t, s, newCustomer(tn, "lead")) // no purchase: never summarised
		var pool []domain.Transaction
		for i := range 120 {
			// Days -40..19, several orders a day, some refunds.
			tx := order(fmt.Sprintf("t%03d", i), customers[rng.IntN(len(customers))], domain.Money(1+rng.IntN(10_000)),
				day(rng.IntN(60)-40, float64(rng.IntN(48))/2))
			if rng.IntN(5) == 0 {
				tx.Kind = domain.TxRefund
			}
			pool = append(pool, tx)
		}
		// Batches in random order: days arrive out of order.
		for start := 0; start < len(pool); start += 1 + rng.IntN(15) {
			batch := pool[start:min(len(pool), start+1+rng.IntN(15))]
			if _, err := s.RecordTransactions(ctx(t), tn.ID, freshTxs(batch), domain.RecordOptions{CreateMissingCustomers: true, Now: t0}); err != nil {
				t.Fatal(err)
			}
		}
		all, err := s.ListCustomers(ctx(t), tn.ID, domain.CustomerQuery{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		latest := time.Time{}
		for _, c := range all {
			if c.Purchases.LastPurchaseTime.After(latest) {
				latest = c.Purchases.LastPurchaseTime
			}
		}
		// Ends before, within and after the history; the latest purchase's
		// day itself (and later) can be read from the customers' statistics.
		for _, end := range []time.Time{day(-41, 0), day(-40, 23), day(-12, 0).Add(-time.Microsecond), day(-12, 0), day(0, 5),
			utcDay(latest).Add(-time.Microsecond), latest, utcDay(latest).Add(36 * time.Hour), day(400, 0)} {
			want := map[string]domain.PurchaseSummary{}
			for _, c := range all {
				if ps, ok := expectSummary(c.ID, listTxs(t, s, tn, c.ID), end); ok {
					want[c.ID] = ps
				}
			}
			wantEqual(t, fmt.Sprintf("summaries to %v", end), summaries(t, s, tn, end), want)
		}
		// PurchaseDaysBetween counts distinct days in (from's day, to's day].
		for _, span := range [][2]time.Time{{day(-41, 0), day(19, 0)}, {day(-10, 23), day(5, 1)}, {day(3, 0), day(3, 20)}} {
			want := map[string]int{}
			for _, c := range all {
				days := map[time.Time]bool{}
				for _, tx := range listTxs(t, s, tn, c.ID) {
					if d := utcDay(tx.OccurredAt); tx.Kind == domain.TxOrder && d.After(utcDay(span[0])) && !d.After(utcDay(span[1])) {
						days[d] = true
					}
				}
				if len(days) > 0 {
					want[c.ID] = len(days)
				}
			}
			got, err := s.PurchaseDaysBetween(ctx(t), tn.ID, span[0], span[1])
			if err != nil {
				t.Fatal(err)
			}
			wantEqual(t, fmt.Sprintf("days in (%v, %v]", span[0], span[1]), got, want)
		}
	}},
	{"Assess/SummariesEdges", func(t *testing.T, s domain.Store) {
		tn := newTenant(t, s)
		a := create(t, s, newCustomer(tn, "a"))
		// Two orders on day 2 (the first day), one on day 5; a refund only on day 1.
		record(t, s, tn, order("o1", "a", 30, day(2, 23.5)), order("o2", "a", 12, day(2, 0.5)), order("o3", "a", 100, day(5, 12)), refund("r1", "a", 7, day(1, 0)))
		want := domain.PurchaseSummary{CustomerID: a.ID, First: day(2, 0), Last: day(5, 0), Days: 2, TotalSpend: 142, FirstDaySpend: 42}
		for _, end := range []time.Time{day(5, 0), day(5, 23.9), day(6, 0), t0.AddDate(5, 0, 0)} {
			wantEqual(t, fmt.Sprintf("to %v", end), summaries(t, s, tn, end), map[string]domain.PurchaseSummary{a.ID: want})
		}
		want.Last, want.Days, want.TotalSpend = day(2, 0), 1, 42
		wantEqual(t, "to day 4", summaries(t, s, tn, day(5, 0).Add(-time.Microsecond)), map[string]domain.PurchaseSummary{a.ID: want})
		wantEqual(t, "to day 2", summaries(t, s, tn, day(2, 0)), map[string]domain.PurchaseSummary{a.ID: want})
		wantEqual(t, "to day 1", summaries(t, s, tn, day(2, 0).Add(-time.Microsecond)), map[string]domain.PurchaseSummary{})
		days, err := s.PurchaseDaysBetween(ctx(t), tn.ID, day(2, 23), day(5, 0))
		if err != nil {
			t.Fatal(err)
		}
		wantEqual(t, "days after day 2 to day 5", days, map[string]int{a.ID: 1})
		// A callback's error ends the walk and comes back as it is.
		stop := fmt.Errorf("stop: %w", domain.ErrFailedPrecondition)
		err = s.PurchaseSummaries(ctx(t), tn.ID, day(9, 0), func(domain.PurchaseSummary) error { return stop })
		if err != stop {
			t.Fatalf("PurchaseSummaries returned %v, want the callback's error", err)
		}
	}},
	{"Assess/ValueModel", func(t *testing.T, s domain.Store) {
		tn := newTenant(t, s)
		_, err := s.GetValueModel(ctx(t), tn.ID)
		wantErr(t, "no model yet", err, domain.ErrNotFound)
		m := fullModel(tn)
		saved, err := s.SaveValueModel(ctx(t), m)
		if err != nil {
			t.Fatalf("SaveValueModel: %v", err)
		}
		// Every field comes back; times in UTC to the microsecond.
		want := fullModel(tn)
		want.Version = 1
		want.FitTime = time.Date(2024, 3, 1, 10, 0, 0, 123456000, time.UTC)
		want.HoldoutEnd = time.Date(1998, 6, 30, 0, 0, 0, 1000, time.UTC)
		wantEqual(t, "saved", saved, want)
		got, err := s.GetValueModel(ctx(t), tn.ID)
		if err != nil {
			t.Fatal(err)
		}
		wantEqual(t, "read back", got, want)
		// The caller's slices are not the store's.
		m.Holdout[0].Actual, m.BGNBDFit.StdErr[0] = 99, 99
		got, _ = s.GetValueModel(ctx(t), tn.ID)
		wantEqual(t, "after changing the caller's copy", got, want)

		// A minimal model: empty and nil slices, zero times, no spend model.
		bare := domain.ValueModel{TenantID: tn.ID, FitTime: t0, ObservationEnd: t0, Histogram: []clv.FrequencyBin{}}
		saved, err = s.SaveValueModel(ctx(t), bare)
		if err != nil {
			t.Fatal(err)
		}
		bare.Version = 2
		wantEqual(t, "second save", saved, bare)
		got, _ = s.GetValueModel(ctx(t), tn.ID)
		wantEqual(t, "latest", got, bare)
		if got.Histogram == nil || got.Holdout != nil {
			t.Fatalf("empty and nil slices: %#v, %#v", got.Histogram, got.Holdout)
		}

		// Concurrent saves take distinct versions.
		var wg sync.WaitGroup
		versions := make([]int64, 6)
		for i := range versions {
			wg.Add(1)
			go func() {
				defer wg.Done()
				m := fullModel(tn)
				m.Customers = int64(i)
				out, err := s.SaveValueModel(ctx(t), m)
				if err != nil {
					t.Errorf("concurrent save: %v", err)
				}
				versions[i] = out.Version
			}()
		}
		wg.Wait()
		slices.Sort(versions)
		wantEqual(t, "concurrent versions", versions, []int64{3, 4, 5, 6, 7, 8})
		got, _ = s.GetValueModel(ctx(t), tn.ID)
		if got.Version != 8 {
			t.Fatalf("latest version %d, want 8", got.Version)
		}

		_, err = s.SaveValueModel(ctx(t), domain.ValueModel{TenantID: domain.NewID(), FitTime: t0})
		wantErr(t, "unknown tenant", err, domain.ErrNotFound)
		_, err = s.SaveValueModel(ctx(t), domain.ValueModel{TenantID: tn.ID, FitTime: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)})
		wantErr(t, "fit time out of range", err, domain.ErrInvalid)
		other := newTenant(t, s)
		_, err = s.GetValueModel(ctx(t), other.ID)
		wantErr(t, "another tenant's model", err, domain.ErrNotFound)
		_, err = s.GetValueModel(ctx(t), "nope")
		wantErr(t, "malformed tenant", err, domain.ErrNotFound)
	}},
	{"Assess/InputWindows", func(t *testing.T, s domain.Store) {
		tn := newTenant(t, s)
		now := time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC)
		lead := newCustomer(tn, "lead")
		lead.Kind, lead.CreateTime = domain.KindLead, t0.Add(-time.Hour)
		create(t, s, lead)
		a := create(t, s, newCustomer(tn, "a"))
		record(t, s, tn, order("o1", "a", 100, day(0, 1)), order("o2", "a", 50, day(10, 1)), refund("r1", "a", 20, day(11, 0)), withMargin(order("o3", "a", 10, day(13, 5)), 4))
		recent, base := now.Add(-30*24*time.Hour), now.Add(-120*24*time.Hour)
		var its []domain.Interaction
		for i, at := range []time.Time{
			now.Add(-time.Microsecond), recent, recent.Add(time.Hour), // recent: 3
			recent.Add(-time.Microsecond), base, base.Add(24 * time.Hour), now.Add(-100 * 24 * time.Hour), // baseline: 4
			now, now.Add(time.Hour), base.Add(-time.Microsecond), base.Add(-400 * 24 * time.Hour), // neither
		} {
			its = append(its, interaction(fmt.Sprintf("i%d", i), "a", at))
		}
		recordInteractions(t, s, tn, domain.RecordOptions{}, its...)
		got := inputs(t, s, tn, nil, now)
		aNow := get(t, s, tn, a.ID)
		wantEqual(t, "a", got[a.ID], domain.AssessmentInput{CustomerID: a.ID, Kind: domain.KindCustomer, CreateTime: t0,
			Purchases: aNow.Purchases, Recent: 3, Baseline: 4})
		if p := aNow.Purchases; p.MedianGapDays != 6.5 || p.LastGapDays != 3 || p.RefundTotal != 20 || p.TotalMargin != 4 {
			t.Fatalf("a's purchases %+v", p)
		}
		leadID := mustID(t, s, tn, "lead")
		wantEqual(t, "lead", got[leadID], domain.AssessmentInput{CustomerID: leadID, Kind: domain.KindLead, CreateTime: t0.Add(-time.Hour)})
		if len(got) != 2 {
			t.Fatalf("%d inputs, want 2", len(got))
		}
		// The stored stage is the previous one; a chosen few customers;
		// unknown and malformed ids are skipped.
		put(t, s, tn, assessment(a.ID, domain.StageActive, 3))
		got = inputs(t, s, tn, []string{a.ID, domain.NewID(), "nope", a.ID}, now)
		if len(got) != 1 || got[a.ID].PreviousStage != domain.StageActive || got[a.ID].Recent != 3 || got[a.ID].Baseline != 4 {
			t.Fatalf("inputs of a: %+v", got)
		}
		if got := inputs(t, s, tn, []string{}, now); len(got) != 0 {
			t.Fatalf("inputs of no customer: %+v", got)
		}
		// A moment later the windows move: the interaction at now is recent.
		later := inputs(t, s, tn, []string{a.ID}, now.Add(time.Microsecond))
		if in := later[a.ID]; in.Recent != 3 || in.Baseline != 4 {
			t.Fatalf("a microsecond later: recent %d, baseline %d; want 3, 4", in.Recent, in.Baseline)
		}
		// A callback's error ends the walk and comes back as it is.
		stop := fmt.Errorf("stop: %w", domain.ErrFailedPrecondition)
		err := s.AssessmentInputs(ctx(t), tn.ID, nil, now, func([]domain.AssessmentInput) error { return stop })
		if err != stop {
			t.Fatalf("AssessmentInputs returned %v, want the callback's error", err)
		}
	}},
	{"Assess/InputBatches", func(t *testing.T, s domain.Store) {
		tn := newTenant(t, s)
		const n = 5001
		for start := 0; start < n; start += domain.MaxBatch {
			var cs []domain.Customer
			for i := start; i < min(start+domain.MaxBatch, n); i++ {
				cs = append(cs, upsertItem(tn, fmt.Sprintf("c%d", i), "", t0))
			}
			upsert(t, s, tn, t0, cs...)
		}
		batches := 0
		seen := map[string]bool{}
		err := s.AssessmentInputs(ctx(t), tn.ID, nil, t0, func(in []domain.AssessmentInput) error {
			batches++
			if len(in) > 5000 {
				t.Errorf("a batch of %d", len(in))
			}
			for _, x := range in {
				seen[x.CustomerID] = true
			}
			return nil
		})
		if err != nil || len(seen) != n || batches != 2 {
			t.Fatalf("%d customers in %d batches (%v), want %d in 2", len(seen), batches, err, n)
		}
	}},
	{"Assess/PutAndTransitions", func(t *testing.T, s domain.Store) {
		tn := newTenant(t, s)
		a, b := create(t, s, newCustomer(tn, "a")), create(t, s, newCustomer(tn, "b"))
		_, err := s.GetAssessment(ctx(t), tn.ID, a.ID)
		wantErr(t, "not assessed yet", err, domain.ErrNotFound)
		if c := get(t, s, tn, a.ID); c.Assessment != (domain.Assessment{}) {
			t.Fatalf("a customer not assessed carries %+v", c.Assessment)
		}
		first := assessment(a.ID, domain.StageNew, 7)
		first.AssessTime = time.Date(2024, 3, 1, 11, 0, 0, 999, time.FixedZone("CET", 3600))
		put(t, s, tn, first, assessment(b.ID, domain.StageLead, 2), assessment(domain.NewID(), domain.StageLead, 1))
		want := assessment(a.ID, domain.StageNew, 7)
		want.AssessTime = t0
		got, err := s.GetAssessment(ctx(t), tn.ID, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		wantEqual(t, "stored", got, want)
		// Customer reads carry it.
		wantEqual(t, "GetCustomer", get(t, s, tn, a.ID).Assessment, want)
		list, _ := s.ListCustomers(ctx(t), tn.ID, domain.CustomerQuery{Filter: domain.Filter{cond("external_id", domain.OpEq, "a")}, Limit: 10})
		if len(list) != 1 || list[0].Assessment != want {
			t.Fatalf("ListCustomers: %+v", list)
		}
		upd := get(t, s, tn, a.ID)
		upd.DisplayName = "changed"
		updated, err := s.UpdateCustomer(ctx(t), upd)
		if err != nil || updated.Assessment != want {
			t.Fatalf("UpdateCustomer: %+v, %v", updated.Assessment, err)
		}
		outs := upsert(t, s, tn, t0.Add(time.Hour), upsertItem(tn, "a", "again", t0), upsertItem(tn, "b", "Customer b", t0))
		if outs[0].Customer.Assessment != want || outs[1].Customer.Assessment.Stage != domain.StageLead {
			t.Fatalf("UpsertCustomers: %+v, %+v", outs[0].Customer.Assessment, outs[1].Customer.Assessment)
		}
		wantEqual(t, "transitions", stats(t, s, tn).Transitions, map[[2]domain.LifecycleStage]int64{
			{domain.StageUnknown, domain.StageNew}: 1, {domain.StageUnknown, domain.StageLead}: 1})

		// The same stage again: replaced, no transition. Of two
		// assessments of one customer in a call, the last counts.
		again := assessment(a.ID, domain.StageNew, 11)
		put(t, s, tn, assessment(a.ID, domain.StageChurned, 1), again)
		got, _ = s.GetAssessment(ctx(t), tn.ID, a.ID)
		wantEqual(t, "replaced", got, again)
		wantEqual(t, "transitions after the same stage", stats(t, s, tn).Transitions, map[[2]domain.LifecycleStage]int64{
			{domain.StageUnknown, domain.StageNew}: 1, {domain.StageUnknown, domain.StageLead}: 1})
		// Changes are recorded: new -> active -> at risk -> active.
		for _, st := range []domain.LifecycleStage{domain.StageActive, domain.StageAtRisk, domain.StageAtRisk, domain.StageActive} {
			put(t, s, tn, assessment(a.ID, st, 4))
		}
		wantEqual(t, "transitions", stats(t, s, tn).Transitions, map[[2]domain.LifecycleStage]int64{
			{domain.StageUnknown, domain.StageNew}: 1, {domain.StageUnknown, domain.StageLead}: 1, {domain.StageNew, domain.StageActive}: 1,
			{domain.StageActive, domain.StageAtRisk}: 1, {domain.StageAtRisk, domain.StageActive}: 1})

		// An assessment that cannot be stored fails the call; nothing changes.
		before := stats(t, s, tn)
		for name, mutate := range map[string]func(*domain.Assessment){
			"NaN p_alive":       func(x *domain.Assessment) { x.PAlive = math.NaN() },
			"infinite cadence":  func(x *domain.Assessment) { x.CadenceDays = math.Inf(1) },
			"score 6":           func(x *domain.Assessment) { x.RFM.F = 6 },
			"unknown segment":   func(x *domain.Assessment) { x.Segment = rfm.Segment(99) },
			"unknown churn":     func(x *domain.Assessment) { x.Churn = 4 },
			"unknown stage":     func(x *domain.Assessment) { x.Stage = 7 },
			"no time":           func(x *domain.Assessment) { x.AssessTime = time.Time{} },
			"malformed id":      func(x *domain.Assessment) { x.CustomerID = "a" },
			"negative version":  func(x *domain.Assessment) { x.ModelVersion = -1 },
			"huge silence":      func(x *domain.Assessment) { x.SilenceDays = 1 << 40 },
			"time out of range": func(x *domain.Assessment) { x.AssessTime = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) },
		} {
			bad := assessment(b.ID, domain.StageChurned, 9)
			mutate(&bad)
			err := s.PutAssessments(ctx(t), tn.ID, []domain.Assessment{assessment(a.ID, domain.StageChurned, 5), bad})
			var ie *domain.ItemError
			if !errors.As(err, &ie) || ie.Index != 1 || !errors.Is(err, domain.ErrInvalid) {
				t.Fatalf("%s: %v, want an *ItemError for item 1 wrapping ErrInvalid", name, err)
			}
		}
		wantEqual(t, "after failed calls", stats(t, s, tn), before)
		if err := s.PutAssessments(ctx(t), tn.ID, nil); err != nil {
			t.Fatalf("no assessments: %v", err)
		}
		_, err = s.GetAssessment(ctx(t), tn.ID, "nope")
		wantErr(t, "malformed id", err, domain.ErrNotFound)
		_, err = s.GetAssessment(ctx(t), tn.ID, domain.NewID())
		wantErr(t, "unknown customer", err, domain.ErrNotFound)
	}},
}
