package postgres_test

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/potentialhq/potential/domain"
	"github.com/potentialhq/potential/store/postgres"
)

// BenchmarkReassessPhases takes a whole-tenant re-assessment apart on the
// tenant of BenchmarkReassess (100,000 customers, or 1,000,000): the read of every
// customer's inputs alone, the assessment alone (one core), the write
// alone (the batches one after the other), and the write again after
// dropping the two value indexes, when every update is HOT. Each is
// reported as a ratio to the GROUP BY of the same run:
//
//	go test -run '^$' -bench 'ReassessPhases/customers=100000$' -benchtime 1x ./store/postgres/
//	go test -run '^$' -bench 'ReassessPhases/customers=1000000$' -benchtime 1x -timeout 60m ./store/postgres/
//
// Metrics: x-read, x-assess, x-write-first (the first assessment of
// everyone), x-write-daily (the next day's, with the value indexes) and
// x-write-temp (the day after, every row COPYed into a temporary table
// and the tenant updated from it in one statement, benchTempWrite),
// x-write-hot (the day after, without the value indexes); and x-write-copy, the last
// day's rows written the way docs/BENCHMARKS.md proposes (benchCopyWrite),
// and x-copy-pipeline, the whole re-assessment done that way
// (benchCopyPipeline). x-pipeline and x-pipeline-hot are the service's
// ReassessAll updating in place (everything overlapping; the service on a
// store that offers no rewrite) on a day with the value indexes and on a
// day without them.
func BenchmarkReassessPhases(b *testing.B) {
	for _, n := range []int{100_000, 1_000_000} {
		b.Run(fmt.Sprintf("customers=%d", n), func(b *testing.B) { benchReassessPhases(b, n) })
	}
}

// benchFittedTenant returns the tenant of benchReassessTenant with its
// value model fitted (nobody assessed yet), and a service whose clock is
// the returned time, benchNow at first.
func benchFittedTenant(b *testing.B, n int) (string, *postgres.Store, domain.Tenant, *domain.Service, *time.Time) {
	b.Helper()
	dbURL, store, tenant := benchReassessTenant(b, n)
	clock := benchNow
	svc := domain.NewService(store, func() time.Time { return clock })
	pctx := domain.WithPrincipal(context.Background(), domain.Principal{TenantID: tenant.ID, Role: domain.RoleAdmin})
	if _, err := svc.FitValueModel(pctx, domain.FitRequest{SkipReassess: true}, nil); err != nil {
		b.Fatal(err)
	}
	return dbURL, store, tenant, svc, &clock
}

func benchReassessPhases(b *testing.B, n int) {
	ctx := context.Background()
	dbURL, store, tenant, _, clock := benchFittedTenant(b, n)
	// The ways compared here are updates in place: the service's own
	// pipeline too, on a store that offers no rewrite
	// (BenchmarkReassessStorage compares the rewrite).
	svc := domain.NewService(inPlace{store}, func() time.Time { return *clock })
	m, err := store.GetValueModel(ctx, tenant.ID)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		for day, name := range []string{"first", "daily", "temp", "pipeline", "hot", "pipeline-hot"} {
			if strings.HasPrefix(name, "pipeline") {
				// The service's own re-assessment, read, assessment and
				// write overlapping: with the value indexes, then without.
				*clock = benchNow.AddDate(0, 0, day)
				groupBy, _ := benchGroupBy(b, dbURL, tenant.ID)
				start := time.Now()
				if done, err := svc.ReassessAll(ctx, tenant.ID); err != nil || done != int64(n) {
					b.Fatalf("ReassessAll: %d, %v", done, err)
				}
				d := time.Since(start)
				b.Logf("%s: group by %v, ReassessAll %v", name, groupBy.Round(time.Millisecond), d.Round(time.Millisecond))
				b.ReportMetric(d.Seconds()/groupBy.Seconds(), "x-"+name)
				continue
			}
			if name == "hot" {
				b.StopTimer()
				conn := superuser(b, dbURL)
				if _, err := conn.Exec(ctx, `DROP INDEX assessments_all_predicted_value; DROP INDEX assessments_all_value_at_risk; CHECKPOINT`); err != nil {
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
			if name == "temp" {
				benchTempWrite(b, dbURL, tenant.ID, outs)
			} else {
				for _, out := range outs {
					if err := store.PutAssessments(ctx, tenant.ID, out); err != nil {
						b.Fatal(err)
					}
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
				benchCopyPipeline(b, dbURL, store, tenant.ID, &m, now)
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
		for i := range out {
			rows = append(rows, swapRow(uuid.MustParse(tenantID), &out[i]))
		}
	}
	c0, w0 := benchCheckpoints(b, dbURL)
	start := time.Now()
	if _, err := conn.Exec(ctx, `CREATE TABLE assessments_swap (LIKE assessments INCLUDING DEFAULTS) WITH (fillfactor = 70)`); err != nil {
		b.Fatal(err)
	}
	if _, err := conn.CopyFrom(ctx, pgx.Identifier{"assessments_swap"}, swapColumns, pgx.CopyFromRows(rows)); err != nil {
		b.Fatal(err)
	}
	benchSwapIndexes(b, conn, now)
	write := time.Since(start)
	c1, w1 := benchCheckpoints(b, dbURL)
	if _, err := conn.Exec(ctx, `DROP TABLE assessments_swap`); err != nil {
		b.Fatal(err)
	}
	b.Logf("copy: group by %v, write %v (%d rows, %d checkpoints, %d MB of WAL)", groupBy.Round(time.Millisecond),
		write.Round(time.Millisecond), len(rows), c1-c0, (w1-w0)>>20)
	b.ReportMetric(write.Seconds()/groupBy.Seconds(), "x-write-copy")
}

// benchCopyPipeline times a whole-tenant re-assessment the way
// docs/BENCHMARKS.md proposes, end to end: every customer's inputs read
// (the store's read), assessed on all cores and streamed into a COPY into
// a fresh table while the read goes on, then that table's three indexes
// built by sorting and the lifecycle transitions taken from a join of the
// old and new stages; as a ratio to the GROUP BY of the same moment
// (x-copy-pipeline, and x-copy-streamed for the part before the index
// builds). Like benchCopyWrite it runs the COPY as the superuser and swaps
// nothing in: a lower bound of that design's re-assessment, to compare
// with BenchmarkReassess.
func benchCopyPipeline(b *testing.B, dbURL string, store interface {
	AssessmentInputs(context.Context, string, []string, time.Time, func([]domain.AssessmentInput) error) error
}, tenantID string, m *domain.ValueModel, now time.Time) {
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	conn := superuser(b, dbURL)
	groupBy, _ := benchGroupBy(b, dbURL, tenantID)
	tenant := uuid.MustParse(tenantID)
	start := time.Now()
	if _, err := conn.Exec(ctx, `CREATE TABLE assessments_swap (LIKE assessments INCLUDING DEFAULTS) WITH (fillfactor = 70)`); err != nil {
		b.Fatal(err)
	}
	ins, outs := make(chan []domain.AssessmentInput, 4), make(chan [][]any, 4)
	var wg sync.WaitGroup
	for range max(2, runtime.GOMAXPROCS(0)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for in := range ins {
				rows := make([][]any, len(in))
				for i := range in {
					a := domain.Assess(in[i], m, now)
					rows[i] = swapRow(tenant, &a)
				}
				outs <- rows
			}
		}()
	}
	go func() {
		err := store.AssessmentInputs(ctx, tenantID, nil, now, func(in []domain.AssessmentInput) error {
			select {
			case ins <- append([]domain.AssessmentInput(nil), in...):
				return nil
			case <-ctx.Done():
				return context.Cause(ctx)
			}
		})
		if err != nil {
			cancel(err)
		}
		close(ins)
		wg.Wait()
		close(outs)
	}()
	src := &chanRows{ch: outs}
	n, err := conn.CopyFrom(ctx, pgx.Identifier{"assessments_swap"}, swapColumns, src)
	if err != nil {
		cancel(err)
		for range outs {
		}
		b.Fatal(err)
	}
	if err := context.Cause(ctx); err != nil {
		b.Fatal(err)
	}
	streamed := time.Since(start)
	benchSwapIndexes(b, conn, now)
	total := time.Since(start)
	if _, err := conn.Exec(ctx, `DROP TABLE assessments_swap`); err != nil {
		b.Fatal(err)
	}
	b.Logf("copy pipeline: group by %v, read, assess and COPY %v, with index builds and transitions %v (%d rows)",
		groupBy.Round(time.Millisecond), streamed.Round(time.Millisecond), total.Round(time.Millisecond), n)
	b.ReportMetric(streamed.Seconds()/groupBy.Seconds(), "x-copy-streamed")
	b.ReportMetric(total.Seconds()/groupBy.Seconds(), "x-copy-pipeline")
}

// swapColumns are the columns of swapRow's rows.
var swapColumns = []string{"tenant_id", "customer_id", "assess_time", "model_version", "r", "f", "m", "segment", "historical_value", "p_alive",
	"expected_purchases", "expected_spend", "predicted_value", "value_at_risk", "churn_level", "churn_reasons", "stage", "prior_stage",
	"silence_days", "cadence_days"}

// swapRow is the row of assessments_swap that holds a.
func swapRow(tenant uuid.UUID, a *domain.Assessment) []any {
	return []any{tenant, uuid.MustParse(a.CustomerID), a.AssessTime, a.ModelVersion, int16(a.RFM.R), int16(a.RFM.F), int16(a.RFM.M),
		int16(a.Segment), int64(a.HistoricalValue), a.PAlive, a.ExpectedPurchases, int64(a.ExpectedSpend), int64(a.PredictedValue),
		int64(a.ValueAtRisk), int16(a.Churn), int32(a.Reasons), int16(a.Stage), int16(a.Stage), int32(a.SilenceDays), a.CadenceDays}
}

// benchSwapIndexes builds assessments_swap's three indexes by sorting and
// records the lifecycle transitions from a join of its stages with the
// stored ones.
func benchSwapIndexes(b *testing.B, conn *pgx.Conn, now time.Time) {
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
		if _, err := conn.Exec(context.Background(), q, args...); err != nil {
			b.Fatal(err)
		}
	}
}

// chanRows is a pgx.CopyFromSource of the batches of rows a channel
// carries.
type chanRows struct {
	ch    <-chan [][]any
	batch [][]any
	i     int
}

func (c *chanRows) Next() bool {
	for c.i+1 >= len(c.batch) {
		b, ok := <-c.ch
		if !ok {
			return false
		}
		c.batch, c.i = b, -1
	}
	c.i++
	return true
}

func (c *chanRows) Values() ([]any, error) { return c.batch[c.i], nil }

func (c *chanRows) Err() error { return nil }

// benchTempWrite writes a day's assessments the other way an UPDATE can
// take them: as the store's role in the tenant's scope, every row COPYed
// into a temporary table (no row-level security, no WAL), then one UPDATE
// of the tenant's assessments from it, with the lifecycle transitions, as
// qPutAssessments does for a batch.
func benchTempWrite(b *testing.B, dbURL, tenantID string, outs [][]domain.Assessment) {
	ctx := context.Background()
	conn := connect(b, dbURL)
	tx, err := conn.Begin(ctx)
	if err != nil {
		b.Fatal(err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck
	if _, err := tx.Exec(ctx, `SELECT set_config('role', 'potential_app', true), set_config('app.tenant_id', $1, true),
    set_config('synchronous_commit', 'off', true)`, tenantID); err != nil {
		b.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `CREATE TEMP TABLE assess_in (customer_id uuid, assess_time timestamptz, model_version bigint,
    r smallint, f smallint, m smallint, segment smallint, historical_value bigint, p_alive float8, expected_purchases float8,
    expected_spend bigint, predicted_value bigint, value_at_risk bigint, churn_level smallint, churn_reasons int, stage smallint,
    silence_days int, cadence_days float8) ON COMMIT DROP`); err != nil {
		b.Fatal(err)
	}
	var rows [][]any
	for _, out := range outs {
		for _, a := range out {
			rows = append(rows, []any{uuid.MustParse(a.CustomerID), a.AssessTime, a.ModelVersion, int16(a.RFM.R), int16(a.RFM.F), int16(a.RFM.M),
				int16(a.Segment), int64(a.HistoricalValue), a.PAlive, a.ExpectedPurchases, int64(a.ExpectedSpend), int64(a.PredictedValue),
				int64(a.ValueAtRisk), int16(a.Churn), int32(a.Reasons), int16(a.Stage), int32(a.SilenceDays), a.CadenceDays})
		}
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"assess_in"}, []string{"customer_id", "assess_time", "model_version", "r", "f", "m",
		"segment", "historical_value", "p_alive", "expected_purchases", "expected_spend", "predicted_value", "value_at_risk", "churn_level",
		"churn_reasons", "stage", "silence_days", "cadence_days"}, pgx.CopyFromRows(rows)); err != nil {
		b.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `ANALYZE assess_in`); err != nil {
		b.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `WITH u AS (
    UPDATE assessments a SET assess_time = n.assess_time, model_version = n.model_version, r = n.r, f = n.f, m = n.m,
        segment = n.segment, historical_value = n.historical_value, p_alive = n.p_alive,
        expected_purchases = n.expected_purchases, expected_spend = n.expected_spend,
        predicted_value = n.predicted_value, value_at_risk = n.value_at_risk, churn_level = n.churn_level,
        churn_reasons = n.churn_reasons, stage = n.stage, prior_stage = a.stage, silence_days = n.silence_days,
        cadence_days = n.cadence_days
    FROM assess_in n
    WHERE a.tenant_id = $1 AND a.customer_id = n.customer_id
    RETURNING a.customer_id, a.prior_stage, a.stage, a.assess_time
)
INSERT INTO lifecycle_transitions (tenant_id, customer_id, from_stage, to_stage, at)
SELECT $1, customer_id, prior_stage, stage, assess_time FROM u WHERE prior_stage <> stage`, tenantID); err != nil {
		b.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		b.Fatal(err)
	}
}
