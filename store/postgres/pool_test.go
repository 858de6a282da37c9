package postgres_test

import (
	"testing"

	"github.com/potentialhq/potential/store/postgres"
)

// TestPoolSize checks the pool's default size and that the connection
// string's pool_max_conns overrides it.
func TestPoolSize(t *testing.T) {
	t.Parallel()
	url := newDatabase(t)
	if got, want := open(t, url).PoolStat().MaxConns(), postgres.DefaultMaxConns(); got != want || want < 8 {
		t.Errorf("default pool: %d connections at most, want %d (at least 8)", got, want)
	}
	if got := open(t, url+"&pool_max_conns=3").PoolStat().MaxConns(); got != 3 {
		t.Errorf("pool_max_conns=3: %d connections at most", got)
	}
}
