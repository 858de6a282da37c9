package postgres_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/potentialhq/potential/domain"
)

// BenchmarkServiceIngest records POTENTIAL_INGEST_TXS transactions
// (default 50,000) of POTENTIAL_INGEST_CUSTOMERS customers (default
// 5,000), in calls of 500 from 4 concurrent clients, as `potential bench`
// does but without gRPC, three ways on fresh tenants of one database, in
// one run, taking turns by rounds of 2 calls per client:
//
//   - copy: pgx CopyFrom of the same rows into transactions, 4
//     connections: the floor;
//   - stepwise: the Service's RecordTransactions with every step of the
//     call in its own transaction (the insert, the assessments, scoring
//     and grading, segments), as it was before the follow-up;
//   - followup: the Service's RecordTransactions with the follow-up in
//     the batch's transaction.
//
// POTENTIAL_INGEST_RULES=1 gives the tenants the 20 rules of
// BenchmarkScoredIngestion and a dynamic segment (with the built-in ones).
// It reports each way's rows/s, x-copy (followup over copy) and
// x-stepwise (followup over stepwise).
//
//	go test -run '^$' -bench 'ServiceIngest' -benchtime 1x -timeout 30m ./store/postgres/
func BenchmarkServiceIngest(b *testing.B) {
	txs, customers := envInt("POTENTIAL_INGEST_TXS", 50_000), envInt("POTENTIAL_INGEST_CUSTOMERS", 5_000)
	rules := os.Getenv("POTENTIAL_INGEST_RULES") == "1"
	const size, clients = 500, 4
	dbURL := newDatabase(b)
	s := open(b, dbURL)
	ctx := context.Background()
	for b.Loop() {
		b.StopTimer()
		type way struct {
			tn    domain.Tenant
			actx  context.Context
			svc   *domain.Service
			all   []domain.Transaction
			conns []*pgx.Conn
			secs  float64
		}
		var ways [3]*way
		clock := func() time.Time { return scoringBenchNow }
		for i := range ways {
			tn, ids := scoringBenchTenant(b, s, fmt.Sprintf("ingest-%d-%s", i, domain.NewID()), customers)
			w := &way{tn: tn, actx: domain.WithPrincipal(ctx, domain.Principal{TenantID: tn.ID, KeyID: "bench", Role: domain.RoleAdmin})}
			w.svc = domain.NewService(s, clock)
			if i == 1 {
				w.svc = domain.NewService(stepwise{s}, clock)
			}
			if rules && i > 0 {
				m, err := w.svc.CreateScoringModel(w.actx, domain.ScoringModel{Name: "engagement"})
				if err != nil {
					b.Fatal(err)
				}
				for _, r := range scoringBenchRules(m.ID) {
					if _, err := w.svc.CreateScoringRule(w.actx, r); err != nil {
						b.Fatal(err)
					}
				}
				if _, err := w.svc.CreateSegment(w.actx, domain.Segment{Name: "repeat buyers", Kind: domain.SegmentDynamic, Rule: "customer.orders >= 2"}, nil); err != nil {
					b.Fatal(err)
				}
			}
			rng := rand.New(rand.NewPCG(3, 4)) // the same events for every way
			w.all = make([]domain.Transaction, txs)
			for j := range w.all {
				c := j % customers
				if j >= customers {
					c = rng.IntN(customers)
				}
				w.all[j] = domain.Transaction{ExternalID: "t" + strconv.Itoa(j), Customer: domain.CustomerRef{ID: ids[c]}, Kind: domain.TxOrder,
					Amount: domain.Money(1+rng.IntN(50_000)) * 10_000, OccurredAt: scoringBenchNow.Add(-time.Duration(1+rng.Int64N(700*24)) * time.Hour)}
			}
			if i == 0 {
				for range clients {
					w.conns = append(w.conns, superuser(b, dbURL))
				}
			}
			ways[i] = w
		}
		analyze(b, dbURL, "customers", "assessments", "customer_grades")
		// The ways take turns, a round of 2 calls per client each, so
		// that the load of a shared machine weighs on them alike.
		const round = 2 * size * clients
		for lo := 0; lo < txs; lo += round {
			for i, w := range ways {
				next := make(chan int)
				errs := make(chan error, clients)
				var wg sync.WaitGroup
				start := time.Now()
				b.StartTimer()
				for c := range clients {
					wg.Go(func() {
						for lo := range next {
							batch := w.all[lo:min(lo+size, txs)]
							var err error
							if i == 0 {
								rows := make([][]any, len(batch))
								for j, t := range batch {
									rows[j] = []any{w.tn.ID, domain.NewID(), t.ExternalID, t.Customer.ID, string(t.Kind), int64(t.Amount), nil, int64(0), t.OccurredAt}
								}
								_, err = w.conns[c].CopyFrom(ctx, pgx.Identifier{"transactions"}, []string{"tenant_id", "id", "external_id", "customer_id", "kind", "amount", "margin", "quantity", "occurred_at"}, pgx.CopyFromRows(rows))
							} else {
								_, err = w.svc.RecordTransactions(w.actx, append([]domain.Transaction(nil), batch...), false)
							}
							if err != nil {
								errs <- err
								return
							}
						}
					})
				}
				for j := lo; j < min(lo+round, txs); j += size {
					next <- j
				}
				close(next)
				wg.Wait()
				b.StopTimer()
				w.secs += time.Since(start).Seconds()
				close(errs)
				for err := range errs {
					b.Fatal(err)
				}
			}
		}
		rate := func(i int) float64 { return float64(txs) / ways[i].secs }
		b.ReportMetric(rate(0), "copy-rows/s")
		b.ReportMetric(rate(1), "stepwise-rows/s")
		b.ReportMetric(rate(2), "followup-rows/s")
		b.ReportMetric(rate(2)/rate(0), "x-copy")
		b.ReportMetric(rate(2)/rate(1), "x-stepwise")
		b.ReportMetric(0, "ns/op")
		b.StartTimer()
	}
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}
