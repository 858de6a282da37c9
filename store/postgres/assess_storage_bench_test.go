package postgres_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/potentialhq/potential/domain"
)

// BenchmarkReassessStorage asks what limits the daily re-assessment of a
// whole tenant (the tenant of BenchmarkReassess), and compares the two ways
// the store writes it: the service's ReassessAll on a table vacuumed since
// the last run (as autovacuum, PostgreSQL's default, leaves it), first as
// the rewrite of the tenant's partition that a large tenant gets (the
// first day moves the tenant out of the shared partition, the next two
// replace its partition), then with every row updated in place instead
// (the service on a store that offers no rewrite), as a smaller tenant's
// are. Each day is a ratio to the GROUP BY timed just before it, and each
// logs the share of the machine's CPU time that was idle (from
// /proc/stat), the WAL written, the server's shared_buffers, and the
// longest of the reads of another tenant's assessment made every 5 ms
// meanwhile (what the rewrite's lock of assessments held them back):
//
//	go test -run '^$' -bench 'ReassessStorage/customers=1000000$' -benchtime 1x -timeout 60m ./store/postgres/
//
// Metrics: x-first (the move out of the shared partition), x-daily (the
// mean of two days of rewrites), x-in-place (a day of updates in place).
func BenchmarkReassessStorage(b *testing.B) {
	for _, n := range []int{100_000, 1_000_000} {
		b.Run(fmt.Sprintf("customers=%d", n), func(b *testing.B) { benchReassessStorage(b, n) })
	}
}

// inPlace is a domain.Store without the rewrite of its concrete store.
type inPlace struct{ domain.Store }

func benchReassessStorage(b *testing.B, n int) {
	ctx := context.Background()
	dbURL, store, tenant, svc, clock := benchFittedTenant(b, n)
	su := superuser(b, dbURL)
	var buffers string
	if err := su.QueryRow(ctx, "SHOW shared_buffers").Scan(&buffers); err != nil {
		b.Fatal(err)
	}
	exec := func(sql string) {
		b.Helper()
		if _, err := su.Exec(ctx, sql); err != nil {
			b.Fatalf("%s: %v", sql, err)
		}
	}
	// A neighbour in the shared partition, whose assessment a reader
	// reads every 5 ms while each day runs: the longest read is how long
	// the rewrite's locks held other tenants back.
	neighbour := domain.Tenant{ID: domain.NewID(), Name: "neighbour", CreateTime: benchNow}
	if err := store.CreateTenant(ctx, neighbour); err != nil {
		b.Fatal(err)
	}
	nc, err := store.CreateCustomer(ctx, domain.Customer{ID: domain.NewID(), TenantID: neighbour.ID, ExternalID: "n",
		Kind: domain.KindCustomer, CreateTime: benchNow, UpdateTime: benchNow, Version: 1})
	if err != nil {
		b.Fatal(err)
	}
	if err := store.PutAssessments(ctx, neighbour.ID, []domain.Assessment{{CustomerID: nc.ID, AssessTime: benchNow}}); err != nil {
		b.Fatal(err)
	}
	probe := func() (stop func() time.Duration) {
		done, longest := make(chan struct{}), make(chan time.Duration)
		go func() {
			var worst time.Duration
			for {
				select {
				case <-done:
					longest <- worst
					return
				case <-time.After(5 * time.Millisecond):
				}
				start := time.Now()
				if _, err := store.GetAssessment(ctx, neighbour.ID, nc.ID); err != nil {
					b.Error(err)
				}
				worst = max(worst, time.Since(start))
			}
		}()
		return func() time.Duration { close(done); return <-longest }
	}
	// day runs the next day's ReassessAll of svc on the vacuumed table
	// after a checkpoint and returns its ratio to the GROUP BY.
	day := func(name string, svc *domain.Service) float64 {
		b.Helper()
		exec("VACUUM assessments")
		exec("CHECKPOINT")
		groupBy, _ := benchGroupBy(b, dbURL, tenant.ID)
		_, w0 := benchCheckpoints(b, dbURL)
		idle0, total0 := cpuTimes(b)
		*clock = clock.AddDate(0, 0, 1)
		stop := probe()
		start := time.Now()
		if done, err := svc.ReassessAll(ctx, tenant.ID); err != nil || done != int64(n) {
			b.Fatalf("ReassessAll: %d, %v", done, err)
		}
		d := time.Since(start)
		stall := stop()
		idle1, total1 := cpuTimes(b)
		_, w1 := benchCheckpoints(b, dbURL)
		x := d.Seconds() / groupBy.Seconds()
		b.Logf("%s (shared_buffers %s): group by %v, ReassessAll %v, × %.2f; CPU idle %.0f %%, %d MB of WAL; "+
			"another tenant's longest read %v", name, buffers, groupBy.Round(time.Millisecond), d.Round(time.Millisecond), x,
			100*float64(idle1-idle0)/float64(total1-total0), (w1-w0)>>20, stall.Round(time.Millisecond))
		return x
	}
	updates := domain.NewService(inPlace{store}, func() time.Time { return *clock })
	b.ResetTimer()
	for range b.N {
		b.ReportMetric(day("first, out of the shared partition", svc), "x-first")
		b.ReportMetric((day("daily, rewritten", svc)+day("daily, rewritten", svc))/2, "x-daily")
		b.ReportMetric(day("daily, updated in place", updates), "x-in-place")
	}
}

// cpuTimes returns the machine's idle and total CPU time so far, in the
// clock ticks of /proc/stat's first line (idle counts iowait too).
func cpuTimes(b *testing.B) (idle, total int64) {
	b.Helper()
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		b.Skipf("no /proc/stat: %v", err)
	}
	line, _, _ := strings.Cut(string(data), "\n")
	for i, f := range strings.Fields(line)[1:] {
		v, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			b.Fatalf("/proc/stat: %v", err)
		}
		total += v
		if i == 3 || i == 4 {
			idle += v
		}
	}
	return idle, total
}
