package clv

import (
	"fmt"
	"math"
	"time"
)

// Horizon configures a lifetime-value prediction (Predict). The zero value
// is a 12-month horizon, a weekly model, no discounting and a margin of 1
// (value as revenue).
type Horizon struct {
	// Months is the length of the horizon in months of 30.4375 days (Month);
	// 0 means 12.
	Months int
	// Unit is the time unit the BG/NBD model was fitted in; 0 means Week.
	// Month i ends at time i·Month/Unit (4.348 weeks, 30.4375 days).
	Unit time.Duration
	// MonthlyDiscountRate d discounts the cash flow of month i by (1+d)^i,
	// as lifetimes' customer_lifetime_value does (its discount_rate,
	// default 0.01, is monthly). Set it or AnnualDiscountRate, not both.
	MonthlyDiscountRate float64
	// AnnualDiscountRate D is converted to the equivalent monthly rate
	// (1+D)^(1/12) − 1.
	AnnualDiscountRate float64
	// Margin is the share of spend kept as profit, in (0, 1]; 0 means 1.
	Margin float64
	// AcquisitionCost is subtracted once, undiscounted, at the start. For an
	// existing customer it is sunk: leave it 0.
	AcquisitionCost float64
	// RetentionCostPerMonth is spent on the customer every month of the
	// horizon, discounted like the revenue of that month.
	RetentionCostPerMonth float64
}

// Prediction is the expected value of one customer over a Horizon.
type Prediction struct {
	// Purchases is E[Y(h) | x, t_x, T], the expected number of purchases
	// (purchase days) in the horizon, undiscounted (FHL 2005 eq. 10).
	Purchases float64
	// Spend is the expected spend per purchase used, in currency units.
	Spend float64
	// Revenue is Purchases × Spend, undiscounted, in currency units.
	Revenue float64
	// Value is the discounted lifetime value net of costs, in currency
	// units:
	//
	//	Σ_{i=1..M} [(E[Y(t_i)] − E[Y(t_{i−1})]) · spend · margin − retention] / (1+d)^i − acquisition
	Value float64
}

func (h Horizon) normalize() (months int, monthLen, d float64, margin float64, err error) {
	months = h.Months
	if months == 0 {
		months = 12
	}
	unit := h.Unit
	if unit == 0 {
		unit = Week
	}
	margin = h.Margin
	if margin == 0 {
		margin = 1
	}
	switch {
	case months < 0:
		return 0, 0, 0, 0, fmt.Errorf("%w: horizon of %d months", ErrInvalidInput, months)
	case unit < 0:
		return 0, 0, 0, 0, fmt.Errorf("%w: time unit %v", ErrInvalidInput, unit)
	case h.MonthlyDiscountRate != 0 && h.AnnualDiscountRate != 0:
		return 0, 0, 0, 0, fmt.Errorf("%w: both a monthly and an annual discount rate", ErrInvalidInput)
	case !(h.MonthlyDiscountRate > -1) || !(h.AnnualDiscountRate > -1) || math.IsInf(h.MonthlyDiscountRate, 1) || math.IsInf(h.AnnualDiscountRate, 1):
		return 0, 0, 0, 0, fmt.Errorf("%w: discount rate must be finite and > −1", ErrInvalidInput)
	case !(margin > 0 && margin <= 1):
		return 0, 0, 0, 0, fmt.Errorf("%w: margin %v must be in (0, 1]", ErrInvalidInput, margin)
	case !finite(h.AcquisitionCost) || !finite(h.RetentionCostPerMonth):
		return 0, 0, 0, 0, fmt.Errorf("%w: costs must be finite", ErrInvalidInput)
	}
	d = h.MonthlyDiscountRate
	if h.AnnualDiscountRate != 0 {
		d = math.Pow(1+h.AnnualDiscountRate, 1.0/12) - 1
	}
	return months, float64(Month) / float64(unit), d, margin, nil
}

// Predict returns the expected lifetime value of a customer with history s
// over the horizon h, computed as lifetimes' customer_lifetime_value: the
// BG/NBD conditional expectation (FHL 2005 eq. 10) gives the expected
// purchases in each month i, E[Y(t_i)] − E[Y(t_{i−1})] with t_i = i·Month in
// model units, each valued at spend × margin and discounted by (1+d)^i;
// retention costs are charged and discounted monthly and the acquisition
// cost once. spend is the expected spend per purchase, normally
// GammaGamma.ConditionalExpectedSpend (FHL 2005 JMR eq. 5), in currency
// units. lifetimes takes a month as 4.345 weeks; this package uses
// 30.4375/7 = 4.348.
func Predict(m BGNBD, s Summary, spend float64, h Horizon) (Prediction, error) {
	months, monthLen, d, margin, err := h.normalize()
	if err != nil {
		return Prediction{}, err
	}
	if err := m.Validate(); err != nil {
		return Prediction{}, err
	}
	if err := s.Validate(); err != nil {
		return Prediction{}, err
	}
	if !finite(spend) || spend < 0 {
		return Prediction{}, fmt.Errorf("%w: spend per purchase %v must be finite and ≥ 0", ErrInvalidInput, spend)
	}
	pAlive := m.PAlive(s)
	var p Prediction
	p.Spend = spend
	prev, disc := 0.0, 1.0
	for i := 1; i <= months; i++ {
		e := pAlive * m.aliveExpectation(float64(i)*monthLen, s.X, s.T)
		disc /= 1 + d
		p.Value += ((e-prev)*spend*margin - h.RetentionCostPerMonth) * disc
		prev = e
	}
	p.Purchases = prev
	p.Revenue = prev * spend
	p.Value -= h.AcquisitionCost
	return p, nil
}

// HistoricalValue returns the value a customer has brought so far: its total
// spend times the margin (the share kept as profit), in currency units.
func HistoricalValue(totalSpend, margin float64) float64 {
	return totalSpend * margin
}

// Shares returns each value's share of the total, v_i / Σv, e.g. the
// contribution of each customer or segment to revenue or predicted value.
// It returns ErrInvalidInput when the total is not positive and finite.
func Shares(values []float64) ([]float64, error) {
	var sum float64
	for _, v := range values {
		sum += v
	}
	if !(sum > 0) || math.IsInf(sum, 1) {
		return nil, fmt.Errorf("%w: values sum to %v, shares need a positive total", ErrInvalidInput, sum)
	}
	out := make([]float64, len(values))
	for i, v := range values {
		out[i] = v / sum
	}
	return out, nil
}
