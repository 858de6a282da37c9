package postgres

import (
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/potentialhq/potential/domain"
	"github.com/potentialhq/potential/store/pgtest"
)

// openTest opens a store on a new migrated database, closed when the
// test ends.
func openTest(t *testing.T) *Store {
	t.Helper()
	s, err := Open(t.Context(), pgtest.NewDatabase(t, MigrationsHash(), Migrate))
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

// TestSegmentBulkConcurrentChange changes a customer after a bulk run has
// read it and evaluates it again before the run commits: the run writes
// what its snapshot decided (the customer enters), the evaluation waits
// for the run's lock and then moves the customer out, so that the events
// are in that order and the membership is the evaluation's.
func TestSegmentBulkConcurrentChange(t *testing.T) {
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
	var bulkDone atomic.Bool
	evaluated := make(chan error, 1)
	reads := 0
	bulkAfterRead = func(tenantID string) {
		if tenantID != tn.ID {
			return
		}
		reads++
		// x leaves PL after the snapshot, and is evaluated again.
		c, err := s.GetCustomer(ctx, tn.ID, domain.CustomerRef{ID: ids[0]})
		if err != nil {
			t.Fatal(err)
		}
		c.Country, c.UpdateTime = "DE", now.Add(time.Minute)
		if _, err := s.UpdateCustomer(ctx, c); err != nil {
			t.Fatal(err)
		}
		go func() {
			err := s.EvaluateSegments(ctx, tn.ID, domain.SegmentRun{CustomerIDs: ids[:1], Now: now, Cause: "customer_changed"}, inPL)
			if err == nil && !bulkDone.Load() {
				err = fmt.Errorf("the evaluation ended before the bulk run committed")
			}
			evaluated <- err
		}()
		time.Sleep(200 * time.Millisecond) // the evaluation waits for the lock meanwhile
	}
	t.Cleanup(func() { bulkAfterRead = nil })
	run := domain.SegmentRun{All: true, SegmentIDs: []string{sg.ID}, Now: now, Cause: "segment_changed", KeepDue: true,
		Facts: domain.FactCountry}
	if err := s.EvaluateSegments(ctx, tn.ID, run, inPL); err != nil {
		t.Fatal(err)
	}
	bulkDone.Store(true)
	bulkAfterRead = nil
	if err := <-evaluated; err != nil {
		t.Fatal(err)
	}
	if reads != 1 {
		t.Fatalf("%d bulk reads", reads)
	}
	ms, err := s.ListSegmentMembers(ctx, tn.ID, sg.ID, "", 10)
	if err != nil || len(ms) != 0 {
		t.Fatalf("members = %+v, %v; want none", ms, err)
	}
	evs, err := s.ListSegmentEvents(ctx, tn.ID, domain.SegmentEventQuery{Limit: 10})
	if err != nil || len(evs) != 2 {
		t.Fatalf("events = %+v, %v; want two", evs, err)
	}
	for i, want := range []struct {
		kind  domain.SegmentEventKind
		cause string
	}{{domain.SegmentEntered, "segment_changed"}, {domain.SegmentExited, "customer_changed"}} {
		if e := evs[i]; e.CustomerID != ids[0] || e.Cursor != int64(i+1) || e.Kind != want.kind || e.Cause != want.cause {
			t.Errorf("event %d = %+v, want %v by %s", i, e, want.kind, want.cause)
		}
	}
}

// TestSegmentBulkChunks runs the same two bulk runs (a time-dependent rule
// populated, then every segment evaluated again 60 days later) on two tenants with the
// same customers: one evaluates batches of three customers and writes every
// few rows while it reads, the other writes at the end. Members, events and due times must be the same, and the
// events' cursors must follow each other without a gap.
func TestSegmentBulkChunks(t *testing.T) {
	t.Parallel()
	url := pgtest.NewDatabase(t, MigrationsHash(), Migrate)
	ctx := t.Context()
	now := time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)
	var customers []domain.Customer
	var interactions []domain.Interaction
	for i := range 60 {
		country := []string{"PL", "DE", "PL"}[i%3]
		customers = append(customers, domain.Customer{ID: domain.NewID(), ExternalID: fmt.Sprintf("c%d", i), Kind: domain.KindCustomer, Country: country})
		for j := range i % 4 {
			interactions = append(interactions, domain.Interaction{ID: domain.NewID(), ExternalID: fmt.Sprintf("i%d-%d", i, j),
				Customer: domain.CustomerRef{ExternalID: fmt.Sprintf("c%d", i)}, Type: domain.InteractionCall,
				OccurredAt: now.Add(-time.Duration(i*24+j*300) * time.Hour)})
		}
	}
	segID := domain.NewID()
	// In: a Polish customer with an interaction in the last 90 days; due
	// when the oldest of them leaves the window.
	decide := func(at time.Time) func(b *domain.SegmentBatch) ([]domain.SegmentDecision, error) {
		return func(b *domain.SegmentBatch) ([]domain.SegmentDecision, error) {
			var out []domain.SegmentDecision
			for _, f := range b.Facts {
				d := domain.SegmentDecision{CustomerID: f.Customer.ID}
				var in []time.Time
				for _, it := range f.RecentInteractions {
					if at.Sub(it) < domain.SegmentWindow && !it.After(at) {
						in = append(in, it)
					}
				}
				if f.Customer.Country == "PL" && len(in) > 0 {
					d.Members = []string{segID}
				}
				if len(in) > 0 {
					d.Due = in[0].Add(domain.SegmentWindow)
				}
				out = append(out, d)
			}
			return out, nil
		}
	}
	type state struct {
		members, events, due []string
	}
	read := func(s *Store, tenant string) state {
		var st state
		for _, q := range []struct {
			sql string
			out *[]string
		}{
			{`SELECT customer_id::text FROM segment_members WHERE tenant_id = $1 AND segment_id = $2 ORDER BY 1`, &st.members},
			{`SELECT cursor || ' ' || customer_id || ' ' || kind || ' ' || cause FROM segment_events WHERE tenant_id = $1 AND segment_id = $2 ORDER BY customer_id, cursor`, &st.events},
			{`SELECT customer_id || ' ' || due FROM segment_due WHERE tenant_id = $1 AND $2::uuid IS NOT NULL ORDER BY 1`, &st.due},
		} {
			err := s.tx(ctx, scope{tenant: tenant}, func(*pgx.Batch) {}, func(pgx.BatchResults) error { return nil }, func(tx pgx.Tx) error {
				rows, err := tx.Query(ctx, q.sql, tenant, segID)
				if err != nil {
					return err
				}
				*q.out, err = pgx.CollectRows(rows, pgx.RowTo[string])
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		return st
	}
	var states [2][]state
	var cursors [2][]int64
	for k, flush := range []int{3, 0} {
		s, err := Open(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		s.bulkBatch, s.bulkFlush = flush, flush
		tn := domain.Tenant{ID: domain.NewID(), Name: fmt.Sprintf("bulk %d", flush), CreateTime: now}
		if err := s.CreateTenant(ctx, tn); err != nil {
			t.Fatal(err)
		}
		if _, err := s.UpsertCustomers(ctx, tn.ID, customers, now); err != nil {
			t.Fatal(err)
		}
		if _, err := s.RecordInteractions(ctx, tn.ID, interactions, domain.RecordOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.CreateSegment(ctx, domain.Segment{ID: segID, TenantID: tn.ID, Name: "pl", Kind: domain.SegmentDynamic,
			Rule: `customer.country == "PL" && interactions.last_90_days > 0`, CreateTime: now}); err != nil {
			t.Fatal(err)
		}
		for i, at := range []time.Time{now, now.AddDate(0, 0, 60)} {
			// The first run evaluates the new segment (and so only adds due
			// times), the second every segment (and so moves and clears them).
			run := domain.SegmentRun{All: true, SegmentIDs: []string{segID}, Now: at, Cause: "run " + at.Format(time.DateOnly),
				Facts: domain.FactCountry | domain.FactInteractions | domain.FactEngagement | domain.FactPurchases}
			if i == 1 {
				run.SegmentIDs = nil
			}
			if err := s.EvaluateSegments(ctx, tn.ID, run, decide(at)); err != nil {
				t.Fatal(err)
			}
			states[k] = append(states[k], read(s, tn.ID))
		}
		evs, err := s.ListSegmentEvents(ctx, tn.ID, domain.SegmentEventQuery{Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range evs {
			cursors[k] = append(cursors[k], e.Cursor)
		}
	}
	for run := range 2 {
		a, b := states[0][run], states[1][run]
		if len(a.members) == 0 || len(a.due) == 0 {
			t.Fatalf("run %d: nothing written: %+v", run, a)
		}
		if !slices.Equal(a.members, b.members) || !slices.Equal(a.due, b.due) {
			t.Errorf("run %d: written in chunks %+v, at once %+v", run, a, b)
		}
		strip := func(evs []string) []string { // without the cursor
			out := make([]string, len(evs))
			for i, e := range evs {
				out[i] = e[strings.Index(e, " ")+1:]
			}
			return out
		}
		if !slices.Equal(strip(a.events), strip(b.events)) {
			t.Errorf("run %d: events in chunks %v, at once %v", run, a.events, b.events)
		}
	}
	if a, b := states[0], states[1]; len(a[1].events) <= len(a[0].events) || len(a[1].due) == len(a[0].due) && slices.Equal(a[1].due, a[0].due) {
		t.Errorf("the second run changed nothing: %+v, %+v", a, b)
	}
	for k := range 2 {
		for i, c := range cursors[k] {
			if c != int64(i+1) {
				t.Fatalf("cursors %v: not 1, 2, …", cursors[k])
			}
		}
	}
}
