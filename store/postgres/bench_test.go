package postgres_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/url"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/potentialhq/potential/domain"
	"github.com/potentialhq/potential/store/pgtest"
	"github.com/potentialhq/potential/store/postgres"
)

// benchFixture is a tenant with customers, ready for ingestion benchmarks.
type benchFixture struct {
	url    string
	store  *postgres.Store
	tenant domain.Tenant
	ids    []string
}

func newBenchFixture(b *testing.B, customers int) benchFixture {
	b.Helper()
	f := benchFixture{url: newDatabase(b)}
	f.store = open(b, f.url)
	ctx := context.Background()
	f.tenant = domain.Tenant{ID: domain.NewID(), Name: "bench", CreateTime: time.Now()}
	if err := f.store.CreateTenant(ctx, f.tenant); err != nil {
		b.Fatal(err)
	}
	for start := 0; start < customers; start += domain.MaxBatch {
		var cs []domain.Customer
		for i := start; i < min(start+domain.MaxBatch, customers); i++ {
			cs = append(cs, domain.Customer{ID: domain.NewID(), ExternalID: fmt.Sprintf("c%d", i), Kind: domain.KindCustomer})
		}
		out, err := f.store.UpsertCustomers(ctx, f.tenant.ID, cs, time.Now())
		if err != nil {
			b.Fatal(err)
		}
		for _, o := range out {
			f.ids = append(f.ids, o.Customer.ID)
		}
	}
	return f
}

// batch returns n new transactions of the first `spread` customers.
func (f benchFixture) batch(rng *rand.Rand, n, spread, seq int) []domain.Transaction {
	txs := make([]domain.Transaction, n)
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range txs {
		txs[i] = domain.Transaction{ID: domain.NewID(), ExternalID: fmt.Sprintf("b%d-%d", seq, i),
			Customer: domain.CustomerRef{ID: f.ids[rng.IntN(spread)]}, Kind: domain.TxOrder,
			Amount: domain.Money(rng.IntN(1_000_000)), OccurredAt: base.Add(time.Duration(rng.IntN(365*24)) * time.Hour)}
	}
	return txs
}

// BenchmarkRecordTransactions records batches of 500 new transactions into
// a tenant of 20,000 customers, spread over 50 or 500 customers per batch.
// Compare its rows/s with BenchmarkCopyFrom's.
func BenchmarkRecordTransactions(b *testing.B) {
	for _, spread := range []int{50, 500, 20_000} {
		b.Run(fmt.Sprintf("batch=500/customers=%d", spread), func(b *testing.B) {
			f := newBenchFixture(b, 20_000)
			rng := rand.New(rand.NewPCG(1, 2))
			ctx := context.Background()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				b.StopTimer()
				txs := f.batch(rng, 500, spread, i)
				b.StartTimer()
				if _, err := f.store.RecordTransactions(ctx, f.tenant.ID, txs, domain.RecordOptions{}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*500)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}

// BenchmarkCopyFrom is the baseline: pgx's CopyFrom of the same batches
// straight into the transactions table, with no statistics. It connects as
// the server's (privileged) user, since PostgreSQL refuses COPY FROM into a
// table with row-level security to the roles it applies to.
func BenchmarkCopyFrom(b *testing.B) {
	for _, spread := range []int{50, 500, 20_000} {
		b.Run(fmt.Sprintf("batch=500/customers=%d", spread), func(b *testing.B) {
			f := newBenchFixture(b, 20_000)
			u, err := url.Parse(pgtest.URL(b))
			if err != nil {
				b.Fatal(err)
			}
			tu, _ := url.Parse(f.url)
			u.Path = tu.Path
			conn := connect(b, u.String())
			rng := rand.New(rand.NewPCG(1, 2))
			ctx := context.Background()
			columns := []string{"tenant_id", "id", "external_id", "customer_id", "kind", "amount", "margin", "quantity", "occurred_at"}
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				b.StopTimer()
				txs := f.batch(rng, 500, spread, i)
				rows := make([][]any, len(txs))
				for j, t := range txs {
					rows[j] = []any{f.tenant.ID, t.ID, t.ExternalID, t.Customer.ID, string(t.Kind), int64(t.Amount), nil, int64(0), t.OccurredAt}
				}
				b.StartTimer()
				if _, err := conn.CopyFrom(ctx, pgx.Identifier{"transactions"}, columns, pgx.CopyFromRows(rows)); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*500)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}
