package postgres

import (
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/potentialhq/potential/domain"
)

// TestTransient checks which failures the store retries itself (nothing of
// the attempt can have committed) and that the others it cannot retry
// safely become ErrUnavailable for the caller to resend with the same ids.
func TestTransient(t *testing.T) {
	for _, tc := range []struct {
		name        string
		err         error
		retried     bool
		unavailable bool
	}{
		{"serialization failure", &pgconn.PgError{Code: "40001"}, true, true},
		{"deadlock", &pgconn.PgError{Code: "40P01"}, true, true},
		{"admin shutdown", &pgconn.PgError{Code: "57P01"}, true, true},
		{"cannot connect now", &pgconn.PgError{Code: "57P03"}, true, true},
		{"crash shutdown: may follow a commit", &pgconn.PgError{Code: "57P02"}, false, true},
		{"connection lost mid-call: may follow a commit", fmt.Errorf("read: %w", io.ErrUnexpectedEOF), false, true},
		{"unique violation", &pgconn.PgError{Code: "23505"}, false, false},
		{"errRetry", errRetry, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := transient(tc.err); got != tc.retried {
				t.Errorf("transient = %v, want %v", got, tc.retried)
			}
			if got := errors.Is(translate(tc.err), domain.ErrUnavailable); got != tc.unavailable {
				t.Errorf("translate = %v, unavailable %v, want %v", translate(tc.err), got, tc.unavailable)
			}
		})
	}
}
