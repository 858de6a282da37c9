package postgres

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/potentialhq/potential/domain"
)

// TestResolvePlanWithStaleStatistics plans qResolveCustomers, the reads
// of a batch's customers with their assessments and qRecordTransactions
// as a tenant's first import meets them: the statistics say the customers table is empty
// (ANALYZEd before the load, autovacuum not yet run) while the tenant
// already has 5,000 customers. Both plans must look up the batch's
// customers in the indexes, never read the tenant and compare each row
// with the batch's external ids (which made the call grow with the
// tenant); and the record statement's update must not join its
// per-customer CTEs, which the planner (estimating them at a row or two)
// could join by nested loops, scanning each once per customer.
func TestResolvePlanWithStaleStatistics(t *testing.T) {
	t.Parallel()
	s := openTest(t)
	ctx := t.Context()
	now := time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)
	tenant := domain.Tenant{ID: domain.NewID(), Name: "t", CreateTime: now}
	if err := s.CreateTenant(ctx, tenant); err != nil {
		t.Fatal(err)
	}
	if _, err := s.pool.Exec(ctx, "ANALYZE customers, assessments"); err != nil {
		t.Fatal(err)
	}
	var exts, ids []string
	for start := 0; start < 5000; start += domain.MaxBatch {
		var cs []domain.Customer
		for i := start; i < start+domain.MaxBatch; i++ {
			cs = append(cs, domain.Customer{ID: domain.NewID(), ExternalID: fmt.Sprintf("crm-%d", i), Kind: domain.KindCustomer})
			exts = append(exts, fmt.Sprintf("crm-%d", i))
		}
		out, err := s.UpsertCustomers(ctx, tenant.ID, cs, now)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range out {
			ids = append(ids, o.Customer.ID)
		}
	}
	sc := scope{tenant: tenant.ID}
	batch := exts[1000:1500]
	for _, mode := range []string{"force_custom_plan", "force_generic_plan"} {
		p := explain(t, s, sc, mode, "", qResolveCustomers, []any{tenant.ID, []string{}, batch})
		t.Logf("%s:\n%s", mode, p)
		if !strings.Contains(p, "external_id = u.external_id))") {
			t.Errorf("%s: the external ids are not looked up in customers_external_id_key one by one:\n%s", mode, p)
		}
		if !strings.Contains(p, "Index Scan using customers_pkey") || !strings.Contains(p, "(id = (unnest(") {
			t.Errorf("%s: the customers are not locked one by one through customers_pkey:\n%s", mode, p)
		}
		if strings.Contains(p, "id = ANY") || strings.Contains(p, "Seq Scan on customers") || strings.Contains(p, "Bitmap") {
			t.Errorf("%s: the plan reads the tenant and filters it:\n%s", mode, p)
		}
	}

	// The follow-up's read of the batch's inputs looks each customer's
	// stored stage up in the primary key of its partition of assessments.
	// Joined to the partitioned table, the planner read the whole tenant's
	// rows instead (10 ms a call before assessments was partitioned, 120 ms
	// after, in a 50,000-row import).
	p := explain(t, s, sc, "force_custom_plan", "", qInputsOf, []any{tenant.ID, ids[1000:1500], now.Add(-120 * 24 * time.Hour),
		now.Add(-30 * 24 * time.Hour), now})
	t.Logf("inputs of a batch:\n%s", p)
	if !strings.Contains(p, "Index Scan using assessments_pkey") || !strings.Contains(p, "(customer_id = c.id)") ||
		strings.Contains(p, "Seq Scan on assessments") {
		t.Errorf("inputs of a batch: the stored stages are not looked up one by one:\n%s", p)
	}

	// So do the other reads of customers by their keys with their
	// assessments: a batch's for scoring, for an upsert, for segments,
	// and one customer's. Joined,
	// the planner took any index of assessments that starts with the
	// tenant, e.g. (tenant_id, value_at_risk, customer_id), and read the
	// tenant's whole range of it for every customer.
	for _, q := range []struct {
		name, sql string
		args      []any
	}{
		{"customers of a batch", qScoringCustomers, []any{tenant.ID, ids[1000:1500], nil, nil}},
		{"customers to upsert", qLockByExternal, []any{tenant.ID, batch}},
		{"segment facts of a batch", qSegmentFacts, []any{tenant.ID, ids[1000:1500], now}},
		{"a customer by id", qGetCustomerByID, []any{tenant.ID, ids[1200]}},
		{"a customer by external id", qGetCustomerByExternal, []any{tenant.ID, exts[1200]}},
		{"a customer by both", qGetCustomerByBoth, []any{tenant.ID, ids[1200], exts[1200]}},
	} {
		for _, mode := range []string{"force_custom_plan", "force_generic_plan"} {
			p = explain(t, s, sc, mode, "", q.sql, q.args)
			t.Logf("%s (%s):\n%s", q.name, mode, p)
			if !strings.Contains(p, "Index Scan using assessments_pkey") || !strings.Contains(p, "(customer_id = c.id)") ||
				strings.Contains(p, "Seq Scan on assessments") || strings.Contains(p, "assessments_value_at_risk") ||
				strings.Contains(p, "assessments_predicted_value") {
				t.Errorf("%s (%s): the assessments are not looked up one by one by their key:\n%s", q.name, mode, p)
			}
		}
	}

	// The record statement as it is planned later, with the tenant's
	// statistics current.
	if _, err := s.pool.Exec(ctx, "ANALYZE"); err != nil {
		t.Fatal(err)
	}
	n := 500
	txIDs, txExts, cids, kinds := make([]string, n), make([]string, n), ids[:n], make([]string, n)
	amounts, margins, quantities, times := make([]int64, n), make([]*int64, n), make([]int64, n), make([]time.Time, n)
	for i := range n {
		txIDs[i], txExts[i], kinds[i] = domain.NewID(), fmt.Sprintf("tx-%d", i), "order"
		amounts[i], quantities[i], times[i] = 1000, 1, now.Add(time.Duration(i)*time.Hour)
	}
	p = explain(t, s, sc, "force_custom_plan", "", qRecordTransactions,
		[]any{tenant.ID, txIDs, txExts, cids, kinds, amounts, margins, quantities, times, cids})
	t.Logf("record transactions:\n%s", p)
	// Which join the planner picks depends on the tenant (nested loops at
	// 100,000 customers with their history, auto_explain; hashes here),
	// so the check is that the update joins none of the per-customer CTEs.
	if !strings.Contains(p, "Update on customers") {
		t.Fatalf("record transactions: no update of customers in\n%s", p)
	}
	for _, cte := range []string{"new_days n", "first_days f", "gaps g"} {
		if strings.Contains(p, "CTE Scan on "+cte+"  (") {
			t.Errorf("record transactions: the update joins %s:\n%s", cte, p)
		}
	}
}
