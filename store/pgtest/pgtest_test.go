package pgtest_test

import (
	"context"
	"sync/atomic"
	"testing"
	"testing/fstest"

	"github.com/jackc/pgx/v5"

	"github.com/potentialhq/potential/store/pgtest"
)

// selfTestHash names the template of these tests. It is fixed, not random, so
// that repeated runs against a long-lived server reuse one template instead of
// leaving a new one behind each time; bump it if createT changes.
const selfTestHash = "pgtest-selftest-v1"

// migrations counts createT's calls in this process.
var migrations atomic.Int32

// createT is a trivial migration standing in for store/postgres's.
func createT(ctx context.Context, connString string) error {
	migrations.Add(1)
	conn, err := pgx.Connect(ctx, connString)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, "CREATE TABLE t (x int)")
	return err
}

// connect opens a connection that is closed before NewDatabase's cleanup
// drops the database.
func connect(tb testing.TB, connString string) *pgx.Conn {
	tb.Helper()
	conn, err := pgx.Connect(tb.Context(), connString)
	if err != nil {
		tb.Fatalf("connect: %v", err)
	}
	tb.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func count(tb testing.TB, conn *pgx.Conn) int {
	tb.Helper()
	var n int
	if err := conn.QueryRow(tb.Context(), "SELECT count(*) FROM t").Scan(&n); err != nil {
		tb.Fatalf("count: %v", err)
	}
	return n
}

func TestNewDatabaseIsolatesTests(t *testing.T) {
	t.Parallel()
	urlA := pgtest.NewDatabase(t, selfTestHash, createT)
	urlB := pgtest.NewDatabase(t, selfTestHash, createT)
	if urlA == urlB {
		t.Fatalf("two databases share the URL %s", urlA)
	}
	a, b := connect(t, urlA), connect(t, urlB)

	if _, err := a.Exec(t.Context(), "INSERT INTO t (x) VALUES (1)"); err != nil {
		t.Fatalf("insert into a: %v", err)
	}
	if got := count(t, a); got != 1 {
		t.Errorf("a has %d rows, want 1", got)
	}
	if got := count(t, b); got != 0 {
		t.Errorf("b has %d rows, want 0: databases are not isolated", got)
	}
}

func TestNewDatabaseMigratesTemplateOnce(t *testing.T) {
	t.Parallel()
	for range 4 {
		t.Run("clone", func(t *testing.T) {
			t.Parallel()
			conn := connect(t, pgtest.NewDatabase(t, selfTestHash, createT))
			if got := count(t, conn); got != 0 {
				t.Errorf("fresh clone has %d rows, want 0", got)
			}
		})
	}
	t.Cleanup(func() {
		// Zero when an earlier run left the template on the server.
		if n := migrations.Load(); n > 1 {
			t.Errorf("migrate ran %d times for one hash, want at most 1", n)
		}
	})
}

func TestNewDatabaseNilMigrateIsEmpty(t *testing.T) {
	t.Parallel()
	conn := connect(t, pgtest.NewDatabase(t, "pgtest-selftest-empty-v1", nil))
	var n int
	err := conn.QueryRow(t.Context(),
		"SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").Scan(&n)
	if err != nil {
		t.Fatalf("count tables: %v", err)
	}
	if n != 0 {
		t.Errorf("empty database has %d tables, want 0", n)
	}
}

func TestHashFS(t *testing.T) {
	t.Parallel()
	base := fstest.MapFS{
		"migrations/0001_init.sql": {Data: []byte("CREATE TABLE a (x int);")},
		"migrations/0002_more.sql": {Data: []byte("CREATE TABLE b (x int);")},
	}
	edited := fstest.MapFS{
		"migrations/0001_init.sql": {Data: []byte("CREATE TABLE a (x bigint);")},
		"migrations/0002_more.sql": {Data: []byte("CREATE TABLE b (x int);")},
	}
	// Same bytes, split differently between path and contents.
	shifted := fstest.MapFS{
		"migrations/0001_init.sqlC": {Data: []byte("REATE TABLE a (x int);")},
		"migrations/0002_more.sql":  {Data: []byte("CREATE TABLE b (x int);")},
	}
	h := pgtest.HashFS(t, base)
	if again := pgtest.HashFS(t, base); again != h {
		t.Errorf("HashFS is not deterministic: %s then %s", h, again)
	}
	if pgtest.HashFS(t, edited) == h {
		t.Error("editing a migration did not change the hash")
	}
	if pgtest.HashFS(t, shifted) == h {
		t.Error("moving bytes between a path and its contents did not change the hash")
	}
}
