package domain

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/potentialhq/potential/domain/clv"
	"github.com/potentialhq/potential/domain/rfm"
)

var assessNow = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

func daysAgo(n int) time.Time { return assessNow.AddDate(0, 0, -n) }

// cdnowModel has the published CDNOW parameters (FHL 2005; Fader & Hardie 2013).
func cdnowModel(t *testing.T) *ValueModel {
	t.Helper()
	cuts, err := rfm.Fit([]float64{1, 10, 30, 60, 120, 200, 400, 5, 15, 90}, []float64{1, 1, 2, 2, 3, 4, 5, 6, 8, 10}, []float64{10, 20, 30, 40, 50, 60, 70, 80, 90, 100})
	if err != nil {
		t.Fatal(err)
	}
	return &ValueModel{
		Version:  3,
		Settings: ValueSettings{}.WithDefaults(),
		BGNBD:    clv.BGNBD{R: 0.2425945, Alpha: 4.4136019, A: 0.7929199, B: 2.4258881},
		HasSpend: true,
		Spend:    clv.GammaGamma{P: 6.25, Q: 3.74, Gamma: 15.44},
		RFM:      cuts,
	}
}

func TestAssessLeadWithoutModel(t *testing.T) {
	t.Parallel()
	a := Assess(AssessmentInput{CustomerID: "c", Kind: KindLead}, nil, assessNow)
	if a.Stage != StageLead || a.Churn != ChurnNone || a.Reasons != 0 || a.PredictedValue != 0 || a.SilenceDays != -1 || a.RFM.Valid() {
		t.Fatalf("lead = %+v", a)
	}
	e := Explain(a, AssessmentInput{}, nil)
	if !strings.Contains(e.Stage, "Lead") || !strings.Contains(e.Value, "No purchase") {
		t.Fatalf("explanation = %+v", e)
	}
}

func TestAssessValueMatchesTheModels(t *testing.T) {
	t.Parallel()
	m := cdnowModel(t)
	// Four purchase days: first 273 days ago (39 weeks), last 60 days ago.
	p := PurchaseStats{FirstPurchaseTime: daysAgo(273), LastPurchaseTime: daysAgo(60), PurchaseDays: 4, Orders: 5,
		TotalSpend: MoneyFromFloat(200), FirstDaySpend: MoneyFromFloat(50), MedianGapDays: 70, LastGapDays: 70}
	a := Assess(AssessmentInput{CustomerID: "c", Kind: KindCustomer, Purchases: p}, m, assessNow)

	s := clv.Summary{X: 3, Tx: 213.0 / 7, T: 273.0 / 7}
	wantAlive := m.BGNBD.PAlive(s)
	// P(alive) by hand, FHL 2005 / Fader-Hardie-Lee note eq. (3):
	// 1 / (1 + a/(b+x−1) · ((α+T)/(α+t_x))^(r+x)).
	hand := 1 / (1 + 0.7929199/(2.4258881+3-1)*math.Pow((4.4136019+39)/(4.4136019+213.0/7), 0.2425945+3))
	if math.Abs(wantAlive-hand) > 1e-12 || math.Abs(a.PAlive-hand) > 1e-12 {
		t.Fatalf("PAlive = %v, by hand %v", a.PAlive, hand)
	}
	// Gamma-Gamma, Fader & Hardie 2013: p(γ + x·z̄)/(px + q − 1) with z̄ = 150/3.
	spend := 6.25 * (15.44 + 3*50) / (6.25*3 + 3.74 - 1)
	if got := a.ExpectedSpend.Float(); math.Abs(got-spend) > 1e-6 {
		t.Fatalf("ExpectedSpend = %v, want %v", got, spend)
	}
	pred, err := clv.Predict(m.BGNBD, s, spend, clv.Horizon{Months: 12, Unit: clv.Week, AnnualDiscountRate: 0.10, Margin: 1})
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(a.PredictedValue.Float()-pred.Value) > 1e-5 || math.Abs(a.ExpectedPurchases-pred.Purchases) > 1e-12 {
		t.Fatalf("value = %v (%v purchases), want %v (%v)", a.PredictedValue, a.ExpectedPurchases, pred.Value, pred.Purchases)
	}
	if want := pred.Value / hand * (1 - hand); math.Abs(a.ValueAtRisk.Float()-want) > 1e-5 {
		t.Fatalf("ValueAtRisk = %v, want %v", a.ValueAtRisk, want)
	}
	if a.HistoricalValue != MoneyFromFloat(200) || a.SilenceDays != 60 {
		t.Fatalf("historical %v silence %d", a.HistoricalValue, a.SilenceDays)
	}
	if want := m.RFM.Cell(60, 4, 200); a.RFM != want || a.Segment != want.Segment() {
		t.Fatalf("RFM = %v %v, want %v", a.RFM, a.Segment, want)
	}
	if a.ModelVersion != 3 {
		t.Fatalf("model version %d", a.ModelVersion)
	}
	// A margin carried by the transactions replaces the default margin.
	p.TotalMargin = MoneyFromFloat(50)
	b := Assess(AssessmentInput{CustomerID: "c", Purchases: p}, m, assessNow)
	if math.Abs(b.PredictedValue.Float()-a.PredictedValue.Float()/4) > 1e-4 {
		t.Fatalf("25%% margin: %v vs %v", b.PredictedValue, a.PredictedValue)
	}
}

func TestAssessChurnReasonsAndLevels(t *testing.T) {
	t.Parallel()
	base := PurchaseStats{FirstPurchaseTime: daysAgo(400), PurchaseDays: 10, TotalSpend: MoneyFromFloat(500), FirstDaySpend: MoneyFromFloat(50), MedianGapDays: 10, LastGapDays: 10}
	cases := []struct {
		name     string
		silence  int
		recent   int64
		baseline int64
		open     int64
		reasons  ChurnReason
		level    ChurnLevel
		stage    LifecycleStage
	}{
		{"rhythm", 5, 3, 9, 0, 0, ChurnNone, StageActive},
		{"silent 3x", 31, 3, 9, 0, ReasonLongSilence, ChurnMedium, StageAtRisk},
		{"silent 6x", 61, 3, 9, 0, ReasonLongSilence, ChurnHigh, StageAtRisk},
		{"engagement drop", 5, 1, 9, 0, ReasonEngagementDrop, ChurnLow, StageActive},
		{"small baseline is no drop", 5, 0, 2, 0, 0, ChurnNone, StageActive},
		{"complaint", 5, 3, 9, 1, ReasonOpenComplaint, ChurnMedium, StageAtRisk},
		{"drop and complaint", 5, 0, 9, 2, ReasonEngagementDrop | ReasonOpenComplaint, ChurnHigh, StageAtRisk},
	}
	for _, c := range cases {
		p := base
		p.LastPurchaseTime = daysAgo(c.silence)
		a := Assess(AssessmentInput{Purchases: p, Recent: c.recent, Baseline: c.baseline, OpenComplaints: c.open}, nil, assessNow)
		if a.Reasons != c.reasons || a.Churn != c.level || a.Stage != c.stage {
			t.Errorf("%s: reasons %b level %v stage %v; want %b %v %v", c.name, a.Reasons, a.Churn, a.Stage, c.reasons, c.level, c.stage)
		}
		if e := Explain(a, AssessmentInput{Purchases: p, Recent: c.recent, Baseline: c.baseline, OpenComplaints: c.open}, nil); (c.reasons == 0) != strings.HasPrefix(e.Churn, "No churn") {
			t.Errorf("%s: explanation %q", c.name, e.Churn)
		}
	}
	// Low P(alive) with the model: a frequent buyer silent for a long time.
	m := cdnowModel(t)
	p := base
	p.LastPurchaseTime = daysAgo(300)
	p.FirstPurchaseTime = daysAgo(700)
	a := Assess(AssessmentInput{Purchases: p}, m, assessNow)
	if !a.HasReason(ReasonLowPAlive) || a.PAlive >= 0.2 || a.Churn != ChurnHigh {
		t.Fatalf("long-silent frequent buyer: %+v", a)
	}
}

func TestAssessLifecycleStages(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		p     PurchaseStats
		stage LifecycleStage
	}{
		{"new", PurchaseStats{FirstPurchaseTime: daysAgo(20), LastPurchaseTime: daysAgo(20), PurchaseDays: 1}, StageNew},
		{"churned single buyer", PurchaseStats{FirstPurchaseTime: daysAgo(500), LastPurchaseTime: daysAgo(400), PurchaseDays: 2, MedianGapDays: 100, LastGapDays: 100}, StageChurned},
		{"slow rhythm is not churned", PurchaseStats{FirstPurchaseTime: daysAgo(2000), LastPurchaseTime: daysAgo(400), PurchaseDays: 4, MedianGapDays: 400, LastGapDays: 400}, StageActive},
		{"reactivated", PurchaseStats{FirstPurchaseTime: daysAgo(900), LastPurchaseTime: daysAgo(10), PurchaseDays: 3, MedianGapDays: 200, LastGapDays: 500}, StageReactivated},
		{"active", PurchaseStats{FirstPurchaseTime: daysAgo(300), LastPurchaseTime: daysAgo(10), PurchaseDays: 6, MedianGapDays: 30, LastGapDays: 30}, StageActive},
	}
	for _, c := range cases {
		if a := Assess(AssessmentInput{Purchases: c.p}, nil, assessNow); a.Stage != c.stage {
			t.Errorf("%s: stage %v, want %v", c.name, a.Stage, c.stage)
		}
	}
}

func TestValueSettingsValidate(t *testing.T) {
	t.Parallel()
	if err := (ValueSettings{}).WithDefaults().Validate(); err != nil {
		t.Fatal(err)
	}
	bad := ValueSettings{ChurnPAliveHigh: 0.6, ChurnPAliveMedium: 0.5}.WithDefaults()
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), "churn_p_alive_high") {
		t.Fatalf("conflicting thresholds: %v", err)
	}
}

// TestRecencyCountsMidnights checks the one definition of RFM recency the
// fit and the assessment share: UTC midnights passed, whatever the times of
// day (the fit sees purchase days, the assessment purchase instants).
func TestRecencyCountsMidnights(t *testing.T) {
	t.Parallel()
	d := func(day, hour, minute int) time.Time { return time.Date(2026, 6, day, hour, minute, 0, 0, time.UTC) }
	for _, c := range []struct {
		last, at time.Time
		want     int64
	}{
		{d(1, 15, 0), d(2, 10, 0), 1}, // 19 hours, but yesterday
		{d(1, 0, 0), d(2, 10, 0), 1},  // the fit's view of the same purchase
		{d(1, 10, 0), d(1, 15, 0), 0},
		{d(1, 23, 59), d(2, 0, 1), 1},
		{d(1, 0, 0), d(31, 23, 59), 30},
		{d(2, 10, 0), d(1, 10, 0), 0}, // a purchase after at is today's
		{time.Date(2026, 6, 1, 23, 0, 0, 0, time.FixedZone("UTC-3", -3*3600)), d(2, 1, 0), 0},
	} {
		if got := recencyDays(c.last, c.at); got != c.want {
			t.Errorf("recencyDays(%v, %v) = %d, want %d", c.last, c.at, got, c.want)
		}
	}
	// Assess scores the recency of a purchase at 15:00 seen at 10:00 the
	// next day as 1 day, the value the fitted cut points were built from.
	m := cdnowModel(t)
	var err error
	// Cut points that tell a purchase today from one yesterday.
	if m.RFM, err = rfm.Fit([]float64{0, 0, 1, 1, 2, 2, 3, 3, 4, 4}, []float64{1, 1, 2, 2, 3, 3, 4, 4, 5, 5}, []float64{10, 20, 30, 40, 50, 60, 70, 80, 90, 100}); err != nil {
		t.Fatal(err)
	}
	if m.RFM.Cell(0, 3, 90) == m.RFM.Cell(1, 3, 90) {
		t.Fatal("the cut points do not separate recency 0 and 1")
	}
	p := PurchaseStats{FirstPurchaseTime: d(1, 15, 0).AddDate(0, 0, -100), LastPurchaseTime: d(1, 15, 0), PurchaseDays: 3, Orders: 3,
		TotalSpend: MoneyFromFloat(90), FirstDaySpend: MoneyFromFloat(30), MedianGapDays: 50, LastGapDays: 50}
	a := Assess(AssessmentInput{CustomerID: "c", Kind: KindCustomer, Purchases: p}, m, d(2, 10, 0))
	if want := m.RFM.Cell(1, 3, 90); a.RFM != want {
		t.Fatalf("RFM = %v, want %v (recency 1)", a.RFM, want)
	}
}
