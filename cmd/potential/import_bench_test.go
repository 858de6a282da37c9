package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"testing"
	"time"

	"github.com/potentialhq/potential/domain"
	"github.com/potentialhq/potential/store/pgtest"
	"github.com/potentialhq/potential/store/postgres"
)

// BenchmarkImportCSV imports a transactions CSV of -import-rows rows
// (default 1,000,000) with `potential import` into `potential serve` on
// PostgreSQL, both real processes, and COPYs the same rows into the same
// table; it reports both rates, their ratio and the client's peak RSS,
// which must stay under 100 MB.
//
//	go test -run '^$' -bench ImportCSV -benchtime 1x ./cmd/potential/
func BenchmarkImportCSV(b *testing.B) {
	rows := 1_000_000
	if v := os.Getenv("POTENTIAL_IMPORT_ROWS"); v != "" {
		rows, _ = strconv.Atoi(v)
	}
	customers := max(rows/10, 1)
	bin := buildBinary(b)
	dbURL := pgtest.NewDatabase(b, postgres.MigrationsHash(), postgres.Migrate)
	key := "pk_bench_0123456789abcdef"
	srv, grpcAddr, _, _ := startBinary(b, bin, []string{"POTENTIAL_BOOTSTRAP_KEY=" + key}, "--database-url", dbURL, "--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0", "--log-level", "warn")
	_ = srv

	// The file: orders of customers c0000000…, two years of dates.
	file := filepath.Join(b.TempDir(), "orders.csv")
	f, err := os.Create(file)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	fmt.Fprintln(w, "external_id,customer_external_id,amount,occurred_at")
	rng := rand.New(rand.NewPCG(1, 1))
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	type row struct {
		cust   int
		amount int64
		at     time.Time
	}
	all := make([]row, rows)
	for i := range all {
		all[i] = row{cust: rng.IntN(customers), amount: int64(1+rng.IntN(100_000)) * 10_000, at: start.Add(time.Duration(rng.Int64N(int64(730 * 24 * time.Hour)))).Truncate(time.Second)}
		fmt.Fprintf(w, "o%d,c%07d,%s,%s\n", i, all[i].cust, domain.Money(all[i].amount), all[i].at.Format(time.RFC3339))
	}
	w.Flush()
	f.Close()

	for b.Loop() {
		// Ours: the CLI against the server, creating customers as it goes.
		cmd := exec.Command(bin, "import", "--addr", grpcAddr, "--api-key", key, "--create-missing-customers", "--progress", "none", file)
		var buf bytes.Buffer
		cmd.Stdout, cmd.Stderr = &buf, &buf
		t0 := time.Now()
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		// The client's peak is its own VmHWM, read while it runs. Not the
		// rusage of the finished child: Linux counts in it the address
		// space the child was forked with, this benchmark's, before exec.
		stop, peak := make(chan struct{}), make(chan int64)
		go func() {
			var high int64
			for {
				high = max(high, peakRSS(cmd.Process.Pid))
				select {
				case <-stop:
					peak <- high
					return
				case <-time.After(20 * time.Millisecond):
				}
			}
		}()
		err := cmd.Wait()
		close(stop)
		rss := <-peak
		ours := time.Since(t0)
		out := buf.Bytes()
		if err != nil {
			b.Fatalf("import: %v\n%s", err, out)
		}
		if !strings.Contains(string(out), fmt.Sprintf("%d rows read: %d imported", rows, rows)) {
			b.Fatalf("import output: %s", out)
		}

		// Baseline: COPY of the same rows into the same table, for a tenant
		// of its own with the same customers.
		// COPY cannot run under row-level security: connect as the server's
		// superuser (pgtest's base URL) to the same database.
		su, _ := url.Parse(pgtest.URL(b))
		du, _ := url.Parse(dbURL)
		su.Path = du.Path
		base, err := postgres.OpenBaseline(context.Background(), su.String())
		if err != nil {
			b.Fatal(err)
		}
		ctx := context.Background()
		tenant := domain.NewID()
		if err := base.CreateTenant(ctx, tenant, "baseline-"+tenant, time.Now()); err != nil {
			b.Fatal(err)
		}
		ids, ext := make([]string, customers), make([]string, customers)
		for i := range ids {
			ids[i], ext[i] = domain.NewID(), fmt.Sprintf("c%07d", i)
		}
		if err := base.CopyCustomers(ctx, tenant, ids, ext, time.Now()); err != nil {
			b.Fatal(err)
		}
		copyRows := make([]postgres.BaselineTransaction, rows)
		for i, r := range all {
			copyRows[i] = postgres.BaselineTransaction{ID: domain.NewID(), ExternalID: "o" + strconv.Itoa(i), CustomerID: ids[r.cust], Amount: r.amount, OccurredAt: r.at}
		}
		t0 = time.Now()
		if err := base.CopyTransactions(ctx, tenant, copyRows); err != nil {
			b.Fatal(err)
		}
		copyTime := time.Since(t0)
		base.Close()

		b.ReportMetric(float64(rows)/ours.Seconds(), "import-rows/s")
		b.ReportMetric(float64(rows)/copyTime.Seconds(), "copy-rows/s")
		b.ReportMetric(copyTime.Seconds()/ours.Seconds(), "ratio")
		b.ReportMetric(float64(rss)/(1<<20), "client-MiB")
		if rss > 100<<20 {
			b.Errorf("the import client's peak RSS was %d MiB, over 100 MiB", rss>>20)
		}
	}
}
