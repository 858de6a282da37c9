package postgres

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/potentialhq/potential/domain"
)

// TestScoringPlans seeds a tenant with 20,000 customers, 60,000 events, a
// complaint each, qualification changes, a scoring model whose rules scored everyone, grades and grade
// changes (and a neighbour tenant with 5,000 customers), and checks that
// the scoring statements use the indexes they were written for and scan
// no table but the tenant's few rules. The reads of a scoring batch run
// with custom plans (qCustomPlans), for a batch of 1,000 consecutive
// customers (a whole-tenant run) and of 50 scattered ones (recording
// events); the other statements also with a generic plan. Run with -v to
// see the plans.
func TestScoringPlans(t *testing.T) {
	if testing.Short() {
		t.Skip("seeds 25,000 customers")
	}
	t.Parallel()
	s := openTest(t)
	ctx := t.Context()
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	rng := rand.New(rand.NewPCG(3, 3))
	var tenant domain.Tenant
	var ids []string
	for n, size := range []int{20_000, 5_000} {
		tn := domain.Tenant{ID: domain.NewID(), Name: fmt.Sprintf("t%d", n), CreateTime: now}
		if err := s.CreateTenant(ctx, tn); err != nil {
			t.Fatal(err)
		}
		svc := domain.NewService(s, func() time.Time { return now })
		actx := domain.WithPrincipal(ctx, domain.Principal{TenantID: tn.ID, KeyID: "plans", Role: domain.RoleAdmin})
		var cids []string
		for start := 0; start < size; start += domain.MaxBatch {
			var cs []domain.Customer
			for i := start; i < min(start+domain.MaxBatch, size); i++ {
				cs = append(cs, domain.Customer{ID: domain.NewID(), ExternalID: fmt.Sprintf("crm-%d", i), Kind: domain.KindCustomer})
			}
			out, err := s.UpsertCustomers(ctx, tn.ID, cs, now)
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range out {
				cids = append(cids, o.Customer.ID)
			}
		}
		for b := range size / 1000 {
			var txs []domain.Transaction
			var its []domain.Interaction
			var rs []domain.Referral
			for i := range 1000 {
				c := cids[rng.IntN(len(cids))]
				at := now.Add(-time.Duration(rng.IntN(365*24)) * time.Hour)
				txs = append(txs, domain.Transaction{ID: domain.NewID(), ExternalID: fmt.Sprintf("tx-%d-%d", b, i), Customer: domain.CustomerRef{ID: c},
					Kind: domain.TxOrder, Amount: domain.Money(rng.IntN(100_000_000)), OccurredAt: at})
				its = append(its, domain.Interaction{ID: domain.NewID(), ExternalID: fmt.Sprintf("it-%d-%d", b, i), Customer: domain.CustomerRef{ID: c},
					Type: domain.InteractionEmailClicked, OccurredAt: at})
				if d := cids[rng.IntN(len(cids))]; d != c && i%4 == 0 {
					rs = append(rs, domain.Referral{ID: domain.NewID(), ExternalID: fmt.Sprintf("rf-%d-%d", b, i), Referrer: domain.CustomerRef{ID: c},
						Referred: domain.CustomerRef{ID: d}, OccurredAt: at})
				}
			}
			if _, err := s.RecordTransactions(ctx, tn.ID, txs, domain.RecordOptions{}); err != nil {
				t.Fatal(err)
			}
			if _, err := s.RecordInteractions(ctx, tn.ID, its, domain.RecordOptions{}); err != nil {
				t.Fatal(err)
			}
			if _, err := s.RecordReferrals(ctx, tn.ID, rs, domain.RecordOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		// A complaint of every customer, most of them moved on once; a
		// qualification change of every fourth.
		err := s.batch(ctx, scope{tenant: tn.ID}, func(b *pgx.Batch) {
			b.Queue(`INSERT INTO feedback (tenant_id, id, external_id, customer_id, kind, occurred_at, create_time, update_time, status)
SELECT $1, gen_random_uuid(), 'f-' || c, c, 'complaint', $2, $2, $2, 'in_progress' FROM unnest($3::uuid[]) c`, tn.ID, sortTime(now), cids)
			b.Queue(`INSERT INTO complaint_transitions (tenant_id, feedback_id, seq, from_status, to_status, time)
SELECT $1, id, 1, 'open', 'in_progress', $2 FROM feedback WHERE tenant_id = $1`, tn.ID, sortTime(now))
		}, func(br pgx.BatchResults) error {
			for range 2 {
				if _, err := br.Exec(); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		var qs []domain.QualificationChange
		for i := 0; i < len(cids); i += 4 {
			qs = append(qs, domain.QualificationChange{ID: domain.NewID(), CustomerID: cids[i], At: now, Qualification: domain.Qualification{Need: "crm"}})
		}
		for start := 0; start < len(qs); start += 1000 {
			if _, err := s.RecordQualificationChanges(ctx, tn.ID, qs[start:min(start+1000, len(qs))]); err != nil {
				t.Fatal(err)
			}
		}
		m, err := svc.CreateScoringModel(actx, domain.ScoringModel{Name: "engagement"})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range []domain.ScoringRule{
			{ModelID: m.ID, Name: "Orders", EventKind: domain.EventKindOrder, Points: 50, HasValidity: true, Validity: 180 * 24 * time.Hour},
			{ModelID: m.ID, Name: "Clicks", EventKind: domain.EventKindEmailClicked, Points: 5, Cap: 20},
			{ModelID: m.ID, Name: "Referrals", EventKind: domain.EventKindReferralGiven, Points: 30},
		} {
			if _, err := svc.CreateScoringRule(actx, r); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := svc.UpdateGradingPolicy(actx, domain.GradingPolicy{Grades: []string{"A", "B", "C"}, EngagementWeight: 1,
			EngagementModelID: m.ID, EngagementTarget: 200, Cutoffs: []float64{60, 30}}, ""); err != nil {
			t.Fatal(err)
		}
		// Conversion scores of every third customer, as a training stores them.
		var scores []domain.LeadScore
		for i := 0; i < len(cids); i += 3 {
			scores = append(scores, domain.LeadScore{CustomerID: cids[i], Probability: float64(i%100) / 100, Band: domain.BandCold, FitID: "fit", At: now})
		}
		if err := s.ReplaceLeadScores(ctx, tn.ID, m.ID, scores); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			tenant, ids = tn, cids
		}
	}
	if _, err := s.pool.Exec(ctx, "ANALYZE"); err != nil {
		t.Fatal(err)
	}

	sorted := slices.Clone(ids)
	slices.Sort(sorted)
	consecutive := sorted[5000:6000]
	scattered := make([]string, 0, 50)
	for i := 0; i < len(sorted); i += len(sorted) / 50 {
		scattered = append(scattered, sorted[i])
	}
	scattered = scattered[:50]
	// A listed batch of recorded events: a thousand customers from all
	// over the tenant, for the reads of its events and ledgers.
	listed := slices.Clone(ids[:1000])
	slices.Sort(listed)
	sc := scope{tenant: tenant.ID}
	id := ids[7]
	var batchPlans []plan
	// Listed batches must look their customers up: a plan that reads the
	// tenant's rows with the list as a filter costs every batch the whole
	// tenant.
	listedPlans := map[string]bool{}
	for _, batch := range []struct {
		name   string
		ids    []string
		ranged bool
	}{{"1,000 consecutive", consecutive, true}, {"50 scattered", scattered, false}, {"1,000 scattered", listed, false}} {
		first, last := batchBounds(batch.ids, batch.ranged)
		args := []any{tenant.ID, batch.ids, first, last}
		events, ledgers := qScoringEvents, qScoringLedger
		if !batch.ranged {
			events, ledgers = qScoringEventsListed, qScoringLedgerListed
		}
		for _, p := range []struct {
			name string
			sql  string
			uses []string
		}{
			{"lock", qLockScoringCustomers, []string{"customers_pkey"}},
			{"customers", qScoringCustomers, []string{"customers_pkey", "assessments_pkey"}},
			{"events", events, []string{"transactions_customer", "interactions_customer", "referrals_referrer", "referrals_referred", "qualification_changes_customer"}},
			{"feedback", qScoringFeedback, []string{"feedback_customer"}},
			{"complaint transitions", qScoringTransitions, []string{"feedback_customer", "complaint_transitions_pkey"}},
			{"ledgers", ledgers, []string{"scoring_ledger_pkey"}},
			{"grades", qScoringGrades, []string{"customer_grades_pkey"}},
			{"lead scores", qScoringLeadScores, []string{"lead_conversion_scores_customer"}},
			{"delete ledger rows", qDeleteLedgerRows, []string{"scoring_ledger_pkey"}},
		} {
			if len(batch.ids) == 1000 && !batch.ranged && p.sql != qScoringEventsListed && p.sql != qScoringLedgerListed {
				// 5 % of this small tenant: scanning it is cheaper, as the
				// planner knows. The listed reads must look up even then.
				continue
			}
			a := args
			switch p.sql {
			case qDeleteLedgerRows:
				a = []any{tenant.ID, batch.ids, repeat(domain.NewID(), len(batch.ids)), repeat(domain.NewID(), len(batch.ids)), first, last}
			case qScoringEventsListed, qScoringLedgerListed:
				a = args[:2]
			}
			name := batch.name + ": " + p.name
			batchPlans = append(batchPlans, plan{name, sc, p.sql, a, p.uses, ""})
			listedPlans[name] = !batch.ranged
		}
	}
	plans := []plan{
		{"page customer ids", sc, qListCustomerIDs, []any{tenant.ID, sorted[100], 1000}, []string{"customers_pkey"}, ""},
		{"a customer's ledger", sc, qCustomerLedger, []any{tenant.ID, id}, []string{"scoring_ledger_pkey"}, ""},
		{"top grades", sc, qTopGrades, []any{tenant.ID, int32(0), 0.0, nil, 51}, []string{"customer_grades_rank"}, ""},
		{"top grades after", sc, qTopGrades, []any{tenant.ID, int32(1), 55.5, id, 51}, []string{"customer_grades_rank"}, ""},
		{"grade changes", sc, qListGradeChanges, []any{tenant.ID, nil, nil, 51}, []string{"grade_changes_time"}, ""},
		{"grade changes after", sc, qListGradeChanges, []any{tenant.ID, sortTime(now), id, 51}, []string{"grade_changes_time"}, ""},
		{"a customer's grade changes", sc, qListCustomerGradeChanges, []any{tenant.ID, id, nil, nil, 51}, []string{"grade_changes_customer"}, ""},
		{"grades of customers", sc, qCustomersGrades, []any{tenant.ID, scattered}, []string{"customer_grades_pkey"}, ""},
		{"latest qualifications", sc, qLatestQualifications, []any{tenant.ID, scattered}, []string{"customers_pkey", "qualification_changes_customer"}, ""},
		{"erase a customer's ledger", sc, qDeleteCustomerLedger, []any{tenant.ID, id}, []string{"scoring_ledger_pkey"}, ""},
		{"erase a customer's grade", sc, qDeleteCustomerGrade, []any{tenant.ID, id}, []string{"customer_grades_pkey"}, ""},
		{"erase a customer's grade changes", sc, qDeleteCustomerGradeChanges, []any{tenant.ID, id}, []string{"grade_changes_customer"}, ""},
	}
	// Tables a plan may scan: a tenant's handful of rules and models.
	small := []string{"scoring_rules", "scoring_models", "grading_policies"}
	check := func(p plan, mode string) {
		text := explain(t, s, p.scope, mode, p.setup, p.sql, p.args)
		t.Logf("%s (%s):\n%s", p.name, mode, text)
		for _, idx := range p.uses {
			if !strings.Contains(text, idx) {
				t.Errorf("%s (%s): the plan does not use %s:\n%s", p.name, mode, idx, text)
			}
		}
		for _, line := range strings.Split(text, "\n") {
			if listedPlans[p.name] && strings.Contains(line, "Filter:") && strings.Contains(line, "= ANY") {
				t.Errorf("%s (%s): the list is a filter: %s", p.name, mode, strings.TrimSpace(line))
			}
			if strings.Contains(line, "Seq Scan on") && !slices.ContainsFunc(small, func(table string) bool { return strings.Contains(line, "Seq Scan on "+table) }) {
				t.Errorf("%s (%s): sequential scan: %s", p.name, mode, strings.TrimSpace(line))
			}
		}
	}
	for _, p := range batchPlans {
		check(p, "force_custom_plan")
	}
	for _, mode := range []string{"force_custom_plan", "force_generic_plan"} {
		for _, p := range plans {
			check(p, mode)
		}
	}
}
