package postgres

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/potentialhq/potential/domain"
)

// TestPlans seeds a tenant with 20,000 customers (and two neighbours with
// 5,000 each), 20,000 transactions, interactions, referrals and keys, and
// checks that every hot statement uses the index it was written for, with
// the plan PostgreSQL picks for the actual values (custom) and the one a
// prepared statement may settle on (generic; the ingestion writes are sent
// unnamed and always planned custom, but should not fall apart either).
// Run with -v to see the plans.
func TestPlans(t *testing.T) {
	if testing.Short() {
		t.Skip("seeds 30,000 customers")
	}
	t.Parallel()
	s := openTest(t)
	ctx := t.Context()
	now := time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)
	rng := rand.New(rand.NewPCG(1, 1))

	var tenant domain.Tenant
	var ids, exts []string
	for n, size := range []int{20_000, 5_000, 5_000} {
		tn := domain.Tenant{ID: domain.NewID(), Name: fmt.Sprintf("t%d", n), CreateTime: now}
		if err := s.CreateTenant(ctx, tn); err != nil {
			t.Fatal(err)
		}
		for start := 0; start < size; start += domain.MaxBatch {
			var cs []domain.Customer
			for i := start; i < start+domain.MaxBatch && i < size; i++ {
				cs = append(cs, domain.Customer{ID: domain.NewID(), ExternalID: fmt.Sprintf("crm-%d", i), Kind: domain.KindCustomer,
					DisplayName: fmt.Sprintf("Customer %d", rng.IntN(5000)), Country: []string{"PL", "DE", "FR", "GB"}[rng.IntN(4)]})
			}
			out, err := s.UpsertCustomers(ctx, tn.ID, cs, now.Add(time.Duration(start)*time.Second))
			if err != nil {
				t.Fatal(err)
			}
			if n == 0 {
				for _, o := range out {
					ids, exts = append(ids, o.Customer.ID), append(exts, o.Customer.ExternalID)
				}
			}
		}
		if n == 0 {
			tenant = tn
		}
	}
	for b := range 40 {
		var txs []domain.Transaction
		var its []domain.Interaction
		var rs []domain.Referral
		for i := range 500 {
			c := rng.IntN(len(ids))
			at := now.Add(time.Duration(rng.IntN(365*24)) * time.Hour)
			txs = append(txs, domain.Transaction{ID: domain.NewID(), ExternalID: fmt.Sprintf("tx-%d-%d", b, i), Customer: domain.CustomerRef{ID: ids[c]},
				Kind: domain.TxOrder, Amount: domain.Money(rng.IntN(100_000)), OccurredAt: at})
			its = append(its, domain.Interaction{ID: domain.NewID(), ExternalID: fmt.Sprintf("it-%d-%d", b, i), Customer: domain.CustomerRef{ID: ids[c]},
				Type: domain.InteractionCall, OccurredAt: at})
			if d := rng.IntN(len(ids)); d != c {
				rs = append(rs, domain.Referral{ID: domain.NewID(), ExternalID: fmt.Sprintf("rf-%d-%d", b, i), Referrer: domain.CustomerRef{ID: ids[c]},
					Referred: domain.CustomerRef{ID: ids[d]}, OccurredAt: at})
			}
		}
		if _, err := s.RecordTransactions(ctx, tenant.ID, txs, domain.RecordOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.RecordInteractions(ctx, tenant.ID, its, domain.RecordOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.RecordReferrals(ctx, tenant.ID, rs, domain.RecordOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	// 2,000 keys of 40 tenants, 50 each.
	keyTenants := []string{tenant.ID}
	for i := range 39 {
		tn := domain.Tenant{ID: domain.NewID(), Name: fmt.Sprintf("keys-%d", i), CreateTime: now}
		if err := s.CreateTenant(ctx, tn); err != nil {
			t.Fatal(err)
		}
		keyTenants = append(keyTenants, tn.ID)
	}
	for i := range 2000 {
		owner := keyTenants[i%len(keyTenants)]
		k, _ := domain.NewAPIKey(owner, fmt.Sprint(i), domain.RoleIngest, now.Add(time.Duration(i)*time.Minute))
		if err := s.CreateAPIKey(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.pool.Exec(ctx, "ANALYZE"); err != nil {
		t.Fatal(err)
	}

	// A batch references a small share of a tenant's customers: 50 of
	// 20,000 here. (With 500 of 20,000 the planner rightly prefers to read
	// the whole 30,000-row table; it switches to the indexes as tenants
	// grow, see BenchmarkRecordTransactions.)
	someIDs, someExts := ids[:50], exts[500:550]
	txIDs := make([]string, 500)
	for i := range txIDs {
		txIDs[i] = domain.NewID()
	}
	sc := scope{tenant: tenant.ID}
	plans := []plan{
		{"get customer by id", sc, qGetCustomerByID, []any{tenant.ID, ids[7]}, []string{"customers_pkey", "assessments_pkey"}, ""},
		{"get customer by external id", sc, qGetCustomerByExternal, []any{tenant.ID, exts[7]}, []string{"customers_external_id_"}, ""},
		{"get customer by both", sc, qGetCustomerByBoth, []any{tenant.ID, ids[7], exts[7]}, []string{"customers_pkey|customers_external_id_"}, ""},
		{"resolve a batch's customers", sc, qResolveCustomers, []any{tenant.ID, someIDs, someExts}, []string{"customers_pkey", "customers_external_id_"}, ""},
		{"lock customers to upsert", sc, qLockByExternal, []any{tenant.ID, someExts}, []string{"customers_external_id_"}, ""},
		{"list transactions", sc, qListTransactions, []any{tenant.ID, ids[7]}, []string{"transactions_customer"}, ""},
		{"get key", authScope, qGetKey, []any{"abc"}, []string{"api_keys_pkey"}, ""},
		{"list keys", sc, qListKeys, []any{tenant.ID}, []string{"api_keys_tenant_create_time"}, ""},
		{"referred by", sc, qReferredBy, []any{tenant.ID, someIDs}, []string{"referrals_referred", "customers_pkey"}, ""},
		{"lock referral parties", sc, qLockReferralParties, []any{tenant.ID, ids[7]}, []string{"customers_pkey", "referrals_referrer", "referrals_referred"}, ""},
		{"unrefer by", sc, qUnreferBy, []any{tenant.ID, ids[7]}, []string{"referrals_referrer", "referrals_referred"}, ""},
		{"unrefer given", sc, qUnreferGiven, []any{tenant.ID, ids[7]}, []string{"referrals_referred", "customers_pkey"}, ""},
		{"record transactions", sc, qRecordTransactions, []any{tenant.ID, txIDs, exts[:500], ids[:500], repeat("order", 500),
			make([]int64, 500), make([]*int64, 500), make([]int64, 500), repeat(now, 500), distinct(ids[:500])},
			// The gap statistics computed once, not once per customer.
			[]string{"customers_pkey", "purchase_days_pkey", "CTE gaps", "CTE first_days"}, ""},
		{"record interactions", sc, qRecordInteractions, []any{tenant.ID, txIDs, exts[:500], ids[:500], repeat("call", 500),
			repeat("", 500), repeat("", 500), repeat(now, 500), distinct(ids[:500])}, []string{"customers_pkey"}, ""},
		// A resent batch's check of its known items (500 recorded before).
		{"check resent transactions", sc, qReusedTransaction, []any{tenant.ID, prefixed("tx-3-", 500), ids[:500], repeat("order", 500),
			make([]int64, 500), make([]*int64, 500), make([]int64, 500), repeat(now, 500)}, []string{"transactions_tenant_id_external_id_key"}, ""},
		{"check resent interactions", sc, qReusedInteraction, []any{tenant.ID, prefixed("it-3-", 500), ids[:500], repeat("call", 500),
			repeat("", 500), repeat("", 500), repeat(now, 500)}, []string{"interactions_tenant_id_external_id_key"}, ""},
		{"check resent referrals", sc, qReusedReferral, []any{tenant.ID, prefixed("rf-3-", 500), ids[:500], ids[500:1000],
			repeat(now, 500)}, []string{"referrals_tenant_id_external_id_key"}, ""},
	}
	var replace upsertArrays
	for i := range 50 {
		c := domain.Customer{ExternalID: exts[i], Kind: domain.KindLead, DisplayName: "changed"}
		if err := replace.add(ids[i], &c); err != nil {
			t.Fatal(err)
		}
	}
	plans = append(plans,
		plan{"replace customers", sc, qReplaceCustomers, replace.args(tenant.ID, sortTime(now)), []string{"customers_pkey"}, ""},
		plan{"insert customers", sc, qInsertCustomers, replace.args(tenant.ID, sortTime(now)), []string{"customers_external_id_key"}, ""},
	)
	cursors := map[string]any{"create_time": now.Add(time.Hour), "update_time": now.Add(time.Hour), "display_name": "Customer 2500",
		"external_id": "crm-5000", "last_purchase_time": now.Add(100 * 24 * time.Hour), "total_spend": domain.Money(50_000), "orders": int64(1)}
	for field, v := range cursors {
		for _, desc := range []bool{false, true} {
			for _, after := range []*domain.Cursor{nil, {Value: v, ID: ids[9]}} {
				q := domain.CustomerQuery{Order: domain.Order{Field: field, Desc: desc}, After: after, Limit: 51}
				sql, args := listQuery(tenant.ID, q)
				plans = append(plans, plan{fmt.Sprintf("list by %s desc=%v after=%v", field, desc, after != nil), sc, sql, args, []string{"customers_" + field}, ""})
			}
		}
	}
	sql, args := listQuery(tenant.ID, domain.CustomerQuery{Filter: domain.Filter{{Field: "country", Op: domain.OpEq, Value: "PL"}}, Order: domain.Order{Field: "create_time"}, Limit: 51})
	plans = append(plans, plan{"list PL customers by create time", sc, sql, args, []string{"customers_create_time"}, ""})
	plans = append(plans, assessmentPlans(t, s, tenant.ID, ids, now)...)
	plans = append(plans, listRelationPlans(t, s, tenant.ID, ids, now)...)

	for _, mode := range []string{"force_custom_plan", "force_generic_plan"} {
		for _, p := range plans {
			text := explain(t, s, p.scope, mode, p.setup, p.sql, p.args)
			t.Logf("%s (%s):\n%s", p.name, mode, text)
			for _, idx := range p.uses {
				if !slices.ContainsFunc(strings.Split(idx, "|"), func(name string) bool { return strings.Contains(text, name) }) {
					t.Errorf("%s (%s): the plan does not use %s*:\n%s", p.name, mode, idx, text)
				}
			}
			for _, line := range strings.Split(text, "\n") {
				if strings.Contains(line, "Seq Scan on") && !strings.Contains(line, "Function Scan") {
					t.Errorf("%s (%s): sequential scan: %s", p.name, mode, strings.TrimSpace(line))
				}
			}
		}
	}
}

// plan is a statement whose plan TestPlans checks.
type plan struct {
	name  string
	scope scope
	sql   string
	args  []any
	uses  []string // every index the plan must name ("a|b": either)
	setup string   // a statement the transaction runs first
}

// prefixed returns prefix+"0" … prefix+(n-1).
func prefixed(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprint(prefix, i)
	}
	return out
}

func repeat[T any](v T, n int) []T {
	out := make([]T, n)
	for i := range out {
		out[i] = v
	}
	return out
}

// explain returns the plan of sql with args, in scope, after setup (if
// any) in the same transaction. In mode
// force_generic_plan it prepares the statement and explains its execution,
// which shows the plan a prepared statement may settle on (pgx prepares
// every statement), with the parameters as $n.
func explain(t *testing.T, s *Store, sc scope, mode, setup, sql string, args []any) string {
	t.Helper()
	ctx := context.Background()
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck
	b := &pgx.Batch{}
	sc.queue(b)
	if setup != "" {
		b.Queue(setup)
	}
	// After setup, which may choose a mode itself (qSegmentPlan).
	b.Queue("SELECT set_config('plan_cache_mode', $1, true)", mode)
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		t.Fatal(err)
	}
	var rows pgx.Rows
	if mode == "force_generic_plan" {
		// EXECUTE's arguments cannot be bound parameters: pgx writes
		// them into the text (simple protocol).
		if _, err := tx.Exec(ctx, "PREPARE plan_check AS "+sql, pgx.QueryExecModeSimpleProtocol); err != nil {
			t.Fatalf("prepare %q: %v", sql, err)
		}
		defer conn.Exec(ctx, "DEALLOCATE plan_check") //nolint:errcheck
		params := make([]string, len(args))
		for i := range params {
			params[i] = fmt.Sprintf("$%d", i+1)
		}
		rows, _ = tx.Query(ctx, "EXPLAIN EXECUTE plan_check("+strings.Join(params, ", ")+")", append([]any{pgx.QueryExecModeSimpleProtocol}, args...)...)
	} else {
		rows, _ = tx.Query(ctx, "EXPLAIN "+sql, args...)
	}
	var lines []string
	var line string
	if _, err := pgx.ForEachRow(rows, []any{&line}, func() error { lines = append(lines, line); return nil }); err != nil {
		t.Fatalf("explain %q: %v", sql, err)
	}
	return strings.Join(lines, "\n")
}
