package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/potentialhq/potential/domain"
	"github.com/potentialhq/potential/domain/clv"
	"github.com/potentialhq/potential/domain/rfm"
	"github.com/potentialhq/potential/store/postgres"
)

// stepwise hides the follow-up of ingestion batches from the Service,
// which then runs it after the store returns, one step and one transaction
// after the other (assessment, scoring and grading, segments): the way
// every batch was recorded before the follow-up joined the batch's own
// transaction, and the baseline the tests and benchmarks compare with.
type stepwise struct{ *postgres.Store }

func (s stepwise) RecordTransactions(ctx context.Context, tenantID string, txs []domain.Transaction, opts domain.RecordOptions) (domain.BatchResult, error) {
	opts.FollowUp = nil
	return s.Store.RecordTransactions(ctx, tenantID, txs, opts)
}

func (s stepwise) RecordInteractions(ctx context.Context, tenantID string, its []domain.Interaction, opts domain.RecordOptions) (domain.BatchResult, error) {
	opts.FollowUp = nil
	return s.Store.RecordInteractions(ctx, tenantID, its, opts)
}

func (s stepwise) RecordReferrals(ctx context.Context, tenantID string, rs []domain.Referral, opts domain.RecordOptions) (domain.BatchResult, error) {
	opts.FollowUp = nil
	return s.Store.RecordReferrals(ctx, tenantID, rs, opts)
}

// followUpTenant creates a tenant of n customers with the 20 rules of the
// scoring benchmark and a dynamic segment of customers with two orders or
// more (and, through CreateSegment, its 17 built-in segments), and returns
// the principal's context, the customers' ids and the segments' names by id.
func followUpTenant(t testing.TB, s *postgres.Store, svc *domain.Service, n int) (context.Context, domain.Tenant, []string) {
	t.Helper()
	tn, ids := scoringBenchTenant(t, s, "followup-"+domain.NewID(), n)
	actx := domain.WithPrincipal(context.Background(), domain.Principal{TenantID: tn.ID, KeyID: "test", Role: domain.RoleAdmin})
	m, err := svc.CreateScoringModel(actx, domain.ScoringModel{Name: "engagement"})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range scoringBenchRules(m.ID) {
		if _, err := svc.CreateScoringRule(actx, r); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := svc.CreateSegment(actx, domain.Segment{Name: "repeat buyers", Kind: domain.SegmentDynamic, Rule: "customer.orders >= 2"}, nil); err != nil {
		t.Fatal(err)
	}
	return actx, tn, ids
}

// derived is everything a customer's recorded events derive, in terms
// that do not depend on the tenant's ids.
type derived struct {
	Orders, Interactions int64
	Spend                domain.Money
	Assessment           domain.Assessment
	Entries, Points      int64
	Grade                domain.CustomerGrade
	Segments             []string
	Events               []string // "entered <segment>" / "exited <segment>", in log order
}

// derivedState reads the derived state of every customer of tenant, by
// external id.
func derivedState(t *testing.T, s *postgres.Store, tn domain.Tenant, ids []string) map[string]derived {
	t.Helper()
	ctx := context.Background()
	names := map[string]string{}
	sgs, err := s.ListSegments(ctx, tn.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, sg := range sgs {
		names[sg.ID] = sg.Name
	}
	grades, err := s.CustomerGrades(ctx, tn.ID, ids)
	if err != nil {
		t.Fatal(err)
	}
	evs, err := s.ListSegmentEvents(ctx, tn.ID, domain.SegmentEventQuery{Limit: 100_000})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]derived{}
	for _, id := range ids {
		c, err := s.GetCustomer(ctx, tn.ID, domain.CustomerRef{ID: id})
		if err != nil {
			t.Fatal(err)
		}
		d := derived{Orders: c.Purchases.Orders, Interactions: c.Engagement.Interactions, Spend: c.Purchases.TotalSpend}
		if d.Assessment, err = s.GetAssessment(ctx, tn.ID, id); err != nil && !errors.Is(err, domain.ErrNotFound) {
			t.Fatal(err)
		}
		d.Assessment.CustomerID = ""
		ledger, err := s.CustomerLedger(ctx, tn.ID, id)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ledger {
			d.Entries++
			d.Points += e.Points
		}
		d.Grade = grades[id]
		d.Grade.CustomerID = ""
		in, err := s.CustomerSegments(ctx, tn.ID, id)
		if err != nil {
			t.Fatal(err)
		}
		for _, sid := range in {
			d.Segments = append(d.Segments, names[sid])
		}
		slices.Sort(d.Segments)
		for _, ev := range evs {
			if ev.CustomerID == id {
				d.Events = append(d.Events, fmt.Sprintf("%v %s", ev.Kind, names[ev.SegmentID]))
			}
		}
		out[c.ExternalID] = d
	}
	return out
}

// rechunk returns the items of batches in batches of n.
func rechunk[T any](batches [][]T, n int) [][]T {
	var all []T
	for _, b := range batches {
		all = append(all, b...)
	}
	var out [][]T
	for start := 0; start < len(all); start += n {
		out = append(out, all[start:min(start+n, len(all))])
	}
	return out
}

// TestFollowUpMatchesStepwise records the same events, in the same
// batches and at the same clock, into two tenants: through the follow-up
// in the batch's transaction, and step by step. Every figure the events
// derive must be the same, and current when each call returns.
func TestFollowUpMatchesStepwise(t *testing.T) {
	s := open(t, newDatabase(t))
	clock := func() time.Time { return scoringBenchNow }
	fast, slow := domain.NewService(s, clock), domain.NewService(stepwise{s}, clock)
	fctx, ftn, fids := followUpTenant(t, s, fast, 60)
	sctx, stn, sids := followUpTenant(t, s, slow, 60)

	// The customers are assessed, and graded, with a value model (CDNOW's
	// parameters, Fader, Hardie and Lee 2005).
	for _, tn := range []domain.Tenant{ftn, stn} {
		m := domain.ValueModel{TenantID: tn.ID, FitTime: scoringBenchNow, ObservationEnd: scoringBenchNow,
			Settings: domain.ValueSettings{Unit: clv.Day, HorizonMonths: 12, AnnualDiscountRate: 0.1, DefaultMargin: 0.3,
				RetentionCostPerMonth: 1, ChurnPAliveMedium: 0.5, ChurnPAliveHigh: 0.2, SilenceFactor: 2, EngagementDropRatio: 0.5, NewDays: 60, ChurnedDays: 365},
			BGNBD: clv.BGNBD{R: 0.2426, Alpha: 4.4136, A: 0.7929, B: 2.4259}, HasSpend: true, Spend: clv.GammaGamma{P: 6.25, Q: 3.74, Gamma: 15.44},
			RFM: rfm.Model{
				Recency:   rfm.Cuts{Edges: [4]float64{300, 120, 30, 7}, Direction: rfm.LowerIsBetter},
				Frequency: rfm.Cuts{Edges: [4]float64{1, 2, 3, 5}, Direction: rfm.HigherIsBetter},
				Monetary:  rfm.Cuts{Edges: [4]float64{100, 1000, 5000, 20000}, Direction: rfm.HigherIsBetter},
			}}
		if _, err := s.SaveValueModel(context.Background(), m); err != nil {
			t.Fatal(err)
		}
	}
	txBatches, itBatches := scoringBenchEvents(fids, 1200)
	txBatches, itBatches = rechunk(txBatches, 60), rechunk(itBatches, 200) // several calls of each
	translate := func(id string) string { return sids[slices.Index(fids, id)] }
	for i := range max(len(txBatches), len(itBatches)) {
		if i < len(txBatches) {
			slowTxs := slices.Clone(txBatches[i])
			for j := range slowTxs {
				slowTxs[j].Customer.ID = translate(slowTxs[j].Customer.ID)
			}
			// The second call resends the batch: nothing new is counted.
			for range 2 {
				fr, err := fast.RecordTransactions(fctx, slices.Clone(txBatches[i]), false)
				if err != nil {
					t.Fatal(err)
				}
				sr, err := slow.RecordTransactions(sctx, slices.Clone(slowTxs), false)
				if err != nil {
					t.Fatal(err)
				}
				if !fr.FollowedUp || sr.FollowedUp {
					t.Fatalf("FollowedUp: %v through the follow-up, %v step by step; want true, false", fr.FollowedUp, sr.FollowedUp)
				}
				if fr.Created != sr.Created || fr.AlreadyKnown != sr.AlreadyKnown {
					t.Fatalf("batch %d: created/known %d/%d, step by step %d/%d", i, fr.Created, fr.AlreadyKnown, sr.Created, sr.AlreadyKnown)
				}
			}
		}
		if i < len(itBatches) {
			slowIts := slices.Clone(itBatches[i])
			for j := range slowIts {
				slowIts[j].Customer.ID = translate(slowIts[j].Customer.ID)
			}
			if _, err := fast.RecordInteractions(fctx, slices.Clone(itBatches[i]), false); err != nil {
				t.Fatal(err)
			}
			if _, err := slow.RecordInteractions(sctx, slowIts, false); err != nil {
				t.Fatal(err)
			}
		}
	}
	// A referral between two customers, and a batch that creates its customer.
	ref := []domain.Referral{{ExternalID: "r1", Referrer: domain.CustomerRef{ExternalID: "c1"}, Referred: domain.CustomerRef{ExternalID: "c2"}, OccurredAt: scoringBenchNow.Add(-time.Hour)}}
	newTx := []domain.Transaction{{ExternalID: "new-1", Customer: domain.CustomerRef{ExternalID: "new"}, Kind: domain.TxOrder, Amount: 5_000_000, OccurredAt: scoringBenchNow.Add(-time.Hour)},
		{ExternalID: "new-2", Customer: domain.CustomerRef{ExternalID: "new"}, Kind: domain.TxOrder, Amount: 7_000_000, OccurredAt: scoringBenchNow.Add(-2 * 24 * time.Hour)}}
	for _, x := range []struct {
		svc *domain.Service
		ctx context.Context
	}{{fast, fctx}, {slow, sctx}} {
		if _, err := x.svc.RecordReferrals(x.ctx, slices.Clone(ref), false); err != nil {
			t.Fatal(err)
		}
		if _, err := x.svc.RecordTransactions(x.ctx, slices.Clone(newTx), true); err != nil {
			t.Fatal(err)
		}
	}
	for _, x := range []struct {
		tn  domain.Tenant
		ids *[]string
	}{{ftn, &fids}, {stn, &sids}} {
		c, err := s.GetCustomer(context.Background(), x.tn.ID, domain.CustomerRef{ExternalID: "new"})
		if err != nil {
			t.Fatal(err)
		}
		*x.ids = append(*x.ids, c.ID)
	}

	got, want := derivedState(t, s, ftn, fids), derivedState(t, s, stn, sids)
	var orders, points, repeat, graded, assessed, modelled int64
	for ext, w := range want {
		g := got[ext]
		if fmt.Sprintf("%+v", g) != fmt.Sprintf("%+v", w) {
			t.Errorf("customer %s:\n through the follow-up %+v\n step by step          %+v", ext, g, w)
		}
		orders += g.Orders
		points += g.Points
		if slices.Contains(g.Segments, "repeat buyers") {
			repeat++
		}
		if g.Grade.Grade != "" {
			graded++
		}
		if g.Assessment.AssessTime.Equal(scoringBenchNow) {
			assessed++
		}
		if g.Assessment.ModelVersion > 0 && g.Assessment.PredictedValue > 0 {
			modelled++
		}
	}
	// The comparison means something only if the events derived something.
	if orders == 0 || points == 0 || repeat == 0 || graded != int64(len(want)) || assessed == 0 || modelled == 0 {
		t.Fatalf("orders %d, points %d, repeat buyers %d, graded %d of %d, assessed now %d, with a predicted value %d: the events derived too little",
			orders, points, repeat, graded, len(want), assessed, modelled)
	}
}

// editing changes the follow-up the Service hands the store.
type editing struct {
	*postgres.Store
	edit func(f *domain.BatchFollowUp)
}

func (s editing) RecordTransactions(ctx context.Context, tenantID string, txs []domain.Transaction, opts domain.RecordOptions) (domain.BatchResult, error) {
	if opts.FollowUp != nil {
		f := *opts.FollowUp
		s.edit(&f)
		opts.FollowUp = &f
	}
	return s.Store.RecordTransactions(ctx, tenantID, txs, opts)
}

// TestFollowUpFailureRecordsNothing fails a batch's follow-up at its
// scoring and at its segments: the batch's events, statistics and
// everything the steps before wrote are rolled back with it, the error is
// the follow-up's, and a resend is then recorded in full.
func TestFollowUpFailureRecordsNothing(t *testing.T) {
	s := open(t, newDatabase(t))
	clock := func() time.Time { return scoringBenchNow }
	_, tn, ids := followUpTenant(t, s, domain.NewService(s, clock), 2)
	boom := errors.New("boom")
	for i, tc := range []struct {
		name string
		edit func(f *domain.BatchFollowUp)
	}{
		{"scoring", func(f *domain.BatchFollowUp) {
			f.Score = func(*domain.ScoringBatch) ([]domain.ScoringUpdate, error) { return nil, boom }
		}},
		{"segments", func(f *domain.BatchFollowUp) {
			f.Segments = func(*domain.SegmentBatch) ([]domain.SegmentDecision, error) { return nil, boom }
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			failing := domain.NewService(editing{Store: s, edit: tc.edit}, clock)
			actx := domain.WithPrincipal(context.Background(), domain.Principal{TenantID: tn.ID, KeyID: "test", Role: domain.RoleAdmin})
			txs := func() []domain.Transaction {
				return []domain.Transaction{
					{ExternalID: "o1-" + tc.name, Customer: domain.CustomerRef{ID: ids[i]}, Kind: domain.TxOrder, Amount: 10_000_000, OccurredAt: scoringBenchNow.Add(-time.Hour)},
					{ExternalID: "o2-" + tc.name, Customer: domain.CustomerRef{ID: ids[i]}, Kind: domain.TxOrder, Amount: 10_000_000, OccurredAt: scoringBenchNow.Add(-48 * time.Hour)},
				}
			}
			ext := fmt.Sprintf("c%d", i)
			before := derivedState(t, s, tn, ids[i:i+1])[ext]
			if _, err := failing.RecordTransactions(actx, txs(), false); !errors.Is(err, boom) {
				t.Fatalf("RecordTransactions: %v, want the follow-up's error", err)
			}
			st := derivedState(t, s, tn, ids[i:i+1])[ext]
			if fmt.Sprintf("%+v", st) != fmt.Sprintf("%+v", before) {
				t.Fatalf("after a failed follow-up: %+v; want it unchanged: %+v", st, before)
			}
			if got, err := s.ListTransactions(context.Background(), tn.ID, ids[i]); err != nil || len(got) != 0 {
				t.Fatalf("ListTransactions: %d, %v; want none", len(got), err)
			}
			res, err := domain.NewService(s, clock).RecordTransactions(actx, txs(), false)
			if err != nil || res.Created != 2 || !res.FollowedUp {
				t.Fatalf("the resend: %+v, %v", res, err)
			}
			st = derivedState(t, s, tn, ids[i:i+1])[ext]
			if st.Orders != 2 || st.Entries == 0 || !slices.Contains(st.Segments, "repeat buyers") || !st.Assessment.AssessTime.Equal(scoringBenchNow) {
				t.Fatalf("after the resend: %+v; want its orders, points, assessment and segment", st)
			}
		})
	}
}

// TestFollowUpConcurrentBatches records batches of overlapping customers
// from four clients at once, into a tenant with rules and dynamic
// segments: none fails (no deadlock between their locks), every order is
// counted and awarded once, and every repeat buyer entered its segment
// exactly once.
func TestFollowUpConcurrentBatches(t *testing.T) {
	s := open(t, newDatabase(t))
	clock := func() time.Time { return scoringBenchNow }
	svc := domain.NewService(s, clock)
	actx, tn, ids := followUpTenant(t, s, svc, 30)
	const clients, batches, size = 4, 6, 40
	var wg sync.WaitGroup
	errs := make(chan error, clients*batches)
	for c := range clients {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(c), 7))
			for b := range batches {
				txs := make([]domain.Transaction, size)
				for i := range txs {
					txs[i] = domain.Transaction{ExternalID: fmt.Sprintf("o-%d-%d-%d", c, b, i), Customer: domain.CustomerRef{ID: ids[rng.IntN(len(ids))]},
						Kind: domain.TxOrder, Amount: 1_000_000, OccurredAt: scoringBenchNow.Add(-time.Duration(1+rng.IntN(1000)) * time.Hour)}
				}
				if _, err := svc.RecordTransactions(actx, txs, false); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	var orders int64
	for ext, d := range derivedState(t, s, tn, ids) {
		orders += d.Orders
		entered := 0
		for _, ev := range d.Events {
			if ev == fmt.Sprintf("%v repeat buyers", domain.SegmentEntered) {
				entered++
			}
		}
		if want := min(d.Orders/2, 1); int64(entered) != want {
			t.Errorf("%s with %d orders entered repeat buyers %d times, want %d", ext, d.Orders, entered, want)
		}
		if d.Entries < d.Orders {
			t.Errorf("%s: %d ledger entries for %d orders", ext, d.Entries, d.Orders)
		}
	}
	if orders != clients*batches*size {
		t.Errorf("%d orders counted, want %d", orders, clients*batches*size)
	}
}
