package clv

import (
	"math"
	"testing"
)

// TestCompareHoldoutCDNOW is the FHL 2005 Figure 4 check: customers grouped
// by calibration frequency 0..6, 7+; mean holdout purchases (distinct days
// 1997-10-01..1998-06-30) against the 39-week conditional expectation.
//
// At the CDNOW estimates the model expects 1,653.4 holdout purchase days
// against the actual 1,882: it under-forecasts by 12.1 %, most of it in
// classes 1 and 2 (0.52 vs 0.70 and 1.04 vs 1.39 per customer), the gap FHL
// 2005 Figure 4 shows. 1,653.4 was confirmed independently with mpmath from
// eq. (10) as written, so the tolerance on the total is 15 %, not tighter.
// Each class mean must lie within 30 % of the actual one and the expected
// means must rise with x.
func TestCompareHoldoutCDNOW(t *testing.T) {
	t.Parallel()
	m, _ := cdnowFit(t)
	customers, _, _ := loadCDNOW(t)
	cal := make([]Summary, len(customers))
	actual := make([]float64, len(customers))
	for i, c := range customers {
		s, err := Summarize(c.first, c.last, c.days, cdnowCalibrationEnd, Week)
		if err != nil {
			t.Fatal(err)
		}
		cal[i], actual[i] = s, float64(c.holdoutDays)
	}
	classes, err := CompareHoldout(m, cal, actual, 39, 7)
	if err != nil {
		t.Fatal(err)
	}
	var n, act, exp float64
	for _, c := range classes {
		n += c.Customers
		act += c.Customers * c.Actual
		exp += c.Customers * c.Expected
		t.Logf("x=%d%s n=%4.0f actual %.3f expected %.3f", c.Frequency, map[bool]string{true: "+"}[c.OrMore], c.Customers, c.Actual, c.Expected)
		if relErr(c.Expected, c.Actual) > 0.30 {
			t.Errorf("class %d: expected %.3f vs actual %.3f", c.Frequency, c.Expected, c.Actual)
		}
	}
	t.Logf("total actual %.0f, expected %.1f", act, exp)
	if n != 2357 || act != 1882 || relErr(exp, act) > 0.15 || math.Abs(exp-1653.42) > 0.1 {
		t.Errorf("customers %v, actual %v, expected %.2f; want 2357, 1882, 1653.42 (within 15 %% of actual)", n, act, exp)
	}
	for i := 1; i < len(classes); i++ {
		if !(classes[i].Expected > classes[i-1].Expected) {
			t.Errorf("expected means do not rise with x: %+v", classes)
		}
	}
	wantCounts := []float64{1411, 439, 214, 100, 62, 38, 29, 64}
	for i, c := range classes {
		if c.Customers != wantCounts[i] {
			t.Errorf("class %d has %v customers, README says %v", i, c.Customers, wantCounts[i])
		}
	}
}

// TestFrequencyHistogramCDNOW: the expected counts of customers by
// calibration frequency sum to the customer base, and track the actual
// counts (README: 1411, 439, 214, 100, 62, 38, 29, 64) within 15 % per bin
// for the large bins.
func TestFrequencyHistogramCDNOW(t *testing.T) {
	t.Parallel()
	m, _ := cdnowFit(t)
	bins, err := FrequencyHistogram(m, cdnowSummaries(t), 7)
	if err != nil {
		t.Fatal(err)
	}
	wantActual := []float64{1411, 439, 214, 100, 62, 38, 29, 64}
	var total float64
	for i, b := range bins {
		total += b.Expected
		t.Logf("x=%d actual %4.0f expected %7.1f", b.Frequency, b.Actual, b.Expected)
		if b.Actual != wantActual[i] {
			t.Errorf("bin %d: actual %v, want %v", i, b.Actual, wantActual[i])
		}
		if b.Actual >= 100 && relErr(b.Expected, b.Actual) > 0.15 {
			t.Errorf("bin %d: expected %.1f vs actual %v", i, b.Expected, b.Actual)
		}
	}
	if math.Abs(total-2357) > 1e-6 {
		t.Errorf("expected counts sum to %v, want 2357", total)
	}
}
