package clv

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Common time units. A model is fitted in one unit; every time passed to it
// (t_x, T, horizons) must be in the same unit.
const (
	// Day is one calendar day, 24 hours.
	Day = 24 * time.Hour
	// Week is seven calendar days, the unit of the published CDNOW results.
	Week = 7 * Day
	// Month is the mean Gregorian month, 365.25/12 = 30.4375 days
	// (= 30.4375/7 ≈ 4.348 weeks), used to turn a horizon in months into
	// model time.
	Month = 730*time.Hour + 30*time.Minute
)

// Errors returned by the package. They are wrapped with details; test with
// errors.Is.
var (
	// ErrInvalidInput reports an argument outside the domain of a model
	// (negative count, t_x > T, NaN, non-positive parameter, …).
	ErrInvalidInput = errors.New("clv: invalid input")
	// ErrNoData reports a fit without any customer to fit on.
	ErrNoData = errors.New("clv: no data to fit")
	// ErrNotIdentified reports data that cannot identify the model's
	// parameters, e.g. no customer made a repeat purchase, so the likelihood
	// has no finite maximum.
	ErrNotIdentified = errors.New("clv: parameters not identified by the data")
	// ErrNotConverged reports a fit that stopped before reaching a strict
	// maximum of the likelihood (gradient above tolerance or Hessian not
	// positive definite); the estimate returned with it is unreliable.
	ErrNotConverged = errors.New("clv: fit did not converge")
)

// Summary is one customer's purchase history in the form the BG/NBD model
// uses (FHL 2005, section 2): the sufficient statistics (x, t_x, T).
type Summary struct {
	// X is the frequency x: the number of repeat purchase days, that is the
	// number of distinct purchase days minus one. Purchases on the same day
	// count once.
	X int
	// Tx is the recency t_x: time from the first to the last purchase, in
	// model time units. It is 0 when X is 0 (and ignored then).
	Tx float64
	// T is the customer's age: time from the first purchase to the end of the
	// observation period, in model time units.
	T float64
}

// Validate reports whether s is in the domain of the BG/NBD model: X ≥ 0,
// T finite and ≥ 0, and for X > 0 also 0 ≤ Tx ≤ T (Tx is ignored when
// X = 0). It returns ErrInvalidInput otherwise.
func (s Summary) Validate() error {
	switch {
	case s.X < 0:
		return fmt.Errorf("%w: frequency x = %d is negative", ErrInvalidInput, s.X)
	case !finite(s.T) || s.T < 0:
		return fmt.Errorf("%w: age T = %v must be finite and ≥ 0", ErrInvalidInput, s.T)
	case s.X > 0 && (!finite(s.Tx) || s.Tx < 0 || s.Tx > s.T):
		return fmt.Errorf("%w: recency t_x = %v must be in [0, T = %v]", ErrInvalidInput, s.Tx, s.T)
	}
	return nil
}

// Summarize turns the aggregates the service stores for a customer into the
// BG/NBD summary (x, t_x, T) in the time unit unit:
//
//	x   = purchaseDays − 1
//	t_x = (day(last) − day(first)) · Day/unit
//	T   = (day(end)  − day(first)) · Day/unit
//
// day(·) is the calendar day in UTC (the instant is converted to UTC and the
// time of day dropped), so differences are whole numbers of days and a weekly
// model sees days/7: for CDNOW, with end = 1997-09-30, a customer whose first
// purchase was on 1997-01-01 has T = 272/7 = 38.857 weeks.
//
// The aggregates must describe the purchases made on or before end's calendar
// day: first is the first purchase, last the last purchase up to end, and
// purchaseDays the number of distinct UTC calendar days with a purchase up to
// end (the caller merges same-day purchases). unit must be positive; use Week
// to reproduce the published results. Summarize returns ErrInvalidInput when
// the aggregates are inconsistent (no purchase, last before first, end before
// last, more purchase days than calendar days between first and last, or a
// single purchase day spread over two days).
func Summarize(first, last time.Time, purchaseDays int, end time.Time, unit time.Duration) (Summary, error) {
	if unit <= 0 {
		return Summary{}, fmt.Errorf("%w: time unit %v must be positive", ErrInvalidInput, unit)
	}
	if purchaseDays < 1 {
		return Summary{}, fmt.Errorf("%w: purchase days = %d, a customer needs at least one purchase", ErrInvalidInput, purchaseDays)
	}
	d0, d1, de := utcDay(first), utcDay(last), utcDay(end)
	switch {
	case d1 < d0:
		return Summary{}, fmt.Errorf("%w: last purchase %s is before first purchase %s", ErrInvalidInput, last.UTC().Format(time.DateOnly), first.UTC().Format(time.DateOnly))
	case de < d1:
		return Summary{}, fmt.Errorf("%w: end %s is before last purchase %s", ErrInvalidInput, end.UTC().Format(time.DateOnly), last.UTC().Format(time.DateOnly))
	case int64(purchaseDays) > d1-d0+1:
		return Summary{}, fmt.Errorf("%w: %d purchase days between %s and %s", ErrInvalidInput, purchaseDays, first.UTC().Format(time.DateOnly), last.UTC().Format(time.DateOnly))
	case purchaseDays == 1 && d1 != d0:
		return Summary{}, fmt.Errorf("%w: one purchase day but first and last purchase differ", ErrInvalidInput)
	}
	perDay := float64(Day) / float64(unit)
	if unit%Day == 0 {
		// Divide by a whole number of days so that weeks are exactly days/7.
		n := float64(unit / Day)
		return Summary{X: purchaseDays - 1, Tx: float64(d1-d0) / n, T: float64(de-d0) / n}, nil
	}
	return Summary{X: purchaseDays - 1, Tx: float64(d1-d0) * perDay, T: float64(de-d0) * perDay}, nil
}

// utcDay returns the number of the UTC calendar day of t, counted from
// 1970-01-01.
func utcDay(t time.Time) int64 {
	s := t.Unix()
	d := s / 86400
	if s%86400 < 0 {
		d--
	}
	return d
}

// MeanRepeatSpend returns z̄, the mean spend per repeat purchase day that the
// Gamma-Gamma model uses (Fader & Hardie 2013, m_x): repeatSpend / x, where
// repeatSpend is the spend on all purchase days except the first one and x
// the number of repeat purchase days (Summary.X). It returns 0 for x ≤ 0,
// where z̄ is undefined and the model falls back to the population mean.
func MeanRepeatSpend(repeatSpend float64, x int) float64 {
	if x <= 0 {
		return 0
	}
	return repeatSpend / float64(x)
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
