// Package conversion fits and evaluates the lead conversion classifier: an
// L2-regularised logistic regression on standardised features, and the
// validation measures it is judged by (AUC, Brier score, calibration by
// decile). It is pure: functions of numbers, importing nothing of
// Potential's; the domain builds the feature rows and labels.
//
// Model (Hosmer, Lemeshow & Sturdivant, Applied Logistic Regression, 3rd ed.,
// eq. 1.1): P(y=1 | x) = σ(b + Σ_j w_j z_j), σ(t) = 1/(1+e^-t), where
// z_j = (x_j - μ_j)/s_j is feature j standardised by its training mean μ_j
// and standard deviation s_j (s_j = 1 for a constant feature).
//
// Fit minimises the penalised negative log-likelihood (Hastie, Tibshirani &
// Friedman, The Elements of Statistical Learning, 2nd ed., eq. 4.31 with the
// ridge penalty of §4.4.4):
//
//	L(b, w) = Σ_i [log(1 + e^{η_i}) - y_i η_i] + (λ/2) Σ_j w_j²,  η_i = b + w·z_i
//
// whose gradient is ∂L/∂b = Σ_i (p_i - y_i) and ∂L/∂w_j = Σ_i (p_i - y_i) z_ij
// + λ w_j with p_i = σ(η_i). The intercept is not penalised. L is strictly
// convex for λ > 0, so L-BFGS (gonum/optimize) from zero reaches the unique
// minimum. Standardising first makes one λ mean the same for every feature
// and keeps the problem well conditioned.
package conversion

import (
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/gonum/optimize"
)

// ErrInvalidInput reports a data set that cannot be fitted or evaluated:
// no rows, a row of the wrong width, a non-finite value, labels other than 0
// and 1, or only one class.
var ErrInvalidInput = errors.New("conversion: invalid input")

// DefaultLambda is the ridge penalty λ of Fit when Options.Lambda is 0: the
// weight of (1/2)||w||² against the summed log-loss. With standardised
// features, λ = 1 is a prior w_j ~ N(0, 1) on the log-odds change per
// standard deviation: it barely moves weights fitted on hundreds of leads
// and keeps them finite on separable data.
const DefaultLambda = 1.0

// Options tune Fit.
type Options struct {
	// Lambda is the ridge penalty λ (DefaultLambda when 0; negative is
	// invalid).
	Lambda float64
	// MaxIterations bounds the L-BFGS major iterations (200 when 0).
	MaxIterations int
}

// Data is a design matrix of N rows (leads) by P features, row-major, with
// a 0/1 label per row.
type Data struct {
	X    []float64 // len N*P; X[i*P+j] is feature j of row i
	Y    []float64 // len N; 1 converted, 0 lost
	N, P int
}

// Row returns row i of the design matrix.
func (d *Data) Row(i int) []float64 { return d.X[i*d.P : (i+1)*d.P] }

func (d *Data) check() error {
	if d.N <= 0 || d.P < 0 || len(d.X) != d.N*d.P || len(d.Y) != d.N {
		return fmt.Errorf("%w: %d rows of %d features with %d values and %d labels", ErrInvalidInput, d.N, d.P, len(d.X), len(d.Y))
	}
	for _, v := range d.X {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("%w: a feature value is not finite", ErrInvalidInput)
		}
	}
	var pos int
	for _, y := range d.Y {
		switch y {
		case 1:
			pos++
		case 0:
		default:
			return fmt.Errorf("%w: label %v is not 0 or 1", ErrInvalidInput, y)
		}
	}
	if pos == 0 || pos == d.N {
		return fmt.Errorf("%w: every label is %v", ErrInvalidInput, d.Y[0])
	}
	return nil
}

// Model is a fitted logistic regression. Weights are per standard deviation
// of their feature (on the standardised scale); Mean and Scale standardise
// a raw row.
type Model struct {
	Intercept float64
	Weights   []float64
	Mean      []float64
	Scale     []float64
	// Iterations and Converged report the optimiser's run.
	Iterations int
	Converged  bool
}

// Sigmoid is σ(t) = 1/(1+e^-t), computed without overflow.
func Sigmoid(t float64) float64 {
	if t >= 0 {
		return 1 / (1 + math.Exp(-t))
	}
	e := math.Exp(t)
	return e / (1 + e)
}

// log1pExp is log(1+e^t) without overflow.
func log1pExp(t float64) float64 {
	if t > 35 {
		return t
	}
	if t < -35 {
		return math.Exp(t)
	}
	return math.Log1p(math.Exp(t))
}

// Standardize returns the mean and the population standard deviation of
// every column of d (1 for a column with no spread, so that it
// standardises to 0 and its weight stays 0 under the penalty).
func Standardize(d *Data) (mean, scale []float64) {
	mean, scale = make([]float64, d.P), make([]float64, d.P)
	for i := 0; i < d.N; i++ {
		r := d.Row(i)
		for j, v := range r {
			mean[j] += v
		}
	}
	for j := range mean {
		mean[j] /= float64(d.N)
	}
	for i := 0; i < d.N; i++ {
		r := d.Row(i)
		for j, v := range r {
			dv := v - mean[j]
			scale[j] += dv * dv
		}
	}
	for j := range scale {
		scale[j] = math.Sqrt(scale[j] / float64(d.N))
		if scale[j] < 1e-12 {
			scale[j] = 1
		}
	}
	return mean, scale
}

// Fit fits the model of the package comment to d.
func Fit(d *Data, opt Options) (*Model, error) {
	if err := d.check(); err != nil {
		return nil, err
	}
	lambda := opt.Lambda
	if lambda == 0 {
		lambda = DefaultLambda
	}
	if lambda < 0 || math.IsNaN(lambda) {
		return nil, fmt.Errorf("%w: lambda %v", ErrInvalidInput, lambda)
	}
	maxIter := opt.MaxIterations
	if maxIter <= 0 {
		maxIter = 200
	}
	mean, scale := Standardize(d)
	n, p := d.N, d.P
	z := make([]float64, n*p)
	for i := 0; i < n; i++ {
		r, zr := d.Row(i), z[i*p:(i+1)*p]
		for j, v := range r {
			zr[j] = (v - mean[j]) / scale[j]
		}
	}
	// θ = (b, w_1..w_P). Func and Grad share one pass over the data, cached
	// by θ: L-BFGS's line search asks for both at the same point.
	var (
		cacheX []float64
		cacheF float64
		cacheG = make([]float64, p+1)
		resid  = make([]float64, n)
	)
	eval := func(theta []float64) {
		if cacheX != nil && equal(cacheX, theta) {
			return
		}
		cacheX = append(cacheX[:0], theta...)
		b, w := theta[0], theta[1:]
		f := 0.0
		for i := 0; i < n; i++ {
			zr := z[i*p : (i+1)*p]
			eta := b
			for j, v := range zr {
				eta += w[j] * v
			}
			f += log1pExp(eta) - d.Y[i]*eta
			resid[i] = Sigmoid(eta) - d.Y[i]
		}
		for j := range cacheG {
			cacheG[j] = 0
		}
		g := cacheG[1:]
		for i := 0; i < n; i++ {
			r := resid[i]
			cacheG[0] += r
			zr := z[i*p : (i+1)*p]
			for j, v := range zr {
				g[j] += r * v
			}
		}
		for j, wj := range w {
			f += 0.5 * lambda * wj * wj
			g[j] += lambda * wj
		}
		cacheF = f
	}
	prob := optimize.Problem{
		Func: func(theta []float64) float64 { eval(theta); return cacheF },
		Grad: func(grad, theta []float64) { eval(theta); copy(grad, cacheG) },
	}
	init := make([]float64, p+1)
	// Start at the intercept of the base rate: the penalised optimum of a
	// model with no features.
	var pos float64
	for _, y := range d.Y {
		pos += y
	}
	init[0] = math.Log(pos / (float64(n) - pos))
	settings := &optimize.Settings{
		MajorIterations: maxIter,
		// Stop when the gradient, relative to the number of rows, is
		// negligible: 1e-7 per row.
		Converger:         &optimize.FunctionConverge{Absolute: 1e-10 * float64(n), Iterations: 20},
		GradientThreshold: 1e-7 * float64(n),
	}
	res, err := optimize.Minimize(prob, init, settings, &optimize.LBFGS{})
	if err != nil && res == nil {
		return nil, fmt.Errorf("conversion: fit: %w", err)
	}
	m := &Model{Intercept: res.X[0], Weights: append([]float64(nil), res.X[1:]...), Mean: mean, Scale: scale,
		Iterations: res.Stats.MajorIterations, Converged: err == nil}
	for _, v := range res.X {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("conversion: fit diverged")
		}
	}
	return m, nil
}

func equal(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// LogOdds returns η = b + Σ_j w_j (x_j - μ_j)/s_j for a raw row x.
func (m *Model) LogOdds(x []float64) float64 {
	eta := m.Intercept
	for j, w := range m.Weights {
		eta += w * (x[j] - m.Mean[j]) / m.Scale[j]
	}
	return eta
}

// Probability returns σ(LogOdds(x)), the conversion probability of row x.
func (m *Model) Probability(x []float64) float64 { return Sigmoid(m.LogOdds(x)) }

// Contributions returns, per feature, w_j (x_j - μ_j)/s_j: how much feature
// j moves this row's log-odds away from those of a lead at the training
// means (whose log-odds are the intercept). They sum to LogOdds(x) - b, so
// they explain the probability exactly on the log-odds scale.
func (m *Model) Contributions(x []float64) []float64 {
	out := make([]float64, len(m.Weights))
	for j, w := range m.Weights {
		out[j] = w * (x[j] - m.Mean[j]) / m.Scale[j]
	}
	return out
}

// Predict returns the probability of every row of d.
func (m *Model) Predict(d *Data) []float64 {
	out := make([]float64, d.N)
	for i := range out {
		out[i] = m.Probability(d.Row(i))
	}
	return out
}

// ContributionsInto is Contributions writing into dst (len P), for scoring
// many rows without allocating.
func (m *Model) ContributionsInto(dst, x []float64) {
	for j, w := range m.Weights {
		dst[j] = w * (x[j] - m.Mean[j]) / m.Scale[j]
	}
}
