package clv

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/mathext"
)

// FitBGNBD estimates the BG/NBD parameters by maximum likelihood (FHL 2005
// section 7): it maximises Σ w_i ln L_i of eq. (6) over ln r, ln α, ln a,
// ln b with gonum's BFGS and the analytic gradient
//
//	∂ℓ/∂r = ψ(r+x) − ψ(r) + ln α − π₃ ln(α+T) − π₄ ln(α+t_x)
//	∂ℓ/∂α = r/α − (r+x)·(π₃/(α+T) + π₄/(α+t_x))
//	∂ℓ/∂a = ψ(a+b) − ψ(a+b+x) + π₄/a
//	∂ℓ/∂b = ψ(a+b) + ψ(b+x) − ψ(b) − ψ(a+b+x) − π₄/(b+x−1)
//
// (ψ the digamma function, π₃ and π₄ = 1 − π₃ the shares of the two terms
// of eq. 6 in L), multiplied by the parameter for the log scale, then
// polishes the optimum with Newton steps.
//
// Rows with the same (x, t_x, T) are merged into one weighted row first, and
// t_x is ignored when x = 0, so the cost of an iteration grows with the
// number of distinct histories, not customers: time values on a day grid
// (as Summarize produces) make a million customers a few hundred thousand
// rows or fewer.
//
// FitBGNBD returns ErrNoData without rows of positive weight,
// ErrInvalidInput for a row that fails Summary.Validate, ErrNotIdentified
// when no customer made a repeat purchase (the likelihood then increases
// without bound as r/α → 0) or the estimate diverges (beyond e^±20), and
// ErrNotConverged when the optimiser stops short of a strict maximum, as for
// a lone customer; the parameters returned with the last two are the last
// finite estimate.
func FitBGNBD(data []Summary, o FitOptions) (BGNBD, FitResult, error) {
	g, err := groupSummaries(data, o)
	if err != nil {
		return BGNBD{}, FitResult{}, err
	}
	if g.total == 0 {
		return BGNBD{}, FitResult{}, ErrNoData
	}
	if g.repeatWeight == 0 {
		return BGNBD{}, FitResult{Customers: g.total, Groups: len(g.gw)},
			fmt.Errorf("%w: no customer made a repeat purchase", ErrNotIdentified)
	}
	// Start at r = 1, a = 1, b = 1 and α such that r/α matches the observed
	// repeat rate, so the start is on the scale of the time unit.
	alpha0 := g.sumT / g.sumX
	if !(alpha0 > 0) || !finite(alpha0) {
		alpha0 = 1
	}
	theta0 := []float64{0, math.Log(alpha0), 0, 0}
	obj := func(theta, grad []float64) float64 { return g.negMeanLL(theta, grad, o.Penalty) }
	theta, hess, res, err := minimize(obj, theta0, o)
	m := BGNBD{R: math.Exp(theta[0]), Alpha: math.Exp(theta[1]), A: math.Exp(theta[2]), B: math.Exp(theta[3])}
	res.Customers = g.total
	res.Groups = len(g.gw)
	if err != nil {
		return m, res, err
	}
	res.LogLikelihood = -g.total * g.negMeanLL(theta, nil, 0)
	if hess != nil {
		res.StdErr = stdErrors(theta, hess, g.total)
	}
	if maxAbs(theta) > maxLogParam/2 {
		res.Converged = false
		return m, res, fmt.Errorf("%w: estimate diverges (r=%.3g α=%.3g a=%.3g b=%.3g); more customers or a penalty are needed",
			ErrNotIdentified, m.R, m.Alpha, m.A, m.B)
	}
	if !res.Converged {
		return m, res, fmt.Errorf("%w: %s", ErrNotConverged, res.Status)
	}
	return m, res, nil
}

// bgGroups is a customer base condensed to distinct (x, t_x, T) rows, with
// the x values and the time values factored out so that one likelihood
// evaluation computes each log-gamma once per distinct x and each logarithm
// once per distinct time.
type bgGroups struct {
	xs    []float64 // distinct x
	xw    []float64 // total weight per distinct x
	times []float64 // distinct time values (T and t_x)

	gx, gT, gTx []int32 // per row: index into xs, times, times (gTx = -1 when x = 0)
	gw          []float64

	total, repeatWeight, sumX, sumT float64

	// scratch, per evaluation
	lt, it                   []float64
	cA, c4, dr, da, db, dbx4 []float64
}

type groupKey struct{ x, t, tx int32 }

func groupSummaries(data []Summary, o FitOptions) (*bgGroups, error) {
	g := &bgGroups{}
	xIndex := map[int]int32{}
	tIndex := map[float64]int32{}
	rows := map[groupKey]int32{}
	timeIdx := func(v float64) int32 {
		if i, ok := tIndex[v]; ok {
			return i
		}
		i := int32(len(g.times))
		g.times = append(g.times, v)
		tIndex[v] = i
		return i
	}
	for i, s := range data {
		w, err := o.weight(len(data), i)
		if err != nil {
			return nil, err
		}
		if err := s.Validate(); err != nil {
			return nil, fmt.Errorf("row %d: %w", i, err)
		}
		if w == 0 {
			continue
		}
		xi, ok := xIndex[s.X]
		if !ok {
			xi = int32(len(g.xs))
			g.xs = append(g.xs, float64(s.X))
			g.xw = append(g.xw, 0)
			xIndex[s.X] = xi
		}
		key := groupKey{x: xi, t: timeIdx(s.T), tx: -1}
		if s.X > 0 {
			key.tx = timeIdx(s.Tx)
			g.repeatWeight += w
		}
		g.xw[xi] += w
		g.total += w
		g.sumX += w * float64(s.X)
		g.sumT += w * s.T
		if r, ok := rows[key]; ok {
			g.gw[r] += w
			continue
		}
		rows[key] = int32(len(g.gw))
		g.gx = append(g.gx, key.x)
		g.gT = append(g.gT, key.t)
		g.gTx = append(g.gTx, key.tx)
		g.gw = append(g.gw, w)
	}
	nx, nt := len(g.xs), len(g.times)
	g.lt, g.it = make([]float64, nt), make([]float64, nt)
	g.cA, g.c4, g.dr, g.da, g.db, g.dbx4 = make([]float64, nx), make([]float64, nx), make([]float64, nx), make([]float64, nx), make([]float64, nx), make([]float64, nx)
	return g, nil
}

// negMeanLL returns −(1/W) Σ w ln L (FHL 2005 eq. 6) + penalty·Σ params² at
// θ = (ln r, ln α, ln a, ln b), and its gradient with respect to θ into grad
// unless grad is nil.
func (g *bgGroups) negMeanLL(theta, grad []float64, penalty float64) float64 {
	r, al, a, b := math.Exp(theta[0]), math.Exp(theta[1]), math.Exp(theta[2]), math.Exp(theta[3])
	for i, t := range g.times {
		g.lt[i] = math.Log(al + t)
		g.it[i] = 1 / (al + t)
	}
	lgr, lgab, lgb, la, lal := lgamma(r), lgamma(a+b), lgamma(b), math.Log(a), math.Log(al)
	var psr, psab, psb float64
	if grad != nil {
		psr, psab, psb = mathext.Digamma(r), mathext.Digamma(a+b), mathext.Digamma(b)
	}
	var ll, gr, gal, ga, gb float64
	for i, x := range g.xs {
		// Terms of ln L that depend on x only (A1 + A2 in FHL 2005 sec. 7).
		g.cA[i] = lgamma(r+x) - lgr + r*lal + lgab + lgamma(b+x) - lgb - lgamma(a+b+x)
		if x > 0 {
			g.c4[i] = la - math.Log(b+x-1)
		}
		ll += g.xw[i] * g.cA[i]
		if grad != nil {
			g.dr[i] = mathext.Digamma(r+x) - psr + lal
			g.da[i] = psab - mathext.Digamma(a+b+x)
			g.db[i] = psab + mathext.Digamma(b+x) - psb - mathext.Digamma(a+b+x)
			if x > 0 {
				g.dbx4[i] = 1 / (b + x - 1)
			}
			gr += g.xw[i] * g.dr[i]
			gal += g.xw[i] * r / al
			ga += g.xw[i] * g.da[i]
			gb += g.xw[i] * g.db[i]
		}
	}
	for j, w := range g.gw {
		xi := g.gx[j]
		k := r + g.xs[xi]
		iT := g.gT[j]
		l3 := -k * g.lt[iT]
		iTx := g.gTx[j]
		if iTx < 0 {
			ll += w * l3
			if grad != nil {
				gr -= w * g.lt[iT]
				gal -= w * k * g.it[iT]
			}
			continue
		}
		l4 := g.c4[xi] - k*g.lt[iTx]
		// ln(e^l3 + e^l4) and the share π₄ = e^l4/(e^l3+e^l4).
		var lse, p4 float64
		if d := l4 - l3; d > 0 {
			e := math.Exp(-d)
			lse = l4 + math.Log1p(e)
			p4 = 1 / (1 + e)
		} else {
			e := math.Exp(d)
			lse = l3 + math.Log1p(e)
			p4 = e / (1 + e)
		}
		ll += w * lse
		if grad != nil {
			p3 := 1 - p4
			gr -= w * (p3*g.lt[iT] + p4*g.lt[iTx])
			gal -= w * k * (p3*g.it[iT] + p4*g.it[iTx])
			ga += w * p4 / a
			gb -= w * p4 * g.dbx4[xi]
		}
	}
	f := -ll / g.total
	if penalty != 0 {
		f += penalty * (r*r + al*al + a*a + b*b)
	}
	if grad != nil {
		grad[0] = -r*gr/g.total + 2*penalty*r*r
		grad[1] = -al*gal/g.total + 2*penalty*al*al
		grad[2] = -a*ga/g.total + 2*penalty*a*a
		grad[3] = -b*gb/g.total + 2*penalty*b*b
	}
	return f
}
