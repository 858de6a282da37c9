package postgres

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/potentialhq/potential/domain"
	"github.com/potentialhq/potential/store/pgtest"
)

// TestResolvePlanWithStaleStatistics plans qResolveCustomers as a tenant's
// first import meets it: the statistics say the customers table is empty
// (ANALYZEd before the load, autovacuum not yet run) while the tenant
// already has 5,000 customers. Both plans must look up the batch's
// customers in the indexes, never read the tenant and compare each row
// with the batch's external ids (which made the call grow with the tenant).
func TestResolvePlanWithStaleStatistics(t *testing.T) {
	t.Parallel()
	url := pgtest.NewDatabase(t, MigrationsHash(), Migrate)
	s, err := Open(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	ctx := t.Context()
	now := time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)
	tenant := domain.Tenant{ID: domain.NewID(), Name: "t", CreateTime: now}
	if err := s.CreateTenant(ctx, tenant); err != nil {
		t.Fatal(err)
	}
	if _, err := s.pool.Exec(ctx, "ANALYZE customers"); err != nil {
		t.Fatal(err)
	}
	var exts []string
	for start := 0; start < 5000; start += domain.MaxBatch {
		var cs []domain.Customer
		for i := start; i < start+domain.MaxBatch; i++ {
			cs = append(cs, domain.Customer{ID: domain.NewID(), ExternalID: fmt.Sprintf("crm-%d", i), Kind: domain.KindCustomer})
			exts = append(exts, fmt.Sprintf("crm-%d", i))
		}
		if _, err := s.UpsertCustomers(ctx, tenant.ID, cs, now); err != nil {
			t.Fatal(err)
		}
	}
	sc := scope{tenant: tenant.ID}
	batch := exts[1000:1500]
	for _, mode := range []string{"force_custom_plan", "force_generic_plan"} {
		p := explain(t, s, sc, mode, "", qResolveCustomers, []any{tenant.ID, []string{}, batch})
		t.Logf("%s:\n%s", mode, p)
		if !strings.Contains(p, "Index Cond: ((tenant_id = ") || !strings.Contains(p, "external_id = u.external_id))") {
			t.Errorf("%s: the external ids are not looked up in customers_external_id_key one by one:\n%s", mode, p)
		}
		if strings.Contains(p, "Filter: ((id = ANY") || strings.Contains(p, "Filter: ((external_id = ANY") || strings.Contains(p, "Seq Scan on customers") {
			t.Errorf("%s: the plan reads the tenant and filters it:\n%s", mode, p)
		}
	}
}
