package postgres

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/potentialhq/potential/domain"
)

// TestSegmentPlans seeds two tenants (10,000 and 5,000 customers, an
// interaction each, a segment with half of them, their events and due
// times) and checks that the segment statements use the indexes they were
// written for, with custom and generic plans, and never scan a table.
func TestSegmentPlans(t *testing.T) {
	if testing.Short() {
		t.Skip("seeds 15,000 customers")
	}
	t.Parallel()
	s := openTest(t)
	ctx := t.Context()
	now := time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)
	var tenant domain.Tenant
	var ids []string
	var segID string
	for n, size := range []int{10_000, 5_000} {
		tn := domain.Tenant{ID: domain.NewID(), Name: fmt.Sprintf("t%d", n), CreateTime: now}
		if err := s.CreateTenant(ctx, tn); err != nil {
			t.Fatal(err)
		}
		var cids []string
		for start := 0; start < size; start += domain.MaxBatch {
			var cs []domain.Customer
			var its []domain.Interaction
			for i := start; i < start+domain.MaxBatch && i < size; i++ {
				cs = append(cs, domain.Customer{ID: domain.NewID(), ExternalID: fmt.Sprintf("crm-%d", i), Kind: domain.KindCustomer})
				its = append(its, domain.Interaction{ID: domain.NewID(), ExternalID: fmt.Sprintf("i-%d", i), Customer: domain.CustomerRef{ExternalID: fmt.Sprintf("crm-%d", i)},
					Type: domain.InteractionCall, OccurredAt: now.Add(-time.Duration(i%2000) * time.Hour)})
			}
			out, err := s.UpsertCustomers(ctx, tn.ID, cs, now)
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range out {
				cids = append(cids, o.Customer.ID)
			}
			if _, err := s.RecordInteractions(ctx, tn.ID, its, domain.RecordOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		sg, err := s.CreateSegment(ctx, domain.Segment{ID: domain.NewID(), TenantID: tn.ID, Name: "half", Kind: domain.SegmentDynamic, Rule: "true", CreateTime: now})
		if err != nil {
			t.Fatal(err)
		}
		err = s.EvaluateSegments(ctx, tn.ID, domain.SegmentRun{All: true, Now: now, Cause: "seed"}, func(b *domain.SegmentBatch) ([]domain.SegmentDecision, error) {
			var out []domain.SegmentDecision
			for i, f := range b.Facts {
				d := domain.SegmentDecision{CustomerID: f.Customer.ID, Due: now.Add(time.Duration(i) * time.Minute)}
				if i%2 == 0 {
					d.Members = []string{sg.ID}
				}
				out = append(out, d)
			}
			return out, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			tenant, ids, segID = tn, cids, sg.ID
		}
	}
	if _, err := s.pool.Exec(ctx, "ANALYZE"); err != nil {
		t.Fatal(err)
	}
	sc := scope{tenant: tenant.ID}
	batch := slices.Sorted(slices.Values(ids[:2000]))
	plans := []struct {
		name string
		sql  string
		args []any
		uses []string
	}{
		{"facts of a batch", qSegmentFacts, []any{tenant.ID, batch, now}, []string{"customers_pkey", "interactions_customer", "lead_conversion_scores_customer", "grading_policies_pkey"}},
		{"members of a batch", qMembersOf, []any{tenant.ID, batch, []string{segID}}, []string{"segment_members_pkey|segment_members_customer"}},
		{"list members", qListMembers, []any{tenant.ID, segID, ids[5], 51}, []string{"segment_members_pkey"}},
		{"a customer's segments", qCustomerSegments, []any{tenant.ID, ids[5]}, []string{"segment_members_customer"}},
		{"events after a cursor", qListEvents, []any{tenant.ID, int64(3000), 500}, []string{"segment_events_pkey"}},
		{"events of a segment", qEventsOfSegs, []any{tenant.ID, int64(3000), 500, []string{segID}}, []string{"segment_events_segment|segment_events_pkey"}},
		{"a customer's history", qEventsOfCustomer, []any{tenant.ID, int64(0), 50, ids[7]}, []string{"segment_events_customer"}},
		{"due customers", qDueCustomers, []any{tenant.ID, now.Add(time.Hour), 5000}, []string{"segment_due_time"}},
	}
	for _, mode := range []string{"force_custom_plan", "force_generic_plan"} {
		for _, p := range plans {
			text := explain(t, s, sc, mode, qSegmentPlan, p.sql, p.args)
			t.Logf("%s (%s):\n%s", p.name, mode, text)
			for _, idx := range p.uses {
				if !slices.ContainsFunc(strings.Split(idx, "|"), func(name string) bool { return strings.Contains(text, name) }) {
					t.Errorf("%s (%s): the plan does not use %s:\n%s", p.name, mode, idx, text)
				}
			}
			for _, line := range strings.Split(text, "\n") {
				if strings.Contains(line, "Seq Scan on") {
					t.Errorf("%s (%s): sequential scan: %s", p.name, mode, strings.TrimSpace(line))
				}
			}
		}
	}
}
