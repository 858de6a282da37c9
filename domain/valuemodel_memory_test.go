package domain_test

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/potentialhq/potential/domain"
	"github.com/potentialhq/potential/store/memory"
)

// syntheticSummaries is the in-memory store with a tenant whose purchase
// summaries are n synthetic customers, generated on each read instead of
// stored (the CDNOW customers of testdata/cdnow over and over), so that
// what a fit holds is the fit's own.
type syntheticSummaries struct {
	*memory.Store
	n     int
	end   time.Time
	cdnow []cdnowRow
	ids   []string // made before the fit: not the fit's allocations
}

func (s syntheticSummaries) PurchaseSummaries(ctx context.Context, tenantID string, end time.Time, fn func(domain.PurchaseSummary) error) error {
	rng := rand.New(rand.NewPCG(7, 11))
	for i := range s.n {
		c := s.cdnow[i%len(s.cdnow)]
		first := s.end.AddDate(0, 0, -int(math.Round(c.t*7)))
		last := first.AddDate(0, 0, int(math.Round(c.recency*7)))
		spend := domain.Money(int64(c.x+1) * (1000 + rng.Int64N(20_000)))
		ps := domain.PurchaseSummary{CustomerID: s.ids[i], First: first, Last: last,
			Days: c.x + 1, TotalSpend: spend, FirstDaySpend: spend / domain.Money(c.x+1)}
		if err := fn(ps); err != nil {
			return err
		}
	}
	return nil
}

// cdnowRow is a customer of the CDNOW summary: frequency, recency and age
// in weeks.
type cdnowRow struct {
	x          int
	recency, t float64
}

// readCDNOW reads testdata/cdnow/cdnow_customers_summary.csv.
func readCDNOW(t *testing.T) []cdnowRow {
	t.Helper()
	f, err := os.Open("../testdata/cdnow/cdnow_customers_summary.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var out []cdnowRow
	for _, r := range recs[1:] {
		x, err1 := strconv.Atoi(r[1])
		rec, err2 := strconv.ParseFloat(r[2], 64)
		age, err3 := strconv.ParseFloat(r[3], 64)
		if err := errors.Join(err1, err2, err3); err != nil {
			t.Fatal(err)
		}
		out = append(out, cdnowRow{x: x, recency: rec, t: age})
	}
	return out
}

// TestFitValueModelMemory bounds what fitting a tenant allocates per
// customer (runtime.MemStats.TotalAlloc, which counts the slices' growth
// too): the fit holds each customer's calibration summary, repeat spend
// and RFM values, not its id, unless a holdout comparison needs the ids.
// At a million customers every 100 bytes a customer is 100 MB of the
// server's peak.
func TestFitValueModelMemory(t *testing.T) {
	const n = 200_000
	end := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	st := syntheticSummaries{Store: memory.New(), n: n, end: end, cdnow: readCDNOW(t), ids: make([]string, n)}
	for i := range st.ids {
		st.ids[i] = fmt.Sprintf("00000000-0000-7000-8000-%012d", i)
	}
	tenant := domain.Tenant{ID: domain.NewID(), Name: "t", CreateTime: end.AddDate(-3, 0, 0)}
	if err := st.CreateTenant(context.Background(), tenant); err != nil {
		t.Fatal(err)
	}
	svc := domain.NewService(st, func() time.Time { return end })
	ctx := domain.WithPrincipal(context.Background(), domain.Principal{TenantID: tenant.ID, Role: domain.RoleAdmin})
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	m, err := svc.FitValueModel(ctx, domain.FitRequest{SkipReassess: true}, nil)
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	if m.Customers != n {
		t.Fatalf("fitted on %d customers, want %d", m.Customers, n)
	}
	perCustomer := float64(after.TotalAlloc-before.TotalAlloc) / n
	t.Logf("%.0f bytes allocated a customer (%d MB for %d customers)", perCustomer, (after.TotalAlloc-before.TotalAlloc)>>20, n)
	if perCustomer > 420 {
		t.Errorf("fitting allocated %.0f bytes a customer, want at most 420", perCustomer)
	}
}
