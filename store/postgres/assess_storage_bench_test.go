package postgres_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkReassessStorage asks what limits the daily re-assessment of a
// whole tenant (the tenant of BenchmarkReassess): the service's ReassessAll
// on a table vacuumed since the last run (as autovacuum, PostgreSQL's
// default, leaves it), then the same with the table UNLOGGED (no WAL at
// all), then with the two value indexes dropped (every update HOT). Each
// day is a ratio to the GROUP BY timed just before it, and each logs the
// share of the machine's CPU time that was idle (from /proc/stat), the
// WAL written and the server's shared_buffers:
//
//	go test -run '^$' -bench 'ReassessStorage/customers=1000000$' -benchtime 1x -timeout 60m ./store/postgres/
//
// Metrics: x-daily (the mean of two days), x-unlogged, x-hot.
func BenchmarkReassessStorage(b *testing.B) {
	for _, n := range []int{100_000, 1_000_000} {
		b.Run(fmt.Sprintf("customers=%d", n), func(b *testing.B) { benchReassessStorage(b, n) })
	}
}

func benchReassessStorage(b *testing.B, n int) {
	ctx := context.Background()
	dbURL, _, tenant, svc, clock := benchFittedTenant(b, n)
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
	// day runs the next day's ReassessAll on the vacuumed table after a
	// checkpoint and returns its ratio to the GROUP BY.
	day := func(name string) float64 {
		b.Helper()
		exec("VACUUM assessments")
		exec("CHECKPOINT")
		groupBy, _ := benchGroupBy(b, dbURL, tenant.ID)
		_, w0 := benchCheckpoints(b, dbURL)
		idle0, total0 := cpuTimes(b)
		*clock = clock.AddDate(0, 0, 1)
		start := time.Now()
		if done, err := svc.ReassessAll(ctx, tenant.ID); err != nil || done != int64(n) {
			b.Fatalf("ReassessAll: %d, %v", done, err)
		}
		d := time.Since(start)
		idle1, total1 := cpuTimes(b)
		_, w1 := benchCheckpoints(b, dbURL)
		x := d.Seconds() / groupBy.Seconds()
		b.Logf("%s (shared_buffers %s): group by %v, ReassessAll %v, × %.2f; CPU idle %.0f %%, %d MB of WAL", name, buffers,
			groupBy.Round(time.Millisecond), d.Round(time.Millisecond), x, 100*float64(idle1-idle0)/float64(total1-total0), (w1-w0)>>20)
		return x
	}
	b.ResetTimer()
	for range b.N {
		day("first")
		b.ReportMetric((day("daily")+day("daily"))/2, "x-daily")
		exec("ALTER TABLE assessments SET UNLOGGED")
		b.ReportMetric(day("unlogged"), "x-unlogged")
		exec("ALTER TABLE assessments SET LOGGED")
		exec("DROP INDEX assessments_predicted_value; DROP INDEX assessments_value_at_risk")
		b.ReportMetric(day("hot"), "x-hot")
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
