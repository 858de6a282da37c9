package postgres

import (
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/potentialhq/potential/domain"
)

// TestUUIDStrings holds the store's connections to sending arrays of ids
// (Go strings) as binary uuid[]: the encoding succeeds at once (pgx's own
// type map fails it and falls back to text), the server reads back the
// same ids, and what is not a canonical id is still sent as text and
// judged by the server, as before.
func TestUUIDStrings(t *testing.T) {
	t.Parallel()
	ids := []string{domain.NewID(), domain.NewID(), "00000000-0000-0000-0000-000000000000"}

	plain := pgtype.NewMap()
	if _, err := plain.Encode(pgtype.UUIDArrayOID, pgtype.BinaryFormatCode, ids, nil); err == nil {
		t.Fatal("pgx's own map encodes []string as binary uuid[]: this codec is no longer needed")
	}
	m := pgtype.NewMap()
	registerTypes(m)
	buf, err := m.Encode(pgtype.UUIDArrayOID, pgtype.BinaryFormatCode, ids, nil)
	if err != nil {
		t.Fatalf("binary encoding of []string as uuid[]: %v", err)
	}
	var back []string
	if err := m.Scan(pgtype.UUIDArrayOID, pgtype.BinaryFormatCode, buf, &back); err != nil || !slices.Equal(back, ids) {
		t.Fatalf("decoded %v, %v; want %v", back, err, ids)
	}
	if _, err := m.Encode(pgtype.UUIDArrayOID, pgtype.BinaryFormatCode, []string{"not-a-uuid"}, nil); err == nil {
		t.Fatal("encoded an invalid id")
	}

	s := openTest(t)
	var got []string
	if err := s.pool.QueryRow(t.Context(), `SELECT $1::uuid[]`, ids).Scan(&got); err != nil || !slices.Equal(got, ids) {
		t.Fatalf("the server read back %v, %v; want %v", got, err, ids)
	}
	upper := []string{strings.ToUpper(ids[0]), strings.ReplaceAll(ids[1], "-", "")}
	if err := s.pool.QueryRow(t.Context(), `SELECT $1::uuid[]`, upper).Scan(&got); err != nil || !slices.Equal(got, ids[:2]) {
		t.Fatalf("other spellings: %v, %v; want %v", got, err, ids[:2])
	}
	if err := s.pool.QueryRow(t.Context(), `SELECT $1::uuid[]`, []string{"not-a-uuid"}).Scan(&got); err == nil {
		t.Fatal("the server accepted an invalid id")
	}
}
