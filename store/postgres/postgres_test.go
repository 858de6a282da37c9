package postgres_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/potentialhq/potential/domain"
	"github.com/potentialhq/potential/store/pgtest"
	"github.com/potentialhq/potential/store/postgres"
	"github.com/potentialhq/potential/store/storetest"
)

// newDatabase returns the connection string of a fresh, migrated database.
func newDatabase(t testing.TB) string {
	t.Helper()
	return pgtest.NewDatabase(t, postgres.MigrationsHash(), postgres.Migrate)
}

// open opens a store on url, closed before the database is dropped.
func open(t testing.TB, url string) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), url)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// connect opens a plain connection, closed before the database is dropped.
func connect(t testing.TB, url string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// TestStore runs the conformance suite with every tenant's re-assessment a
// rewrite (a partition of its own, however small), so that the suite's
// ReassessAll runs take that path; PutAssessments, and the other tests of
// this package, keep the shared partition.
func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) domain.Store {
		s := open(t, newDatabase(t))
		s.SetRewriteMin(1)
		return s
	})
}

func TestMigrateTwice(t *testing.T) {
	t.Parallel()
	url := newDatabase(t) // migrated once, when the template was made
	for range 2 {
		if err := postgres.Migrate(t.Context(), url); err != nil {
			t.Fatalf("Migrate on a migrated database: %v", err)
		}
	}
	var n int
	if err := connect(t, url).QueryRow(t.Context(), "SELECT count(*) FROM schema_migrations").Scan(&n); err != nil || n != migrationFiles(t) {
		t.Fatalf("schema_migrations has %d rows (%v), want %d", n, err, migrationFiles(t))
	}
}

func TestMigrateConcurrently(t *testing.T) {
	t.Parallel()
	url := pgtest.NewDatabase(t, "potential-empty-v1", nil)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = postgres.Migrate(t.Context(), url)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("replica %d: %v", i, err)
		}
	}
	var n int
	if err := connect(t, url).QueryRow(t.Context(), "SELECT count(*) FROM schema_migrations").Scan(&n); err != nil || n != migrationFiles(t) {
		t.Fatalf("schema_migrations has %d rows (%v), want %d", n, err, migrationFiles(t))
	}
}

func TestMigrateRefusesAnEditedMigration(t *testing.T) {
	t.Parallel()
	url := newDatabase(t)
	if _, err := connect(t, url).Exec(t.Context(), "UPDATE schema_migrations SET checksum = 'edited'"); err != nil {
		t.Fatal(err)
	}
	if err := postgres.Migrate(t.Context(), url); err == nil {
		t.Fatal("Migrate accepted a migration whose applied checksum differs")
	}
}

// migrationFiles counts the migrations in migrations/: one row each in
// schema_migrations.
func migrationFiles(t testing.TB) int {
	t.Helper()
	files, err := filepath.Glob("migrations/*.sql")
	if err != nil || len(files) == 0 {
		t.Fatalf("no migrations found: %v", err)
	}
	return len(files)
}

func TestMigrationsHash(t *testing.T) {
	h := postgres.MigrationsHash()
	if len(h) != 64 || h != postgres.MigrationsHash() {
		t.Fatalf("MigrationsHash() = %q, want a stable hex SHA-256", h)
	}
}

// TestRowLevelSecurityEnabled checks that every table with a tenant, and
// the tenants themselves, have row-level security enabled and forced;
// partitioned ones (assessments) and their partitions too.
func TestRowLevelSecurityEnabled(t *testing.T) {
	t.Parallel()
	conn := connect(t, newDatabase(t))
	rows, _ := conn.Query(t.Context(), `
SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity,
       (SELECT count(*) FROM pg_policy p WHERE p.polrelid = c.oid)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
  AND (c.relname = 'tenants' OR EXISTS (
      SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped))
ORDER BY 1`)
	var name string
	var enabled, forced bool
	var policies int
	seen := map[string]bool{}
	_, err := pgx.ForEachRow(rows, []any{&name, &enabled, &forced, &policies}, func() error {
		seen[name] = true
		if !enabled || !forced || policies == 0 {
			t.Errorf("table %s: row security enabled %v, forced %v, %d policies", name, enabled, forced, policies)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"tenants", "api_keys", "customers", "transactions", "purchase_days", "interactions", "referrals",
		"value_models", "assessments", "assessments_shared", "lifecycle_transitions"} {
		if !seen[want] {
			t.Errorf("table %s is missing", want)
		}
	}
}

// TestRowLevelSecurityIsolates checks the policies themselves, as the
// tables' owner (whom FORCE subjects to them, like any role without
// BYPASSRLS): without a tenant every read fails, with one only its rows
// are visible, and the authentication scope reads tenants and keys but
// writes nothing.
func TestRowLevelSecurityIsolates(t *testing.T) {
	t.Parallel()
	url := newDatabase(t)
	s := open(t, url)
	ctx := t.Context()
	now := time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC)
	var tenants []domain.Tenant
	for _, name := range []string{"a", "b"} {
		tn := domain.Tenant{ID: domain.NewID(), Name: name, CreateTime: now}
		if err := s.CreateTenant(ctx, tn); err != nil {
			t.Fatal(err)
		}
		k, _ := domain.NewAPIKey(tn.ID, "key", domain.RoleAdmin, now)
		if err := s.CreateAPIKey(ctx, k); err != nil {
			t.Fatal(err)
		}
		c := domain.Customer{ID: domain.NewID(), TenantID: tn.ID, ExternalID: "c", Kind: domain.KindCustomer, CreateTime: now, UpdateTime: now}
		if _, err := s.CreateCustomer(ctx, c); err != nil {
			t.Fatal(err)
		}
		tx := domain.Transaction{ID: domain.NewID(), ExternalID: "t", Customer: domain.CustomerRef{ExternalID: "c"}, Kind: domain.TxOrder, Amount: 1, OccurredAt: now}
		if _, err := s.RecordTransactions(ctx, tn.ID, []domain.Transaction{tx}, domain.RecordOptions{}); err != nil {
			t.Fatal(err)
		}
		tenants = append(tenants, tn)
	}
	a, b := tenants[0], tenants[1]

	conn := connect(t, url)
	var privileged bool
	if err := conn.QueryRow(ctx, "SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user").Scan(&privileged); err != nil {
		t.Fatal(err)
	}
	if privileged {
		t.Skip("the test role bypasses row-level security")
	}
	// in runs statements in a transaction after setting app.<setting>.
	in := func(setting, value string, f func(tx pgx.Tx)) {
		t.Helper()
		tx, err := conn.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback(ctx) //nolint:errcheck
		if setting != "" {
			if _, err := tx.Exec(ctx, "SELECT set_config('app.'||$1, $2, true)", setting, value); err != nil {
				t.Fatal(err)
			}
		}
		f(tx)
	}
	count := func(tx pgx.Tx, table string) int {
		t.Helper()
		var n int
		if err := tx.QueryRow(ctx, "SELECT count(*) FROM "+pgx.Identifier{table}.Sanitize()).Scan(&n); err != nil {
			t.Fatalf("count %s: %v", table, err)
		}
		return n
	}
	tables := []string{"tenants", "api_keys", "customers", "transactions", "purchase_days", "interactions", "referrals"}
	for _, table := range tables {
		in("", "", func(tx pgx.Tx) {
			var n int
			err := tx.QueryRow(ctx, "SELECT count(*) FROM "+pgx.Identifier{table}.Sanitize()).Scan(&n)
			if err == nil || !strings.Contains(err.Error(), "no tenant") {
				t.Errorf("without a tenant, %s: %d rows, error %v; want the no-tenant error", table, n, err)
			}
		})
	}
	in("tenant_id", a.ID, func(tx pgx.Tx) {
		for table, want := range map[string]int{"tenants": 1, "api_keys": 1, "customers": 1, "transactions": 1, "purchase_days": 1} {
			if n := count(tx, table); n != want {
				t.Errorf("as tenant a, %s shows %d rows, want %d", table, n, want)
			}
		}
		tag, err := tx.Exec(ctx, "UPDATE customers SET display_name = 'x' WHERE tenant_id = $1", b.ID)
		if err != nil || tag.RowsAffected() != 0 {
			t.Errorf("as tenant a, updating b's customers: %v rows, %v", tag.RowsAffected(), err)
		}
		_, err = tx.Exec(ctx, "INSERT INTO customers (tenant_id, id, kind, create_time, update_time) VALUES ($1, $2, 'lead', now(), now())", b.ID, domain.NewID())
		var pe *pgconn.PgError
		if !errors.As(err, &pe) || pe.Code != "42501" {
			t.Errorf("as tenant a, inserting a customer of b: %v, want a row-level security violation", err)
		}
	})
	in("authenticating", "on", func(tx pgx.Tx) {
		for table, want := range map[string]int{"tenants": 2, "api_keys": 2, "customers": 0, "transactions": 0} {
			if n := count(tx, table); n != want {
				t.Errorf("authenticating, %s shows %d rows, want %d", table, n, want)
			}
		}
		tag, err := tx.Exec(ctx, "UPDATE api_keys SET name = 'x'")
		if err != nil || tag.RowsAffected() != 0 {
			t.Errorf("authenticating, updating keys: %v rows, %v", tag.RowsAffected(), err)
		}
	})
}
