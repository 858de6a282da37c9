package postgres_test

import (
	"context"
	"testing"
	"time"

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
// x-write-hot (the day after, without them).
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
		}
	}
}
