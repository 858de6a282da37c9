package clv

import (
	"math"
	"math/rand/v2"
	"testing"
)

// simulateBGNBD draws n customers from the BG/NBD process (FHL 2005
// section 3) with a fixed seed: first purchases spread uniformly over the
// first 12 weeks of a 39-week calibration period, λ ~ Gamma(r, α),
// p ~ Beta(a, b), exponential inter-purchase times and dropout with
// probability p after each repeat purchase. Times are rounded to 2 decimals
// of a week, as in the published CDNOW summary.
func simulateBGNBD(n int, m BGNBD, seed uint64) []Summary {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	out := make([]Summary, n)
	for i := range out {
		T := float64(272-rng.IntN(84)) / 7
		lambda := gammaVariate(rng, m.R) / m.Alpha
		ga := gammaVariate(rng, m.A)
		p := ga / (ga + gammaVariate(rng, m.B))
		var x int
		var t, tx float64
		for {
			t += rng.ExpFloat64() / lambda
			if t > T {
				break
			}
			x++
			tx = t
			if rng.Float64() < p {
				break
			}
		}
		out[i] = Summary{X: x, Tx: math.Round(tx*100) / 100, T: math.Round(T*100) / 100}
		if x == 0 {
			out[i].Tx = 0
		}
	}
	return out
}

// gammaVariate draws from Gamma(shape, 1) (Marsaglia & Tsang 2000, with the
// U^(1/shape) boost for shape < 1).
func gammaVariate(rng *rand.Rand, shape float64) float64 {
	if shape < 1 {
		return gammaVariate(rng, shape+1) * math.Pow(rng.Float64(), 1/shape)
	}
	d := shape - 1.0/3
	c := 1 / math.Sqrt(9*d)
	for {
		x := rng.NormFloat64()
		v := 1 + c*x
		if v <= 0 {
			continue
		}
		v = v * v * v
		u := rng.Float64()
		if math.Log(u) < 0.5*x*x+d-d*v+d*math.Log(v) {
			return d * v
		}
	}
}

var cdnowTruth = BGNBD{R: 0.2425945, Alpha: 4.4136019, A: 0.7929199, B: 2.4258881}

// TestFitRecoversSyntheticParameters fits 300,000 customers simulated from
// the CDNOW estimates and requires each estimate within 4 standard errors of
// the truth (the seed is fixed, so the outcome is deterministic).
func TestFitRecoversSyntheticParameters(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("simulation")
	}
	data := simulateBGNBD(300_000, cdnowTruth, 1)
	m, res, err := FitBGNBD(data, FitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got := []float64{m.R, m.Alpha, m.A, m.B}
	want := []float64{cdnowTruth.R, cdnowTruth.Alpha, cdnowTruth.A, cdnowTruth.B}
	for i := range got {
		if math.Abs(got[i]-want[i]) > 4*res.StdErr[i] {
			t.Errorf("parameter %d = %.5f ± %.5f, truth %.5f", i, got[i], res.StdErr[i], want[i])
		}
	}
	t.Logf("fit %+v, %d groups for %v customers, %d iterations", m, res.Groups, res.Customers, res.Iterations)
}

func BenchmarkFitBGNBDCDNOW(b *testing.B) {
	data := cdnowSummaries(b)
	for b.Loop() {
		if _, _, err := FitBGNBD(data, FitOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFitBGNBD1M fits one million simulated customers (2-decimal week
// resolution); the simulation is outside the timed loop, the grouping of
// identical histories inside.
func BenchmarkFitBGNBD1M(b *testing.B) {
	data := simulateBGNBD(1_000_000, cdnowTruth, 2)
	var groups int
	for b.Loop() {
		_, res, err := FitBGNBD(data, FitOptions{})
		if err != nil {
			b.Fatal(err)
		}
		groups = res.Groups
	}
	b.ReportMetric(float64(groups), "groups")
}

func BenchmarkFitGammaGamma(b *testing.B) {
	data := cdnowSpend(b)
	for b.Loop() {
		if _, _, err := FitGammaGamma(data, FitOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkConditionalExpected reports the cost per customer of
// E[Y(39) | x, t_x, T], cycling through the CDNOW customers.
func BenchmarkConditionalExpected(b *testing.B) {
	data := cdnowSummaries(b)
	var sink float64
	i := 0
	for b.Loop() {
		sink += cdnowTruth.ConditionalExpectedPurchases(39, data[i])
		i++
		if i == len(data) {
			i = 0
		}
	}
	_ = sink
}

// BenchmarkPredict reports the cost per customer of a 12-month discounted
// lifetime value (12 conditional expectations).
func BenchmarkPredict(b *testing.B) {
	data := cdnowSummaries(b)
	h := Horizon{MonthlyDiscountRate: 0.01}
	i := 0
	for b.Loop() {
		if _, err := Predict(cdnowTruth, data[i], 35, h); err != nil {
			b.Fatal(err)
		}
		i++
		if i == len(data) {
			i = 0
		}
	}
}
