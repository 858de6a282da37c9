package main

import (
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/potentialhq/potential/store/pgtest"
	"github.com/potentialhq/potential/store/postgres"
)

// TestRewriteMin checks that --rewrite-min reaches the PostgreSQL store
// and that a minimum below one is refused before anything starts.
func TestRewriteMin(t *testing.T) {
	dbURL := pgtest.NewDatabase(t, postgres.MigrationsHash(), postgres.Migrate)
	for _, n := range []int{1, postgres.DefaultRewriteMin, 123_456} {
		st, err := openStore(t.Context(), dbURL, false, n)
		if err != nil {
			t.Fatal(err)
		}
		got := st.(*postgres.Store).RewriteMin()
		st.Close()
		if got != n {
			t.Errorf("openStore with rewrite minimum %d: the store's is %d", n, got)
		}
	}
	err := runServe(t.Context(), []string{"--rewrite-min", "0"}, io.Discard, io.Discard)
	if !errors.Is(err, errUsage) || !strings.Contains(err.Error(), "rewrite-min") {
		t.Fatalf("serve --rewrite-min 0: %v, want a usage error naming rewrite-min", err)
	}
}
