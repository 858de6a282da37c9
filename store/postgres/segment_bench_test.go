package postgres_test

import (
	"context"
	"fmt"
	"os"
	"runtime/pprof"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/potentialhq/potential/domain"
	"github.com/potentialhq/potential/store/postgres"
)

// BenchmarkSegmentWatchLatency measures how long after an order is sent
// to the service the entered event it causes reaches a watcher, over
// POTENTIAL_SEGMENT_EVENTS orders (default 10,000), one at a time, each
// the first order of its customer (rule `customer.orders > 0`). The writer
// and the watcher are two services on two stores (two connection pools,
// as two server processes would be) on one database; the tenant has its
// built-in segments too, so every order evaluates 18 rules. The baseline,
// measured in the same run, is the RecordTransactions call itself (ingest,
// re-assessment, scoring, grading and segments): "ratio" is delivery
// latency over call latency. Interleaved with them, n more orders of n
// other customers go through a service that runs each call's steps one
// after the other, each in its own transaction (stepwise): "x-stepwise"
// is the p99 of calls over theirs, measured in the same run.
func BenchmarkSegmentWatchLatency(b *testing.B) {
	n := 10_000
	if v, err := strconv.Atoi(os.Getenv("POTENTIAL_SEGMENT_EVENTS")); err == nil && v > 0 {
		n = v
	}
	for range b.N {
		benchWatchLatency(b, n)
	}
}

func benchWatchLatency(b *testing.B, n int) {
	b.StopTimer()
	dbURL := newDatabase(b)
	writer, reader := open(b, dbURL), open(b, dbURL)
	ctx := context.Background()
	tn := domain.Tenant{ID: domain.NewID(), Name: "latency", CreateTime: time.Now().Add(-time.Hour)}
	if err := writer.CreateTenant(ctx, tn); err != nil {
		b.Fatal(err)
	}
	var ids []string
	for start := 0; start < 2*n; start += domain.MaxBatch {
		var cs []domain.Customer
		for i := start; i < min(start+domain.MaxBatch, 2*n); i++ {
			cs = append(cs, domain.Customer{ID: domain.NewID(), ExternalID: fmt.Sprintf("c%d", i), Kind: domain.KindLead})
		}
		out, err := writer.UpsertCustomers(ctx, tn.ID, cs, tn.CreateTime)
		if err != nil {
			b.Fatal(err)
		}
		for _, o := range out {
			ids = append(ids, o.Customer.ID)
		}
	}
	pctx := domain.WithPrincipal(ctx, domain.Principal{TenantID: tn.ID, KeyID: "bench", Role: domain.RoleAdmin})
	ws, rs := domain.NewService(writer, nil), domain.NewService(reader, nil)
	steps := domain.NewService(stepwise{writer}, nil)
	sg, err := ws.CreateSegment(pctx, domain.Segment{Name: "buyers", Kind: domain.SegmentDynamic, Rule: "customer.orders > 0"}, nil)
	if err != nil {
		b.Fatal(err)
	}
	index := make(map[string]int, n)
	for i, id := range ids {
		index[id] = i
	}
	delivered := make([]chan time.Time, 2*n)
	for i := range delivered {
		delivered[i] = make(chan time.Time, 1)
	}
	wctx, stop := context.WithCancel(pctx)
	var wg sync.WaitGroup
	wg.Go(func() {
		_ = rs.WatchSegmentEvents(wctx, []string{sg.ID}, 0, func(evs []domain.SegmentEvent) error {
			now := time.Now()
			for _, ev := range evs {
				if i, ok := index[ev.CustomerID]; ok && ev.Kind == domain.SegmentEntered {
					delivered[i] <- now
				}
			}
			return nil
		})
	})
	time.Sleep(200 * time.Millisecond) // the watcher's LISTEN is up
	calls, lat := make([]time.Duration, 2*n), make([]time.Duration, 2*n)
	b.StartTimer()
	for j := range 2 * n {
		i, svc := j/2, ws // even: the orders measured; odd: the stepwise baseline's
		if j%2 == 1 {
			i, svc = n+j/2, steps
		}
		start := time.Now()
		if _, err := svc.RecordTransactions(pctx, []domain.Transaction{{ExternalID: fmt.Sprintf("o%d", i),
			Customer: domain.CustomerRef{ID: ids[i]}, Kind: domain.TxOrder, Amount: 10_000_000, OccurredAt: start.Add(-time.Minute)}}, false); err != nil {
			b.Fatal(err)
		}
		calls[i] = time.Since(start)
		select {
		case at := <-delivered[i]:
			lat[i] = at.Sub(start)
		case <-time.After(30 * time.Second):
			b.Fatalf("order %d: no entered event within 30 s", i)
		}
	}
	b.StopTimer()
	stop()
	wg.Wait()
	p := func(d []time.Duration, q float64) float64 {
		s := slices.Clone(d)
		slices.Sort(s)
		return float64(s[min(len(s)-1, int(q*float64(len(s))))].Microseconds()) / 1000
	}
	stepLat, stepCalls := lat[n:], calls[n:]
	lat, calls = lat[:n], calls[:n]
	b.ReportMetric(float64(n), "events")
	b.ReportMetric(p(lat, 0.5), "p50-ms")
	b.ReportMetric(p(lat, 0.99), "p99-ms")
	b.ReportMetric(p(calls, 0.5), "call-p50-ms")
	b.ReportMetric(p(calls, 0.99), "call-p99-ms")
	b.ReportMetric(p(lat, 0.99)/p(calls, 0.99), "ratio-p99")
	b.ReportMetric(p(stepLat, 0.5), "stepwise-p50-ms")
	b.ReportMetric(p(stepLat, 0.99), "stepwise-p99-ms")
	b.ReportMetric(p(stepCalls, 0.5), "stepwise-call-p50-ms")
	b.ReportMetric(p(stepCalls, 0.99), "stepwise-call-p99-ms")
	b.ReportMetric(p(lat, 0.99)/p(stepLat, 0.99), "x-stepwise-p99")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkSegmentPopulate1M measures CreateSegment of a dynamic segment
// (rule `customer.country == "PL" && interactions.last_90_days >= 0`,
// 200,000 of 1,000,000 customers) on a tenant that already has its
// built-in segments: reading every customer's facts, evaluating the rule,
// writing the members with their entered events and every customer's due
// time. The baseline, in the same run, is plain SQL that writes the same
// members and events from a scan of customers (no rule, no facts): "ratio"
// is the populate time over the baseline's. POTENTIAL_SEGMENT_CUSTOMERS
// (a multiple of 5) sets another number of customers.
func BenchmarkSegmentPopulate1M(b *testing.B) {
	n := 1_000_000
	if v, err := strconv.Atoi(os.Getenv("POTENTIAL_SEGMENT_CUSTOMERS")); err == nil && v > 0 {
		n = v
	}
	for range b.N {
		benchPopulate(b, n)
	}
}

func benchPopulate(b *testing.B, n int) {
	b.StopTimer()
	dbURL := newDatabase(b)
	s := open(b, dbURL)
	ctx := context.Background()
	tn := domain.Tenant{ID: domain.NewID(), Name: "populate", CreateTime: scoringBenchNow.AddDate(-2, 0, 0)}
	if err := s.CreateTenant(ctx, tn); err != nil {
		b.Fatal(err)
	}
	conn := benchLoadTenant(b, dbURL, tn, n)
	pctx := domain.WithPrincipal(ctx, domain.Principal{TenantID: tn.ID, KeyID: "bench", Role: domain.RoleAdmin})
	svc := domain.NewService(s, func() time.Time { return scoringBenchNow })
	// The built-in segments, populated before the timed part.
	if _, err := svc.ListSegments(pctx); err != nil {
		b.Fatal(err)
	}
	// Baseline: the same members and events by plain SQL.
	base := domain.NewID()
	if _, err := conn.Exec(ctx, `INSERT INTO segments (tenant_id, id, name, kind, version, create_time, update_time)
VALUES ($1, $2, 'baseline', 'static', 1, now(), now())`, tn.ID, base); err != nil {
		b.Fatal(err)
	}
	t0 := time.Now()
	if _, err := conn.Exec(ctx, `INSERT INTO segment_members (tenant_id, segment_id, customer_id, since)
SELECT tenant_id, $2, id, now() FROM customers WHERE tenant_id = $1 AND country = 'PL'`, tn.ID, base); err != nil {
		b.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `INSERT INTO segment_events (tenant_id, cursor, segment_id, customer_id, kind, at, cause)
SELECT tenant_id, 1000000000 + row_number() OVER (ORDER BY customer_id), segment_id, customer_id, 1, now(), 'baseline'
FROM segment_members WHERE tenant_id = $1 AND segment_id = $2`, tn.ID, base); err != nil {
		b.Fatal(err)
	}
	baseline := time.Since(t0)
	if path := os.Getenv("POTENTIAL_SEGMENT_CPUPROFILE"); path != "" {
		f, err := os.Create(path)
		if err != nil {
			b.Fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			b.Fatal(err)
		}
		defer pprof.StopCPUProfile()
	}
	b.StartTimer()
	t1 := time.Now()
	sg, err := svc.CreateSegment(pctx, domain.Segment{Name: "pl", Kind: domain.SegmentDynamic,
		Rule: `customer.country == "PL" && interactions.last_90_days >= 0`}, nil)
	if err != nil {
		b.Fatal(err)
	}
	took := time.Since(t1)
	b.StopTimer()
	b.Logf("populate %v, baseline %v", took, baseline)
	var members, baseMembers int64
	if err := conn.QueryRow(ctx, "SELECT count(*) FILTER (WHERE segment_id = $2), count(*) FILTER (WHERE segment_id = $3) FROM segment_members WHERE tenant_id = $1",
		tn.ID, sg.ID, base).Scan(&members, &baseMembers); err != nil {
		b.Fatal(err)
	}
	var dues int64
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM segment_due WHERE tenant_id = $1", tn.ID).Scan(&dues); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(dues), "due-times")
	if members != baseMembers || members != int64(n/5) {
		b.Fatalf("members %d, baseline %d, want %d", members, baseMembers, n/5)
	}
	b.ReportMetric(float64(n), "customers")
	b.ReportMetric(float64(members), "members")
	b.ReportMetric(took.Seconds(), "populate-s")
	b.ReportMetric(baseline.Seconds(), "baseline-s")
	b.ReportMetric(took.Seconds()/baseline.Seconds(), "ratio")
	b.ReportMetric(0, "ns/op")
}

var _ = postgres.MigrationsHash
