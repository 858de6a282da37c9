package postgres

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/potentialhq/potential/domain"
	"github.com/potentialhq/potential/store/pgtest"
)

func openTest(t *testing.T) *Store {
	t.Helper()
	url := pgtest.NewDatabase(t, MigrationsHash(), Migrate)
	s, err := Open(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// TestSegmentBulkPlan seeds 5,000 customers with an interaction, a
// complaint-free feedback table and a segment, and checks that a bulk
// read of every kind scans each table once and joins by hash: no nested
// loop, which would probe an index once per customer.
func TestSegmentBulkPlan(t *testing.T) {
	if testing.Short() {
		t.Skip("seeds 5,000 customers")
	}
	t.Parallel()
	s := openTest(t)
	ctx := t.Context()
	now := time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)
	tn := domain.Tenant{ID: domain.NewID(), Name: "bulk", CreateTime: now}
	if err := s.CreateTenant(ctx, tn); err != nil {
		t.Fatal(err)
	}
	for start := 0; start < 5000; start += domain.MaxBatch {
		var cs []domain.Customer
		var its []domain.Interaction
		for i := start; i < start+domain.MaxBatch; i++ {
			cs = append(cs, domain.Customer{ID: domain.NewID(), ExternalID: fmt.Sprintf("crm-%d", i), Kind: domain.KindCustomer, Country: "PL"})
			its = append(its, domain.Interaction{ID: domain.NewID(), ExternalID: fmt.Sprintf("i-%d", i), Customer: domain.CustomerRef{ExternalID: fmt.Sprintf("crm-%d", i)},
				Type: domain.InteractionCall, OccurredAt: now.Add(-time.Duration(i%2000) * time.Hour)})
		}
		if _, err := s.UpsertCustomers(ctx, tn.ID, cs, now); err != nil {
			t.Fatal(err)
		}
		if _, err := s.RecordInteractions(ctx, tn.ID, its, domain.RecordOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	sg, err := s.CreateSegment(ctx, domain.Segment{ID: domain.NewID(), TenantID: tn.ID, Name: "all", Kind: domain.SegmentDynamic, Rule: "true", CreateTime: now})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.pool.Exec(ctx, "ANALYZE"); err != nil {
		t.Fatal(err)
	}
	sc := scope{tenant: tn.ID}
	for _, tc := range []struct {
		name      string
		need      domain.SegmentFactSet
		full, due bool
	}{
		{"country and interactions", domain.FactCountry | domain.FactInteractions | domain.FactEngagement | domain.FactPurchases, false, true},
		{"assessment", domain.FactAssessment | domain.FactPurchases, false, false},
		{"every fact", domain.AllSegmentFacts, false, true},
		{"whole customers", 0, true, true},
	} {
		sql, _ := qBulkFacts(tc.need, tc.full, tc.due, &bulkScanner{})
		for _, mode := range []string{"force_custom_plan", "force_generic_plan"} {
			text := explain(t, s, sc, mode, "", sql, []any{tn.ID, now, []string{sg.ID}})
			t.Logf("%s (%s):\n%s", tc.name, mode, text)
			if strings.Contains(text, "Nested Loop") {
				t.Errorf("%s (%s): a nested loop:\n%s", tc.name, mode, text)
			}
			if !strings.Contains(text, "Seq Scan on customers") {
				t.Errorf("%s (%s): customers not scanned once:\n%s", tc.name, mode, text)
			}
		}
	}
}

// TestSegmentBulkRereadsUnderLock changes a customer and evaluates it
// between a bulk run's read and its write: the run must not write what
// its snapshot decided (that the customer enters), but read again under
// the lock.
func TestSegmentBulkRereadsUnderLock(t *testing.T) {
	s := openTest(t)
	ctx := t.Context()
	now := time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)
	tn := domain.Tenant{ID: domain.NewID(), Name: "bulk", CreateTime: now}
	if err := s.CreateTenant(ctx, tn); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, ext := range []string{"x", "y"} {
		country := map[string]string{"x": "PL", "y": "DE"}[ext]
		c, err := s.CreateCustomer(ctx, domain.Customer{ID: domain.NewID(), TenantID: tn.ID, ExternalID: ext, Kind: domain.KindCustomer,
			Country: country, CreateTime: now, UpdateTime: now})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, c.ID)
	}
	sg, err := s.CreateSegment(ctx, domain.Segment{ID: domain.NewID(), TenantID: tn.ID, Name: "pl", Kind: domain.SegmentDynamic,
		Rule: `customer.country == "PL"`, CreateTime: now})
	if err != nil {
		t.Fatal(err)
	}
	inPL := func(b *domain.SegmentBatch) ([]domain.SegmentDecision, error) {
		var out []domain.SegmentDecision
		for _, f := range b.Facts {
			d := domain.SegmentDecision{CustomerID: f.Customer.ID}
			if f.Customer.Country == "PL" {
				d.Members = []string{sg.ID}
			}
			out = append(out, d)
		}
		return out, nil
	}
	reads := 0
	bulkAfterRead = func(tenantID string) {
		if tenantID != tn.ID {
			return
		}
		reads++
		// x leaves PL and is evaluated (staying out) after the snapshot.
		c, err := s.GetCustomer(ctx, tn.ID, domain.CustomerRef{ID: ids[0]})
		if err != nil {
			t.Fatal(err)
		}
		c.Country, c.UpdateTime = "DE", now.Add(time.Minute)
		if _, err := s.UpdateCustomer(ctx, c); err != nil {
			t.Fatal(err)
		}
		if err := s.EvaluateSegments(ctx, tn.ID, domain.SegmentRun{CustomerIDs: ids[:1], Now: now, Cause: "customer_changed"}, inPL); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { bulkAfterRead = nil })
	run := domain.SegmentRun{All: true, SegmentIDs: []string{sg.ID}, Now: now, Cause: "segment_changed", KeepDue: true,
		Facts: domain.FactCountry}
	if err := s.EvaluateSegments(ctx, tn.ID, run, inPL); err != nil {
		t.Fatal(err)
	}
	bulkAfterRead = nil
	if reads != 1 {
		t.Fatalf("%d bulk reads before writing", reads)
	}
	ms, err := s.ListSegmentMembers(ctx, tn.ID, sg.ID, "", 10)
	if err != nil || len(ms) != 0 {
		t.Fatalf("members = %+v, %v; want none", ms, err)
	}
	evs, err := s.ListSegmentEvents(ctx, tn.ID, domain.SegmentEventQuery{Limit: 10})
	if err != nil || len(evs) != 0 {
		t.Fatalf("events = %+v, %v; want none", evs, err)
	}
	// Without a write in between, the snapshot's decisions are written.
	c, err := s.GetCustomer(ctx, tn.ID, domain.CustomerRef{ID: ids[1]})
	if err != nil {
		t.Fatal(err)
	}
	c.Country, c.UpdateTime = "PL", now.Add(time.Minute)
	if _, err := s.UpdateCustomer(ctx, c); err != nil {
		t.Fatal(err)
	}
	if err := s.EvaluateSegments(ctx, tn.ID, run, inPL); err != nil {
		t.Fatal(err)
	}
	if evs, err = s.ListSegmentEvents(ctx, tn.ID, domain.SegmentEventQuery{Limit: 10}); err != nil || len(evs) != 1 ||
		evs[0].CustomerID != ids[1] || evs[0].Cursor != 1 || evs[0].Kind != domain.SegmentEntered || evs[0].Cause != "segment_changed" {
		t.Errorf("second run's events = %+v, %v", evs, err)
	}
}
