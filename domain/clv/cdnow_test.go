package clv

import (
	"bufio"
	"encoding/csv"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The CDNOW sample (testdata/cdnow/README.md): 2,357 customers who first
// bought in 1997-Q1, calibration to 1997-09-30, holdout to 1998-06-30.
var (
	cdnowCalibrationEnd = time.Date(1997, 9, 30, 0, 0, 0, 0, time.UTC)
	cdnowHoldoutEnd     = time.Date(1998, 6, 30, 0, 0, 0, 0, time.UTC)
)

func cdnowPath(name string) string { return filepath.Join("..", "..", "testdata", "cdnow", name) }

// cdnowCustomer holds the aggregates the service stores for a customer, as
// of the end of calibration, plus the holdout count used by the diagnostics.
type cdnowCustomer struct {
	id          int
	first, last time.Time // first purchase, last purchase ≤ calibration end
	days        int       // distinct purchase days ≤ calibration end
	repeatSpend float64   // spend on calibration days after the first day
	holdoutDays int       // distinct purchase days in 1997-10-01..1998-06-30
}

type cdnowRow struct {
	id    int
	x     int
	tx, T float64
	zbar  float64
}

var (
	cdnowOnce      sync.Once
	cdnowCustomers []cdnowCustomer
	cdnowSummary   []cdnowRow // cdnow_customers_summary_with_transactions.csv
	cdnowSummary1  []cdnowRow // cdnow_customers_summary.csv
	cdnowErr       error
)

// loadCDNOW parses the raw transaction log (CRLF, whitespace-padded columns:
// master id, sample id, yyyymmdd, CDs, dollars) into per-customer aggregates,
// and both published summary files.
func loadCDNOW(tb testing.TB) ([]cdnowCustomer, []cdnowRow, []cdnowRow) {
	tb.Helper()
	cdnowOnce.Do(func() {
		cdnowCustomers, cdnowErr = parseCDNOWLog(cdnowPath("CDNOW_sample.txt"))
		if cdnowErr != nil {
			return
		}
		cdnowSummary, cdnowErr = parseCDNOWSummary(cdnowPath("cdnow_customers_summary_with_transactions.csv"), true)
		if cdnowErr != nil {
			return
		}
		cdnowSummary1, cdnowErr = parseCDNOWSummary(cdnowPath("cdnow_customers_summary.csv"), false)
	})
	if cdnowErr != nil {
		tb.Fatal(cdnowErr)
	}
	return cdnowCustomers, cdnowSummary, cdnowSummary1
}

func parseCDNOWLog(path string) ([]cdnowCustomer, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	type day struct {
		id   int
		date time.Time
	}
	spend := map[day]float64{}
	maxID := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text()) // also drops the trailing \r
		if len(fields) == 0 {
			continue
		}
		id, err := strconv.Atoi(fields[1])
		if err != nil {
			return nil, err
		}
		date, err := time.Parse("20060102", fields[2])
		if err != nil {
			return nil, err
		}
		dollars, err := strconv.ParseFloat(fields[4], 64)
		if err != nil {
			return nil, err
		}
		spend[day{id, date}] += dollars
		maxID = max(maxID, id)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	cs := make([]cdnowCustomer, maxID)
	for i := range cs {
		cs[i].id = i + 1
	}
	// Same-day purchases are already merged into one day with summed spend.
	for d, amount := range spend {
		c := &cs[d.id-1]
		if d.date.After(cdnowCalibrationEnd) {
			if !d.date.After(cdnowHoldoutEnd) {
				c.holdoutDays++
			}
			continue
		}
		c.days++
		c.repeatSpend += amount
		if c.first.IsZero() || d.date.Before(c.first) {
			c.first = d.date
		}
		if d.date.After(c.last) {
			c.last = d.date
		}
	}
	// Repeat spend excludes the first purchase day.
	for d, amount := range spend {
		c := &cs[d.id-1]
		if d.date.Equal(c.first) {
			c.repeatSpend -= amount
		}
	}
	return cs, nil
}

func parseCDNOWSummary(path string, withZbar bool) ([]cdnowRow, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		return nil, err
	}
	var rows []cdnowRow
	for _, rec := range recs[1:] {
		var r cdnowRow
		var v [5]float64
		for i, s := range rec {
			if v[i], err = strconv.ParseFloat(strings.TrimSpace(s), 64); err != nil {
				return nil, err
			}
		}
		r.id, r.x, r.tx, r.T = int(v[0]), int(v[1]), v[2], v[3]
		if withZbar {
			r.zbar = v[4]
		}
		rows = append(rows, r)
	}
	return rows, nil
}

// cdnowSummaries returns the published (x, t_x, T) rows as Summaries.
func cdnowSummaries(tb testing.TB) []Summary {
	tb.Helper()
	_, rows, _ := loadCDNOW(tb)
	out := make([]Summary, len(rows))
	for i, r := range rows {
		out[i] = Summary{X: r.x, Tx: r.tx, T: r.T}
	}
	return out
}

var (
	cdnowFitOnce  sync.Once
	cdnowModel    BGNBD
	cdnowFitRes   FitResult
	cdnowFitError error
)

// cdnowFit fits the BG/NBD once on the published summary.
func cdnowFit(tb testing.TB) (BGNBD, FitResult) {
	tb.Helper()
	data := cdnowSummaries(tb)
	cdnowFitOnce.Do(func() { cdnowModel, cdnowFitRes, cdnowFitError = FitBGNBD(data, FitOptions{}) })
	if cdnowFitError != nil {
		tb.Fatal(cdnowFitError)
	}
	return cdnowModel, cdnowFitRes
}
