package postgres

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/potentialhq/potential/domain"
	"github.com/potentialhq/potential/domain/rfm"
)

// assessmentPlans assesses the customers ids of tenant (20,000 in
// TestPlans) with varied values and returns the statements of assess.go
// whose plans TestPlans checks. The statements that read a whole tenant
// (qInputsAll, the summaries, the statistics) scan it by design and are
// not among them.
func assessmentPlans(t *testing.T, s *Store, tenant string, ids []string, now time.Time) []plan {
	t.Helper()
	ctx := t.Context()
	rng := rand.New(rand.NewPCG(3, 3))
	var as []domain.Assessment
	for _, id := range ids {
		cell := rfm.Cell{R: 1 + rng.IntN(5), F: 1 + rng.IntN(5), M: 1 + rng.IntN(5)}
		as = append(as, domain.Assessment{CustomerID: id, AssessTime: now, RFM: cell, Segment: cell.Segment(),
			PAlive: rng.Float64(), PredictedValue: domain.Money(rng.IntN(1_000_000)), ValueAtRisk: domain.Money(rng.IntN(500_000)),
			Churn: domain.ChurnLevel(rng.IntN(4)), Stage: domain.LifecycleStages[rng.IntN(len(domain.LifecycleStages))]})
	}
	for start := 0; start < len(as); start += 5000 {
		if err := s.PutAssessments(ctx, tenant, as[start:min(start+5000, len(as))]); err != nil {
			t.Fatal(err)
		}
	}
	for range 300 { // enough versions that reading the latest is worth an index
		if _, err := s.SaveValueModel(ctx, domain.ValueModel{TenantID: tenant, FitTime: now, ObservationEnd: now}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.pool.Exec(ctx, "ANALYZE"); err != nil {
		t.Fatal(err)
	}
	sc := scope{tenant: tenant}
	later := now.AddDate(1, 0, 0)
	// A quarter of the tenant in one call: the planner would read the
	// whole table, but for qBulkWrite.
	order, err := prepareAssessments(as[:5000])
	if err != nil {
		t.Fatal(err)
	}
	var a assessmentArrays
	for _, x := range order {
		a.add(x)
	}
	plans := []plan{
		{"get assessment", sc, qGetAssessment, []any{tenant, ids[7]}, []string{"assessments_pkey"}, ""},
		// The seeded interactions are of the year after now.
		{"inputs of a batch's customers", sc, qInputsOf, []any{tenant, distinct(ids[:50]), later.AddDate(0, 0, -120), later.AddDate(0, 0, -30), later},
			[]string{"customers_pkey", "assessments_pkey", "interactions_customer"}, ""},
		// The batch's range of ids bounds the scan of the primary key.
		{"put assessments", sc, qPutAssessments, []any{tenant, a.ids, a.times, a.versions, a.r, a.f, a.m, a.segment, a.historical, a.alive,
			a.purchases, a.spend, a.pred, a.risk, a.churn, a.reasons, a.stage, a.silence, a.cadence}, []string{"assessments_pkey", "customer_id >= "}, qBulkWrite},
		// The whole tenant, merged in id order (qMergePlan), never hashed,
		// without reading assessments.
		{"inputs of a tenant", sc, qInputsAll, []any{tenant, later.AddDate(0, 0, -120), later.AddDate(0, 0, -30), later},
			[]string{"Merge Left Join", "customers_pkey", "interactions_customer|interactions_occurred_at"}, qMergePlan},
		{"get value model", sc, qGetValueModel, []any{tenant}, []string{"value_models_pkey"}, ""},
		{"save value model", sc, qSaveValueModel, []any{tenant, now, now, "{}"}, []string{"value_models_pkey"}, ""},
		{"latest purchase", sc, qLastPurchase, []any{tenant}, []string{"customers_last_purchase_time"}, ""},
	}
	// p_alive has no index (see the migration): not checked.
	cursors := map[string]any{"predicted_value": domain.Money(500_000), "value_at_risk": domain.Money(1000)}
	for field, v := range cursors {
		for _, desc := range []bool{false, true} {
			for _, after := range []*domain.Cursor{nil, {Value: v, ID: ids[9]}} {
				q := domain.CustomerQuery{Order: domain.Order{Field: field, Desc: desc}, After: after, Limit: 51}
				sql, args := listQuery(tenant, q)
				plans = append(plans, plan{fmt.Sprintf("list by %s desc=%v after=%v", field, desc, after != nil), sc, sql, args,
					[]string{"assessments_" + field, "customers_pkey"}, ""})
			}
		}
	}
	sql, args := listQuery(tenant, domain.CustomerQuery{Filter: domain.Filter{{Field: "churn_level", Op: domain.OpEq, Value: "high"}},
		Order: domain.Order{Field: "value_at_risk", Desc: true}, Limit: 51})
	plans = append(plans, plan{"list high churn by value at risk", sc, sql, args, []string{"assessments_value_at_risk"}, ""})
	return plans
}
