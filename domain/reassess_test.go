package domain_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/potentialhq/potential/domain"
	"github.com/potentialhq/potential/store/memory"
)

// declining is a store whose rewrite declines every tenant (as
// store/postgres does small ones), or fails with err.
type declining struct {
	domain.Store
	calls int
	err   error
}

func (d *declining) RewriteAssessments(context.Context, string, func(func([]domain.Assessment) error) error) (bool, error) {
	d.calls++
	return false, d.err
}

// TestReassessAllEitherWay checks that ReassessAll stores the same
// assessments and transitions whether the store rewrites the tenant whole
// (store/memory) or declines, so that the service writes batch by batch
// with PutAssessments; and that a rewrite's failure is ReassessAll's.
func TestReassessAllEitherWay(t *testing.T) {
	now := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
	setup := func(st domain.Store) (*domain.Service, context.Context, string) {
		t.Helper()
		svc := domain.NewService(st, func() time.Time { return now })
		tn := domain.Tenant{ID: domain.NewID(), Name: "t", CreateTime: now.AddDate(-1, 0, 0)}
		if err := st.CreateTenant(t.Context(), tn); err != nil {
			t.Fatal(err)
		}
		ctx := domain.WithPrincipal(t.Context(), domain.Principal{TenantID: tn.ID, KeyID: "k", Role: domain.RoleAdmin})
		var txs []domain.Transaction
		for i := range 40 {
			ext := fmt.Sprintf("c%d", i)
			if _, err := svc.CreateCustomer(ctx, domain.Customer{ExternalID: ext, Kind: domain.KindCustomer}); err != nil {
				t.Fatal(err)
			}
			for k := range i % 6 {
				txs = append(txs, domain.Transaction{ExternalID: fmt.Sprintf("o%d-%d", i, k), Customer: domain.CustomerRef{ExternalID: ext},
					Kind: domain.TxOrder, Amount: domain.MoneyFromFloat(float64(10 + i + k)), OccurredAt: now.AddDate(0, 0, -7*(i%9)-30*k-1)})
			}
		}
		if _, err := svc.RecordTransactions(ctx, txs, false); err != nil {
			t.Fatal(err)
		}
		return svc, ctx, tn.ID
	}
	assessed := func(svc *domain.Service, ctx context.Context, tenant string) (map[string]domain.Assessment, domain.AssessmentStats) {
		t.Helper()
		if n, err := svc.ReassessAll(ctx, tenant); err != nil || n != 40 {
			t.Fatalf("ReassessAll = %d, %v", n, err)
		}
		out := map[string]domain.Assessment{}
		for i := range 40 {
			c, err := svc.GetCustomer(ctx, domain.CustomerRef{ExternalID: fmt.Sprintf("c%d", i)})
			if err != nil {
				t.Fatal(err)
			}
			a := c.Assessment
			a.CustomerID = c.ExternalID // the ids differ between the stores
			out[c.ExternalID] = a
		}
		st, err := svc.AssessmentStats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return out, st
	}

	whole, wctx, wt := setup(memory.New())
	dec := &declining{Store: memory.New()}
	batched, bctx, bt := setup(dec)
	wantAs, wantStats := assessed(whole, wctx, wt)
	gotAs, gotStats := assessed(batched, bctx, bt)
	if dec.calls != 1 {
		t.Fatalf("the service asked the store to rewrite %d times, want 1", dec.calls)
	}
	if fmt.Sprint(gotAs) != fmt.Sprint(wantAs) {
		t.Fatalf("batch by batch:\n%v\nrewritten:\n%v", gotAs, wantAs)
	}
	if fmt.Sprint(gotStats) != fmt.Sprint(wantStats) {
		t.Fatalf("statistics batch by batch:\n%+v\nrewritten:\n%+v", gotStats, wantStats)
	}
	if wantStats.Customers != 40 || len(wantStats.Transitions) == 0 {
		t.Fatalf("statistics: %+v", wantStats)
	}

	dec.err = errors.New("disk full")
	if _, err := batched.ReassessAll(bctx, bt); !errors.Is(err, dec.err) {
		t.Fatalf("ReassessAll with a failing rewrite: %v", err)
	}
}
