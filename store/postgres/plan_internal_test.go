package postgres

import (
	"fmt"
	"testing"
	"time"

	"github.com/potentialhq/potential/domain"
	"github.com/potentialhq/potential/store/pgtest"
)

// TestPointReadsPlanOnce reads one customer's assessment inputs and
// segment facts ten times each, as every GetCustomerAssessment does, on a
// store of one connection, and requires PostgreSQL to have planned each
// prepared statement once (a generic plan), not at every execution (a
// custom plan each time, which cost more than executing them; see
// qPointPlan).
func TestPointReadsPlanOnce(t *testing.T) {
	t.Parallel()
	url := pgtest.NewDatabase(t, MigrationsHash(), Migrate)
	s, err := Open(t.Context(), url+"&pool_max_conns=1")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	ctx := t.Context()
	now := time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC)
	tn := domain.Tenant{ID: domain.NewID(), Name: "point", CreateTime: now}
	if err := s.CreateTenant(ctx, tn); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i := range 200 {
		c := domain.Customer{ID: domain.NewID(), TenantID: tn.ID, ExternalID: fmt.Sprint(i), Kind: domain.KindCustomer, CreateTime: now, UpdateTime: now}
		if _, err := s.CreateCustomer(ctx, c); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, c.ID)
	}
	for i := range 10 {
		id := []string{ids[i*7]}
		if err := s.AssessmentInputs(ctx, tn.ID, id, now, func([]domain.AssessmentInput) error { return nil }); err != nil {
			t.Fatal(err)
		}
		if err := s.ReadSegmentFacts(ctx, tn.ID, id, now, func([]domain.SegmentFacts) error { return nil }); err != nil {
			t.Fatal(err)
		}
	}
	for name, sql := range map[string]string{"qInputsOf": qInputsOf, "qSegmentFacts": qSegmentFacts} {
		var generic, custom int64
		if err := s.pool.QueryRow(ctx, `SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE statement = $1`, sql).
			Scan(&generic, &custom); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if custom != 0 || generic != 10 {
			t.Errorf("%s: %d generic plans, %d custom; want 10 executions of one generic plan", name, generic, custom)
		}
	}
}
