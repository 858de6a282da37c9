package domain

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Money is an amount in micro-units (1e-6) of the tenant's currency. Integer
// micro-units add exactly, unlike float64, and cover ±9.2 trillion.
type Money int64

// microsPerUnit is the number of micro-units in one unit of currency.
const microsPerUnit = 1_000_000

// ParseMoney parses a decimal string such as "129.99", "-5" or "0.000001"
// (at most 6 decimals, at most 13 integer digits, within ±9.2 trillion) into
// Money.
func ParseMoney(s string) (Money, error) {
	if s == "" {
		return 0, fmt.Errorf("empty amount")
	}
	neg := false
	t := s
	if t[0] == '-' || t[0] == '+' {
		neg = t[0] == '-'
		t = t[1:]
	}
	intPart, frac, hasDot := strings.Cut(t, ".")
	if intPart == "" || len(intPart) > 13 || (hasDot && (frac == "" || len(frac) > 6)) {
		return 0, fmt.Errorf("amount %q is not a decimal with at most 13 integer digits and 6 decimals", s)
	}
	for _, part := range []string{intPart, frac} {
		for _, c := range part {
			if c < '0' || c > '9' {
				return 0, fmt.Errorf("amount %q is not a decimal number", s)
			}
		}
	}
	units, _ := strconv.ParseInt(intPart, 10, 64)
	frac += strings.Repeat("0", 6-len(frac))
	micros, _ := strconv.ParseInt(frac, 10, 64)
	// 13 digits reach past what int64 micro-units hold (±9,223,372,036,854.775807).
	const maxUnits = math.MaxInt64 / microsPerUnit
	if units > maxUnits || (units == maxUnits && micros > math.MaxInt64%microsPerUnit) {
		return 0, fmt.Errorf("amount %q is out of range (±9,223,372,036,854.775807)", s)
	}
	v := units*microsPerUnit + micros
	if neg {
		v = -v
	}
	return Money(v), nil
}

// MoneyFromFloat rounds a float amount in currency units to Money.
func MoneyFromFloat(f float64) Money { return Money(math.Round(f * microsPerUnit)) }

// Float returns m in currency units.
func (m Money) Float() float64 { return float64(m) / microsPerUnit }

// String formats m as a decimal with the trailing zeros of the fraction
// dropped but at least two decimals ("129.99", "-5.00", "0.000001").
func (m Money) String() string {
	v := int64(m)
	sign := ""
	if v < 0 {
		sign = "-"
		v = -v
	}
	frac := fmt.Sprintf("%06d", v%microsPerUnit)
	frac = strings.TrimRight(frac, "0")
	for len(frac) < 2 {
		frac += "0"
	}
	return fmt.Sprintf("%s%d.%s", sign, v/microsPerUnit, frac)
}
