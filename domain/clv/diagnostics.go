package clv

import (
	"fmt"
	"maps"
	"slices"
)

// HoldoutClass compares, for the customers with one calibration frequency,
// the purchases they made in a holdout period with the model's conditional
// expectation, as in FHL 2005 Figure 4 ("conditional expectations").
type HoldoutClass struct {
	// Frequency is the calibration frequency x of the class; the last class
	// holds every x ≥ Frequency (e.g. "7+").
	Frequency int
	// OrMore marks that last, open class.
	OrMore bool
	// Customers is the (weighted) number of customers in the class.
	Customers float64
	// Actual is their mean number of holdout purchases (purchase days).
	Actual float64
	// Expected is their mean E[Y(t) | x, t_x, T] over the holdout length t.
	Expected float64
}

// CompareHoldout groups the customers by calibration frequency x = 0, 1, …,
// maxClass−1 and maxClass+ and returns, per class, the mean actual holdout
// purchases and the mean conditional expectation E[Y(t) | x, t_x, T]
// (FHL 2005 eq. 10) over a holdout of length t in model units (39 weeks for
// CDNOW, maxClass 7). actual[i] is the number of purchase days of customer i
// in the holdout. Empty classes are returned with zero means. The totals
// Σ Customers·Actual and Σ Customers·Expected compare the model's aggregate
// forecast with what happened.
func CompareHoldout(m BGNBD, cal []Summary, actual []float64, t float64, maxClass int) ([]HoldoutClass, error) {
	if len(actual) != len(cal) {
		return nil, fmt.Errorf("%w: %d holdout counts for %d customers", ErrInvalidInput, len(actual), len(cal))
	}
	if maxClass < 1 || !(t >= 0) {
		return nil, fmt.Errorf("%w: max class %d, holdout length %v", ErrInvalidInput, maxClass, t)
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	out := make([]HoldoutClass, maxClass+1)
	for i := range out {
		out[i].Frequency = i
	}
	out[maxClass].OrMore = true
	for i, s := range cal {
		if err := s.Validate(); err != nil {
			return nil, fmt.Errorf("customer %d: %w", i, err)
		}
		c := &out[min(s.X, maxClass)]
		c.Customers++
		c.Actual += actual[i]
		c.Expected += m.ConditionalExpectedPurchases(t, s)
	}
	for i := range out {
		if n := out[i].Customers; n > 0 {
			out[i].Actual /= n
			out[i].Expected /= n
		}
	}
	return out, nil
}

// FrequencyBin is one bar of the calibration fit histogram.
type FrequencyBin struct {
	// Frequency is the number of repeat purchases x; the last bin holds
	// every x ≥ Frequency.
	Frequency int
	// OrMore marks that last, open bin.
	OrMore bool
	// Actual is the number of customers with that frequency.
	Actual float64
	// Expected is Σ_i P(X(T_i) = x) over the customers (FHL 2005 eq. 8 at
	// each customer's own T_i), the model's count.
	Expected float64
}

// FrequencyHistogram returns the actual and expected numbers of customers
// making x = 0, 1, …, maxBin−1 and maxBin+ repeat purchases in calibration,
// the fit histogram of Fader, Hardie & Lee (2007), "Creating a Fit Histogram
// for the BG/NBD Model": each customer i contributes P(X(T_i) = x) to bin x
// (eq. 8 with its own T_i) and the rest of its probability to the open bin.
// Customers with the same T are computed once.
func FrequencyHistogram(m BGNBD, cal []Summary, maxBin int) ([]FrequencyBin, error) {
	if maxBin < 1 {
		return nil, fmt.Errorf("%w: max bin %d", ErrInvalidInput, maxBin)
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	out := make([]FrequencyBin, maxBin+1)
	for i := range out {
		out[i].Frequency = i
	}
	out[maxBin].OrMore = true
	byT := map[float64]float64{}
	for i, s := range cal {
		if err := s.Validate(); err != nil {
			return nil, fmt.Errorf("customer %d: %w", i, err)
		}
		out[min(s.X, maxBin)].Actual++
		byT[s.T]++
	}
	for _, T := range slices.Sorted(maps.Keys(byT)) {
		n := byT[T]
		rest := 1.0
		for x := 0; x < maxBin; x++ {
			p := m.ProbPurchases(x, T)
			out[x].Expected += n * p
			rest -= p
		}
		out[maxBin].Expected += n * max(rest, 0)
	}
	return out, nil
}
