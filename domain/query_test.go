package domain

import (
	"errors"
	"testing"
	"time"
)

func TestParseFilter(t *testing.T) {
	t.Parallel()
	day := time.Date(2024, 1, 31, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		in   string
		want Filter
		err  bool
	}{
		{in: "", want: nil},
		{in: `country = "PL"`, want: Filter{{"country", OpEq, "PL"}}},
		{in: `country="PL" and total_spend >= 100.5`, want: Filter{{"country", OpEq, "PL"}, {"total_spend", OpGe, Money(100_500_000)}}},
		{in: `kind != lead AND orders < 3`, want: Filter{{"kind", OpNe, "lead"}, {"orders", OpLt, int64(3)}}},
		{in: `last_purchase_time > 2024-01-31T00:00:00Z`, want: Filter{{"last_purchase_time", OpGt, day}}},
		{in: `display_name = "Anna \"Ania\" Nowak"`, want: Filter{{"display_name", OpEq, `Anna "Ania" Nowak`}}},
		{in: `shoe_size = 42`, err: true},
		{in: `country > "PL"`, err: true},
		{in: `country = `, err: true},
		{in: `country = "PL" OR city = "X"`, err: true},
		{in: `orders = many`, err: true},
		{in: `country = "PL`, err: true},
		{in: `country ~ "PL"`, err: true},
		{in: `grade = "A" AND segment = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"`,
			want: Filter{{"grade", OpEq, "A"}, {"segment", OpEq, "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"}}},
		{in: `grade != ""`, want: Filter{{"grade", OpNe, ""}}},
		{in: `grade = "A+"`, want: Filter{{"grade", OpEq, "A+"}}},
		{in: `grade = " A"`, err: true},
		{in: `grade = "ABCDEFGHIJKLMNOPQ"`, err: true},
		{in: `grade < "B"`, err: true},
		{in: `segment = vip`, err: true},
		{in: `segment = ""`, err: true},
		{in: `segment > "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"`, err: true},
	}
	for _, c := range cases {
		got, err := ParseFilter(c.in)
		if c.err {
			var ve *ValidationError
			if !errors.As(err, &ve) || ve.Violations[0].Field != "filter" {
				t.Errorf("ParseFilter(%q) = %v, %v; want a filter violation", c.in, got, err)
			}
			continue
		}
		if err != nil || len(got) != len(c.want) {
			t.Errorf("ParseFilter(%q) = %v, %v; want %v", c.in, got, err, c.want)
			continue
		}
		for i := range got {
			if got[i].Field != c.want[i].Field || got[i].Op != c.want[i].Op || Compare(got[i].Value, c.want[i].Value) != 0 {
				t.Errorf("ParseFilter(%q)[%d] = %v, want %v", c.in, i, got[i], c.want[i])
			}
		}
	}
}

func TestFilterMatches(t *testing.T) {
	t.Parallel()
	c := &Customer{Country: "PL", Purchases: PurchaseStats{TotalSpend: MoneyFromFloat(120), Orders: 2}}
	for in, want := range map[string]bool{
		`country = "PL"`:                            true,
		`country = "DE"`:                            false,
		`country = "PL" AND total_spend > 100`:      true,
		`orders >= 3`:                               false,
		`last_purchase_time < 2000-01-01T00:00:00Z`: true, // no purchase: the zero time is earliest
	} {
		f, err := ParseFilter(in)
		if err != nil {
			t.Fatal(err)
		}
		if got := f.Matches(c); got != want {
			t.Errorf("%q matches = %v, want %v", in, got, want)
		}
	}
}

// fakeRelations grades and segments customers for TestFilterMatchesWith.
type fakeRelations struct {
	grades  map[string]string
	members map[string][]string // segment id -> customer ids
}

func (r fakeRelations) Grade(id string) string { return r.grades[id] }
func (r fakeRelations) IsMember(seg, id string) bool {
	for _, m := range r.members[seg] {
		if m == id {
			return true
		}
	}
	return false
}

func TestFilterMatchesWith(t *testing.T) {
	t.Parallel()
	const seg = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"
	rel := fakeRelations{grades: map[string]string{"a": "A", "b": "B"}, members: map[string][]string{seg: {"a", "c"}}}
	for _, tc := range []struct {
		filter string
		id     string
		rel    Relations
		want   bool
	}{
		{`grade = "A"`, "a", rel, true},
		{`grade = "A"`, "b", rel, false},
		{`grade != "A"`, "c", rel, true},
		{`grade = ""`, "c", rel, true},
		{`grade = ""`, "a", rel, false},
		{`segment = "` + seg + `"`, "a", rel, true},
		{`segment = "` + seg + `"`, "b", rel, false},
		{`segment != "` + seg + `"`, "b", rel, true},
		{`segment = "` + seg + `" AND grade = "B"`, "a", rel, false},
		{`segment = "` + seg + `" AND grade = ""`, "c", rel, true},
		// Without relations nobody is graded or a member.
		{`grade = ""`, "a", nil, true},
		{`segment != "` + seg + `"`, "a", nil, true},
		{`segment = "` + seg + `"`, "a", nil, false},
	} {
		f, err := ParseFilter(tc.filter)
		if err != nil {
			t.Fatal(err)
		}
		if got := f.MatchesWith(&Customer{ID: tc.id}, tc.rel); got != tc.want {
			t.Errorf("%q on %s = %v, want %v", tc.filter, tc.id, got, tc.want)
		}
	}
}

func TestPageTokenRoundTripAndBinding(t *testing.T) {
	t.Parallel()
	for _, v := range []any{"x", int64(-3), Money(5), time.UnixMicro(1700000000123456).UTC(), time.Time{}} {
		tok := EncodePageToken("t1", "f", "o", Cursor{Value: v, ID: "id-1"})
		got, err := DecodePageToken("t1", "f", "o", tok)
		if err != nil || got.ID != "id-1" || Compare(got.Value, v) != 0 {
			t.Errorf("round trip of %v: %v, %v", v, got, err)
		}
		for _, other := range [][3]string{{"t2", "f", "o"}, {"t1", "g", "o"}, {"t1", "f", "p"}} {
			if _, err := DecodePageToken(other[0], other[1], other[2], tok); !errors.Is(err, ErrInvalid) {
				t.Errorf("token accepted for %v: %v", other, err)
			}
		}
	}
	for _, bad := range []string{"!!", "e30", "bm9wZQ"} {
		if _, err := DecodePageToken("t1", "f", "o", bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("DecodePageToken(%q) = %v", bad, err)
		}
	}
}

func TestParseMoney(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]Money{"0": 0, "129.99": 129_990_000, "-5": -5_000_000, "0.000001": 1, "+1.5": 1_500_000} {
		got, err := ParseMoney(in)
		if err != nil || got != want {
			t.Errorf("ParseMoney(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", ".5", "1.", "1.2345678", "1e3", "12345678901234", "1,5", "--1"} {
		if _, err := ParseMoney(in); err == nil {
			t.Errorf("ParseMoney(%q) accepted", in)
		}
	}
	for m, want := range map[Money]string{129_990_000: "129.99", -5_000_000: "-5.00", 1: "0.000001", 0: "0.00"} {
		if got := m.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", int64(m), got, want)
		}
	}
}

func FuzzParseFilter(f *testing.F) {
	for _, s := range []string{`country = "PL" AND total_spend >= 100.5`, `kind != lead`, `"`, `a = "\`, `orders<=3 AND orders>1`} {
		f.Add(s)
	}
	c := &Customer{Country: "PL"}
	f.Fuzz(func(t *testing.T, s string) {
		fl, err := ParseFilter(s)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error is not ErrInvalid: %v", err)
			}
			return
		}
		fl.Matches(c) // must not panic on any accepted filter
	})
}

func FuzzDecodePageToken(f *testing.F) {
	f.Add(EncodePageToken("t", "", "create_time", Cursor{Value: time.Unix(1, 0).UTC(), ID: "x"}))
	f.Add("e30")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := DecodePageToken("t", "", "create_time", s)
		if err != nil && !errors.Is(err, ErrInvalid) {
			t.Fatalf("error is not ErrInvalid: %v", err)
		}
		if err == nil && c != nil && c.ID == "" {
			t.Fatal("accepted a token without id")
		}
	})
}
