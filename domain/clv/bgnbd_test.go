package clv

import (
	"errors"
	"math"
	"testing"
	"time"
)

func relErr(got, want float64) float64 { return math.Abs(got-want) / math.Abs(want) }

// TestSummarizeCDNOW rebuilds the published summary from the raw log through
// the aggregates the service stores (first day, last day ≤ end, distinct
// purchase days ≤ end) and compares every customer to 2 decimals.
func TestSummarizeCDNOW(t *testing.T) {
	t.Parallel()
	customers, _, published := loadCDNOW(t)
	if len(customers) != 2357 || len(published) != 2357 {
		t.Fatalf("got %d customers and %d summary rows, want 2357", len(customers), len(published))
	}
	var repeat, holdout int
	for i, c := range customers {
		s, err := Summarize(c.first, c.last, c.days, cdnowCalibrationEnd, Week)
		if err != nil {
			t.Fatalf("customer %d: %v", c.id, err)
		}
		p := published[i]
		if p.id != c.id || s.X != p.x || math.Abs(s.Tx-p.tx) > 0.005 || math.Abs(s.T-p.T) > 0.005 {
			t.Errorf("customer %d: Summarize = (%d, %.4f, %.4f), published (%d, %.2f, %.2f)", c.id, s.X, s.Tx, s.T, p.x, p.tx, p.T)
		}
		repeat += s.X
		holdout += c.holdoutDays
	}
	if repeat != 2457 || holdout != 1882 {
		t.Errorf("repeat purchase days = %d, holdout purchase days = %d; README says 2457 and 1882", repeat, holdout)
	}
}

func TestSummarize(t *testing.T) {
	t.Parallel()
	d := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	end := d("1997-09-30T23:59:00Z")
	cases := []struct {
		name        string
		first, last time.Time
		days        int
		end         time.Time
		unit        time.Duration
		want        Summary
		wantErr     bool
	}{
		{"one purchase", d("1997-01-01T10:00:00Z"), d("1997-01-01T10:00:00Z"), 1, end, Week, Summary{0, 0, 272.0 / 7}, false},
		{"weeks", d("1997-01-01T00:00:00Z"), d("1997-08-02T18:00:00Z"), 3, end, Week, Summary{2, 213.0 / 7, 272.0 / 7}, false},
		{"days", d("1997-01-01T00:00:00Z"), d("1997-08-02T18:00:00Z"), 3, end, Day, Summary{2, 213, 272}, false},
		{"time of day ignored", d("1997-01-01T23:59:59Z"), d("1997-01-02T00:00:01Z"), 2, d("1997-01-08T00:00:00Z"), Day, Summary{1, 1, 7}, false},
		{"calendar day in UTC", d("1997-01-01T23:30:00-02:00"), d("1997-01-02T01:30:00Z"), 1, d("1997-01-03T12:00:00Z"), Day, Summary{0, 0, 1}, false},
		{"hours unit", d("1997-01-01T00:00:00Z"), d("1997-01-02T00:00:00Z"), 2, d("1997-01-03T00:00:00Z"), time.Hour, Summary{1, 24, 48}, false},
		{"no purchase", d("1997-01-01T00:00:00Z"), d("1997-01-01T00:00:00Z"), 0, end, Week, Summary{}, true},
		{"last before first", d("1997-02-01T00:00:00Z"), d("1997-01-01T00:00:00Z"), 2, end, Week, Summary{}, true},
		{"end before last", d("1997-01-01T00:00:00Z"), d("1997-12-01T00:00:00Z"), 2, end, Week, Summary{}, true},
		{"too many days", d("1997-01-01T00:00:00Z"), d("1997-01-02T00:00:00Z"), 3, end, Week, Summary{}, true},
		{"one day but two dates", d("1997-01-01T00:00:00Z"), d("1997-01-02T00:00:00Z"), 1, end, Week, Summary{}, true},
		{"zero unit", d("1997-01-01T00:00:00Z"), d("1997-01-01T00:00:00Z"), 1, end, 0, Summary{}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := Summarize(tc.first, tc.last, tc.days, tc.end, tc.unit)
			if tc.wantErr {
				if !errors.Is(err, ErrInvalidInput) {
					t.Fatalf("err = %v, want ErrInvalidInput", err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("Summarize = %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

// TestFitBGNBDCDNOW reproduces the published CDNOW estimates (FHL 2005
// section 7; lifetimes' reference values): each parameter within 0.1 % and
// the log-likelihood within 0.01.
func TestFitBGNBDCDNOW(t *testing.T) {
	t.Parallel()
	m, res := cdnowFit(t)
	for _, p := range []struct {
		name      string
		got, want float64
	}{{"r", m.R, 0.2425945}, {"alpha", m.Alpha, 4.4136019}, {"a", m.A, 0.7929199}, {"b", m.B, 2.4258881}} {
		if relErr(p.got, p.want) > 1e-3 {
			t.Errorf("%s = %.7f, want %.7f ± 0.1 %%", p.name, p.got, p.want)
		}
	}
	if math.Abs(res.LogLikelihood-(-9582.43)) > 0.01 {
		t.Errorf("log-likelihood = %.4f, want −9582.43 ± 0.01", res.LogLikelihood)
	}
	if !res.Converged || res.Customers != 2357 || res.Groups >= 2357 {
		t.Errorf("result = %+v, want converged on 2357 customers in fewer groups", res)
	}
	// Standard errors as reported for this fit by lifetimes (0.0126, 0.378,
	// 0.186, 0.705), to 2 %.
	for i, want := range []float64{0.012557, 0.378221, 0.185719, 0.705345} {
		if len(res.StdErr) != 4 || relErr(res.StdErr[i], want) > 0.02 {
			t.Errorf("StdErr = %v, want ≈ %v", res.StdErr, want)
			break
		}
	}
	// The total log-likelihood of the rows agrees with the grouped one.
	if ll := m.TotalLogLikelihood(cdnowSummaries(t), nil); math.Abs(ll-res.LogLikelihood) > 1e-6 {
		t.Errorf("TotalLogLikelihood = %.8f, fit reported %.8f", ll, res.LogLikelihood)
	}
}

func TestConditionalExpectedPurchasesCDNOW(t *testing.T) {
	t.Parallel()
	m, _ := cdnowFit(t)
	// FHL 2005 section 6: customer with x = 2, t_x = 30.43, T = 38.86
	// expects 1.226 purchases in the next 39 weeks.
	if got := m.ConditionalExpectedPurchases(39, Summary{X: 2, Tx: 30.43, T: 38.86}); math.Abs(got-1.226) > 0.001 {
		t.Errorf("E[Y(39) | 2, 30.43, 38.86] = %.5f, want 1.226 ± 0.001", got)
	}
}

func TestExpectedPurchasesCDNOW(t *testing.T) {
	t.Parallel()
	m, _ := cdnowFit(t)
	for _, tc := range []struct{ t, want float64 }{
		{0.1429, 0.0078}, {1, 0.0532}, {3, 0.1506}, {31.8571, 1.0405}, {32, 1.0437}, {78, 1.8576},
	} {
		if got := m.ExpectedPurchases(tc.t); math.Abs(got-tc.want) > 0.001 {
			t.Errorf("E[X(%v)] = %.5f, want %.4f ± 0.001", tc.t, got, tc.want)
		}
	}
	if got := m.ExpectedPurchases(0); got != 0 {
		t.Errorf("E[X(0)] = %v, want 0", got)
	}
}

func TestProbPurchases(t *testing.T) {
	t.Parallel()
	m := BGNBD{R: 0.243, Alpha: 4.414, A: 0.793, B: 2.426}
	// Values of the BTYD R package (lifetimes' test suite).
	if got := m.ProbPurchases(0, 39); math.Abs(got-0.5737864) > 1e-4 {
		t.Errorf("P(X(39)=0) = %.7f, want 0.5737864", got)
	}
	got := m.ProbPurchases(10, 2)
	if math.Abs(got-1.07869e-07) > 1e-4 || relErr(got, 1.07869e-07) > 1e-3 {
		t.Errorf("P(X(2)=10) = %.6g, want 1.07869e-07 within 0.1 %%", got)
	}
	// The probabilities over n sum to 1 and their mean is E[X(t)].
	var sum, mean float64
	for n := 0; n < 2000; n++ {
		p := m.ProbPurchases(n, 39)
		sum += p
		mean += float64(n) * p
	}
	if math.Abs(sum-1) > 1e-9 || relErr(mean, m.ExpectedPurchases(39)) > 1e-6 {
		t.Errorf("Σ P(X(39)=n) = %.12f, Σ n·P = %.9f, E[X(39)] = %.9f", sum, mean, m.ExpectedPurchases(39))
	}
}

func TestPAlive(t *testing.T) {
	t.Parallel()
	m := BGNBD{R: 0.2425945, Alpha: 4.4136019, A: 0.7929199, B: 2.4258881}
	cases := []struct {
		s    Summary
		want float64
	}{
		{Summary{X: 0, T: 38.86}, 1},
		// 1/(1 + a/(b+x−1)·((α+T)/(α+t_x))^(r+x)), evaluated by hand:
		// x=2: 0.7929199/3.4258881 = 0.2314496; (43.2736019/34.8436019)^2.2425945
		// = e^(2.2425945·0.2166736) = 1.625636; 1/(1 + 0.376254) = 0.726610.
		{Summary{X: 2, Tx: 30.43, T: 38.86}, 0.726610},
		// x=1, t_x=T: a/b = 0.3268655, P = 1/1.3268655 = 0.753655.
		{Summary{X: 1, Tx: 20, T: 20}, 0.753655},
	}
	for _, tc := range cases {
		if got := m.PAlive(tc.s); math.Abs(got-tc.want) > 1e-5 {
			t.Errorf("PAlive(%+v) = %.6f, want %.6f", tc.s, got, tc.want)
		}
	}
	s := Summary{X: 2, Tx: 30.43, T: 38.86}
	if a, b := m.PAliveAfterSilence(s, 0), m.PAliveAfterSilence(s, 26); a != m.PAlive(s) || !(b < a) || b != m.PAlive(Summary{X: 2, Tx: 30.43, T: 64.86}) {
		t.Errorf("PAliveAfterSilence = %v, %v", a, b)
	}
}

// TestExtremeHistories: large x, a single customer, x = 0 everywhere — never
// NaN, never a panic.
func TestExtremeHistories(t *testing.T) {
	t.Parallel()
	m := BGNBD{R: 0.2425945, Alpha: 4.4136019, A: 0.7929199, B: 2.4258881}
	s := Summary{X: 1000, Tx: 10, T: 100}
	ll := m.LogLikelihood(s)
	pa := m.PAlive(s)
	ce := m.ConditionalExpectedPurchases(39, s)
	if !finite(ll) || !(pa >= 0 && pa < 1e-100) || !(ce >= 0 && ce < 1e-100) {
		t.Errorf("x=1000 t_x=10 T=100: LL=%v PAlive=%v E[Y(39)]=%v; want finite, ≈ 0, ≈ 0", ll, pa, ce)
	}
	// Still buying at the end: alive, and E[Y] ≈ rate × t with rate (r+x)/(α+T).
	s = Summary{X: 1000, Tx: 100, T: 100}
	pa, ce = m.PAlive(s), m.ConditionalExpectedPurchases(39, s)
	if !(pa > 0.99) || !(ce > 250 && ce < 1000.2425945*39/104.4136019) {
		t.Errorf("x=1000 t_x=T=100: PAlive=%v E[Y(39)]=%v", pa, ce)
	}
	if got := m.ConditionalExpectedPurchases(1e9, Summary{X: 0, T: 0}); !finite(got) || got <= 0 {
		t.Errorf("E[Y(1e9)] for a brand-new customer = %v", got)
	}
}

func TestFitBGNBDEdgeCases(t *testing.T) {
	t.Parallel()
	t.Run("no customers", func(t *testing.T) {
		t.Parallel()
		if _, _, err := FitBGNBD(nil, FitOptions{}); !errors.Is(err, ErrNoData) {
			t.Fatalf("err = %v, want ErrNoData", err)
		}
	})
	t.Run("all zero weights", func(t *testing.T) {
		t.Parallel()
		if _, _, err := FitBGNBD([]Summary{{X: 1, Tx: 1, T: 2}}, FitOptions{Weights: []float64{0}}); !errors.Is(err, ErrNoData) {
			t.Fatalf("err = %v, want ErrNoData", err)
		}
	})
	t.Run("no repeat purchases", func(t *testing.T) {
		t.Parallel()
		data := []Summary{{X: 0, T: 10}, {X: 0, T: 20}, {X: 0, T: 30}}
		if _, _, err := FitBGNBD(data, FitOptions{}); !errors.Is(err, ErrNotIdentified) {
			t.Fatalf("err = %v, want ErrNotIdentified", err)
		}
	})
	t.Run("single customer", func(t *testing.T) {
		t.Parallel()
		m, res, err := FitBGNBD([]Summary{{X: 2, Tx: 30.43, T: 38.86}}, FitOptions{})
		if err == nil && (m.Validate() != nil || !finite(res.LogLikelihood)) {
			t.Fatalf("fit = %+v %+v, want finite parameters or an error", m, res)
		}
		if err != nil && !errors.Is(err, ErrNotIdentified) && !errors.Is(err, ErrNotConverged) {
			t.Fatalf("err = %v, want nil, ErrNotIdentified or ErrNotConverged", err)
		}
		for _, v := range []float64{m.R, m.Alpha, m.A, m.B} {
			if math.IsNaN(v) {
				t.Fatalf("NaN parameter in %+v", m)
			}
		}
	})
	t.Run("invalid row", func(t *testing.T) {
		t.Parallel()
		for _, s := range []Summary{{X: -1, T: 1}, {X: 1, Tx: 2, T: 1}, {X: 1, Tx: math.NaN(), T: 1}, {X: 0, T: math.Inf(1)}} {
			if _, _, err := FitBGNBD([]Summary{s}, FitOptions{}); !errors.Is(err, ErrInvalidInput) {
				t.Errorf("%+v: err = %v, want ErrInvalidInput", s, err)
			}
		}
		if _, _, err := FitBGNBD([]Summary{{X: 1, Tx: 1, T: 2}}, FitOptions{Weights: []float64{1, 2}}); !errors.Is(err, ErrInvalidInput) {
			t.Errorf("weights length: err = %v, want ErrInvalidInput", err)
		}
	})
	t.Run("weights equal duplicates", func(t *testing.T) {
		t.Parallel()
		data := cdnowSummaries(t)[:300]
		w := make([]float64, len(data))
		var dup []Summary
		for i, s := range data {
			w[i] = float64(i%3 + 1)
			for range i%3 + 1 {
				dup = append(dup, s)
			}
		}
		m1, r1, err1 := FitBGNBD(data, FitOptions{Weights: w})
		m2, r2, err2 := FitBGNBD(dup, FitOptions{})
		if err1 != nil || err2 != nil || relErr(m1.R, m2.R) > 1e-6 || relErr(m1.B, m2.B) > 1e-6 || math.Abs(r1.LogLikelihood-r2.LogLikelihood) > 1e-6 {
			t.Errorf("weighted %+v %v %v vs duplicated %+v %v %v", m1, r1.LogLikelihood, err1, m2, r2.LogLikelihood, err2)
		}
	})
}

// TestGradient checks the analytic gradient of the grouped objective against
// central differences.
func TestGradient(t *testing.T) {
	t.Parallel()
	g, err := groupSummaries(append(cdnowSummaries(t), Summary{X: 1000, Tx: 10, T: 100}), FitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	theta := []float64{math.Log(0.3), math.Log(5), math.Log(0.7), math.Log(2)}
	for _, pen := range []float64{0, 0.01} {
		grad := make([]float64, 4)
		g.negMeanLL(theta, grad, pen)
		for i := range theta {
			const h = 1e-6
			x := append([]float64(nil), theta...)
			x[i] += h
			fp := g.negMeanLL(x, nil, pen)
			x[i] -= 2 * h
			fm := g.negMeanLL(x, nil, pen)
			if num := (fp - fm) / (2 * h); math.Abs(num-grad[i]) > 1e-6*math.Max(1, math.Abs(num)) {
				t.Errorf("penalty %v, ∂/∂θ%d: analytic %.10g, numeric %.10g", pen, i, grad[i], num)
			}
		}
	}
}
