package clv

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/mathext"
)

// GammaGamma holds the parameters of the Gamma-Gamma model of spend per
// purchase (Fader & Hardie 2013, "The Gamma-Gamma Model of Monetary Value";
// Fader, Hardie & Lee 2005, "RFM and CLV: Using Iso-Value Curves for Customer
// Base Analysis", JMR 42(4), 415–430): the value of each of a customer's
// purchases is Gamma(shape P, rate ν), and ν varies across customers as
// Gamma(shape Q, rate Gamma). Spend is assumed independent of the purchase
// process.
//
// P and Q are dimensionless; Gamma is in currency units. The population mean
// spend per purchase is P·Gamma/(Q−1), finite for Q > 1.
type GammaGamma struct {
	P, Q, Gamma float64
}

// Spend is one customer's input to the Gamma-Gamma model: X repeat purchase
// days (Summary.X) and Zbar, the mean spend per repeat purchase day
// (MeanRepeatSpend), in currency units. The first purchase is excluded, as in
// the published CDNOW analysis.
type Spend struct {
	X    int
	Zbar float64
}

// Validate reports whether all three parameters are finite and positive.
func (m GammaGamma) Validate() error {
	if !(positive(m.P) && positive(m.Q) && positive(m.Gamma)) {
		return fmt.Errorf("%w: Gamma-Gamma parameters p=%v q=%v γ=%v must be finite and positive", ErrInvalidInput, m.P, m.Q, m.Gamma)
	}
	return nil
}

// LogLikelihood returns ln f(z̄ | x; p, q, γ), the log density of a
// customer's mean spend z̄ over x > 0 purchases with ν integrated out
// (Fader & Hardie 2013, the marginal distribution of m_x):
//
//	f(z̄ | x) = Γ(px+q)/(Γ(px)Γ(q)) · γ^q · z̄^(px−1) · x^(px) / (γ + x·z̄)^(px+q)
//
// It is −Inf for x ≤ 0 or z̄ ≤ 0, which the model cannot describe.
func (m GammaGamma) LogLikelihood(s Spend) float64 {
	if s.X <= 0 || !(s.Zbar > 0) {
		return math.Inf(-1)
	}
	p, q, g := m.P, m.Q, m.Gamma
	x := float64(s.X)
	px := p * x
	return lgamma(px+q) - lgamma(px) - lgamma(q) + q*math.Log(g) +
		(px-1)*math.Log(s.Zbar) + px*math.Log(x) - (px+q)*math.Log(g+x*s.Zbar)
}

// MeanSpend returns the population mean spend per purchase, p·γ/(q−1)
// (Fader & Hardie 2013, E(Z) with ν integrated out), in currency units. It is
// +Inf for q ≤ 1, where the mean does not exist.
func (m GammaGamma) MeanSpend() float64 {
	if m.Q <= 1 {
		return math.Inf(1)
	}
	return m.P * m.Gamma / (m.Q - 1)
}

// ConditionalExpectedSpend returns E(Z | x, z̄), the expected spend per
// future purchase of a customer with x repeat purchases averaging z̄
// (Fader & Hardie 2013, eq. 5; FHL 2005 JMR eq. 5):
//
//	E(Z | p, q, γ, z̄, x) = p(γ + x·z̄) / (px + q − 1)
//	                     = (q−1)/(px+q−1) · pγ/(q−1) + px/(px+q−1) · z̄,
//
// a weighted average of the population mean and the customer's own mean. For
// x = 0 it is the population mean pγ/(q−1) (+Inf for q ≤ 1). In currency
// units.
func (m GammaGamma) ConditionalExpectedSpend(s Spend) float64 {
	if s.X <= 0 {
		return m.MeanSpend()
	}
	x := float64(s.X)
	return m.P * (m.Gamma + x*s.Zbar) / (m.P*x + m.Q - 1)
}

// FitGammaGamma estimates p, q and γ by maximum likelihood on the customers
// with x > 0 (rows with x = 0 carry no repeat spend and are skipped), over
// ln p, ln q, ln γ with gonum's BFGS, the analytic gradient
//
//	∂ℓ/∂p = x·[ψ(px+q) − ψ(px) + ln z̄ + ln x − ln(γ + x·z̄)]
//	∂ℓ/∂q = ψ(px+q) − ψ(q) + ln γ − ln(γ + x·z̄)
//	∂ℓ/∂γ = q/γ − (px+q)/(γ + x·z̄)
//
// and Newton polishing; identical (x, z̄) rows are merged first. It returns
// ErrNoData when no row has x > 0 and positive weight, and ErrInvalidInput
// for a row with x > 0 and z̄ ≤ 0 or not finite (a customer whose repeat
// purchases were all free cannot be described by the model; leave it out),
// and ErrNotIdentified or ErrNotConverged as FitBGNBD does.
func FitGammaGamma(data []Spend, o FitOptions) (GammaGamma, FitResult, error) {
	g := &ggGroups{}
	index := map[Spend]int{}
	xIndex := map[int]int32{}
	var sumZ float64
	for i, s := range data {
		w, err := o.weight(len(data), i)
		if err != nil {
			return GammaGamma{}, FitResult{}, err
		}
		if s.X <= 0 || w == 0 {
			continue
		}
		if !(s.Zbar > 0) || math.IsInf(s.Zbar, 1) {
			return GammaGamma{}, FitResult{}, fmt.Errorf("%w: row %d: mean repeat spend %v with x = %d must be finite and positive", ErrInvalidInput, i, s.Zbar, s.X)
		}
		g.total += w
		sumZ += w * s.Zbar
		if j, ok := index[s]; ok {
			g.w[j] += w
			continue
		}
		xi, ok := xIndex[s.X]
		if !ok {
			xi = int32(len(g.xs))
			g.xs = append(g.xs, float64(s.X))
			xIndex[s.X] = xi
		}
		index[s] = len(g.w)
		g.gx = append(g.gx, xi)
		g.z = append(g.z, s.Zbar)
		g.lz = append(g.lz, math.Log(s.Zbar))
		g.w = append(g.w, w)
	}
	if g.total == 0 {
		return GammaGamma{}, FitResult{}, fmt.Errorf("%w: no customer with a repeat purchase", ErrNoData)
	}
	nx := len(g.xs)
	g.c, g.dp, g.dq = make([]float64, nx), make([]float64, nx), make([]float64, nx)
	// Start at p = 1, q = 2 and γ = mean z̄, where the model's mean spend
	// pγ/(q−1) equals the observed one.
	theta0 := []float64{0, math.Log(2), math.Log(sumZ / g.total)}
	obj := func(theta, grad []float64) float64 { return g.negMeanLL(theta, grad, o.Penalty) }
	theta, hess, res, err := minimize(obj, theta0, o)
	m := GammaGamma{P: math.Exp(theta[0]), Q: math.Exp(theta[1]), Gamma: math.Exp(theta[2])}
	res.Customers = g.total
	res.Groups = len(g.w)
	if err != nil {
		return m, res, err
	}
	res.LogLikelihood = -g.total * g.negMeanLL(theta, nil, 0)
	if hess != nil {
		res.StdErr = stdErrors(theta, hess, g.total)
	}
	if maxAbs(theta) > maxLogParam/2 {
		res.Converged = false
		return m, res, fmt.Errorf("%w: estimate diverges (p=%.3g q=%.3g γ=%.3g)", ErrNotIdentified, m.P, m.Q, m.Gamma)
	}
	if !res.Converged {
		return m, res, fmt.Errorf("%w: %s", ErrNotConverged, res.Status)
	}
	return m, res, nil
}

// ggGroups is the spend data condensed to distinct (x, z̄) rows.
type ggGroups struct {
	xs        []float64
	gx        []int32
	z, lz, w  []float64
	total     float64
	c, dp, dq []float64 // per distinct x, per evaluation
}

// negMeanLL returns the mean negative Gamma-Gamma log-likelihood plus
// penalty·Σ params² at θ = (ln p, ln q, ln γ), and its θ-gradient.
func (g *ggGroups) negMeanLL(theta, grad []float64, penalty float64) float64 {
	p, q, gm := math.Exp(theta[0]), math.Exp(theta[1]), math.Exp(theta[2])
	lgq, lg := lgamma(q), math.Log(gm)
	var psq float64
	if grad != nil {
		psq = mathext.Digamma(q)
	}
	for i, x := range g.xs {
		px := p * x
		g.c[i] = lgamma(px+q) - lgamma(px) - lgq + q*lg + px*math.Log(x)
		if grad != nil {
			a := mathext.Digamma(px + q)
			g.dp[i] = x * (a - mathext.Digamma(px) + math.Log(x))
			g.dq[i] = a - psq + lg
		}
	}
	var ll, gp, gq, gg float64
	for j, w := range g.w {
		xi := g.gx[j]
		x := g.xs[xi]
		px := p * x
		l := math.Log(gm + x*g.z[j])
		ll += w * (g.c[xi] + (px-1)*g.lz[j] - (px+q)*l)
		if grad != nil {
			gp += w * (g.dp[xi] + x*(g.lz[j]-l))
			gq += w * (g.dq[xi] - l)
			gg += w * (q/gm - (px+q)/(gm+x*g.z[j]))
		}
	}
	f := -ll / g.total
	if penalty != 0 {
		f += penalty * (p*p + q*q + gm*gm)
	}
	if grad != nil {
		grad[0] = -p*gp/g.total + 2*penalty*p*p
		grad[1] = -q*gq/g.total + 2*penalty*q*q
		grad[2] = -gm*gg/g.total + 2*penalty*gm*gm
	}
	return f
}
