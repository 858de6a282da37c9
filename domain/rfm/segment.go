package rfm

import (
	"fmt"
	"strings"
)

// Cell is a customer's three scores, each 1–5.
type Cell struct {
	R, F, M int
}

// Valid reports whether all three scores are in 1–5.
func (c Cell) Valid() bool {
	return c.R >= 1 && c.R <= 5 && c.F >= 1 && c.F <= 5 && c.M >= 1 && c.M <= 5
}

// String returns the cell as three digits, R then F then M, e.g. "545".
func (c Cell) String() string {
	if !c.Valid() {
		return fmt.Sprintf("invalid(%d,%d,%d)", c.R, c.F, c.M)
	}
	return string([]byte{byte('0' + c.R), byte('0' + c.F), byte('0' + c.M)})
}

// ParseCell parses the three-digit form of String, e.g. "545".
func ParseCell(s string) (Cell, error) {
	if len(s) != 3 {
		return Cell{}, fmt.Errorf("%w: cell %q is not three digits", ErrInvalidInput, s)
	}
	c := Cell{R: int(s[0]) - '0', F: int(s[1]) - '0', M: int(s[2]) - '0'}
	if !c.Valid() {
		return Cell{}, fmt.Errorf("%w: cell %q has a score outside 1–5", ErrInvalidInput, s)
	}
	return c, nil
}

// Segment is a named group of RFM cells.
type Segment int

// The segments. Their numeric values are not stable across versions; store
// and exchange the Slug.
const (
	// Unknown is the segment of an invalid cell.
	Unknown Segment = iota
	// Champions bought recently and often (R 5, F 4–5).
	Champions
	// Loyal buy often and not long ago (R 3–4, F 4–5).
	Loyal
	// PotentialLoyalists are recent and moderately frequent (R 4–5, F 2–3).
	PotentialLoyalists
	// New bought very recently, once or rarely (R 5, F 1).
	New
	// Promising bought recently but rarely (R 4, F 1).
	Promising
	// NeedAttention are average on both (R 3, F 3).
	NeedAttention
	// AboutToSleep are fading and bought rarely (R 3, F 1–2).
	AboutToSleep
	// AtRisk bought fairly often but long ago (R 1–2, F 3–4).
	AtRisk
	// CantLoseThem bought most often but long ago (R 1–2, F 5).
	CantLoseThem
	// Hibernating bought rarely and long ago (R 2, F 1–2).
	Hibernating
	// Lost bought rarely and longest ago (R 1, F 1–2).
	Lost
)

var segmentNames = [...]struct{ name, slug string }{
	Unknown:            {"Unknown", "unknown"},
	Champions:          {"Champions", "champions"},
	Loyal:              {"Loyal", "loyal"},
	PotentialLoyalists: {"Potential loyalists", "potential_loyalists"},
	New:                {"New", "new"},
	Promising:          {"Promising", "promising"},
	NeedAttention:      {"Need attention", "need_attention"},
	AboutToSleep:       {"About to sleep", "about_to_sleep"},
	AtRisk:             {"At risk", "at_risk"},
	CantLoseThem:       {"Can't lose them", "cant_lose_them"},
	Hibernating:        {"Hibernating", "hibernating"},
	Lost:               {"Lost", "lost"},
}

// Segments returns the eleven named segments, best first.
func Segments() []Segment {
	return []Segment{Champions, Loyal, PotentialLoyalists, New, Promising, NeedAttention, AboutToSleep, AtRisk, CantLoseThem, Hibernating, Lost}
}

// String returns the display name, e.g. "Can't lose them".
func (s Segment) String() string {
	if s < 0 || int(s) >= len(segmentNames) {
		return fmt.Sprintf("Segment(%d)", int(s))
	}
	return segmentNames[s].name
}

// Slug returns the stable identifier, e.g. "cant_lose_them", for storage,
// APIs and segment rules.
func (s Segment) Slug() string {
	if s < 0 || int(s) >= len(segmentNames) {
		return "unknown"
	}
	return segmentNames[s].slug
}

// ParseSegment returns the segment with the given slug (case-insensitive).
func ParseSegment(slug string) (Segment, error) {
	for _, s := range Segments() {
		if strings.EqualFold(slug, s.Slug()) {
			return s, nil
		}
	}
	return Unknown, fmt.Errorf("%w: unknown segment %q", ErrInvalidInput, slug)
}

// MarshalText encodes the segment as its slug.
func (s Segment) MarshalText() ([]byte, error) { return []byte(s.Slug()), nil }

// UnmarshalText decodes a slug.
func (s *Segment) UnmarshalText(b []byte) error {
	v, err := ParseSegment(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// rfGrid maps [R−1][F−1] to the segment.
var rfGrid = [5][5]Segment{
	/* R=1 */ {Lost, Lost, AtRisk, AtRisk, CantLoseThem},
	/* R=2 */ {Hibernating, Hibernating, AtRisk, AtRisk, CantLoseThem},
	/* R=3 */ {AboutToSleep, AboutToSleep, NeedAttention, Loyal, Loyal},
	/* R=4 */ {Promising, PotentialLoyalists, PotentialLoyalists, Loyal, Loyal},
	/* R=5 */ {New, PotentialLoyalists, PotentialLoyalists, Champions, Champions},
}

// Segment returns the named segment of the cell, from the widely used grid
// over the recency and frequency scores:
//
//	         F=1            F=2                  F=3                  F=4        F=5
//	R=5      New            Potential loyalists  Potential loyalists  Champions  Champions
//	R=4      Promising      Potential loyalists  Potential loyalists  Loyal      Loyal
//	R=3      About to sleep About to sleep       Need attention       Loyal      Loyal
//	R=2      Hibernating    Hibernating          At risk              At risk    Can't lose them
//	R=1      Lost           Lost                 At risk              At risk    Can't lose them
//
// The common grid calls the whole R 1–2 × F 1–2 block Hibernating; here its
// R = 1 half, the customers silent longest who bought least, is Lost. The
// monetary score does not change the segment (it stays in the cell), so each
// of the 125 cells has exactly one segment. An invalid cell is Unknown.
func (c Cell) Segment() Segment {
	if !c.Valid() {
		return Unknown
	}
	return rfGrid[c.R-1][c.F-1]
}
