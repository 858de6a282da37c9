package domain

import (
	"context"
	"time"

	"github.com/potentialhq/potential/domain/clv"
	"github.com/potentialhq/potential/domain/rfm"
)

// ValueSettings are a tenant's choices for its value models and churn
// warnings. The zero value of each field means its default.
type ValueSettings struct {
	// Unit is the time unit the BG/NBD model is fitted in: clv.Week
	// (default, as in the literature) or clv.Day.
	Unit time.Duration
	// HorizonMonths is the horizon of the predicted lifetime value; default 12.
	HorizonMonths int
	// AnnualDiscountRate discounts future monthly cash flows; default 0.10.
	// Negative means no discounting.
	AnnualDiscountRate float64
	// DefaultMargin is the share of revenue kept as margin for customers
	// whose transactions carry no margin; default 1 (value = revenue).
	DefaultMargin float64
	// RetentionCostPerMonth is charged in the predicted value every month of
	// the horizon (currency units); default 0.
	RetentionCostPerMonth float64
	// ChurnPAliveMedium and ChurnPAliveHigh are the P(alive) below which
	// the churn warning has reason LOW_P_ALIVE at medium or high severity;
	// defaults 0.5 and 0.2.
	ChurnPAliveMedium float64
	ChurnPAliveHigh   float64
	// SilenceFactor k: a customer silent for more than k × its own median
	// inter-purchase interval has reason LONG_SILENCE; default 3.
	SilenceFactor float64
	// EngagementDropRatio: interactions in the last 30 days below this share
	// of the customer's own monthly rate over the 90 days before them is
	// reason ENGAGEMENT_DROP (with a baseline of at least 3 interactions);
	// default 0.5.
	EngagementDropRatio float64
	// NewDays: a customer whose first purchase is this recent is "new";
	// default 90.
	NewDays int
	// ChurnedDays: a customer silent this long (and at least SilenceFactor ×
	// its cadence) has churned; default 365.
	ChurnedDays int
}

// WithDefaults returns s with every zero field set to its default.
func (s ValueSettings) WithDefaults() ValueSettings {
	if s.Unit == 0 {
		s.Unit = clv.Week
	}
	if s.HorizonMonths == 0 {
		s.HorizonMonths = 12
	}
	if s.AnnualDiscountRate == 0 {
		s.AnnualDiscountRate = 0.10
	}
	if s.DefaultMargin == 0 {
		s.DefaultMargin = 1
	}
	if s.ChurnPAliveMedium == 0 {
		s.ChurnPAliveMedium = 0.5
	}
	if s.ChurnPAliveHigh == 0 {
		s.ChurnPAliveHigh = 0.2
	}
	if s.SilenceFactor == 0 {
		s.SilenceFactor = 3
	}
	if s.EngagementDropRatio == 0 {
		s.EngagementDropRatio = 0.5
	}
	if s.NewDays == 0 {
		s.NewDays = 90
	}
	if s.ChurnedDays == 0 {
		s.ChurnedDays = 365
	}
	return s
}

// Validate checks settings as a client sent them (after defaults).
func (s ValueSettings) Validate() error {
	var v violations
	if s.Unit != clv.Week && s.Unit != clv.Day {
		v.add("settings.time_unit", "must be days or weeks")
	}
	if s.HorizonMonths < 1 || s.HorizonMonths > 120 {
		v.add("settings.horizon_months", "must be between 1 and 120")
	}
	if s.AnnualDiscountRate > 1 {
		v.add("settings.annual_discount_rate", "must be at most 1 (100 %%)")
	}
	if s.DefaultMargin <= 0 || s.DefaultMargin > 1 {
		v.add("settings.default_margin", "must be in (0, 1]")
	}
	if s.RetentionCostPerMonth < 0 {
		v.add("settings.retention_cost_per_month", "must not be negative")
	}
	if !(s.ChurnPAliveHigh > 0 && s.ChurnPAliveHigh < s.ChurnPAliveMedium && s.ChurnPAliveMedium < 1) {
		v.add("settings.churn_p_alive_high", "need 0 < high < medium < 1")
	}
	if s.SilenceFactor < 1 || s.SilenceFactor > 100 {
		v.add("settings.silence_factor", "must be between 1 and 100")
	}
	if s.EngagementDropRatio <= 0 || s.EngagementDropRatio >= 1 {
		v.add("settings.engagement_drop_ratio", "must be in (0, 1)")
	}
	if s.NewDays < 1 || s.ChurnedDays <= s.NewDays {
		v.add("settings.churned_days", "need 1 <= new_days < churned_days")
	}
	return v.err()
}

// ValueModel is a tenant's fitted value models: BG/NBD for purchase counts
// and P(alive), Gamma-Gamma for spend per purchase, and the RFM cut points,
// with the diagnostics of the fit.
type ValueModel struct {
	TenantID       string
	Version        int64 // 1, 2, … per tenant; assessments name the version they used
	FitTime        time.Time
	ObservationEnd time.Time // end of the calibration period
	Settings       ValueSettings

	BGNBD    clv.BGNBD
	BGNBDFit clv.FitResult
	// HasSpend is false when too few customers repeated to fit Gamma-Gamma;
	// expected spend then falls back to each customer's own mean.
	HasSpend bool
	Spend    clv.GammaGamma
	SpendFit clv.FitResult

	RFM rfm.Model

	Customers  int64 // customers with a purchase in the calibration period
	Repeaters  int64 // of which with x > 0
	HoldoutEnd time.Time
	// Holdout compares actual and expected purchases in (ObservationEnd,
	// HoldoutEnd] by calibration frequency; empty without a holdout period.
	Holdout   []clv.HoldoutClass
	Histogram []clv.FrequencyBin // calibration frequency: actual vs expected
}

// PurchaseSummary is one customer's purchase aggregates up to an
// observation end, as the store keeps them.
type PurchaseSummary struct {
	CustomerID    string
	First, Last   time.Time
	Days          int
	TotalSpend    Money
	FirstDaySpend Money
}

// AssessmentInput is what assessing one customer needs, as of a time.
type AssessmentInput struct {
	CustomerID string
	Kind       CustomerKind
	CreateTime time.Time
	Purchases  PurchaseStats
	// Interactions in the 30 days before the assessment time, and in the 90
	// days before those.
	Recent, Baseline int64
	// OpenComplaints counts the customer's unresolved complaints.
	OpenComplaints int64
	// PreviousStage is the stage of the customer's stored assessment, if
	// any, when chosen customers are read; the read of a whole tenant
	// leaves it StageUnknown (PutAssessments records the transitions from
	// the stored stages itself).
	PreviousStage LifecycleStage
}

// AssessmentStore is the storage the value models need. Store embeds it.
type AssessmentStore interface {
	// PurchaseSummaries calls fn for every customer of the tenant with a
	// purchase on or before end's UTC day, with its aggregates up to that
	// day. It reads the per-day aggregates, never the transactions.
	PurchaseSummaries(ctx context.Context, tenantID string, end time.Time, fn func(PurchaseSummary) error) error
	// PurchaseDaysBetween returns, per customer id, the number of distinct
	// UTC purchase days after from's day and up to to's day.
	PurchaseDaysBetween(ctx context.Context, tenantID string, from, to time.Time) (map[string]int, error)
	// SaveValueModel stores m as the tenant's next version and returns it
	// with Version set.
	SaveValueModel(ctx context.Context, m ValueModel) (ValueModel, error)
	// GetValueModel returns the tenant's latest model; ErrNotFound if none.
	GetValueModel(ctx context.Context, tenantID string) (ValueModel, error)
	// AssessmentInputs calls fn with batches of inputs as of now: for the
	// given customers, or for every customer of the tenant when ids is nil.
	// OpenComplaints is left 0: the service adds it (FeedbackStore's
	// OpenComplaints).
	AssessmentInputs(ctx context.Context, tenantID string, ids []string, now time.Time, fn func([]AssessmentInput) error) error
	// PutAssessments stores (replaces) the assessments, and records a
	// lifecycle transition for each whose stage differs from the stored one.
	PutAssessments(ctx context.Context, tenantID string, as []Assessment) error
	// GetAssessment returns a customer's stored assessment; ErrNotFound if
	// the customer has none (or does not exist).
	GetAssessment(ctx context.Context, tenantID, customerID string) (Assessment, error)
	// AssessmentStats aggregates the tenant's stored assessments.
	AssessmentStats(ctx context.Context, tenantID string) (AssessmentStats, error)
}

// AssessmentRewriter is a store that can replace all of a tenant's stored
// assessments at once, the way a bulk load writes, rather than customer by
// customer (store/postgres: a large tenant's rows COPYed into a table of
// their own, indexed by sorting and swapped in). ReassessAll uses it when
// the store has it.
type AssessmentRewriter interface {
	// RewriteAssessments calls write, which passes every customer's
	// assessment to put (each customer once; put is safe for concurrent
	// use), and then makes them the tenant's stored
	// assessments, recording lifecycle transitions as PutAssessments does,
	// all or nothing. What concurrent writers stored while it ran wins:
	// a customer whose assessment was stored meanwhile keeps that one, a
	// customer created meanwhile keeps its own, and one deleted meanwhile
	// stays deleted; a customer that write leaves out keeps its stored
	// assessment. An assessment that cannot be stored makes put return an
	// *ItemError (Index within its batch). ok is false, with write not
	// called and nothing written, when the store prefers PutAssessments
	// for this tenant (a small one).
	RewriteAssessments(ctx context.Context, tenantID string, write func(put func([]Assessment) error) error) (ok bool, err error)
}

// AssessmentStats are a tenant's assessment distributions.
type AssessmentStats struct {
	Customers int64
	// RF[r-1][f-1] counts customers with recency score r and frequency score f.
	RF       [5][5]int64
	Segments map[rfm.Segment]int64
	// Churn per level: customers, predicted value and value at risk.
	Churn map[ChurnLevel]ValueCount
	// Reasons per churn reason (a customer may count under several).
	Reasons map[ChurnReason]ValueCount
	Stages  map[LifecycleStage]int64
	// Transitions counts lifecycle transitions (from → to) ever recorded.
	Transitions map[[2]LifecycleStage]int64
}

// ValueCount is a number of customers with their summed values.
type ValueCount struct {
	Customers   int64
	Predicted   Money
	ValueAtRisk Money
}
