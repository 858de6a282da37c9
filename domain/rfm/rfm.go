// Package rfm scores customers on recency, frequency and monetary value
// (RFM) and names the segment of each R-F-M cell. It is pure: functions of
// numbers, importing nothing of Potential's.
//
// Scores run from 1 (worst) to 5 (best) and are quintiles within a tenant
// by default: the tenant's values are sorted once (O(n log n)) into four cut
// points, and every customer, including one scored later on its own, is
// placed by comparing its value with the cuts. Equal values always get the
// same score.
package rfm

import (
	"errors"
	"fmt"
	"math"
	"slices"
)

// ErrInvalidInput reports values or cut points that cannot be scored (no
// values, NaN, cut points out of order, probabilities outside (0, 1)).
var ErrInvalidInput = errors.New("rfm: invalid input")

// Direction says which end of a measure is good.
type Direction int

const (
	// HigherIsBetter scores larger values higher: frequency (number of
	// purchases or purchase days) and monetary value (spend).
	HigherIsBetter Direction = iota
	// LowerIsBetter scores smaller values higher: recency measured as the
	// time since the last purchase, so the most recent customers score 5.
	LowerIsBetter
)

// Quintile are the cumulative shares at which Quintiles cuts: 20, 40, 60 and
// 80 %.
var Quintile = [4]float64{0.2, 0.4, 0.6, 0.8}

// Cuts are the four cut points that turn a value into a score 1–5.
//
// For HigherIsBetter, Edges are non-decreasing and
//
//	score(v) = 1 + #{k : v > Edges[k]},
//
// for LowerIsBetter they are non-increasing and score(v) = 1 + #{k : v <
// Edges[k]}. A value equal to a cut point gets the lower score, so equal
// values always share a score.
type Cuts struct {
	Edges     [4]float64
	Direction Direction
}

// Thresholds returns cut points given explicitly, e.g. recency in days
// {365, 180, 90, 30} with LowerIsBetter (score 5 for at most 30 days, 1 for
// more than 365), overriding the tenant's quintiles. Edges must be finite
// and ordered in the direction's sense (non-decreasing for HigherIsBetter,
// non-increasing for LowerIsBetter).
func Thresholds(edges [4]float64, dir Direction) (Cuts, error) {
	if dir != HigherIsBetter && dir != LowerIsBetter {
		return Cuts{}, fmt.Errorf("%w: direction %d", ErrInvalidInput, dir)
	}
	for k, e := range edges {
		if math.IsNaN(e) || math.IsInf(e, 0) {
			return Cuts{}, fmt.Errorf("%w: cut point %d is %v", ErrInvalidInput, k, e)
		}
		if k > 0 && ((dir == HigherIsBetter && e < edges[k-1]) || (dir == LowerIsBetter && e > edges[k-1])) {
			return Cuts{}, fmt.Errorf("%w: cut points %v out of order", ErrInvalidInput, edges)
		}
	}
	return Cuts{Edges: edges, Direction: dir}, nil
}

// Quintiles returns the cut points at 20, 40, 60 and 80 % of values; see
// Quantiles.
func Quintiles(values []float64, dir Direction) (Cuts, error) {
	return Quantiles(values, dir, Quintile)
}

// Quantiles returns cut points at the cumulative shares probs (strictly
// increasing, in (0, 1)). With the n values sorted from worst to best
// (ascending for HigherIsBetter, descending for LowerIsBetter) as s[0..n−1],
//
//	Edges[k] = s[⌈probs[k]·n⌉ − 1],
//
// the value below which (inclusive) a share probs[k] of the customers lie.
// Scoring the values themselves with these cuts gives each value
//
//	score = 1 + #{k : ρ ≥ probs[k]·n},
//
// where ρ is the 0-based rank of the value's first occurrence in s: for
// quintiles, 1 + ⌊5ρ/n⌋. Ties therefore share the score of the lowest rank
// in their block; when one value fills several quintiles (e.g. 60 % of
// customers bought once) the scores above it are skipped, not shifted.
// Quantiles sorts a copy of values, O(n log n).
func Quantiles(values []float64, dir Direction, probs [4]float64) (Cuts, error) {
	if dir != HigherIsBetter && dir != LowerIsBetter {
		return Cuts{}, fmt.Errorf("%w: direction %d", ErrInvalidInput, dir)
	}
	n := len(values)
	if n == 0 {
		return Cuts{}, fmt.Errorf("%w: no values", ErrInvalidInput)
	}
	for k, p := range probs {
		if !(p > 0 && p < 1) || (k > 0 && p <= probs[k-1]) {
			return Cuts{}, fmt.Errorf("%w: shares %v must increase strictly within (0, 1)", ErrInvalidInput, probs)
		}
	}
	s := make([]float64, n)
	copy(s, values)
	for i, v := range s {
		if math.IsNaN(v) {
			return Cuts{}, fmt.Errorf("%w: value %d is NaN", ErrInvalidInput, i)
		}
	}
	slices.Sort(s)
	c := Cuts{Direction: dir}
	for k, p := range probs {
		i := rankIndex(p, n)
		if dir == LowerIsBetter {
			i = n - 1 - i
		}
		c.Edges[k] = s[i]
	}
	return c, nil
}

// rankIndex returns ⌈p·n⌉ − 1 clamped to [0, n−1], exact for the quintile
// shares (k·n/5 in integers).
func rankIndex(p float64, n int) int {
	var i int
	if k := p * 5; k == math.Trunc(k) {
		i = (int(k)*n+4)/5 - 1
	} else {
		i = int(math.Ceil(p*float64(n)-1e-9)) - 1
	}
	return min(max(i, 0), n-1)
}

// Score returns the score 1–5 of v against the cut points (see Cuts). NaN
// scores 1.
func (c Cuts) Score(v float64) int {
	s := 1
	if c.Direction == LowerIsBetter {
		for _, e := range c.Edges {
			if v < e {
				s++
			}
		}
		return s
	}
	for _, e := range c.Edges {
		if v > e {
			s++
		}
	}
	return s
}

// ScoreValue returns c.Score(v): the score of one customer against the
// tenant's current cut points, for incremental updates between full
// re-scorings.
func ScoreValue(c Cuts, v float64) int { return c.Score(v) }

// Score returns the quintile scores 1–5 of values within the set (see
// Quantiles for the rule and ties) and the cut points used, so that later
// single values can be scored the same way with ScoreValue.
func Score(values []float64, dir Direction) ([]int, Cuts, error) {
	c, err := Quintiles(values, dir)
	if err != nil {
		return nil, Cuts{}, err
	}
	return ScoreAll(c, values, nil), c, nil
}

// ScoreAll scores every value against c, appending to dst[:0] (which may be
// nil) and returning it.
func ScoreAll(c Cuts, values []float64, dst []int) []int {
	dst = slices.Grow(dst[:0], len(values))
	for _, v := range values {
		dst = append(dst, c.Score(v))
	}
	return dst
}

// Model holds a tenant's cut points for the three measures.
type Model struct {
	Recency, Frequency, Monetary Cuts
}

// Fit returns the quintile cut points of a tenant: recency as time since the
// last purchase (LowerIsBetter), frequency and monetary value
// (HigherIsBetter). The three slices hold one value per customer.
func Fit(recency, frequency, monetary []float64) (Model, error) {
	var m Model
	var err error
	if m.Recency, err = Quintiles(recency, LowerIsBetter); err != nil {
		return Model{}, fmt.Errorf("recency: %w", err)
	}
	if m.Frequency, err = Quintiles(frequency, HigherIsBetter); err != nil {
		return Model{}, fmt.Errorf("frequency: %w", err)
	}
	if m.Monetary, err = Quintiles(monetary, HigherIsBetter); err != nil {
		return Model{}, fmt.Errorf("monetary: %w", err)
	}
	return m, nil
}

// Cell scores one customer: its recency (time since the last purchase),
// frequency and monetary value against the model's cut points.
func (m Model) Cell(recency, frequency, monetary float64) Cell {
	return Cell{R: m.Recency.Score(recency), F: m.Frequency.Score(frequency), M: m.Monetary.Score(monetary)}
}
