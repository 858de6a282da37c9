package domain

import (
	"errors"
	"strings"
	"testing"
)

// FuzzParseMoney: every accepted amount formats back to a string that parses
// to the same Money, and its sign is the string's.
func FuzzParseMoney(f *testing.F) {
	for _, s := range []string{"129.99", "-5", "0.000001", "+1.5", "9223372.036854", "9999999999999", "-9999999999999.999999", ".5", "1.", "1e3", "--1", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseMoney(s)
		if err != nil {
			return
		}
		back, err := ParseMoney(m.String())
		if err != nil || back != m {
			t.Fatalf("ParseMoney(%q) = %d, formatted %q, parsed back %d, %v", s, int64(m), m.String(), int64(back), err)
		}
		if neg := strings.HasPrefix(s, "-"); (neg && m > 0) || (!neg && m < 0) {
			t.Fatalf("ParseMoney(%q) = %d: wrong sign", s, int64(m))
		}
	})
}

// FuzzParseOrder: a refused order_by is ErrInvalid; an accepted one names an
// orderable field.
func FuzzParseOrder(f *testing.F) {
	for _, s := range []string{"", "create_time", "total_spend desc", "display_name ASC", "x desc", "a b c", "\tcreate_time\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		o, err := ParseOrder(s)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("ParseOrder(%q): error is not ErrInvalid: %v", s, err)
			}
			return
		}
		if _, ok := CustomerOrderFields[o.Field]; !ok && o.Field != "create_time" {
			t.Fatalf("ParseOrder(%q) = %+v: not an orderable field", s, o)
		}
	})
}

// FuzzParseETag: an accepted etag is the ETag of the version it parses to;
// a refused one is ErrInvalid.
func FuzzParseETag(f *testing.F) {
	for _, s := range []string{"v1", "v0", "v-1", "v+1", "1", "v", "v9223372036854775807", "v01", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := parseETag(s)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("parseETag(%q): error is not ErrInvalid: %v", s, err)
			}
			return
		}
		if v < 1 {
			t.Fatalf("parseETag(%q) = %d", s, v)
		}
		if again, err := parseETag(ETag(v)); err != nil || again != v {
			t.Fatalf("parseETag(ETag(%d)) = %d, %v", v, again, err)
		}
	})
}

// FuzzParseAPIKey: a refused key is ErrUnauthenticated; an accepted one
// splits into a non-empty id and secret that make the key again.
func FuzzParseAPIKey(f *testing.F) {
	for _, s := range []string{"pk_test_0123456789abcdef", "pk__x", "pk_x_", "pk_a_b_c", "sk_a_b", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, secret, err := ParseAPIKey(s)
		if err != nil {
			if !errors.Is(err, ErrUnauthenticated) {
				t.Fatalf("ParseAPIKey(%q): error is not ErrUnauthenticated: %v", s, err)
			}
			return
		}
		if id == "" || secret == "" || "pk_"+id+"_"+secret != s {
			t.Fatalf("ParseAPIKey(%q) = %q, %q", s, id, secret)
		}
	})
}
