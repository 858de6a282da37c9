package clv

import (
	"errors"
	"math"
	"testing"
)

func cdnowSpend(tb testing.TB) []Spend {
	tb.Helper()
	_, rows, _ := loadCDNOW(tb)
	out := make([]Spend, len(rows))
	for i, r := range rows {
		out[i] = Spend{X: r.x, Zbar: r.zbar}
	}
	return out
}

// TestFitGammaGammaCDNOW reproduces Fader & Hardie (2013): p = 6.25,
// q = 3.74, γ = 15.44 on the 946 CDNOW customers with a repeat purchase, and
// the conditional expected spend of customers 1–10.
func TestFitGammaGammaCDNOW(t *testing.T) {
	t.Parallel()
	data := cdnowSpend(t)
	m, res, err := FitGammaGamma(data, FitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []struct {
		name      string
		got, want float64
	}{{"p", m.P, 6.25}, {"q", m.Q, 3.74}, {"gamma", m.Gamma, 15.44}} {
		if relErr(p.got, p.want) > 0.01 {
			t.Errorf("%s = %.4f, want %.2f ± 1 %%", p.name, p.got, p.want)
		}
	}
	if res.Customers != 946 || !res.Converged {
		t.Errorf("result = %+v, want 946 customers, converged", res)
	}
	want := []float64{24.65, 18.91, 35.17, 35.17, 35.17, 71.46, 18.91, 35.17, 27.28, 35.17}
	for i, w := range want {
		if got := m.ConditionalExpectedSpend(data[i]); math.Abs(got-w) > 0.1 {
			t.Errorf("customer %d: E(Z | x=%d, z̄=%.2f) = %.4f, want %.2f ± 0.1", i+1, data[i].X, data[i].Zbar, got, w)
		}
	}
	// Cross-check with the hand formula for customer 1 (x = 2, z̄ = 22.35):
	// p(γ + x z̄)/(px + q − 1).
	if got, hand := m.ConditionalExpectedSpend(Spend{2, 22.35}), m.P*(m.Gamma+2*22.35)/(2*m.P+m.Q-1); math.Abs(got-hand) > 1e-12 {
		t.Errorf("E(Z | 2, 22.35) = %v, formula %v", got, hand)
	}
}

func TestFitGammaGammaEdgeCases(t *testing.T) {
	t.Parallel()
	if _, _, err := FitGammaGamma(nil, FitOptions{}); !errors.Is(err, ErrNoData) {
		t.Errorf("no rows: err = %v, want ErrNoData", err)
	}
	if _, _, err := FitGammaGamma([]Spend{{0, 0}, {0, 0}}, FitOptions{}); !errors.Is(err, ErrNoData) {
		t.Errorf("only x = 0: err = %v, want ErrNoData", err)
	}
	if _, _, err := FitGammaGamma([]Spend{{1, 10}, {2, 0}}, FitOptions{}); !errors.Is(err, ErrInvalidInput) {
		t.Errorf("z̄ = 0 with x > 0: err = %v, want ErrInvalidInput", err)
	}
	m, _, err := FitGammaGamma([]Spend{{1, 10}}, FitOptions{})
	if err == nil && m.Validate() != nil {
		t.Errorf("single customer: %+v with no error", m)
	}
	if math.IsNaN(m.P) || math.IsNaN(m.Q) || math.IsNaN(m.Gamma) {
		t.Errorf("single customer: NaN in %+v", m)
	}
}

func TestGammaGammaGradient(t *testing.T) {
	t.Parallel()
	data := cdnowSpend(t)
	g := &ggGroups{}
	for _, s := range data {
		if s.X == 0 {
			continue
		}
		g.xs = append(g.xs, float64(s.X))
		g.gx = append(g.gx, int32(len(g.xs)-1))
		g.z = append(g.z, s.Zbar)
		g.lz = append(g.lz, math.Log(s.Zbar))
		g.w = append(g.w, 1)
		g.total++
	}
	n := len(g.xs)
	g.c, g.dp, g.dq = make([]float64, n), make([]float64, n), make([]float64, n)
	theta := []float64{math.Log(5), math.Log(3), math.Log(12)}
	grad := make([]float64, 3)
	f := g.negMeanLL(theta, grad, 0)
	m := GammaGamma{5, 3, 12}
	var ll float64
	for _, s := range data {
		if s.X > 0 {
			ll += m.LogLikelihood(s)
		}
	}
	if math.Abs(-f*g.total-ll) > 1e-8 {
		t.Errorf("grouped LL %v, per-customer %v", -f*g.total, ll)
	}
	for i := range theta {
		const h = 1e-6
		x := append([]float64(nil), theta...)
		x[i] += h
		fp := g.negMeanLL(x, nil, 0)
		x[i] -= 2 * h
		fm := g.negMeanLL(x, nil, 0)
		if num := (fp - fm) / (2 * h); math.Abs(num-grad[i]) > 1e-6*math.Max(1, math.Abs(num)) {
			t.Errorf("∂/∂θ%d: analytic %.10g, numeric %.10g", i, grad[i], num)
		}
	}
}

func TestConditionalExpectedSpend(t *testing.T) {
	t.Parallel()
	m := GammaGamma{P: 6.25, Q: 3.74, Gamma: 15.44}
	cases := []struct {
		s    Spend
		want float64
	}{
		{Spend{0, 0}, 6.25 * 15.44 / 2.74},                     // population mean 35.2190
		{Spend{1, 50}, 6.25 * (15.44 + 50) / (6.25 + 2.74)},    // 45.5172
		{Spend{100, 20}, 6.25 * (15.44 + 2000) / (625 + 2.74)}, // ≈ z̄
	}
	for _, tc := range cases {
		if got := m.ConditionalExpectedSpend(tc.s); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("E(Z | %+v) = %v, want %v", tc.s, got, tc.want)
		}
	}
	if got := (GammaGamma{P: 1, Q: 0.5, Gamma: 1}).ConditionalExpectedSpend(Spend{}); !math.IsInf(got, 1) {
		t.Errorf("q ≤ 1: population mean = %v, want +Inf", got)
	}
}
