package clv

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/mathext"
)

// BGNBD holds the four parameters of the beta-geometric/negative binomial
// distribution model (FHL 2005, section 3): while alive, a customer buys as a
// Poisson process with rate λ ~ Gamma(shape R, rate Alpha); after each repeat
// purchase it drops out for good with probability p ~ Beta(A, B).
//
// Alpha is in the model's time unit (weeks for the published CDNOW fit); R, A
// and B are dimensionless. All four must be positive.
type BGNBD struct {
	R, Alpha, A, B float64
}

// Validate reports whether all four parameters are finite and positive.
func (m BGNBD) Validate() error {
	if !(positive(m.R) && positive(m.Alpha) && positive(m.A) && positive(m.B)) {
		return fmt.Errorf("%w: BG/NBD parameters r=%v α=%v a=%v b=%v must be finite and positive", ErrInvalidInput, m.R, m.Alpha, m.A, m.B)
	}
	return nil
}

// LogLikelihood returns ln L(r, α, a, b | x, t_x, T), the log of FHL 2005
// eq. (6):
//
//	L = B(a, b+x)/B(a, b) · Γ(r+x) α^r / (Γ(r) (α+T)^(r+x))
//	  + δ(x>0) · B(a+1, b+x−1)/B(a, b) · Γ(r+x) α^r / (Γ(r) (α+t_x)^(r+x))
//
// computed in log space as in FHL 2005 section 7 (ln Γ and a log-sum-exp of
// the two terms), so it stays finite for large x (e.g. x = 1000, T = 100).
func (m BGNBD) LogLikelihood(s Summary) float64 {
	r, al, a, b := m.R, m.Alpha, m.A, m.B
	x := float64(s.X)
	la := lgamma(r+x) - lgamma(r) + r*math.Log(al) +
		lgamma(a+b) + lgamma(b+x) - lgamma(b) - lgamma(a+b+x)
	l3 := -(r + x) * math.Log(al+s.T)
	if s.X == 0 {
		return la + l3
	}
	l4 := math.Log(a) - math.Log(b+x-1) - (r+x)*math.Log(al+s.Tx)
	return la + logAddExp(l3, l4)
}

// TotalLogLikelihood returns Σ w_i · ln L_i over the customers, the
// log-likelihood of a customer base (FHL 2005 eq. 6 summed). weights may be
// nil (every customer counts once) or have one entry per summary.
func (m BGNBD) TotalLogLikelihood(data []Summary, weights []float64) float64 {
	var sum float64
	for i, s := range data {
		w := 1.0
		if weights != nil {
			w = weights[i]
		}
		if w != 0 {
			sum += w * m.LogLikelihood(s)
		}
	}
	return sum
}

// PAlive returns the probability that a customer with history (x, t_x, T) is
// still alive at T (Fader, Hardie & Lee 2008, "Computing P(alive) Using the
// BG/NBD Model", the closing expression):
//
//	P(alive | x, t_x, T) = 1 / (1 + δ(x>0) · a/(b+x−1) · ((α+T)/(α+t_x))^(r+x))
//
// It is 1 for x = 0: under the BG/NBD a customer can only drop out right after
// a repeat purchase. It is evaluated as a logistic function of the log odds,
// so large x gives a value near 0, never NaN.
func (m BGNBD) PAlive(s Summary) float64 {
	if s.X == 0 {
		return 1
	}
	return 1 / (1 + math.Exp(m.logDeadOdds(s)))
}

// logDeadOdds returns ln(a/(b+x−1)) + (r+x)·ln((α+T)/(α+t_x)), the log of the
// odds of being dead at T for x > 0.
func (m BGNBD) logDeadOdds(s Summary) float64 {
	x := float64(s.X)
	return math.Log(m.A) - math.Log(m.B+x-1) + (m.R+x)*(math.Log(m.Alpha+s.T)-math.Log(m.Alpha+s.Tx))
}

// PAliveAfterSilence returns the probability that the customer is still alive
// at T+t if it makes no purchase in (T, T+t]: silence is new evidence, and the
// posterior is that of the history (x, t_x, T+t), so the value is
// PAlive(x, t_x, T+t) (same note as PAlive). This is what P(alive) will read
// after t more time units without an order; it decreases in t.
func (m BGNBD) PAliveAfterSilence(s Summary, t float64) float64 {
	s.T += t
	return m.PAlive(s)
}

// ExpectedPurchases returns E[X(t)], the expected number of repeat purchases
// in a period of length t (model time units) for a customer drawn at random
// from the population at its first purchase (FHL 2005 eq. 9):
//
//	E[X(t)] = (a+b−1)/(a−1) · [1 − (α/(α+t))^r · 2F1(r, b; a+b−1; t/(α+t))]
//
// It is evaluated without the removable singularities at a = 1 and a+b = 1
// (see ConditionalExpectedPurchases).
func (m BGNBD) ExpectedPurchases(t float64) float64 {
	return m.ConditionalExpectedPurchases(t, Summary{})
}

// ConditionalExpectedPurchases returns E[Y(t) | x, t_x, T], the expected
// number of purchases in (T, T+t] for a customer with history s (FHL 2005
// eq. 10):
//
//	E[Y(t) | x, t_x, T] = (a+b+x−1)/(a−1)
//	    · [1 − ((α+T)/(α+T+t))^(r+x) · 2F1(r+x, b+x; a+b+x−1; z)]
//	    / (1 + δ(x>0) · a/(b+x−1) · ((α+T)/(α+t_x))^(r+x)),   z = t/(α+T+t).
//
// The hypergeometric term is rewritten with Euler's transformation
// (Abramowitz & Stegun 15.3.3) as (1−z)^(a−1) · 2F1(a+b−1−r, a−1; a+b+x−1; z),
// whose parameters do not grow with x, so the value neither overflows for
// x = 1000 nor loses precision at a = 1 (see hyp.go for the evaluation). t is in model time
// units; the result is a number of purchases (purchase days).
func (m BGNBD) ConditionalExpectedPurchases(t float64, s Summary) float64 {
	if t <= 0 {
		return 0
	}
	return m.PAlive(s) * m.aliveExpectation(t, s.X, s.T)
}

// aliveExpectation returns E[Y(t) | alive at T, x, T]: the numerator of
// FHL 2005 eq. (10), (a+b+x−1)/(a−1)·[1 − ((α+T)/(α+T+t))^(r+x)·2F1(…)].
func (m BGNBD) aliveExpectation(t float64, x int, T float64) float64 {
	d := m.Alpha + T + t
	return aliveExpectation(m.R, m.A, m.B, float64(x), t/d, (m.Alpha+T)/d)
}

// ProbPurchases returns P(X(t) = n), the probability that a customer drawn at
// random from the population makes exactly n repeat purchases in a period of
// length t after its first purchase (FHL 2005 eq. 8):
//
//	P(X(t)=n) = B(a, b+n)/B(a, b) · Γ(r+n)/(Γ(r) n!) · (α/(α+t))^r (t/(α+t))^n
//	    + δ(n>0) · B(a+1, b+n−1)/B(a, b)
//	      · [1 − (α/(α+t))^r Σ_{j<n} Γ(r+j)/(Γ(r) j!) (t/(α+t))^j].
//
// The bracket, the upper tail P(N ≥ n) of a negative binomial, is evaluated as
// the regularized incomplete beta function I_{t/(α+t)}(n, r) instead of
// 1 − Σ, so small probabilities keep their relative precision.
func (m BGNBD) ProbPurchases(n int, t float64) float64 {
	if n < 0 || t < 0 || math.IsNaN(t) {
		return 0
	}
	r, al, a, b := m.R, m.Alpha, m.A, m.B
	if t == 0 {
		if n == 0 {
			return 1
		}
		return 0
	}
	nf := float64(n)
	lq := math.Log(al) - math.Log(al+t) // ln(α/(α+t))
	lp := math.Log(t) - math.Log(al+t)  // ln(t/(α+t))
	lbab := lbeta(a, b)
	first := math.Exp(lbeta(a, b+nf) - lbab + lgamma(r+nf) - lgamma(r) - lgamma(nf+1) + r*lq + nf*lp)
	if n == 0 {
		return first
	}
	tail := mathext.RegIncBeta(nf, r, t/(al+t))
	return first + math.Exp(lbeta(a+1, b+nf-1)-lbab)*tail
}

func lgamma(x float64) float64 {
	v, _ := math.Lgamma(x)
	return v
}

func lbeta(a, b float64) float64 { return lgamma(a) + lgamma(b) - lgamma(a+b) }

// logAddExp returns ln(e^u + e^v) without overflow.
func logAddExp(u, v float64) float64 {
	if u < v {
		u, v = v, u
	}
	if math.IsInf(u, -1) {
		return u
	}
	return u + math.Log1p(math.Exp(v-u))
}

func positive(v float64) bool { return v > 0 && !math.IsInf(v, 1) }
