package domain

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/potentialhq/potential/domain/clv"
	"github.com/potentialhq/potential/domain/rfm"
)

// ChurnLevel grades a churn warning.
type ChurnLevel int8

// Churn levels, in increasing severity.
const (
	ChurnNone ChurnLevel = iota
	ChurnLow
	ChurnMedium
	ChurnHigh
)

var churnLevelNames = [...]string{"none", "low", "medium", "high"}

// String returns the level's lower-case name.
func (l ChurnLevel) String() string {
	if int(l) < len(churnLevelNames) && l >= 0 {
		return churnLevelNames[l]
	}
	return fmt.Sprintf("ChurnLevel(%d)", int8(l))
}

// ChurnReason is one cause of a churn warning; reasons combine as bits.
type ChurnReason uint32

// Churn reasons.
const (
	// ReasonLowPAlive: the BG/NBD probability that the customer is still
	// active is below the tenant's threshold.
	ReasonLowPAlive ChurnReason = 1 << iota
	// ReasonLongSilence: no purchase for far longer than the customer's own
	// median interval between purchase days.
	ReasonLongSilence
	// ReasonEngagementDrop: far fewer interactions in the last 30 days than
	// the customer's own rate over the 90 days before.
	ReasonEngagementDrop
	// ReasonOpenComplaint: the customer has an unresolved complaint.
	ReasonOpenComplaint
)

// ChurnReasons lists every reason, in a fixed order.
var ChurnReasons = []ChurnReason{ReasonLowPAlive, ReasonLongSilence, ReasonEngagementDrop, ReasonOpenComplaint}

// String returns the reason's name, e.g. "low_p_alive".
func (r ChurnReason) String() string {
	switch r {
	case ReasonLowPAlive:
		return "low_p_alive"
	case ReasonLongSilence:
		return "long_silence"
	case ReasonEngagementDrop:
		return "engagement_drop"
	case ReasonOpenComplaint:
		return "open_complaint"
	}
	return fmt.Sprintf("ChurnReason(%d)", uint32(r))
}

// LifecycleStage is where a customer stands in its relationship.
type LifecycleStage int8

// Lifecycle stages. See Assess for the rules.
const (
	StageUnknown LifecycleStage = iota
	StageLead
	StageNew
	StageActive
	StageAtRisk
	StageChurned
	StageReactivated
)

var stageNames = [...]string{"unknown", "lead", "new", "active", "at_risk", "churned", "reactivated"}

// LifecycleStages lists the stages a customer can be in.
var LifecycleStages = []LifecycleStage{StageLead, StageNew, StageActive, StageAtRisk, StageChurned, StageReactivated}

// String returns the stage's name, e.g. "at_risk".
func (s LifecycleStage) String() string {
	if int(s) < len(stageNames) && s >= 0 {
		return stageNames[s]
	}
	return fmt.Sprintf("LifecycleStage(%d)", int8(s))
}

// Assessment is what Potential derives for one customer at one time.
type Assessment struct {
	CustomerID   string
	ModelVersion int64 // value model used; 0 when the tenant has none yet
	AssessTime   time.Time

	// RFM scores: recency = days since the last purchase, frequency =
	// purchase days, monetary = total order value, each scored 1-5 against
	// the tenant's quintile cut points (rfm.Quintiles). Zero (R=F=M=0,
	// Segment Unknown) without purchases or before the first model fit.
	RFM     rfm.Cell
	Segment rfm.Segment

	// HistoricalValue is net spend so far: orders minus refunds.
	HistoricalValue Money
	// PAlive is the BG/NBD probability the customer is still active; 0
	// without purchases or model.
	PAlive float64
	// ExpectedPurchases is the expected number of purchase days in the
	// horizon (FHL 2005 eq. 10).
	ExpectedPurchases float64
	// ExpectedSpend is the expected spend per purchase day (Gamma-Gamma).
	ExpectedSpend Money
	// PredictedValue is the discounted margin over the horizon (clv.Predict).
	PredictedValue Money
	// ValueAtRisk is what the customer would be worth if still active, times
	// the probability that it is not: PredictedValue/PAlive × (1 − PAlive).
	// (BG/NBD's conditional expectation is P(alive) × E[Y | alive], so
	// PredictedValue/PAlive is the value given alive.)
	ValueAtRisk Money

	Churn   ChurnLevel
	Reasons ChurnReason // bit set of reasons
	Stage   LifecycleStage

	// Facts behind the explanation.
	SilenceDays int64   // days since the last purchase; -1 without purchases
	CadenceDays float64 // the customer's median days between purchase days; 0 if unknown
}

// HasReason reports whether r is among a's churn reasons.
func (a Assessment) HasReason(r ChurnReason) bool { return a.Reasons&r != 0 }

func daysBetween(from, to time.Time) int64 {
	return int64(math.Floor(to.Sub(from).Hours() / 24))
}

// recencyDays is the RFM recency of a last purchase at last, seen at at:
// the number of UTC midnights between them (0 for a purchase today). The
// model's cut points are fitted (FitValueModel) and applied (Assess) with
// this one definition, whatever the times of day, since the store keeps
// purchase days, not instants, for fitting.
func recencyDays(last, at time.Time) int64 {
	return max(daysBetween(last.UTC().Truncate(24*time.Hour), at.UTC().Truncate(24*time.Hour)), 0)
}

// Assess derives the assessment of one customer at now, with the tenant's
// model m (nil before the first fit: then only historical value, churn
// reasons that need no model, and the lifecycle stage are set).
//
// Churn: each reason has a severity — LOW_P_ALIVE high below
// ChurnPAliveHigh, medium below ChurnPAliveMedium; LONG_SILENCE medium past
// SilenceFactor × cadence, high past twice that; OPEN_COMPLAINT medium;
// ENGAGEMENT_DROP low. The level is the highest severity, raised one step
// (up to high) when two or more reasons hold.
//
// Lifecycle, the first rule that holds:
//
//	lead        no purchase yet
//	churned     silent ≥ ChurnedDays and (cadence unknown or silent > k × cadence)
//	reactivated bought within NewDays after a gap between purchase days ≥ ChurnedDays
//	new         first purchase within NewDays
//	at_risk     churn level medium or high
//	active      otherwise
func Assess(in AssessmentInput, m *ValueModel, now time.Time) Assessment {
	st := ValueSettings{}
	if m != nil {
		st = m.Settings
	}
	st = st.WithDefaults()
	p := in.Purchases
	a := Assessment{CustomerID: in.CustomerID, AssessTime: now, HistoricalValue: p.NetSpend(), SilenceDays: -1, CadenceDays: p.MedianGapDays}
	if m != nil {
		a.ModelVersion = m.Version
	}
	severity := map[ChurnReason]ChurnLevel{}
	if in.OpenComplaints > 0 {
		severity[ReasonOpenComplaint] = ChurnMedium
	}
	if in.Baseline >= 3 && float64(in.Recent) < st.EngagementDropRatio*float64(in.Baseline)/3 {
		severity[ReasonEngagementDrop] = ChurnLow
	}
	if p.PurchaseDays > 0 {
		a.SilenceDays = max(daysBetween(p.LastPurchaseTime, now), 0)
		if p.MedianGapDays > 0 {
			limit := st.SilenceFactor * p.MedianGapDays
			switch {
			case float64(a.SilenceDays) > 2*limit:
				severity[ReasonLongSilence] = ChurnHigh
			case float64(a.SilenceDays) > limit:
				severity[ReasonLongSilence] = ChurnMedium
			}
		}
		if m != nil {
			assessValue(&a, p, m, st, now)
			switch {
			case a.PAlive < st.ChurnPAliveHigh:
				severity[ReasonLowPAlive] = ChurnHigh
			case a.PAlive < st.ChurnPAliveMedium:
				severity[ReasonLowPAlive] = ChurnMedium
			}
			recency := float64(recencyDays(p.LastPurchaseTime, now))
			a.RFM = m.RFM.Cell(recency, float64(p.PurchaseDays), p.TotalSpend.Float())
			a.Segment = a.RFM.Segment()
		}
	}
	for r, sev := range severity {
		a.Reasons |= r
		a.Churn = max(a.Churn, sev)
	}
	if len(severity) >= 2 && a.Churn < ChurnHigh {
		a.Churn++
	}
	a.Stage = stage(in, a, st, now)
	return a
}

func assessValue(a *Assessment, p PurchaseStats, m *ValueModel, st ValueSettings, now time.Time) {
	s, err := clv.Summarize(p.FirstPurchaseTime, p.LastPurchaseTime, int(p.PurchaseDays), now, st.Unit)
	if err != nil {
		return
	}
	a.PAlive = m.BGNBD.PAlive(s)
	spend := p.TotalSpend.Float() / float64(p.PurchaseDays)
	if m.HasSpend {
		spend = m.Spend.ConditionalExpectedSpend(clv.Spend{X: s.X, Zbar: clv.MeanRepeatSpend(p.RepeatSpend().Float(), s.X)})
	}
	margin := st.DefaultMargin
	if p.TotalMargin > 0 && p.TotalSpend > 0 {
		margin = math.Min(1, p.TotalMargin.Float()/p.TotalSpend.Float())
	}
	rate := st.AnnualDiscountRate
	if rate < 0 {
		rate = 0
	}
	pred, err := clv.Predict(m.BGNBD, s, spend, clv.Horizon{
		Months: st.HorizonMonths, Unit: st.Unit, AnnualDiscountRate: rate, Margin: margin,
		RetentionCostPerMonth: st.RetentionCostPerMonth,
	})
	if err != nil {
		return
	}
	a.ExpectedPurchases = pred.Purchases
	a.ExpectedSpend = MoneyFromFloat(spend)
	a.PredictedValue = MoneyFromFloat(pred.Value)
	if alive := math.Max(a.PAlive, 1e-9); pred.Value > 0 {
		a.ValueAtRisk = MoneyFromFloat(pred.Value / alive * (1 - a.PAlive))
	}
}

func stage(in AssessmentInput, a Assessment, st ValueSettings, now time.Time) LifecycleStage {
	p := in.Purchases
	switch {
	case p.PurchaseDays == 0:
		return StageLead
	case a.SilenceDays >= int64(st.ChurnedDays) && (p.MedianGapDays == 0 || float64(a.SilenceDays) > st.SilenceFactor*p.MedianGapDays):
		return StageChurned
	case p.PurchaseDays >= 2 && p.LastGapDays >= int64(st.ChurnedDays) && a.SilenceDays < int64(st.NewDays):
		return StageReactivated
	case daysBetween(p.FirstPurchaseTime, now) < int64(st.NewDays):
		return StageNew
	case a.Churn >= ChurnMedium:
		return StageAtRisk
	}
	return StageActive
}

// Explanation says in a sentence or two how each part of an assessment was reached.
type Explanation struct {
	RFM, Value, Churn, Stage string
}

// Explain writes the explanation of a, assessed from in with model m.
func Explain(a Assessment, in AssessmentInput, m *ValueModel) Explanation {
	var e Explanation
	p := in.Purchases
	st := ValueSettings{}
	if m != nil {
		st = m.Settings
	}
	st = st.WithDefaults()
	switch {
	case p.PurchaseDays == 0:
		e.RFM = "No purchase yet, so no RFM scores."
	case m == nil:
		e.RFM = "RFM scores appear after the first value model fit, which sets the tenant's quintile cut points."
	default:
		e.RFM = fmt.Sprintf("Last purchase %d days ago (R=%d), %d purchase days (F=%d), %s spent (M=%d): cell %s, %s. Scores are quintiles within the tenant.",
			a.SilenceDays, a.RFM.R, p.PurchaseDays, a.RFM.F, p.TotalSpend, a.RFM.M, a.RFM, a.Segment)
	}
	switch {
	case p.PurchaseDays == 0:
		e.Value = "No purchase yet: no historical or predicted value."
	case m == nil:
		e.Value = fmt.Sprintf("Historical value %s. Predicted value appears after the first value model fit.", a.HistoricalValue)
	default:
		e.Value = fmt.Sprintf("Historical value %s. BG/NBD expects %.2f purchase days in the next %d months (P(alive) %.0f%%), at %s each (Gamma-Gamma): %s predicted margin, discounted at %.0f%% a year. Value at risk %s.",
			a.HistoricalValue, a.ExpectedPurchases, st.HorizonMonths, 100*a.PAlive, a.ExpectedSpend, a.PredictedValue, 100*math.Max(st.AnnualDiscountRate, 0), a.ValueAtRisk)
	}
	var reasons []string
	for _, r := range ChurnReasons {
		if !a.HasReason(r) {
			continue
		}
		switch r {
		case ReasonLowPAlive:
			reasons = append(reasons, fmt.Sprintf("P(alive) %.0f%% is below %.0f%%", 100*a.PAlive, 100*st.ChurnPAliveMedium))
		case ReasonLongSilence:
			reasons = append(reasons, fmt.Sprintf("silent for %d days, more than %.0f × its usual %.0f days between purchases", a.SilenceDays, st.SilenceFactor, a.CadenceDays))
		case ReasonEngagementDrop:
			reasons = append(reasons, fmt.Sprintf("%d interactions in the last 30 days against %.1f a month before", in.Recent, float64(in.Baseline)/3))
		case ReasonOpenComplaint:
			reasons = append(reasons, fmt.Sprintf("%d open complaint(s)", in.OpenComplaints))
		}
	}
	if len(reasons) == 0 {
		e.Churn = "No churn warning."
	} else {
		e.Churn = fmt.Sprintf("Churn risk %s: %s.", a.Churn, strings.Join(reasons, "; "))
	}
	switch a.Stage {
	case StageLead:
		e.Stage = "Lead: no purchase yet."
	case StageChurned:
		e.Stage = fmt.Sprintf("Churned: no purchase for %d days (threshold %d).", a.SilenceDays, st.ChurnedDays)
	case StageReactivated:
		e.Stage = fmt.Sprintf("Reactivated: bought again %d days ago after a %d-day gap.", a.SilenceDays, p.LastGapDays)
	case StageNew:
		e.Stage = fmt.Sprintf("New: first purchase within the last %d days.", st.NewDays)
	case StageAtRisk:
		e.Stage = "At risk: churn warning " + a.Churn.String() + "."
	case StageActive:
		e.Stage = "Active: buying within its usual rhythm."
	}
	return e
}
