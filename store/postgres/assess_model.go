package postgres

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/potentialhq/potential/domain"
	"github.com/potentialhq/potential/domain/clv"
	"github.com/potentialhq/potential/domain/rfm"
)

// modelDoc is the stored JSON form of a value model (value_models.model),
// every field but the tenant, version, fit time and observation end, which
// are columns. It is this store's own format, with its own names, so that
// renaming a field of the domain cannot change what stored models mean.
// Numbers are written in the shortest form that parses back to the same
// float64 and jsonb keeps their digits, so every value round-trips exactly;
// NaN and infinities, which JSON cannot write, are strings.
type modelDoc struct {
	Settings   settingsDoc  `json:"settings"`
	BGNBD      [4]jfloat    `json:"bgnbd"` // r, alpha, a, b
	BGNBDFit   fitResultDoc `json:"bgnbd_fit"`
	HasSpend   bool         `json:"has_spend"`
	Spend      [3]jfloat    `json:"spend"` // p, q, gamma
	SpendFit   fitResultDoc `json:"spend_fit"`
	RFM        [3]cutsDoc   `json:"rfm"` // recency, frequency, monetary
	Customers  int64        `json:"customers"`
	Repeaters  int64        `json:"repeaters"`
	HoldoutEnd *time.Time   `json:"holdout_end,omitempty"`
	Holdout    []holdoutDoc `json:"holdout"`
	Histogram  []binDoc     `json:"histogram"`
}

type settingsDoc struct {
	UnitNanos             int64  `json:"unit_ns"`
	HorizonMonths         int    `json:"horizon_months"`
	AnnualDiscountRate    jfloat `json:"annual_discount_rate"`
	DefaultMargin         jfloat `json:"default_margin"`
	RetentionCostPerMonth jfloat `json:"retention_cost_per_month"`
	ChurnPAliveMedium     jfloat `json:"churn_p_alive_medium"`
	ChurnPAliveHigh       jfloat `json:"churn_p_alive_high"`
	SilenceFactor         jfloat `json:"silence_factor"`
	EngagementDropRatio   jfloat `json:"engagement_drop_ratio"`
	NewDays               int    `json:"new_days"`
	ChurnedDays           int    `json:"churned_days"`
}

type fitResultDoc struct {
	LogLikelihood jfloat   `json:"log_likelihood"`
	Iterations    int      `json:"iterations"`
	Evaluations   int      `json:"evaluations"`
	Converged     bool     `json:"converged"`
	Status        string   `json:"status"`
	StdErr        []jfloat `json:"std_err"`
	Customers     jfloat   `json:"customers"`
	Groups        int      `json:"groups"`
}

type cutsDoc struct {
	Edges     [4]jfloat `json:"edges"`
	Direction int       `json:"direction"`
}

type holdoutDoc struct {
	Frequency int    `json:"frequency"`
	OrMore    bool   `json:"or_more"`
	Customers jfloat `json:"customers"`
	Actual    jfloat `json:"actual"`
	Expected  jfloat `json:"expected"`
}

type binDoc struct {
	Frequency int    `json:"frequency"`
	OrMore    bool   `json:"or_more"`
	Actual    jfloat `json:"actual"`
	Expected  jfloat `json:"expected"`
}

// jfloat is a float64 in JSON: a number, or "NaN", "+Inf", "-Inf".
type jfloat float64

func (f jfloat) MarshalJSON() ([]byte, error) {
	v := float64(f)
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return []byte(`"` + strconv.FormatFloat(v, 'g', -1, 64) + `"`), nil
	}
	return strconv.AppendFloat(nil, v, 'g', -1, 64), nil
}

func (f *jfloat) UnmarshalJSON(b []byte) error {
	s := string(b)
	if len(b) > 0 && b[0] == '"' {
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
	}
	v, err := strconv.ParseFloat(s, 64)
	*f = jfloat(v)
	return err
}

func jfloats(v []float64) []jfloat {
	if v == nil {
		return nil
	}
	out := make([]jfloat, len(v))
	for i, x := range v {
		out[i] = jfloat(x)
	}
	return out
}

func floats(v []jfloat) []float64 {
	if v == nil {
		return nil
	}
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}

func fitToDoc(r clv.FitResult) fitResultDoc {
	return fitResultDoc{LogLikelihood: jfloat(r.LogLikelihood), Iterations: r.Iterations, Evaluations: r.Evaluations,
		Converged: r.Converged, Status: r.Status, StdErr: jfloats(r.StdErr), Customers: jfloat(r.Customers), Groups: r.Groups}
}

func (d fitResultDoc) fit() clv.FitResult {
	return clv.FitResult{LogLikelihood: float64(d.LogLikelihood), Iterations: d.Iterations, Evaluations: d.Evaluations,
		Converged: d.Converged, Status: d.Status, StdErr: floats(d.StdErr), Customers: float64(d.Customers), Groups: d.Groups}
}

func cutsToDoc(c rfm.Cuts) cutsDoc {
	return cutsDoc{Edges: [4]jfloat{jfloat(c.Edges[0]), jfloat(c.Edges[1]), jfloat(c.Edges[2]), jfloat(c.Edges[3])}, Direction: int(c.Direction)}
}

func (d cutsDoc) cuts() rfm.Cuts {
	return rfm.Cuts{Edges: [4]float64{float64(d.Edges[0]), float64(d.Edges[1]), float64(d.Edges[2]), float64(d.Edges[3])}, Direction: rfm.Direction(d.Direction)}
}

// encodeModel returns the model document of m.
func encodeModel(m *domain.ValueModel) ([]byte, error) {
	st := m.Settings
	d := modelDoc{
		Settings: settingsDoc{UnitNanos: int64(st.Unit), HorizonMonths: st.HorizonMonths, AnnualDiscountRate: jfloat(st.AnnualDiscountRate),
			DefaultMargin: jfloat(st.DefaultMargin), RetentionCostPerMonth: jfloat(st.RetentionCostPerMonth),
			ChurnPAliveMedium: jfloat(st.ChurnPAliveMedium), ChurnPAliveHigh: jfloat(st.ChurnPAliveHigh),
			SilenceFactor: jfloat(st.SilenceFactor), EngagementDropRatio: jfloat(st.EngagementDropRatio),
			NewDays: st.NewDays, ChurnedDays: st.ChurnedDays},
		BGNBD:     [4]jfloat{jfloat(m.BGNBD.R), jfloat(m.BGNBD.Alpha), jfloat(m.BGNBD.A), jfloat(m.BGNBD.B)},
		BGNBDFit:  fitToDoc(m.BGNBDFit),
		HasSpend:  m.HasSpend,
		Spend:     [3]jfloat{jfloat(m.Spend.P), jfloat(m.Spend.Q), jfloat(m.Spend.Gamma)},
		SpendFit:  fitToDoc(m.SpendFit),
		RFM:       [3]cutsDoc{cutsToDoc(m.RFM.Recency), cutsToDoc(m.RFM.Frequency), cutsToDoc(m.RFM.Monetary)},
		Customers: m.Customers, Repeaters: m.Repeaters,
	}
	if !m.HoldoutEnd.IsZero() {
		t := normTime(m.HoldoutEnd)
		d.HoldoutEnd = &t
	}
	if m.Holdout != nil {
		d.Holdout = make([]holdoutDoc, len(m.Holdout))
		for i, h := range m.Holdout {
			d.Holdout[i] = holdoutDoc{Frequency: h.Frequency, OrMore: h.OrMore, Customers: jfloat(h.Customers), Actual: jfloat(h.Actual), Expected: jfloat(h.Expected)}
		}
	}
	if m.Histogram != nil {
		d.Histogram = make([]binDoc, len(m.Histogram))
		for i, h := range m.Histogram {
			d.Histogram[i] = binDoc{Frequency: h.Frequency, OrMore: h.OrMore, Actual: jfloat(h.Actual), Expected: jfloat(h.Expected)}
		}
	}
	return json.Marshal(d)
}

// decodeModel fills the fields of m that the model document holds.
func decodeModel(b []byte, m *domain.ValueModel) error {
	var d modelDoc
	if err := json.Unmarshal(b, &d); err != nil {
		return fmt.Errorf("postgres: value model %d: %w", m.Version, err)
	}
	s := d.Settings
	m.Settings = domain.ValueSettings{Unit: time.Duration(s.UnitNanos), HorizonMonths: s.HorizonMonths,
		AnnualDiscountRate: float64(s.AnnualDiscountRate), DefaultMargin: float64(s.DefaultMargin),
		RetentionCostPerMonth: float64(s.RetentionCostPerMonth), ChurnPAliveMedium: float64(s.ChurnPAliveMedium),
		ChurnPAliveHigh: float64(s.ChurnPAliveHigh), SilenceFactor: float64(s.SilenceFactor),
		EngagementDropRatio: float64(s.EngagementDropRatio), NewDays: s.NewDays, ChurnedDays: s.ChurnedDays}
	m.BGNBD = clv.BGNBD{R: float64(d.BGNBD[0]), Alpha: float64(d.BGNBD[1]), A: float64(d.BGNBD[2]), B: float64(d.BGNBD[3])}
	m.BGNBDFit = d.BGNBDFit.fit()
	m.HasSpend = d.HasSpend
	m.Spend = clv.GammaGamma{P: float64(d.Spend[0]), Q: float64(d.Spend[1]), Gamma: float64(d.Spend[2])}
	m.SpendFit = d.SpendFit.fit()
	m.RFM = rfm.Model{Recency: d.RFM[0].cuts(), Frequency: d.RFM[1].cuts(), Monetary: d.RFM[2].cuts()}
	m.Customers, m.Repeaters = d.Customers, d.Repeaters
	m.HoldoutEnd = time.Time{}
	if d.HoldoutEnd != nil {
		m.HoldoutEnd = d.HoldoutEnd.UTC()
	}
	m.Holdout, m.Histogram = nil, nil
	if d.Holdout != nil {
		m.Holdout = make([]clv.HoldoutClass, len(d.Holdout))
		for i, h := range d.Holdout {
			m.Holdout[i] = clv.HoldoutClass{Frequency: h.Frequency, OrMore: h.OrMore, Customers: float64(h.Customers), Actual: float64(h.Actual), Expected: float64(h.Expected)}
		}
	}
	if d.Histogram != nil {
		m.Histogram = make([]clv.FrequencyBin, len(d.Histogram))
		for i, h := range d.Histogram {
			m.Histogram[i] = clv.FrequencyBin{Frequency: h.Frequency, OrMore: h.OrMore, Actual: float64(h.Actual), Expected: float64(h.Expected)}
		}
	}
	return nil
}
