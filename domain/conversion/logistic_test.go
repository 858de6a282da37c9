package conversion

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"
)

// synthetic draws n rows of p features from a known logistic process: a
// third Gaussian, a third binary (probability 0.3), a third counts
// (geometric, mean 2), with true intercept b and weights w on the raw
// scale. It returns the data and the true probability of every row.
func synthetic(seed uint64, n int, b float64, w []float64) (*Data, []float64) {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	p := len(w)
	d := &Data{X: make([]float64, n*p), Y: make([]float64, n), N: n, P: p}
	truth := make([]float64, n)
	for i := 0; i < n; i++ {
		r := d.Row(i)
		eta := b
		for j := range r {
			switch j % 3 {
			case 0:
				r[j] = rng.NormFloat64()
			case 1:
				if rng.Float64() < 0.3 {
					r[j] = 1
				}
			default:
				r[j] = math.Floor(rng.ExpFloat64() * 2)
			}
			eta += w[j] * r[j]
		}
		truth[i] = Sigmoid(eta)
		if rng.Float64() < truth[i] {
			d.Y[i] = 1
		}
	}
	return d, truth
}

func slice(d *Data, lo, hi int) *Data {
	return &Data{X: d.X[lo*d.P : hi*d.P], Y: d.Y[lo:hi], N: hi - lo, P: d.P}
}

// TestRecoversGeneratingProcess is the acceptance test on a
// synthetic population: fitted on the first 40,000 rows, the model's AUC on
// the last 20,000 is within 0.02 of the true probabilities' AUC on the same
// rows, and every calibration decile's mean prediction is within 0.05 of
// the observed conversion rate.
func TestRecoversGeneratingProcess(t *testing.T) {
	t.Parallel()
	w := []float64{0.8, 1.1, 0.25, -0.6, -0.9, 0.1, 0.3, 0.5, -0.2, 0, 0.7, 0.05}
	d, truth := synthetic(7, 60_000, -1.2, w)
	train, val := slice(d, 0, 40_000), slice(d, 40_000, 60_000)
	m, err := Fit(train, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !m.Converged {
		t.Errorf("not converged after %d iterations", m.Iterations)
	}
	pred := m.Predict(val)
	got, want := AUC(pred, val.Y), AUC(truth[40_000:], val.Y)
	t.Logf("validation AUC %.4f, generating model's AUC %.4f, Brier %.4f", got, want, Brier(pred, val.Y))
	if math.Abs(got-want) > 0.02 {
		t.Errorf("AUC %.4f, generating model's %.4f: differ by more than 0.02", got, want)
	}
	for _, b := range Calibration(pred, val.Y) {
		t.Logf("decile %2d: n %d predicted %.3f observed %.3f", b.Decile, b.Count, b.MeanPredicted, b.ObservedRate)
		if math.Abs(b.MeanPredicted-b.ObservedRate) > 0.05 {
			t.Errorf("decile %d: predicted %.3f, observed %.3f", b.Decile, b.MeanPredicted, b.ObservedRate)
		}
	}
	// The raw-scale weights are w_j / s_j: each within 0.1 of the truth.
	for j := range w {
		if raw := m.Weights[j] / m.Scale[j]; math.Abs(raw-w[j]) > 0.1 {
			t.Errorf("weight %d: fitted %.3f, true %.3f", j, raw, w[j])
		}
	}
}

// TestGradient checks the analytic gradient of the penalised likelihood
// against central differences, through a one-step fit: a fit from the
// returned optimum must not move (the gradient there is ~0), and the
// objective's finite-difference slope at a random point matches.
func TestGradient(t *testing.T) {
	t.Parallel()
	d, _ := synthetic(3, 500, 0.3, []float64{1, -1, 0.5})
	mean, scale := Standardize(d)
	obj := func(theta []float64) float64 {
		f := 0.0
		for i := 0; i < d.N; i++ {
			eta := theta[0]
			for j, v := range d.Row(i) {
				eta += theta[j+1] * (v - mean[j]) / scale[j]
			}
			f += log1pExp(eta) - d.Y[i]*eta
		}
		for _, wj := range theta[1:] {
			f += 0.5 * DefaultLambda * wj * wj
		}
		return f
	}
	m, err := Fit(d, Options{})
	if err != nil {
		t.Fatal(err)
	}
	theta := append([]float64{m.Intercept}, m.Weights...)
	for k := range theta {
		const h = 1e-5
		up := append([]float64(nil), theta...)
		dn := append([]float64(nil), theta...)
		up[k] += h
		dn[k] -= h
		if g := (obj(up) - obj(dn)) / (2 * h); math.Abs(g) > 1e-3 {
			t.Errorf("∂L/∂θ%d = %.6f at the fitted optimum, want ~0", k, g)
		}
	}
}

func TestMetricsHandChecked(t *testing.T) {
	t.Parallel()
	// Positives score 0.9, 0.4; negatives 0.5, 0.1, 0.4. Pairs (pos > neg):
	// 0.9 beats all 3; 0.4 beats 0.1, ties 0.4 (½), loses to 0.5: 4.5/6.
	p := []float64{0.9, 0.4, 0.5, 0.1, 0.4}
	y := []float64{1, 1, 0, 0, 0}
	if got := AUC(p, y); math.Abs(got-0.75) > 1e-12 {
		t.Errorf("AUC = %v, want 0.75", got)
	}
	// Brier: (0.01 + 0.36 + 0.25 + 0.01 + 0.16)/5 = 0.158.
	if got := Brier(p, y); math.Abs(got-0.158) > 1e-12 {
		t.Errorf("Brier = %v, want 0.158", got)
	}
	if got := AUC([]float64{0.1, 0.2}, []float64{1, 1}); !math.IsNaN(got) {
		t.Errorf("AUC of one class = %v, want NaN", got)
	}
	// Calibration of 20 rows: two per decile.
	p20, y20 := make([]float64, 20), make([]float64, 20)
	for i := range p20 {
		p20[i] = float64(i) / 20
		if i%2 == 1 {
			y20[i] = 1
		}
	}
	cal := Calibration(p20, y20)
	if len(cal) != 10 || cal[0].Count != 2 || cal[0].MeanPredicted != 0.025 || cal[0].ObservedRate != 0.5 || cal[9].MeanPredicted != 0.925 {
		t.Errorf("calibration = %+v", cal)
	}
}

func TestFitRejects(t *testing.T) {
	t.Parallel()
	for name, d := range map[string]*Data{
		"no rows":    {P: 1},
		"width":      {X: []float64{1, 2, 3}, Y: []float64{0, 1}, N: 2, P: 2},
		"one class":  {X: []float64{1, 2}, Y: []float64{1, 1}, N: 2, P: 1},
		"bad label":  {X: []float64{1, 2}, Y: []float64{1, 2}, N: 2, P: 1},
		"not finite": {X: []float64{1, math.NaN()}, Y: []float64{1, 0}, N: 2, P: 1},
	} {
		if _, err := Fit(d, Options{}); !errors.Is(err, ErrInvalidInput) {
			t.Errorf("%s: err = %v, want ErrInvalidInput", name, err)
		}
	}
}

// TestSeparableStaysFinite: perfectly separated classes have no
// maximum-likelihood estimate; the penalty keeps the weights finite.
func TestSeparableStaysFinite(t *testing.T) {
	t.Parallel()
	d := &Data{X: []float64{-2, -1, 1, 2}, Y: []float64{0, 0, 1, 1}, N: 4, P: 1}
	m, err := Fit(d, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if w := m.Weights[0]; w <= 0 || w > 10 {
		t.Errorf("weight %v, want positive and finite", w)
	}
	c := m.Contributions([]float64{2})
	if math.Abs(m.Intercept+c[0]-m.LogOdds([]float64{2})) > 1e-12 {
		t.Errorf("contributions do not add up to the log-odds")
	}
}
