package clv

import "math"

// This file evaluates the Gauss hypergeometric part of FHL 2005 eqs. (9) and
// (10). Both are instances of
//
//	G = C/(a−1) · [1 − w^(r+x) · 2F1(r+x, b+x; C; z)],
//	C = a+b+x−1,  z = t/(α+T+t) ∈ [0, 1),  w = 1−z = (α+T)/(α+T+t),
//
// the expected number of purchases in (T, T+t] of a customer known to be
// alive at T. Evaluated as written it breaks three ways: 2F1(r+x, b+x; C; z)
// grows like w^(a−1−r−x) and overflows for large x (x = 1000, z = 0.5 gives
// 2^1000); at a = 1 it is 0/0; and for x = 0, a+b = 1 the 2F1 has C = 0.
//
// Euler's transformation (Abramowitz & Stegun 15.3.3),
// 2F1(A, B; C; z) = (1−z)^(C−A−B) 2F1(C−A, C−B; C; z), gives
//
//	w^(r+x) · 2F1(r+x, b+x; C; z) = w^(a−1) · F,   F = 2F1(A', a−1; C; z),  A' = a+b−1−r,
//
// whose parameters no longer grow with x. Because the second parameter is
// a−1 and (a−1)_k = (a−1)·(a)_{k−1}, (C)_k = C·(C+1)_{k−1}, the singular
// factors cancel term by term:
//
//	F − 1 = (a−1)/C · U,   U = Σ_{k≥1} (A')_k (a)_{k−1} / ((C+1)_{k−1} k!) · z^k,
//	G     = C·E1 − w^(a−1)·U,   E1 = (1 − w^(a−1))/(a−1) = −expm1((a−1)·ln w)/(a−1),
//
// finite and accurate at a = 1 (E1 = −ln w) and at C = 0. Successive terms of
// U have the ratio (A'+k)(a+k−1)/((C+k)(k+1))·z → z, so the series converges
// geometrically (fast for large x, where C is large); it is summed until the
// remaining tail, bounded by |u_{k+1}|/(1−max(ratio, z)), is below 1e-16·|U|.
//
// When z is so close to 1 that the series has not converged after
// seriesMaxTerms terms (a young customer, t ≫ α+T, with small x), F is
// continued to z → 1 with A&S 15.3.6:
//
//	F = K1 · 2F1(A', a−1; 1−m; w) + w^m · Γ(C)Γ(−m)/(Γ(A')Γ(a−1)) · 2F1(r+x, b+x; 1+m; w),
//	K1 = Γ(C)Γ(m)/(Γ(r+x)Γ(b+x)),  m = C−A'−(a−1) = x+r−a+1,
//
// whose two series in w converge fast. There the factor a−1 is again taken
// out analytically (1/Γ(a−1) = (a−1)/Γ(a), 2F1(A', a−1; ·; w) − 1 ∝ a−1), but
// K1 − 1 is a difference of log-gamma values and loses precision near a = 1;
// the formula is singular when m is an integer or C = 0. Within 1e-4 of any of
// these points G is interpolated (cubic, from the four points 2e-4 and 4e-4
// away; see interpolate). The tests compare G with 60-digit references over
// a grid that includes these corners: the relative error is about 1e-12 on
// the series path and below 1e-9 everywhere. Precision on the continuation
// path degrades as r → 0 (G ∝ r there while the terms are O(1)); at
// r = 5e-5, a ≈ 1 it is about 1e-6.
//
// gonum's mathext.Hypergeo is not used: on these arguments it is accurate, but
// for some (e.g. 2F1(1.1, 4; 1004.1; 0.95), where c−a−b is an integer) its
// Cephes z → 1−z branch did not return within ten minutes.

const (
	seriesMaxTerms = 1500
	nearSingular   = 1e-4
)

// interpolate returns f(v) for v within nearSingular of the singular point
// s, from the cubic through f at s±2·nearSingular and s±4·nearSingular. f is
// analytic there; the error is of order (4e-4)^4 times its fourth derivative,
// and the cancellation in the four evaluations about 1e-16/2e-4.
func interpolate(v, s float64, f func(float64) float64) float64 {
	const h = 2 * nearSingular
	xs := [4]float64{s - 2*h, s - h, s + h, s + 2*h}
	var sum float64
	for i, xi := range xs {
		l := 1.0
		for j, xj := range xs {
			if j != i {
				l *= (v - xj) / (xi - xj)
			}
		}
		sum += l * f(xi)
	}
	return sum
}

// aliveExpectation returns G for the model parameters r, a, b, frequency x,
// z = t/(α+T+t) and w = 1−z = (α+T)/(α+T+t), passed separately so that w
// keeps its precision when z is close to 1. It returns 0 for z ≤ 0.
func aliveExpectation(r, a, b, x, z, w float64) float64 {
	if !(z > 0) {
		return 0
	}
	if !(w > 0) {
		return math.Inf(1)
	}
	lw := math.Log(w)
	if z < 0.5 {
		lw = math.Log1p(-z)
	}
	c := a + b + x - 1
	if u, ok := hypSeriesU(a+b-1-r, a, c, z); ok {
		return c*e1(a, lw) - math.Exp((a-1)*lw)*u
	}
	return aliveExpectationNearOne(r, a, b, x, w, 0)
}

// e1 returns (1 − w^(a−1))/(a−1) from lw = ln w, and −ln w at a = 1.
func e1(a, lw float64) float64 {
	if a == 1 {
		return -lw
	}
	return -math.Expm1((a-1)*lw) / (a - 1)
}

// hypSeriesU sums U = Σ_{k≥1} (A')_k (a)_{k−1} / ((C+1)_{k−1} k!) z^k. It
// reports false if the sum has not converged within seriesMaxTerms terms or
// is not finite.
func hypSeriesU(ap, a, c, z float64) (float64, bool) {
	term := ap * z
	sum := term
	if term == 0 {
		return 0, true
	}
	for k := 1.0; k < seriesMaxTerms; k++ {
		ratio := (ap + k) * (a + k - 1) / ((c + k) * (k + 1)) * z
		term *= ratio
		sum += term
		if rho := math.Abs(ratio); rho < 1 {
			if math.Abs(term) <= 1e-16*(1-max(rho, z))*math.Abs(sum) {
				return sum, finite(sum)
			}
		}
		if sum-sum != 0 { // not finite
			return 0, false
		}
	}
	return 0, false
}

// aliveExpectationNearOne evaluates G with the z → 1−z continuation above.
// depth counts the interpolations around this call; after two, the formula
// is used as it stands (finite, if less precise), so nested corners such as
// a ≈ 1 with r ≈ 0 cannot recurse without end.
func aliveExpectationNearOne(r, a, b, x, w float64, depth int) float64 {
	c := a + b + x - 1
	m := x + r - a + 1
	switch m0 := math.Round(m); {
	case depth > 2:
	case math.Abs(a-1) < nearSingular:
		return interpolate(a, 1, func(a float64) float64 {
			return aliveExpectationNearOne(r, a, b, x, w, depth+1)
		})
	case math.Abs(c) < nearSingular:
		// Move C = a+b+x−1 through b, keeping a.
		return interpolate(c, 0, func(c float64) float64 {
			return aliveExpectationNearOne(r, a, c+1-a-x, x, w, depth+1)
		})
	case math.Abs(m-m0) < nearSingular:
		// Move m = x+r−a+1 through r, or through a if r is too small.
		if r-m+m0 > 4*nearSingular {
			return interpolate(m, m0, func(m float64) float64 {
				return aliveExpectationNearOne(m-x+a-1, a, b, x, w, depth+1)
			})
		}
		return interpolate(m, m0, func(m float64) float64 {
			return aliveExpectationNearOne(r, x+r+1-m, b, x, w, depth+1)
		})
	}
	ap := a + b - 1 - r
	lw := math.Log(w)

	// K1 = Γ(C)Γ(m)/(Γ(r+x)Γ(b+x)), and K1 − 1 without cancellation when
	// K1 is close to 1.
	lc, sc := math.Lgamma(c)
	lm, sm := math.Lgamma(m)
	dl := lc + lm - lgamma(r+x) - lgamma(b+x)
	k1 := float64(sc*sm) * math.Exp(dl)
	k1m1 := k1 - 1
	if sc*sm > 0 {
		k1m1 = math.Expm1(dl)
	}

	// V = (2F1(A', a−1; 1−m; w) − 1)/(a−1) = Σ_{k≥1} (A')_k (a)_{k−1}/((1−m)_k k!) w^k.
	var v float64
	{
		term := ap / (1 - m) * w
		v = term
		for k := 1.0; k < seriesMaxTerms && term != 0; k++ {
			term *= (ap + k) * (a + k - 1) / ((1 - m + k) * (k + 1)) * w
			v += term
			if math.Abs(term) <= 1e-17*math.Abs(v) {
				break
			}
		}
	}

	// K2' = w^m Γ(C)Γ(−m)/(Γ(A')Γ(a)); 1/Γ(A') = 0 at non-positive integers.
	var k2 float64
	if !(ap <= 0 && ap == math.Floor(ap)) {
		lnm, snm := math.Lgamma(-m)
		lap, sap := math.Lgamma(ap)
		k2 = float64(sc*snm*sap) * math.Exp(m*lw+lc+lnm-lap-lgamma(a))
	}

	// F2 = 2F1(r+x, b+x; 1+m; w).
	f2 := 1.0
	if k2 != 0 {
		term := 1.0
		for k := 0.0; k < seriesMaxTerms; k++ {
			term *= (r + x + k) * (b + x + k) / ((1 + m + k) * (k + 1)) * w
			f2 += term
			if math.Abs(term) <= 1e-17*math.Abs(f2) {
				break
			}
		}
	}

	u := c * (k1m1/(a-1) + k1*v + k2*f2)
	return c*e1(a, lw) - math.Exp((a-1)*lw)*u
}
