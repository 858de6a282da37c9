package rfm

import (
	"encoding/json"
	"errors"
	"testing"
)

// TestSegmentTotal iterates all 125 cells: each maps to exactly one named
// segment, and every named segment is reached.
func TestSegmentTotal(t *testing.T) {
	t.Parallel()
	reached := map[Segment]int{}
	for r := 1; r <= 5; r++ {
		for f := 1; f <= 5; f++ {
			for m := 1; m <= 5; m++ {
				c := Cell{r, f, m}
				s := c.Segment()
				if s == Unknown || s.Slug() == "unknown" {
					t.Errorf("cell %s has no segment", c)
				}
				reached[s]++
				back, err := ParseCell(c.String())
				if err != nil || back != c {
					t.Errorf("ParseCell(%q) = %v, %v", c.String(), back, err)
				}
			}
		}
	}
	total := 0
	for _, s := range Segments() {
		if reached[s] == 0 {
			t.Errorf("segment %s is not reachable", s)
		}
		total += reached[s]
	}
	if total != 125 || len(reached) != 11 {
		t.Errorf("%d cells over %d segments, want 125 over 11", total, len(reached))
	}
}

func TestSegmentGrid(t *testing.T) {
	t.Parallel()
	cases := []struct {
		cell string
		want Segment
		name string
		slug string
	}{
		{"555", Champions, "Champions", "champions"},
		{"541", Champions, "Champions", "champions"},
		{"345", Loyal, "Loyal", "loyal"},
		{"443", Loyal, "Loyal", "loyal"},
		{"523", PotentialLoyalists, "Potential loyalists", "potential_loyalists"},
		{"432", PotentialLoyalists, "Potential loyalists", "potential_loyalists"},
		{"515", New, "New", "new"},
		{"411", Promising, "Promising", "promising"},
		{"333", NeedAttention, "Need attention", "need_attention"},
		{"325", AboutToSleep, "About to sleep", "about_to_sleep"},
		{"244", AtRisk, "At risk", "at_risk"},
		{"131", AtRisk, "At risk", "at_risk"},
		{"155", CantLoseThem, "Can't lose them", "cant_lose_them"},
		{"251", CantLoseThem, "Can't lose them", "cant_lose_them"},
		{"225", Hibernating, "Hibernating", "hibernating"},
		{"211", Hibernating, "Hibernating", "hibernating"},
		{"125", Lost, "Lost", "lost"},
		{"111", Lost, "Lost", "lost"},
	}
	for _, tc := range cases {
		c, err := ParseCell(tc.cell)
		if err != nil {
			t.Fatal(err)
		}
		s := c.Segment()
		if s != tc.want || s.String() != tc.name || s.Slug() != tc.slug {
			t.Errorf("%s: %v (%q, %q), want %v", tc.cell, s, s.String(), s.Slug(), tc.want)
		}
		if back, err := ParseSegment(tc.slug); err != nil || back != s {
			t.Errorf("ParseSegment(%q) = %v, %v", tc.slug, back, err)
		}
	}
	for _, bad := range []string{"", "55", "5555", "605", "0a1"} {
		if _, err := ParseCell(bad); !errors.Is(err, ErrInvalidInput) {
			t.Errorf("ParseCell(%q): err = %v", bad, err)
		}
	}
	if (Cell{0, 1, 1}).Segment() != Unknown {
		t.Error("invalid cell should be Unknown")
	}
	if _, err := ParseSegment("vip"); !errors.Is(err, ErrInvalidInput) {
		t.Errorf("ParseSegment(vip): err = %v", err)
	}
}

func TestSegmentText(t *testing.T) {
	t.Parallel()
	b, err := json.Marshal(map[string]Segment{"s": CantLoseThem})
	if err != nil || string(b) != `{"s":"cant_lose_them"}` {
		t.Fatalf("json = %s, %v", b, err)
	}
	var back map[string]Segment
	if err := json.Unmarshal(b, &back); err != nil || back["s"] != CantLoseThem {
		t.Fatalf("unmarshal = %v, %v", back, err)
	}
}
