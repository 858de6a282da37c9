package clv

import (
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/gonum/optimize"
)

// FitOptions controls a maximum-likelihood fit (FitBGNBD, FitGammaGamma).
// The zero value is a plain, unweighted, unpenalised fit.
type FitOptions struct {
	// Weights, if not nil, has one non-negative entry per data row: the number
	// of customers the row stands for (FHL 2005 section 7 fits the CDNOW
	// cohort this way). nil counts every row once.
	Weights []float64
	// Penalty is an L2 penalty λ·Σθ² on the parameter values θ added to the
	// mean negative log-likelihood, as lifetimes' penalizer_coef: it keeps
	// small or degenerate customer bases from driving parameters to
	// infinity. 0, the default, gives the pure maximum-likelihood estimate
	// that reproduces the published tables.
	Penalty float64
	// MaxIterations bounds the quasi-Newton iterations; 0 means 1000.
	MaxIterations int
	// GradientTolerance is the convergence threshold on the largest
	// component of the gradient of the mean negative log-likelihood with
	// respect to the log-parameters; 0 means 1e-9.
	GradientTolerance float64
}

// FitResult describes a maximum-likelihood fit.
type FitResult struct {
	// LogLikelihood is the weighted total log-likelihood at the estimate,
	// without the penalty (FHL 2005 reports −9582.4 for CDNOW).
	LogLikelihood float64
	// Iterations and Evaluations count the optimiser's major iterations and
	// objective evaluations, including the final Newton polishing steps.
	Iterations, Evaluations int
	// Converged reports that the gradient is below the tolerance and the
	// Hessian is positive definite: the estimate is a strict local maximum.
	Converged bool
	// Status is a human-readable description of how the fit stopped.
	Status string
	// StdErr holds the asymptotic standard errors of the parameters, in the
	// order of the model's fields, from the inverse of the numerical Hessian
	// (central differences of the analytic gradient) of the total negative
	// log-likelihood, by the delta method from the log-parameters. It is nil
	// when the Hessian is not positive definite.
	StdErr []float64
	// Customers is the total weight of the rows used (the number of
	// customers for an unweighted fit); Groups is the number of distinct
	// rows the likelihood was evaluated on after merging identical ones.
	Customers float64
	Groups    int
}

func (o FitOptions) maxIterations() int {
	if o.MaxIterations > 0 {
		return o.MaxIterations
	}
	return 1000
}

func (o FitOptions) tolerance() float64 {
	if o.GradientTolerance > 0 {
		return o.GradientTolerance
	}
	return 1e-9
}

func (o FitOptions) weight(n, i int) (float64, error) {
	if o.Weights == nil {
		return 1, nil
	}
	if len(o.Weights) != n {
		return 0, fmt.Errorf("%w: %d weights for %d rows", ErrInvalidInput, len(o.Weights), n)
	}
	w := o.Weights[i]
	if !(w >= 0) || math.IsInf(w, 1) {
		return 0, fmt.Errorf("%w: weight %d = %v must be finite and ≥ 0", ErrInvalidInput, i, w)
	}
	return w, nil
}

// objective is a negative mean log-likelihood (plus penalty) in
// log-parameters θ: it returns the value and writes the gradient into grad.
type objective func(theta, grad []float64) float64

// maxLogParam bounds |θ| = |ln parameter|: beyond e^±40 the likelihood is
// treated as +Inf so that a diverging fit stops instead of overflowing.
const maxLogParam = 40

// minimize runs BFGS from theta0, then up to a few Newton steps with a
// numerical Hessian to polish the optimum, and returns the estimate, the
// Hessian of the objective there, and the run's bookkeeping.
func minimize(obj objective, theta0 []float64, o FitOptions) ([]float64, []float64, FitResult, error) {
	n := len(theta0)
	// Cache the last evaluation: gonum asks for Func and Grad separately.
	lastX := make([]float64, n)
	lastG := make([]float64, n)
	var lastF float64
	haveLast := false
	evals := 0
	eval := func(x []float64) {
		if haveLast && equal(x, lastX) {
			return
		}
		copy(lastX, x)
		evals++
		for _, v := range x {
			if math.Abs(v) > maxLogParam {
				lastF = math.Inf(1)
				for i := range lastG {
					lastG[i] = 0
				}
				haveLast = true
				return
			}
		}
		lastF = obj(x, lastG)
		haveLast = true
	}
	p := optimize.Problem{
		Func: func(x []float64) float64 { eval(x); return lastF },
		Grad: func(g, x []float64) { eval(x); copy(g, lastG) },
	}
	settings := &optimize.Settings{
		GradientThreshold: o.tolerance(),
		MajorIterations:   o.maxIterations(),
		Converger:         &optimize.FunctionConverge{Absolute: 1e-14, Relative: 1e-14, Iterations: 20},
	}
	res, err := optimize.Minimize(p, theta0, settings, &optimize.BFGS{})
	theta := append([]float64(nil), theta0...)
	status := "BFGS did not start"
	iters := 0
	if res != nil {
		if finite(res.F) {
			theta = append(theta[:0], res.X...)
		}
		status = "BFGS: " + res.Status.String()
		if err != nil {
			status += " (" + err.Error() + ")"
		}
		iters = res.Stats.MajorIterations
	}
	if err != nil && (res == nil || !finite(res.F)) {
		return theta, nil, FitResult{Status: status, Iterations: iters, Evaluations: evals}, fmt.Errorf("clv: optimisation failed: %w", err)
	}

	// Newton polishing: BFGS stops on a small gradient or a stalled line
	// search; a couple of Newton steps with the numerical Hessian reach the
	// optimum to rounding error and give the Hessian for standard errors.
	g := make([]float64, n)
	f := obj(theta, g)
	evals++
	hess := numericalHessian(obj, theta, &evals)
	for step := 0; step < 8 && maxAbs(g) > o.tolerance()*1e-2; step++ {
		d, ok := newtonStep(hess, g)
		if !ok {
			break
		}
		improved := false
		for s := 1.0; s > 1e-4; s /= 2 {
			cand := make([]float64, n)
			for i := range cand {
				cand[i] = theta[i] + s*d[i]
			}
			if maxAbs(cand) > maxLogParam {
				continue
			}
			cg := make([]float64, n)
			cf := obj(cand, cg)
			evals++
			// Near the optimum f is flat to rounding: accept a step that
			// keeps f within 1e-13 relative and shrinks the gradient.
			if cf < f || (cf <= f+1e-13*math.Abs(f) && maxAbs(cg) < maxAbs(g)) {
				theta, f, g = cand, cf, cg
				improved = true
				break
			}
		}
		if !improved {
			break
		}
		iters++
		hess = numericalHessian(obj, theta, &evals)
		status += "; Newton step"
	}
	_, pd := cholesky(hess, n)
	r := FitResult{
		Iterations:  iters,
		Evaluations: evals,
		Converged:   maxAbs(g) <= o.tolerance() && pd && finite(f),
		Status:      status,
	}
	if !finite(f) {
		return theta, hess, r, errors.New("clv: optimisation ended at a non-finite likelihood")
	}
	return theta, hess, r, nil
}

// numericalHessian returns the symmetric Hessian of obj at theta by central
// differences of its analytic gradient, step 1e-5 in log-parameters.
func numericalHessian(obj objective, theta []float64, evals *int) []float64 {
	const h = 1e-5
	n := len(theta)
	hess := make([]float64, n*n)
	x := append([]float64(nil), theta...)
	gp := make([]float64, n)
	gm := make([]float64, n)
	for j := 0; j < n; j++ {
		x[j] = theta[j] + h
		obj(x, gp)
		x[j] = theta[j] - h
		obj(x, gm)
		x[j] = theta[j]
		*evals += 2
		for i := 0; i < n; i++ {
			hess[i*n+j] = (gp[i] - gm[i]) / (2 * h)
		}
	}
	for i := 0; i < n; i++ {
		for j := 0; j < i; j++ {
			v := (hess[i*n+j] + hess[j*n+i]) / 2
			hess[i*n+j], hess[j*n+i] = v, v
		}
	}
	return hess
}

// cholesky returns the lower Cholesky factor of the n×n row-major matrix a
// and whether a is positive definite.
func cholesky(a []float64, n int) ([]float64, bool) {
	if len(a) != n*n {
		return nil, false
	}
	l := make([]float64, n*n)
	for j := 0; j < n; j++ {
		s := a[j*n+j]
		for k := 0; k < j; k++ {
			s -= l[j*n+k] * l[j*n+k]
		}
		if !(s > 0) || !finite(s) {
			return nil, false
		}
		l[j*n+j] = math.Sqrt(s)
		for i := j + 1; i < n; i++ {
			s := a[i*n+j]
			for k := 0; k < j; k++ {
				s -= l[i*n+k] * l[j*n+k]
			}
			l[i*n+j] = s / l[j*n+j]
		}
	}
	return l, true
}

// cholSolve solves L Lᵀ x = b.
func cholSolve(l []float64, n int, b []float64) []float64 {
	y := make([]float64, n)
	for i := 0; i < n; i++ {
		s := b[i]
		for k := 0; k < i; k++ {
			s -= l[i*n+k] * y[k]
		}
		y[i] = s / l[i*n+i]
	}
	x := make([]float64, n)
	for i := n - 1; i >= 0; i-- {
		s := y[i]
		for k := i + 1; k < n; k++ {
			s -= l[k*n+i] * x[k]
		}
		x[i] = s / l[i*n+i]
	}
	return x
}

// newtonStep returns −H⁻¹g if H is positive definite.
func newtonStep(hess, g []float64) ([]float64, bool) {
	n := len(g)
	l, ok := cholesky(hess, n)
	if !ok {
		return nil, false
	}
	d := cholSolve(l, n, g)
	for i := range d {
		d[i] = -d[i]
	}
	return d, true
}

// stdErrors returns the standard errors of the parameters e^θ from the
// Hessian of the mean objective scaled by the total weight: the covariance
// of θ is (W·H)⁻¹, and se(e^θ_i) = e^θ_i · sqrt(Cov_ii) (delta method).
func stdErrors(theta, hess []float64, total float64) []float64 {
	n := len(theta)
	h := make([]float64, n*n)
	for i := range h {
		h[i] = hess[i] * total
	}
	l, ok := cholesky(h, n)
	if !ok {
		return nil
	}
	se := make([]float64, n)
	for i := 0; i < n; i++ {
		e := make([]float64, n)
		e[i] = 1
		col := cholSolve(l, n, e)
		se[i] = math.Exp(theta[i]) * math.Sqrt(col[i])
	}
	return se
}

func equal(a, b []float64) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func maxAbs(v []float64) float64 {
	var m float64
	for _, x := range v {
		m = math.Max(m, math.Abs(x))
	}
	return m
}
