package clv

import (
	"errors"
	"math"
	"testing"
)

func TestPredict(t *testing.T) {
	t.Parallel()
	m := BGNBD{R: 0.2425945, Alpha: 4.4136019, A: 0.7929199, B: 2.4258881}
	s := Summary{X: 2, Tx: 30.43, T: 38.86}
	// Reference computed independently at 30 digits from FHL 2005 eq. (10)
	// as written: E[Y] over 12 months of 30.4375/7 weeks = 1.56295520223;
	// Σ_i (ΔE_i·24.65·0.3 − 2)/1.01^i = −11.623848664.
	p, err := Predict(m, s, 24.65, Horizon{MonthlyDiscountRate: 0.01, Margin: 0.3, RetentionCostPerMonth: 2})
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(p.Purchases-1.56295520223) > 1e-9 || math.Abs(p.Value-(-11.623848664)) > 1e-8 ||
		math.Abs(p.Revenue-1.56295520223*24.65) > 1e-7 || p.Spend != 24.65 {
		t.Errorf("Predict = %+v, want purchases 1.56295520223, value −11.623848664", p)
	}

	cases := []struct {
		name string
		h    Horizon
		want func(e func(months float64) float64) float64
	}{
		{"undiscounted revenue", Horizon{}, func(e func(float64) float64) float64 { return e(12) * 24.65 }},
		{"acquisition cost", Horizon{AcquisitionCost: 5}, func(e func(float64) float64) float64 { return e(12)*24.65 - 5 }},
		{"6 months in days", Horizon{Months: 6, Unit: Day}, func(e func(float64) float64) float64 { return e(6) * 24.65 }},
		{"annual rate = monthly equivalent", Horizon{AnnualDiscountRate: math.Pow(1.01, 12) - 1}, func(e func(float64) float64) float64 {
			var v float64
			for i := 1; i <= 12; i++ {
				v += (e(float64(i)) - e(float64(i-1))) * 24.65 / math.Pow(1.01, float64(i))
			}
			return v
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			unit := 7.0
			if tc.h.Unit == Day {
				unit = 1
			}
			mm, ss := m, s
			if unit == 1 { // the same model and customer expressed in days
				mm.Alpha *= 7
				ss.Tx *= 7
				ss.T *= 7
			}
			e := func(months float64) float64 { return mm.ConditionalExpectedPurchases(months*30.4375/unit, ss) }
			got, err := Predict(mm, ss, 24.65, tc.h)
			if want := tc.want(e); err != nil || math.Abs(got.Value-want) > 1e-9 {
				t.Errorf("Value = %v, %v; want %v", got.Value, err, want)
			}
		})
	}

	for _, h := range []Horizon{{Months: -1}, {Margin: 1.5}, {MonthlyDiscountRate: 0.01, AnnualDiscountRate: 0.1}, {MonthlyDiscountRate: -1}, {Unit: -Week}} {
		if _, err := Predict(m, s, 24.65, h); !errors.Is(err, ErrInvalidInput) {
			t.Errorf("%+v: err = %v, want ErrInvalidInput", h, err)
		}
	}
	if _, err := Predict(m, s, math.NaN(), Horizon{}); !errors.Is(err, ErrInvalidInput) {
		t.Errorf("NaN spend: err = %v, want ErrInvalidInput", err)
	}
}

func TestHistoricalValueAndShares(t *testing.T) {
	t.Parallel()
	if got := HistoricalValue(200, 0.25); got != 50 {
		t.Errorf("HistoricalValue = %v, want 50", got)
	}
	got, err := Shares([]float64{1, 3, 0, 4})
	if err != nil || got[0] != 0.125 || got[1] != 0.375 || got[2] != 0 || got[3] != 0.5 {
		t.Errorf("Shares = %v, %v", got, err)
	}
	if _, err := Shares([]float64{0, 0}); !errors.Is(err, ErrInvalidInput) {
		t.Errorf("zero total: err = %v", err)
	}
}
