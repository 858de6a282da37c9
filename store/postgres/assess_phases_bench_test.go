package postgres_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/potentialhq/potential/domain"
)

// BenchmarkReassessPhases takes a whole-tenant re-assessment apart on the
// tenant of BenchmarkReassess (100,000 customers): the read of every
// customer's inputs alone, the assessment alone (one core), the write
// alone (the batches one after the other), and the write again after
// dropping the two value indexes, when every update is HOT. Each is
// reported as a ratio to the GROUP BY of the same run:
//
//	go test -run '^$' -bench 'ReassessPhases' -benchtime 1x ./store/postgres/
//
// Metrics: x-read, x-assess, x-write-first (the first assessment of
// everyone), x-write-daily (the next day's, with the value indexes) and
// x-write-hot (the day after, without them); and x-write-copy, the last
// day's rows written the way docs/BENCHMARKS.md proposes (benchCopyWrite).
func BenchmarkReassessPhases(b *testing.B) {
	const n = 100_000
	ctx := context.Background()
	dbURL, store, tenant := benchReassessTenant(b, n)
	clock := benchNow
	svc := domain.NewService(store, func() time.Time { return clock })
	pctx := domain.WithPrincipal(ctx, domain.Principal{TenantID: tenant.ID, Role: domain.RoleAdmin})
	if _, err := svc.FitValueModel(pctx, domain.FitRequest{SkipReassess: true}, nil); err != nil {
		b.Fatal(err)
	}
	m, err := store.GetValueModel(ctx, tenant.ID)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		for day, name := range []string{"first", "daily", "hot"} {
			if name == "hot" {
				b.StopTimer()
				conn := superuser(b, dbURL)
				if _, err := conn.Exec(ctx, `DROP INDEX assessments_predicted_value; DROP INDEX assessments_value_at_risk; CHECKPOINT`); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
			now := clock.AddDate(0, 0, day)
			groupBy, _ := benchGroupBy(b, dbURL, tenant.ID)
			start := time.Now()
			var ins [][]domain.AssessmentInput
			if err := store.AssessmentInputs(ctx, tenant.ID, nil, now, func(in []domain.AssessmentInput) error {
				ins = append(ins, append([]domain.AssessmentInput(nil), in...))
				return nil
			}); err != nil {
				b.Fatal(err)
			}
			read := time.Since(start)
			start = time.Now()
			outs, count := make([][]domain.Assessment, len(ins)), 0
			for k, in := range ins {
				outs[k] = make([]domain.Assessment, len(in))
				for i := range in {
					outs[k][i] = domain.Assess(in[i], &m, now)
				}
				count += len(in)
			}
			assess := time.Since(start)
			if count != n {
				b.Fatalf("read %d inputs, want %d", count, n)
			}
			c0, w0 := benchCheckpoints(b, dbURL)
			start = time.Now()
			for _, out := range outs {
				if err := store.PutAssessments(ctx, tenant.ID, out); err != nil {
					b.Fatal(err)
				}
			}
			write := time.Since(start)
			c1, w1 := benchCheckpoints(b, dbURL)
			b.Logf("%s: group by %v, read %v, assess %v, write %v (%d checkpoints, %d MB of WAL)", name,
				groupBy.Round(time.Millisecond), read.Round(time.Millisecond), assess.Round(time.Millisecond),
				write.Round(time.Millisecond), c1-c0, (w1-w0)>>20)
			if day == 0 {
				b.ReportMetric(read.Seconds()/groupBy.Seconds(), "x-read")
				b.ReportMetric(assess.Seconds()/groupBy.Seconds(), "x-assess")
			}
			b.ReportMetric(write.Seconds()/groupBy.Seconds(), "x-write-"+name)
			if name == "hot" {
				b.StopTimer()
				benchCopyWrite(b, dbURL, tenant.ID, outs, now)
				b.StartTimer()
			}
		}
	}
}

// benchCopyWrite times the write that docs/BENCHMARKS.md proposes for a
// whole large tenant: every row COPYed into a fresh table (a partition of
// its own), its three indexes built by sorting, and the lifecycle
// transitions taken from a join of the old and new stages; as a ratio to
// the GROUP BY of the same moment (x-write-copy). It runs as the superuser,
// without row-level security, and swaps nothing in: a lower bound of that
// design's write, to compare with x-write-first and x-write-daily.
func benchCopyWrite(b *testing.B, dbURL, tenantID string, outs [][]domain.Assessment, now time.Time) {
	ctx := context.Background()
	conn := superuser(b, dbURL)
	groupBy, _ := benchGroupBy(b, dbURL, tenantID)
	var rows [][]any
	for _, out := range outs {
		for _, a := range out {
			rows = append(rows, []any{uuid.MustParse(tenantID), uuid.MustParse(a.CustomerID), a.AssessTime, a.ModelVersion, int16(a.RFM.R), int16(a.RFM.F), int16(a.RFM.M),
				int16(a.Segment), int64(a.HistoricalValue), a.PAlive, a.ExpectedPurchases, int64(a.ExpectedSpend), int64(a.PredictedValue),
				int64(a.ValueAtRisk), int16(a.Churn), int32(a.Reasons), int16(a.Stage), int16(a.Stage), int32(a.SilenceDays), a.CadenceDays})
		}
	}
	cols := []string{"tenant_id", "customer_id", "assess_time", "model_version", "r", "f", "m", "segment", "historical_value", "p_alive",
		"expected_purchases", "expected_spend", "predicted_value", "value_at_risk", "churn_level", "churn_reasons", "stage", "prior_stage",
		"silence_days", "cadence_days"}
	c0, w0 := benchCheckpoints(b, dbURL)
	start := time.Now()
	if _, err := conn.Exec(ctx, `CREATE TABLE assessments_swap (LIKE assessments INCLUDING DEFAULTS) WITH (fillfactor = 70)`); err != nil {
		b.Fatal(err)
	}
	if _, err := conn.CopyFrom(ctx, pgx.Identifier{"assessments_swap"}, cols, pgx.CopyFromRows(rows)); err != nil {
		b.Fatal(err)
	}
	for _, q := range []string{
		`ALTER TABLE assessments_swap ADD PRIMARY KEY (tenant_id, customer_id)`,
		`CREATE INDEX ON assessments_swap (tenant_id, predicted_value, customer_id)`,
		`CREATE INDEX ON assessments_swap (tenant_id, value_at_risk, customer_id)`,
		`INSERT INTO lifecycle_transitions (tenant_id, customer_id, from_stage, to_stage, at)
SELECT n.tenant_id, n.customer_id, o.stage, n.stage, $1 FROM assessments_swap n
JOIN assessments o ON o.tenant_id = n.tenant_id AND o.customer_id = n.customer_id WHERE o.stage <> n.stage`,
	} {
		var args []any
		if strings.Contains(q, "$1") {
			args = append(args, now)
		}
		if _, err := conn.Exec(ctx, q, args...); err != nil {
			b.Fatal(err)
		}
	}
	write := time.Since(start)
	c1, w1 := benchCheckpoints(b, dbURL)
	if _, err := conn.Exec(ctx, `DROP TABLE assessments_swap`); err != nil {
		b.Fatal(err)
	}
	b.Logf("copy: group by %v, write %v (%d rows, %d checkpoints, %d MB of WAL)", groupBy.Round(time.Millisecond),
		write.Round(time.Millisecond), len(rows), c1-c0, (w1-w0)>>20)
	b.ReportMetric(write.Seconds()/groupBy.Seconds(), "x-write-copy")
}
