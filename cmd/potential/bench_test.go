package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/potentialhq/potential/store/pgtest"
)

// TestBenchSmoke runs `potential bench` at a small scale, as CI does: it
// must load the data set through the bulk loader, complete every scenario
// against a real PostgreSQL, print each with its baseline and ratio, and
// write the server's CPU and heap profiles and its peak RSS per scenario.
// Timings are not
// asserted: they mean nothing at this scale on a shared machine.
func TestBenchSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the benchmark harness")
	}
	bin := buildBinary(t)
	profiles := t.TempDir()
	cmd := exec.Command(bin, "bench", "--database-url", pgtest.URL(t), "--customers", "300", "--transactions", "3000", "--ingest-transactions", "1000",
		"--duration", "1s", "--profile-dir", profiles, "--profile-for", "1s")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("bench: %v\n%s", err, out)
	}
	text := string(out)
	for _, scenario := range []string{
		"load: 300 customers, 2000 transactions by the bulk loader",
		"ingest: RecordTransactions of 1000", "baseline: pgx point select",
		"GetCustomer over gRPC", "GetCustomer over Connect",
		"GetCustomerAssessment over gRPC", "GetCustomerAssessment over Connect",
		"FitValueModel: load + fit + re-assess", "server peak RSS in ingest", "server peak RSS in fit",
		"server peak RSS in read-getcustomer-over-grpc", "server peak RSS over all scenarios",
	} {
		line := ""
		for _, l := range strings.Split(text, "\n") {
			if strings.Contains(l, scenario) {
				line = l
			}
		}
		if line == "" {
			t.Errorf("no line for %q in\n%s", scenario, text)
			continue
		}
		// Columns: scenario, ours, baseline, unit, ratio, p50, p99,
		// client CPU, note; two spaces or more between them.
		cols := regexp.MustCompile(`\s{2,}`).Split(strings.TrimSpace(line), -1)
		if len(cols) < 8 {
			t.Errorf("%q: %d columns: %s", scenario, len(cols), line)
			continue
		}
		ours, err1 := strconv.ParseFloat(cols[1], 64)
		ratio, err2 := strconv.ParseFloat(cols[4], 64)
		if err1 != nil || err2 != nil || ours <= 0 || (strings.Contains(scenario, "vs") || strings.Contains(line, " vs ")) && ratio <= 0 {
			t.Errorf("%q: figure %q, ratio %q: %s", scenario, cols[1], cols[4], line)
		}
	}
	for _, name := range []string{"ingest", "read-getcustomer-over-grpc", "fit", "ingest.heap", "fit.heap"} {
		if fi, err := os.Stat(filepath.Join(profiles, name+".pprof")); err != nil || fi.Size() == 0 {
			t.Errorf("profile %s: %v", name, err)
		}
	}
}
