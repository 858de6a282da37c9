package postgres

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/potentialhq/potential/domain"
	"github.com/potentialhq/potential/store/pgtest"
)

// TestConversionPlans seeds two tenants (10,000 and 5,000 leads, each with
// explicit outcomes for a fifth, stored scores for the rest, and a
// qualification change each) and checks that the conversion statements
// that address customers or a page use the indexes they were written for,
// with custom and generic plans, without a sequential scan. The statements
// that read a whole tenant (every outcome, every qualification change) are
// not checked: scanning is what they do. Run with -v to see the plans.
func TestConversionPlans(t *testing.T) {
	if testing.Short() {
		t.Skip("seeds 15,000 leads")
	}
	t.Parallel()
	s, err := Open(t.Context(), pgtest.NewDatabase(t, MigrationsHash(), Migrate))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	ctx := t.Context()
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	var tenant domain.Tenant
	var ids []string
	for n, size := range []int{10_000, 5_000} {
		tn := domain.Tenant{ID: domain.NewID(), Name: fmt.Sprintf("t%d", n), CreateTime: start}
		if err := s.CreateTenant(ctx, tn); err != nil {
			t.Fatal(err)
		}
		var cids []string
		for from := 0; from < size; from += domain.MaxBatch {
			var cs []domain.Customer
			for i := from; i < from+domain.MaxBatch && i < size; i++ {
				cs = append(cs, domain.Customer{ID: domain.NewID(), ExternalID: fmt.Sprintf("lead-%d", i), Kind: domain.KindLead})
			}
			out, err := s.UpsertCustomers(ctx, tn.ID, cs, start)
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range out {
				cids = append(cids, o.Customer.ID)
			}
		}
		var scores []domain.LeadScore
		var quals []domain.QualificationChange
		for i, id := range cids {
			quals = append(quals, domain.QualificationChange{ID: domain.NewID(), CustomerID: id, At: start, Qualification: domain.Qualification{Need: "crm"}})
			if i%5 == 0 {
				continue
			}
			p := float64(i%1000) / 1000
			scores = append(scores, domain.LeadScore{CustomerID: id, Probability: p, Band: domain.BandOf(p), FitID: "f", At: start})
		}
		for from := 0; from < len(cids); from += domain.MaxBatch {
			var os []domain.LeadOutcome
			for i := from; i < from+domain.MaxBatch && i < len(cids); i += 5 {
				os = append(os, domain.LeadOutcome{CustomerID: cids[i], Result: domain.LeadLost, At: start})
			}
			if err := s.SetLeadOutcomes(ctx, tn.ID, os); err != nil {
				t.Fatal(err)
			}
			if _, err := s.RecordQualificationChanges(ctx, tn.ID, quals[from:min(len(quals), from+domain.MaxBatch)]); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.ReplaceLeadScores(ctx, tn.ID, "", scores); err != nil {
			t.Fatal(err)
		}
		if err := s.SaveConversionState(ctx, domain.ConversionState{TenantID: tn.ID, WindowDays: 90, ObservationDays: 7, LastAttempt: domain.ConversionAttempt{Time: start}}); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			tenant, ids = tn, cids
		}
	}
	if _, err := s.pool.Exec(ctx, "ANALYZE"); err != nil {
		t.Fatal(err)
	}
	sc := scope{tenant: tenant.ID}
	type plan struct {
		name string
		sql  string
		args []any
		uses []string
		// scan: a sequential scan is the right plan (a table of one row
		// per tenant and scoring model; a delete of most of the table).
		scan bool
	}
	plans := []plan{
		{"outcomes of a lead", qLeadOutcomes, []any{tenant.ID, ids[:1]}, []string{"lead_outcomes_pkey"}, false},
		{"qualification history of a lead", qQualifications, []any{tenant.ID, ids[7:8]}, []string{"qualification_changes_customer"}, false},
		// A batch of 20: with a batch that is a large share of a small
		// table (1,000 of 15,000 customers) PostgreSQL rightly scans it.
		{"customers of an outcome batch", qExistingCustomers, []any{tenant.ID, ids[:20]}, []string{"customers_pkey"}, false},
		{"set outcomes", qSetLeadOutcomes, []any{tenant.ID, ids[:2], []string{"won", "lost"}, []time.Time{start, start}}, []string{"lead_outcomes_pkey"}, false},
		{"conversion state", qGetConversionState, []any{tenant.ID, ""}, nil, true},
		{"top leads, first page", qTopLeadScores, []any{tenant.ID, "", 51}, []string{"lead_conversion_scores_rank"}, false},
		{"top leads, later page", qTopLeadScoresAfter, []any{tenant.ID, "", 51, 0.5, ids[3]}, []string{"lead_conversion_scores_rank", "AND (probability <= "}, false},
		{"delete the scores", qDeleteLeadScores, []any{tenant.ID, ""}, nil, true},
	}
	for _, mode := range []string{"force_custom_plan", "force_generic_plan"} {
		for _, p := range plans {
			text := explain(t, s, sc, mode, "", p.sql, p.args)
			t.Logf("%s (%s):\n%s", p.name, mode, text)
			for _, idx := range p.uses {
				if !slices.ContainsFunc(strings.Split(idx, "|"), func(name string) bool { return strings.Contains(text, name) }) {
					t.Errorf("%s (%s): the plan does not use %s:\n%s", p.name, mode, idx, text)
				}
			}
			for _, line := range strings.Split(text, "\n") {
				if strings.Contains(line, "Seq Scan on") && !p.scan {
					t.Errorf("%s (%s): sequential scan: %s", p.name, mode, strings.TrimSpace(line))
				}
			}
		}
	}
}
