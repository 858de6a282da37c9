package clv

import (
	"math"
	"testing"
)

// hypCases are G = C/(a−1)·[1 − w^(r+x)·2F1(r+x, b+x; C; z)] (the alive part
// of FHL 2005 eq. 10) at points including every corner hyp.go treats
// specially. The wanted values were computed with mpmath 1.3 at 60 digits
// from the untransformed formula (mp.hyp2f1), nudging a = 1 and C = 0 by
// 1e-45.
var hypCases = []struct {
	name       string
	r, a, b, x float64
	z, w       float64
	want       float64
}{
	{"CDNOW", 0.2425945, 0.7929199, 2.4258881, 0, 0.001, 0.999, 0.00024280014567581988},
	{"CDNOW", 0.2425945, 0.7929199, 2.4258881, 0, 0.4725, 0.5275, 0.19370823244437874},
	{"CDNOW", 0.2425945, 0.7929199, 2.4258881, 0, 0.9, 0.1, 1.2098479846843372},
	{"CDNOW", 0.2425945, 0.7929199, 2.4258881, 0, 0.99, 0.01, 4.592005642860787},
	{"CDNOW", 0.2425945, 0.7929199, 2.4258881, 0, 0.999999, 0.000001, 76.377880820311626},
	{"CDNOW", 0.2425945, 0.7929199, 2.4258881, 2, 0.001, 0.999, 0.0022442860360837711},
	{"CDNOW", 0.2425945, 0.7929199, 2.4258881, 2, 0.4725, 0.5275, 1.6783890207114142},
	{"CDNOW", 0.2425945, 0.7929199, 2.4258881, 2, 0.9, 0.1, 8.6053025348362825},
	{"CDNOW", 0.2425945, 0.7929199, 2.4258881, 2, 0.99, 0.01, 25.306900256230048},
	{"CDNOW", 0.2425945, 0.7929199, 2.4258881, 2, 0.999999, 0.000001, 286.41910880348126},
	{"CDNOW", 0.2425945, 0.7929199, 2.4258881, 1000, 0.001, 0.999, 1.0008475072456932},
	{"CDNOW", 0.2425945, 0.7929199, 2.4258881, 1000, 0.4725, 0.5275, 684.34881195521526},
	{"CDNOW", 0.2425945, 0.7929199, 2.4258881, 1000, 0.9, 0.1, 2953.9503435525078},
	{"CDNOW", 0.2425945, 0.7929199, 2.4258881, 1000, 0.99, 0.01, 7715.0008115712542},
	{"CDNOW", 0.2425945, 0.7929199, 2.4258881, 1000, 0.999999, 0.000001, 79712.88194068825},
	{"a = 1", 1, 1, 1, 0, 0.5, 0.5, 0.69314718055994518},
	{"a = 1", 1, 1, 1, 0, 0.99999, 0.00001, 11.512925464970227},
	{"a = 1", 0.5, 1, 2, 3, 0.9999, 0.0001, 44.037196695959429},
	{"a near 1", 0.5, 1.000001, 2, 0, 0.999999, 0.000001, 22.86630163407563},
	{"a near 1", 0.5, 1.000001, 2, 1, 0.999999, 0.000001, 38.787417763152672},
	{"a near 1", 0.5, 0.99995, 2, 1, 0.97, 0.03, 8.0646871418478805},
	{"C = 0", 0.3, 0.4, 0.6, 0, 0.5, 0.5, 0.24769717679527643},
	{"C = 0", 0.3, 0.4, 0.6, 0, 0.999, 0.001, 25.131430257712138},
	{"C = 0", 0.3, 0.4, 0.6, 0, 0.999999, 0.000001, 1591.5555938597817},
	{"m integer (r = a)", 0.5, 0.5, 1, 0, 0.9999, 0.0001, 99.0},
	{"m integer (r = a)", 0.5, 0.5, 1, 4, 0.99999, 0.00001, 2837.0498941515414},
	{"m integer, r small", 0.001, 1.001, 3, 0, 0.99999, 0.00001, 0.15619474705951679},
	{"m integer through a", 0.0003, 1.2003, 3, 0, 0.99999, 0.00001, 0.028415444597150141},
	{"Cephes hang", 3, 5, 0.1, 1000, 0.95, 0.05, 251.02342452989965},
	{"large a", 3, 5, 0.1, 0, 0.999, 0.001, 1.0249999987788406},
	{"large a", 3, 5, 0.1, 7, 0.9, 0.1, 2.7745529201036507},
	{"small r, small b", 0.01, 2.5, 0.05, 0, 0.999999, 0.000001, 0.1329241396303562},
	{"small r, small b", 0.01, 2.5, 0.05, 1, 0.99, 0.01, 1.6562572412701269},
	{"large b", 20, 0.5, 50, 0, 0.999, 0.001, 1885.0767366272238},
	{"large b", 20, 0.5, 50, 1000, 0.999999, 0.000001, 2067183.6351192207},
	{"heterogeneous", 0.05, 0.2, 0.3, 0, 0.999999, 0.000001, 2670.2400821315802},
	{"heterogeneous", 0.05, 0.2, 0.3, 7, 0.9, 0.1, 46.281590418820599},
}

func TestAliveExpectationAgainstReference(t *testing.T) {
	t.Parallel()
	for _, tc := range hypCases {
		got := aliveExpectation(tc.r, tc.a, tc.b, tc.x, tc.z, tc.w)
		if rel := math.Abs(got-tc.want) / tc.want; !(rel <= 1e-9) {
			t.Errorf("%s: G(r=%v a=%v b=%v x=%v z=%v) = %.17g, want %.17g (rel. error %.1e)",
				tc.name, tc.r, tc.a, tc.b, tc.x, tc.z, got, tc.want, rel)
		}
	}
}

// TestAliveExpectationNearOnePath checks the z → 1−z continuation on its own,
// also where the series would have been used.
func TestAliveExpectationNearOnePath(t *testing.T) {
	t.Parallel()
	for _, tc := range hypCases {
		if tc.z < 0.9 {
			continue
		}
		got := aliveExpectationNearOne(tc.r, tc.a, tc.b, tc.x, tc.w, 0)
		if rel := math.Abs(got-tc.want) / tc.want; !(rel <= 1e-9) {
			t.Errorf("%s: near-one G(r=%v a=%v b=%v x=%v z=%v) = %.17g, want %.17g (rel. error %.1e)",
				tc.name, tc.r, tc.a, tc.b, tc.x, tc.z, got, tc.want, rel)
		}
	}
}

// TestAliveExpectationClosedForms checks G against closed forms of the
// hypergeometric function: for a = b = r = 1 and x = 0,
// 2F1(1, 1; 1; z) = 1/(1−z), so G = −ln(1−z)·… reduces to E1 = −ln w; and
// for a = 2, b = 1, r = 1, x = 0, 2F1(1, 1; 2; z) = −ln(1−z)/z gives
// G = 2·[1 − w·(−ln w)/z].
func TestAliveExpectationClosedForms(t *testing.T) {
	t.Parallel()
	for _, z := range []float64{1e-3, 0.25, 0.5, 0.9, 0.99, 0.999999} {
		w := 1 - z
		if got, want := aliveExpectation(1, 1, 1, 0, z, w), -math.Log1p(-z); math.Abs(got-want) > 1e-13*want {
			t.Errorf("a=b=r=1, z=%v: G = %.17g, want −ln(1−z) = %.17g", z, got, want)
		}
		want := 2 * (1 - w*(-math.Log1p(-z))/z)
		if got := aliveExpectation(1, 2, 1, 0, z, w); math.Abs(got-want) > 1e-9*want {
			t.Errorf("a=2 b=r=1, z=%v: G = %.17g, want 2(1 + w ln w / z) = %.17g", z, got, want)
		}
	}
}
