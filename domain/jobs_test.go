package domain_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/potentialhq/potential/domain"
	"github.com/potentialhq/potential/store/memory"
	"github.com/potentialhq/potential/store/pgtest"
	"github.com/potentialhq/potential/store/postgres"
)

func TestNextSlot(t *testing.T) {
	t.Parallel()
	d := 24 * time.Hour
	for _, c := range []struct {
		slot, now, want time.Time
	}{
		{scoringDay(3), scoringDay(3), scoringDay(4)},                        // claimed at its slot
		{scoringDay(3), scoringDay(3).Add(time.Minute), scoringDay(4)},       // on time
		{scoringDay(3), scoringDay(4).Add(-time.Microsecond), scoringDay(4)}, // just before the next slot
		{scoringDay(3), scoringDay(4), scoringDay(5)},                        // at the next slot: covers it
		{scoringDay(3), scoringDay(4).Add(time.Hour), scoringDay(5)},         // late
		{scoringDay(3), scoringDay(10).Add(time.Hour), scoringDay(11)},       // a week late: one run covers the missed days
		{scoringDay(3), scoringDay(3).Add(-time.Minute), scoringDay(4)},      // a clock behind the slot
		{scoringDay(3).Add(6 * time.Hour), scoringDay(5), scoringDay(5).Add(6 * time.Hour)},
	} {
		if got := domain.NextSlot(c.slot, c.now, d); !got.Equal(c.want) {
			t.Errorf("NextSlot(%v, %v) = %v, want %v", c.slot, c.now, got, c.want)
		}
	}
}

func TestSchedulerRunsEachSlotOnceAndRetriesFailures(t *testing.T) {
	t.Parallel()
	store := memory.New()
	clock := &scoringClock{now: scoringDay(0).Add(time.Hour)}
	svc := domain.NewService(store, clock.Now)
	var tenants []domain.Tenant
	for _, name := range []string{"acme", "globex"} {
		tn := domain.Tenant{ID: domain.NewID(), Name: name, CreateTime: scoringDay(0)}
		if err := store.CreateTenant(t.Context(), tn); err != nil {
			t.Fatal(err)
		}
		tenants = append(tenants, tn)
	}
	var (
		mu   sync.Mutex
		ran  = map[string]int{}
		fail atomic.Bool
	)
	job := domain.Job{Name: "count", Interval: 24 * time.Hour, Run: func(_ context.Context, tenantID string) error {
		if fail.Load() {
			return errors.New("boom")
		}
		mu.Lock()
		ran[fmt.Sprintf("%s %s", tenantID, clock.Now().Format(time.DateOnly))]++
		mu.Unlock()
		return nil
	}}
	sc, err := domain.NewScheduler(svc, domain.SchedulerOptions{Owner: "r1", LeaseTTL: time.Minute, Jobs: []domain.Job{job},
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	pass := func(want int) {
		t.Helper()
		n, err := sc.RunDue(t.Context())
		if err != nil || n != want {
			t.Fatalf("RunDue on %v = %d, %v; want %d", clock.Now(), n, err, want)
		}
	}
	pass(2) // day 0 of both tenants
	pass(0) // nothing due until day 1
	clock.Set(scoringDay(1))
	fail.Store(true)
	pass(0) // failed: not completed, the lease holds the slot for a minute
	fail.Store(false)
	pass(0)
	clock.Set(scoringDay(1).Add(time.Minute))
	pass(2) // the failed slot again, attempt 2
	clock.Set(scoringDay(4).Add(time.Hour))
	pass(2) // the slot of day 2, claimed on day 4, covers days 3 and 4
	pass(0)
	clock.Set(scoringDay(5))
	pass(2)
	for _, tn := range tenants {
		runs, err := store.ListJobRuns(t.Context(), tn.ID)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range runs {
			got = append(got, fmt.Sprintf("%s %s %s %d", r.Name, r.Slot.Format(time.DateOnly), r.Owner, r.Attempt))
		}
		want := []string{"count 2026-01-01 r1 1", "count 2026-01-02 r1 2", "count 2026-01-03 r1 1", "count 2026-01-06 r1 1"}
		if !slices.Equal(got, want) {
			t.Errorf("run log of %s = %q, want %q", tn.Name, got, want)
		}
	}
	if len(ran) != 8 {
		t.Errorf("runs = %v", ran)
	}
	if _, err := domain.NewScheduler(svc, domain.SchedulerOptions{Jobs: []domain.Job{job, job}}); !errors.Is(err, domain.ErrInvalid) {
		t.Errorf("NewScheduler with a duplicate job = %v, want ErrInvalid", err)
	}
}

// TestReplicasRunEveryScheduledJobOnce runs two replicas — two services and
// two schedulers, on PostgreSQL each with a pool of its own — over one store
// under ingest load, with a scoring rule whose points expire after two days,
// through seven days of a shared test clock. On day 3 the replica that
// claimed a tenant's re-assessment is killed in the middle of it. The run
// log must then hold every daily slot of every tenant exactly once, the
// killed replica's slot completed by the survivor on a second attempt, every
// customer re-assessed by the last run, and each ledger one entry per
// recorded order.
func TestReplicasRunEveryScheduledJobOnce(t *testing.T) {
	t.Parallel()
	for _, st := range []struct {
		name string
		open func(t *testing.T) (domain.Store, domain.Store)
	}{
		{"memory", func(*testing.T) (domain.Store, domain.Store) { s := memory.New(); return s, s }},
		{"postgres", func(t *testing.T) (domain.Store, domain.Store) {
			url := pgtest.NewDatabase(t, postgres.MigrationsHash(), postgres.Migrate)
			var out [2]domain.Store
			for i := range out {
				s, err := postgres.Open(t.Context(), url)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(s.Close)
				out[i] = s
			}
			return out[0], out[1]
		}},
	} {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			testReplicas(t, st.open)
		})
	}
}

func testReplicas(t *testing.T, open func(t *testing.T) (domain.Store, domain.Store)) {
	const (
		days     = 7
		killDay  = 3
		leaseTTL = 10 * time.Minute
	)
	s0, s1 := open(t)
	stores := []domain.Store{s0, s1}
	clock := &scoringClock{now: scoringDay(0)}
	svcs := []*domain.Service{domain.NewService(s0, clock.Now), domain.NewService(s1, clock.Now)}

	// Two tenants, each with a model whose orders give 10 points for 2 days.
	type tenant struct {
		tn  domain.Tenant
		ctx context.Context
	}
	var tenants []tenant
	for i := range 2 {
		tn := domain.Tenant{ID: domain.NewID(), Name: fmt.Sprintf("t%d", i), CreateTime: scoringDay(0)}
		if err := s0.CreateTenant(t.Context(), tn); err != nil {
			t.Fatal(err)
		}
		ctx := domain.WithPrincipal(t.Context(), domain.Principal{TenantID: tn.ID, KeyID: "admin", Role: domain.RoleAdmin})
		m, err := svcs[0].CreateScoringModel(ctx, domain.ScoringModel{Name: "engagement"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svcs[0].CreateScoringRule(ctx, domain.ScoringRule{ModelID: m.ID, Name: "Orders", EventKind: domain.EventKindOrder,
			Points: 10, HasValidity: true, Validity: 48 * time.Hour}); err != nil {
			t.Fatal(err)
		}
		tenants = append(tenants, tenant{tn, ctx})
	}

	// The replicas. Whichever first runs a re-assessment once the kill is
	// armed does the real work, then hangs until it is killed.
	var (
		armed  atomic.Bool
		victim = make(chan int, 1)
	)
	ctxs := make([]context.Context, 2)
	kills := make([]context.CancelFunc, 2)
	stopped := make([]chan struct{}, 2)
	for i, svc := range svcs {
		ctxs[i], kills[i] = context.WithCancel(t.Context())
		jobs := svc.Jobs()
		for j := range jobs {
			if jobs[j].Name != domain.JobReassess {
				continue
			}
			run := jobs[j].Run
			jobs[j].Run = func(ctx context.Context, tenantID string) error {
				if !armed.CompareAndSwap(true, false) {
					return run(ctx, tenantID)
				}
				victim <- i
				if err := run(ctx, tenantID); err != nil {
					return err
				}
				<-ctx.Done()
				return ctx.Err()
			}
		}
		sc, err := domain.NewScheduler(svc, domain.SchedulerOptions{Owner: fmt.Sprintf("replica-%d", i), Poll: 10 * time.Millisecond, LeaseTTL: leaseTTL, Jobs: jobs})
		if err != nil {
			t.Fatal(err)
		}
		stopped[i] = make(chan struct{})
		go func() {
			defer close(stopped[i])
			sc.Run(ctxs[i])
		}()
	}
	t.Cleanup(func() {
		for i := range kills {
			kills[i]()
			<-stopped[i]
		}
	})

	// Ingest load: batches of orders through both replicas (the survivor
	// alone after the kill) until the last day is done.
	var (
		recorded   sync.Map // tenant id + order id -> true, acknowledged orders
		sent       sync.Map // tenant id + order id -> true, every order sent
		ingestDone = make(chan struct{})
		stopIngest = make(chan struct{})
		batches    atomic.Int64
	)
	go func() {
		defer close(ingestDone)
		rng := rand.New(rand.NewPCG(1, 2))
		for n := 0; ; n++ {
			select {
			case <-stopIngest:
				return
			default:
			}
			r := n % 2
			if ctxs[r].Err() != nil {
				r = 1 - r
			}
			tn := tenants[n%len(tenants)]
			now := clock.Now()
			var txs []domain.Transaction
			for k := range 5 {
				txs = append(txs, scoringOrder(fmt.Sprintf("o%d-%d", n, k), fmt.Sprintf("c%d", rng.IntN(40)), 10+float64(rng.IntN(100)),
					now.Add(-time.Duration(rng.IntN(3600))*time.Second)))
			}
			for _, tx := range txs {
				sent.Store(tn.tn.ID+" "+tx.ExternalID, true)
			}
			if _, err := svcs[r].RecordTransactions(domain.WithPrincipal(ctxs[r], domain.Principal{TenantID: tn.tn.ID, KeyID: "ingest", Role: domain.RoleAdmin}), txs, true); err != nil {
				if ctxs[r].Err() == nil {
					t.Errorf("RecordTransactions: %v", err)
				}
				continue
			}
			for _, tx := range txs {
				recorded.Store(tn.tn.ID+" "+tx.ExternalID, true)
			}
			batches.Add(1)
			time.Sleep(time.Millisecond)
		}
	}()

	// waitRuns waits until the run log of every tenant has reached slot day
	// of the daily jobs.
	waitRuns := func(day int) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for {
			ok := true
			for _, tn := range tenants {
				runs, err := s1.ListJobRuns(t.Context(), tn.tn.ID)
				if err != nil {
					t.Fatal(err)
				}
				for _, name := range []string{domain.JobReassess, domain.JobRegrade, domain.JobRetrain} {
					if !slices.ContainsFunc(runs, func(r domain.JobRun) bool { return r.Name == name && r.Slot.Equal(scoringDay(day)) }) {
						ok = false
					}
				}
			}
			if ok {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("the runs of day %d did not happen", day)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}

	killed := -1
	for day := range days {
		start := batches.Load()
		for batches.Load() < start+5 { // some ingest on every day
			time.Sleep(time.Millisecond)
		}
		if day == days-1 {
			// The last day's run meets no order in flight: an order sent
			// with the day before's clock and committed after the run
			// would leave its customer assessed the day before, which the
			// check of the work below does not allow.
			close(stopIngest)
			<-ingestDone
		}
		if day == killDay {
			armed.Store(true)
		}
		clock.Set(scoringDay(day).Add(time.Minute))
		if day == killDay {
			select {
			case killed = <-victim:
			case <-time.After(60 * time.Second):
				t.Fatal("no replica ran the re-assessment of the kill day")
			}
			kills[killed]()
			<-stopped[killed]
			// The lease outlives the replica: nobody runs the slot until
			// it expires.
			time.Sleep(50 * time.Millisecond)
			clock.Set(scoringDay(day).Add(time.Minute + leaseTTL))
		}
		waitRuns(day)
	}
	if t.Failed() {
		return
	}

	survivor := fmt.Sprintf("replica-%d", 1-killed)
	for _, tn := range tenants {
		runs, err := stores[1-killed].ListJobRuns(t.Context(), tn.tn.ID)
		if err != nil {
			t.Fatal(err)
		}
		taken := 0
		for _, name := range []string{domain.JobReassess, domain.JobRegrade, domain.JobRetrain} {
			var slots []time.Time
			for _, r := range runs {
				if r.Name != name {
					continue
				}
				slots = append(slots, r.Slot)
				if r.Attempt != 1 {
					if r.Owner != survivor || r.Attempt != 2 || name != domain.JobReassess || !r.Slot.Equal(scoringDay(killDay)) {
						t.Errorf("%s: unexpected retried run %+v", tn.tn.Name, r)
					}
					taken++
				}
				if r.Slot.After(scoringDay(killDay)) && r.Owner != survivor {
					t.Errorf("%s: run %+v after the kill by the killed replica", tn.tn.Name, r)
				}
			}
			var want []time.Time
			for d := range days {
				want = append(want, scoringDay(d))
			}
			if !slices.EqualFunc(slots, want, time.Time.Equal) {
				t.Errorf("%s: slots of %s = %v, want every day once: %v", tn.tn.Name, name, slots, want)
			}
		}
		if tn.tn.ID == "" || taken > 1 {
			t.Errorf("%s: %d retried runs", tn.tn.Name, taken)
		}
	}
	// One of the tenants' day-3 re-assessment was taken over. (The
	// frequent jobs are left out: the clock's jump past the lease can also
	// expire a run the survivor has in flight, which it then retries.)
	takeovers := 0
	for _, tn := range tenants {
		runs, _ := stores[1-killed].ListJobRuns(t.Context(), tn.tn.ID)
		for _, r := range runs {
			daily := r.Name == domain.JobReassess || r.Name == domain.JobRegrade || r.Name == domain.JobRetrain
			if daily && r.Attempt == 2 {
				takeovers++
			}
		}
	}
	if takeovers != 1 {
		t.Errorf("%d runs were taken over, want 1 (the killed replica's)", takeovers)
	}

	// The work: everyone re-assessed by the last run or later, and each
	// acknowledged order in its customer's ledger once.
	lastRun := scoringDay(days - 1)
	orders := 0
	for _, tn := range tenants {
		seen := map[string]int{}
		err := stores[1-killed].ReadScoring(t.Context(), tn.tn.ID, domain.ScoringQuery{All: true}, func(b *domain.ScoringBatch) error {
			for _, in := range b.Customers {
				if in.Customer.Assessment.AssessTime.Before(lastRun) {
					t.Errorf("%s: customer %s last assessed %v, before the last run", tn.tn.Name, in.Customer.ExternalID, in.Customer.Assessment.AssessTime)
				}
				for _, e := range in.Ledger {
					seen[e.EventRef]++
					if !e.ExpiresAt.Equal(e.AwardedAt.Add(48 * time.Hour)) {
						t.Errorf("%s: ledger entry %+v does not expire after 2 days", tn.tn.Name, e)
					}
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		recorded.Range(func(k, _ any) bool {
			var tid, ext string
			fmt.Sscan(k.(string), &tid, &ext)
			if tid == tn.tn.ID {
				orders++
				if seen[ext] != 1 {
					t.Errorf("%s: order %s has %d ledger entries, want 1", tn.tn.Name, ext, seen[ext])
				}
				delete(seen, ext)
			}
			return true
		})
		// What is left are orders the killed replica recorded without
		// answering: sent, and in the ledger at most once.
		for ext, n := range seen {
			if _, ok := sent.Load(tn.tn.ID + " " + ext); !ok || n != 1 {
				t.Errorf("%s: %d ledger entries of order %s, which was never sent or counted twice", tn.tn.Name, n, ext)
			}
		}
	}
	t.Logf("%d orders in %d batches over %d days; replica-%d killed mid-run on day %d", orders, batches.Load(), days, killed, killDay)
}
