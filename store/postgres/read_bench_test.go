package postgres_test

import (
	"context"
	"math/rand/v2"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/potentialhq/potential/domain"
	"github.com/potentialhq/potential/store/postgres"
)

// BenchmarkPointRead compares the store's GetCustomer (the tenant scope and
// the read in one round trip, under row-level security) with the raw pgx
// point select of potential bench (one statement, as a superuser), 8
// clients each, for 3 s each, in the same run, and reports both rates and
// their ratio. It needs DATABASE_URL to be a superuser's (the baseline
// bypasses row-level security, as potential bench's does).
func BenchmarkPointRead(b *testing.B) {
	f := newBenchFixture(b, 20_000)
	ctx := context.Background()
	admin, err := url.Parse(os.Getenv("DATABASE_URL"))
	if err != nil || admin.User == nil {
		b.Skip("needs DATABASE_URL with a superuser")
	}
	u, err := url.Parse(f.url)
	if err != nil {
		b.Fatal(err)
	}
	u.User = admin.User
	base, err := postgres.OpenBaseline(ctx, u.String())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(base.Close)
	const clients, d = 8, 3 * time.Second
	run := func(read func(id string) error) float64 {
		var n atomic.Int64
		var wg sync.WaitGroup
		deadline := time.Now().Add(d)
		for i := range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := rand.New(rand.NewPCG(uint64(i), 9))
				for time.Now().Before(deadline) {
					if err := read(f.ids[r.IntN(len(f.ids))]); err != nil {
						b.Error(err)
						return
					}
					n.Add(1)
				}
			}()
		}
		wg.Wait()
		return float64(n.Load()) / d.Seconds()
	}
	for b.Loop() {
		baseline := run(func(id string) error { return base.PointSelect(ctx, f.tenant.ID, id) })
		ours := run(func(id string) error {
			_, err := f.store.GetCustomer(ctx, f.tenant.ID, domain.CustomerRef{ID: id})
			return err
		})
		b.ReportMetric(baseline, "baseline-reads/s")
		b.ReportMetric(ours, "store-reads/s")
		b.ReportMetric(ours/baseline, "ratio")
	}
}
