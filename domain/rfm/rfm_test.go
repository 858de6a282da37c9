package rfm

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestScoreQuintiles(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		values []float64
		dir    Direction
		edges  [4]float64
		want   []int
	}{
		{
			name:   "ten distinct",
			values: []float64{7, 3, 10, 1, 5, 2, 9, 4, 8, 6},
			dir:    HigherIsBetter,
			edges:  [4]float64{2, 4, 6, 8},
			want:   []int{4, 2, 5, 1, 3, 1, 5, 2, 4, 3},
		},
		{
			// n = 7: edges at sorted indexes ⌈7k/5⌉−1 = 1, 2, 4, 5;
			// scores 1 + ⌊5ρ/7⌋ for ranks ρ = 0..6: 1 1 2 3 3 4 5.
			name:   "seven distinct",
			values: []float64{10, 20, 30, 40, 50, 60, 70},
			dir:    HigherIsBetter,
			edges:  [4]float64{20, 30, 50, 60},
			want:   []int{1, 1, 2, 3, 3, 4, 5},
		},
		{
			// Six customers bought once: that block starts at rank 0 and
			// takes score 1 although it spans three quintiles; the value 2
			// (first rank 6) scores 1 + ⌊30/10⌋ = 4.
			name:   "ties span quintiles",
			values: []float64{1, 1, 1, 1, 1, 1, 2, 3, 4, 5},
			dir:    HigherIsBetter,
			edges:  [4]float64{1, 1, 1, 3},
			want:   []int{1, 1, 1, 1, 1, 1, 4, 4, 5, 5},
		},
		{
			// Days since the last purchase: sorted worst first
			// (100, 30, 10, 5, 5); both 5s share rank 3 → score 4.
			name:   "recency, lower is better",
			values: []float64{5, 100, 10, 5, 30},
			dir:    LowerIsBetter,
			edges:  [4]float64{100, 30, 10, 5},
			want:   []int{4, 1, 3, 4, 2},
		},
		{
			name:   "all equal",
			values: []float64{3, 3, 3},
			dir:    HigherIsBetter,
			edges:  [4]float64{3, 3, 3, 3},
			want:   []int{1, 1, 1},
		},
		{
			name:   "single customer",
			values: []float64{42},
			dir:    LowerIsBetter,
			edges:  [4]float64{42, 42, 42, 42},
			want:   []int{1},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, cuts, err := Score(tc.values, tc.dir)
			if err != nil {
				t.Fatal(err)
			}
			if cuts.Edges != tc.edges || cuts.Direction != tc.dir {
				t.Errorf("cuts = %+v, want edges %v", cuts, tc.edges)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("scores = %v, want %v", got, tc.want)
			}
			for i, v := range tc.values {
				if s := ScoreValue(cuts, v); s != got[i] {
					t.Errorf("ScoreValue(%v) = %d, Score gave %d", v, s, got[i])
				}
			}
		})
	}
}

// TestScoreRankRule checks, on random data with many ties, that scores equal
// 1 + ⌊5ρ/n⌋ with ρ the 0-based rank of the value's first occurrence, and
// that equal values share a score.
func TestScoreRankRule(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{1, 2, 3, 4, 5, 6, 9, 10, 11, 99, 1000, 1001} {
		for _, dir := range []Direction{HigherIsBetter, LowerIsBetter} {
			values := make([]float64, n)
			for i := range values {
				values[i] = float64(rng.IntN(n/3 + 2))
			}
			got, _, err := Score(values, dir)
			if err != nil {
				t.Fatal(err)
			}
			sorted := slices.Clone(values)
			slices.Sort(sorted)
			if dir == LowerIsBetter {
				slices.Reverse(sorted)
			}
			for i, v := range values {
				rho := slices.Index(sorted, v)
				if want := 1 + 5*rho/n; got[i] != want {
					t.Fatalf("n=%d dir=%d value %v: score %d, want 1+⌊5·%d/%d⌋ = %d", n, dir, v, got[i], rho, n, want)
				}
			}
		}
	}
}

func TestThresholds(t *testing.T) {
	t.Parallel()
	recency, err := Thresholds([4]float64{365, 180, 90, 30}, LowerIsBetter)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		days float64
		want int
	}{{0, 5}, {30, 4}, {31, 4}, {89, 4}, {90, 3}, {180, 2}, {364, 2}, {365, 1}, {1000, 1}} {
		if got := ScoreValue(recency, tc.days); got != tc.want {
			t.Errorf("recency %v days: score %d, want %d", tc.days, got, tc.want)
		}
	}
	spend, err := Thresholds([4]float64{100, 500, 1000, 5000}, HigherIsBetter)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		v    float64
		want int
	}{{0, 1}, {100, 1}, {100.01, 2}, {999, 3}, {1000, 3}, {5001, 5}} {
		if got := spend.Score(tc.v); got != tc.want {
			t.Errorf("spend %v: score %d, want %d", tc.v, got, tc.want)
		}
	}
	for _, bad := range []struct {
		e   [4]float64
		dir Direction
	}{{[4]float64{1, 3, 2, 4}, HigherIsBetter}, {[4]float64{1, 2, 3, 4}, LowerIsBetter}, {[4]float64{1, math.NaN(), 3, 4}, HigherIsBetter}, {[4]float64{1, 2, 3, 4}, Direction(7)}} {
		if _, err := Thresholds(bad.e, bad.dir); !errors.Is(err, ErrInvalidInput) {
			t.Errorf("Thresholds(%v, %d): err = %v", bad.e, bad.dir, err)
		}
	}
}

func TestQuantilesCustomShares(t *testing.T) {
	t.Parallel()
	values := []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	// Cut at 10, 30, 60, 90 %: sorted indexes 0, 2, 5, 8.
	c, err := Quantiles(values, HigherIsBetter, [4]float64{0.1, 0.3, 0.6, 0.9})
	if err != nil {
		t.Fatal(err)
	}
	if c.Edges != [4]float64{1, 3, 6, 9} {
		t.Errorf("edges = %v, want [1 3 6 9]", c.Edges)
	}
	if got := ScoreAll(c, values, nil); !slices.Equal(got, []int{1, 2, 2, 3, 3, 3, 4, 4, 4, 5}) {
		t.Errorf("scores = %v", got)
	}
	for _, probs := range [][4]float64{{0, 0.4, 0.6, 0.8}, {0.2, 0.2, 0.6, 0.8}, {0.2, 0.4, 0.6, 1}} {
		if _, err := Quantiles(values, HigherIsBetter, probs); !errors.Is(err, ErrInvalidInput) {
			t.Errorf("shares %v: err = %v", probs, err)
		}
	}
	if _, err := Quantiles(nil, HigherIsBetter, Quintile); !errors.Is(err, ErrInvalidInput) {
		t.Errorf("no values: err = %v", err)
	}
	if _, _, err := Score([]float64{1, math.NaN()}, HigherIsBetter); !errors.Is(err, ErrInvalidInput) {
		t.Errorf("NaN: err = %v", err)
	}
}

func TestModel(t *testing.T) {
	t.Parallel()
	recency := []float64{1, 10, 30, 90, 400}     // days since last purchase
	frequency := []float64{9, 4, 2, 1, 1}        // purchase days
	monetary := []float64{900, 300, 120, 40, 15} // spend
	m, err := Fit(recency, frequency, monetary)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"555", "444", "333", "212", "111"}
	for i := range recency {
		if got := m.Cell(recency[i], frequency[i], monetary[i]).String(); got != want[i] {
			t.Errorf("customer %d: cell %s, want %s", i, got, want[i])
		}
	}
	if _, err := Fit(recency, nil, monetary); !errors.Is(err, ErrInvalidInput) {
		t.Errorf("missing frequency: err = %v", err)
	}
}
