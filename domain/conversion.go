package domain

import (
	"math"
	"slices"
	"sort"
	"strings"
	"time"
)

// Predictive lead conversion: per tenant and scoring model, a logistic
// regression (domain/conversion) learns from leads whose outcome is known
// the probability that a lead converts within a window, from what was
// known about the lead before its outcome.
//
// Outcomes (LabelLead), with a window W and an observation age H < W:
//   - A customer is a lead for this purpose if its kind is lead, if it has
//     an explicit outcome, or if anything was recorded about it (its
//     creation or an event) before its first order.
//   - Its start is the earlier of its creation and its first event.
//   - Converted: its first order, or an explicit won outcome, whichever is
//     first, at most W after its start.
//   - Lost: an explicit lost outcome, or no conversion by start + W.
//   - Open: neither yet.
//
// Time-honest features: every labelled lead is observed at one age, its
// cut-off start + H, and only if its outcome came after that (a lead
// decided within H days is counted as "decided early" and not learned
// from). Every feature is computed only from what happened strictly before
// the cut-off: later events, ledger points awarded later and BANT facts
// changed later are not seen, so nothing that happened at or after the
// outcome can reach a feature (the leakage test adds such events and
// checks every value). Observing converted and lost leads at the same age
// matters: taking each lead's features at its own outcome time would make
// recency and counts depend on the label (a lost lead would always be
// observed W days in, long after it went quiet), and the model would learn
// the timing instead of the lead. Firmographics (company size, industry,
// acquisition channel, contact details) are the customer's current
// fields: they are not versioned, and are taken to be what the lead was
// captured with. Open leads are scored on what is known now.
//
// Split: labelled leads are ordered by cut-off (the time they were
// observed); the latest quarter (ties kept together) is the validation set
// and the model is fitted on the rest, so it is judged on leads observed
// after every lead it learned from, as it will be used. The split is by
// observation time, not outcome time: ordering by outcome would put the
// slow outcomes (leads lost by running out of window) in the validation
// period and the fast ones (conversions) in training, shifting the
// validation base rate by construction. The validated model is the one used: it is not refitted on
// the validation leads, so the reported AUC, Brier score and calibration
// describe exactly the model that scores.

// Minimum data: below these numbers of labelled converted and lost leads
// no model is fitted; the state says so with the counts and leads keep
// only their rule score. Vendors ask for 40 to 120 conversions; we take
// the lower end, and also require each class in both the training and the
// validation period.
const (
	MinConvertedLeads = 40
	MinLostLeads      = 40
)

// Conversion window and observation age defaults and bounds, in days.
const (
	DefaultConversionWindowDays = 90
	MaxConversionWindowDays     = 730
	DefaultObservationDays      = 7
)

// Conversion bands: a probability of at least HotProbability is hot, of at
// least WarmProbability warm, else cold.
const (
	HotProbability  = 0.5
	WarmProbability = 0.2
)

// ConversionBand is a coarse reading of a conversion probability.
type ConversionBand string

// Bands.
const (
	BandHot  ConversionBand = "hot"
	BandWarm ConversionBand = "warm"
	BandCold ConversionBand = "cold"
)

// BandOf returns the band of probability p.
func BandOf(p float64) ConversionBand {
	switch {
	case p >= HotProbability:
		return BandHot
	case p >= WarmProbability:
		return BandWarm
	}
	return BandCold
}

// ConversionStatus says whether a model is in use.
type ConversionStatus string

// Statuses.
const (
	// ConversionReady: a validated model is in use.
	ConversionReady ConversionStatus = "ready"
	// ConversionInsufficientData: no model is in use because there were
	// too few labelled leads; the attempt's counts say how many.
	ConversionInsufficientData ConversionStatus = "insufficient_data"
)

// AttemptResult is what a training attempt led to.
type AttemptResult string

// Attempt results.
const (
	AttemptInstalled        AttemptResult = "installed"         // the new model is now in use
	AttemptKeptCurrent      AttemptResult = "kept_current"      // worse on validation than the model in use
	AttemptInsufficientData AttemptResult = "insufficient_data" // too few labelled leads
)

// ConversionState is the conversion model of one (tenant, scoring model):
// the model in use, if any, and the last training attempt.
type ConversionState struct {
	TenantID string
	// ScoringModelID is the scoring model whose points are a feature; ""
	// when the tenant had none.
	ScoringModelID string
	// WindowDays is the conversion window the models are trained for;
	// ObservationDays the age at which labelled leads are observed.
	WindowDays      int
	ObservationDays int
	Current         *ConversionFit
	LastAttempt     ConversionAttempt
}

// Status is ConversionReady when a model is in use.
func (s *ConversionState) Status() ConversionStatus {
	if s.Current != nil {
		return ConversionReady
	}
	return ConversionInsufficientData
}

// ConversionAttempt is one training run.
type ConversionAttempt struct {
	Time   time.Time
	Result AttemptResult
	// Reason explains the result in words.
	Reason string
	// Converted and Lost count the labelled leads (open at the
	// observation age, decided since), DecidedEarly the leads decided
	// before it, Open the leads without an outcome yet.
	Converted, Lost, DecidedEarly, Open int
	// Candidate is the model fitted (nil with insufficient data).
	Candidate *ConversionFit
	// CurrentOnValidation is how the model in use before the attempt did
	// on the candidate's validation leads (nil if there was none).
	CurrentOnValidation *ConversionMetrics
}

// ConversionMetrics are a model's measures on the validation leads.
type ConversionMetrics struct {
	AUC     float64
	Brier   float64
	LogLoss float64
	// Calibration compares mean predicted and observed conversion by
	// predicted decile.
	Calibration []CalibrationRow
}

// CalibrationRow is one predicted decile of the validation leads.
type CalibrationRow struct {
	Decile        int
	Count         int
	MeanPredicted float64
	ObservedRate  float64
}

// ConversionFit is a fitted, validated conversion model.
type ConversionFit struct {
	ID        string
	TrainTime time.Time
	// SplitTime: training leads were observed (their cut-off) before
	// it, validation leads at or after it.
	SplitTime                           time.Time
	TrainConverted, TrainLost           int
	ValidationConverted, ValidationLost int
	Validation                          ConversionMetrics
	Intercept                           float64
	Features                            []FeatureWeight
	Lambda                              float64
	Iterations                          int
	Converged                           bool
}

// FeatureWeight is one feature of a model: its weight in log-odds per
// standard deviation, and the training mean and standard deviation that
// standardise it.
type FeatureWeight struct {
	Name   string
	Weight float64
	Mean   float64
	Scale  float64
}

// Probability returns the model's probability for raw feature values x (in
// Features order) and each feature's contribution to the log-odds.
func (f *ConversionFit) Probability(x []float64) (float64, []float64) {
	eta := f.Intercept
	contrib := make([]float64, len(f.Features))
	for j, fw := range f.Features {
		contrib[j] = fw.Weight * (x[j] - fw.Mean) / fw.Scale
		eta += contrib[j]
	}
	if eta >= 0 {
		return 1 / (1 + math.Exp(-eta)), contrib
	}
	e := math.Exp(eta)
	return e / (1 + e), contrib
}

// FeatureNames returns the names of the model's features, in order.
func (f *ConversionFit) FeatureNames() []string {
	out := make([]string, len(f.Features))
	for i, fw := range f.Features {
		out[i] = fw.Name
	}
	return out
}

// LeadLabel is a lead's outcome as training sees it.
type LeadLabel string

// Labels.
const (
	LabelNotLead   LeadLabel = "not_lead"
	LabelConverted LeadLabel = "converted"
	LabelLost      LeadLabel = "lost"
	LabelOpen      LeadLabel = "open"
	// LabelEarly: converted or lost before the observation age.
	LabelEarly LeadLabel = "decided_early"
)

// LeadHistory is everything known about one lead: the customer, its events
// (ScoringEvents in time order), its ledger, its BANT history and its
// explicit outcome, if any.
type LeadHistory struct {
	Customer       Customer
	Events         []ScoringEvent
	Ledger         []LedgerEntry
	Qualifications []QualificationChange // oldest first
	Outcome        *LeadOutcome
}

// Labelling is the label of a lead and the times that go with it.
type Labelling struct {
	Label LeadLabel
	// Start of the lead; Outcome is when it converted or was lost (zero
	// when open); Cutoff is when its features are taken: start + the
	// observation age for a labelled lead, zero otherwise.
	Start, Outcome, Cutoff time.Time
}

// LabelLead labels lead h at now with window and observation age obs. See
// the rules at the top of this file.
func LabelLead(h *LeadHistory, window, obs time.Duration, now time.Time) Labelling {
	start := h.Customer.CreateTime
	var firstOrder time.Time
	for i := range h.Events {
		e := &h.Events[i]
		if start.IsZero() || e.At.Before(start) {
			start = e.At
		}
		if e.Kind == EventKindOrder && (firstOrder.IsZero() || e.At.Before(firstOrder)) {
			firstOrder = e.At
		}
	}
	convAt := firstOrder
	var lostAt time.Time
	if o := h.Outcome; o != nil {
		switch o.Result {
		case LeadWon:
			if convAt.IsZero() || o.At.Before(convAt) {
				convAt = o.At
			}
		case LeadLost:
			lostAt = o.At
		}
	}
	isLead := h.Customer.Kind == KindLead || h.Outcome != nil || (!convAt.IsZero() && start.Before(convAt))
	if !isLead {
		return Labelling{Label: LabelNotLead, Start: start}
	}
	end := start.Add(window)
	out := Labelling{Start: start}
	switch {
	case !convAt.IsZero() && !convAt.After(end) && (lostAt.IsZero() || !lostAt.Before(convAt)):
		out.Label, out.Outcome = LabelConverted, convAt
	case !lostAt.IsZero():
		out.Label, out.Outcome = LabelLost, lostAt
		if end.Before(lostAt) {
			out.Outcome = end
		}
	case !now.Before(end):
		out.Label, out.Outcome = LabelLost, end
	default:
		out.Label = LabelOpen
		return out
	}
	if cut := start.Add(obs); out.Outcome.After(cut) {
		out.Cutoff = cut
	} else {
		out.Label = LabelEarly
	}
	return out
}

// engagementGroups are the interaction kinds counted together.
var engagementGroups = []struct {
	name  string
	kinds []EventKind
}{
	{"email_engagement", []EventKind{EventKindEmailOpened, EventKindEmailClicked}},
	{"email_sent", []EventKind{EventKindEmailSent}},
	{"meeting", []EventKind{EventKindMeeting}},
	{"call", []EventKind{EventKindCall}},
	{"web", []EventKind{EventKindSiteVisit, EventKindPageView}},
	{"form", []EventKind{EventKindFormSubmission}},
	{"chat_social", []EventKind{EventKindChat, EventKindSocialEngagement}},
}

// groupOf maps an event kind to its engagement group.
var groupOf = func() map[EventKind]int {
	m := map[EventKind]int{}
	for gi, g := range engagementGroups {
		for _, k := range g.kinds {
			m[k] = gi
		}
	}
	return m
}()

// Engagement windows and the cap of recency features.
const (
	engagementWindow = 90 * 24 * time.Hour
	recencyCapDays   = 180.0
)

// baseFeatures names the features every model has, in order. Counts are
// log(1 + n); recencies are days since the latest such event, capped at
// 180 (180 when there was none).
var baseFeatures = func() []string {
	var out []string
	for _, g := range engagementGroups {
		out = append(out, g.name+"_count_90d", g.name+"_count_all", g.name+"_recency_days")
	}
	return append(out,
		"points",             // score in the scoring model just before the cut-off
		"complaints",         // log(1 + complaints)
		"positive_feedback",  // log(1 + praise and suggestions)
		"rating",             // mean rating - 3 (0 with none)
		"nps",                // latest NPS answer - 7 (0 with none)
		"referred",           // 1 if referred by a customer
		"company_size",       // head-count band 1-6, 0 unknown
		"has_company",        // 1 if a company name is set
		"has_email",          // 1 if an e-mail address is set
		"has_phone",          // 1 if a phone number is set
		"consented_channels", // number of channels consented to
		"budget_log",         // log(1 + BANT budget in major units)
		"budget_known",       // 1 if a budget is set
		"authority_influencer",
		"authority_decision_maker",
		"authority_budget_approver",
		"need_stated",      // 1 if the need is filled in
		"decision_known",   // 1 if a decision date is set
		"days_to_decision", // decision date - cut-off in days, in [-365, 365]; 0 unknown
	)
}()

var baseIndex = func() map[string]int {
	m := make(map[string]int, len(baseFeatures))
	for i, n := range baseFeatures {
		m[n] = i
	}
	return m
}()

// Categorical features: one indicator per frequent value, named
// "acquisition_channel=<value>" or "industry=<value>".
const (
	maxCategoryLevels = 5
	minCategoryLeads  = 20
)

var companySizeRank = map[CompanySize]float64{Size1to10: 1, Size11to50: 2, Size51to200: 3, Size201to1000: 4, Size1001to5k: 5, Size5001Plus: 6}

// baseValues computes baseFeatures of h from what happened strictly before
// cutoff, for scoring model modelID.
func baseValues(h *LeadHistory, cutoff time.Time, modelID string, x []float64) {
	clear(x)
	const ng = 7 // len(engagementGroups)
	var counts90, countsAll [ng]float64
	var last [ng]time.Time
	var complaints, positive, ratingSum, ratings float64
	var nps float64
	var npsAt time.Time
	var referred float64
	for i := range h.Events {
		e := &h.Events[i]
		if !e.At.Before(cutoff) {
			continue
		}
		if gi, ok := groupOf[e.Kind]; ok {
			countsAll[gi]++
			if cutoff.Sub(e.At) <= engagementWindow {
				counts90[gi]++
			}
			if e.At.After(last[gi]) {
				last[gi] = e.At
			}
			continue
		}
		switch e.Kind {
		case EventKindComplaint:
			complaints++
		case EventKindPraise, EventKindSuggestion:
			positive++
		case EventKindRating:
			ratingSum += float64(e.Rating)
			ratings++
		case EventKindNPS:
			if !e.At.Before(npsAt) {
				nps, npsAt = float64(e.Rating)-7, e.At
			}
		case EventKindReferralReceived:
			referred = 1
		}
	}
	k := 0
	for gi := range engagementGroups {
		rec := recencyCapDays
		if !last[gi].IsZero() {
			rec = min(recencyCapDays, cutoff.Sub(last[gi]).Hours()/24)
		}
		x[k], x[k+1], x[k+2] = math.Log1p(counts90[gi]), math.Log1p(countsAll[gi]), rec
		k += 3
	}
	if modelID != "" {
		x[k] = float64(ScoreAt(h.Ledger, modelID, cutoff.Add(-time.Microsecond)))
	}
	x[k+1] = math.Log1p(complaints)
	x[k+2] = math.Log1p(positive)
	if ratings > 0 {
		x[k+3] = ratingSum/ratings - 3
	}
	x[k+4] = nps
	x[k+5] = referred
	c := &h.Customer
	x[k+6] = companySizeRank[c.CompanySize]
	x[k+7] = b2f(c.CompanyName != "")
	x[k+8] = b2f(c.Email != "")
	x[k+9] = b2f(c.Phone != "")
	x[k+10] = float64(len(c.AcceptedChannels))
	// BANT as of the cut-off: the latest change strictly before it.
	var q Qualification
	for _, qc := range h.Qualifications {
		if qc.At.Before(cutoff) {
			q = qc.Qualification
		}
	}
	if q.Budget > 0 {
		x[k+11] = math.Log1p(q.Budget.Float())
		x[k+12] = 1
	}
	x[k+13] = b2f(q.Authority == AuthorityInfluencer)
	x[k+14] = b2f(q.Authority == AuthorityDecisionMaker)
	x[k+15] = b2f(q.Authority == AuthorityBudgetApprover)
	x[k+16] = b2f(strings.TrimSpace(q.Need) != "")
	if !q.DecisionTime.IsZero() {
		x[k+17] = 1
		x[k+18] = max(-365, min(365, q.DecisionTime.Sub(cutoff).Hours()/24))
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// conversionSpec returns the feature names of a model trained on leads:
// baseFeatures, then an indicator for each of the most frequent
// acquisition channels and industries (at most 5 each, each held by at
// least 20 of the leads), by descending frequency then name.
func conversionSpec(leads []*LeadHistory) []string {
	out := slices.Clone(baseFeatures)
	for _, cat := range []struct {
		prefix string
		value  func(*Customer) string
	}{
		{"acquisition_channel=", func(c *Customer) string { return c.AcquisitionChannel }},
		{"industry=", func(c *Customer) string { return c.Industry }},
	} {
		n := map[string]int{}
		for _, h := range leads {
			if v := cat.value(&h.Customer); v != "" {
				n[v]++
			}
		}
		var vs []string
		for v, k := range n {
			if k >= minCategoryLeads {
				vs = append(vs, v)
			}
		}
		sort.Slice(vs, func(i, j int) bool {
			if n[vs[i]] != n[vs[j]] {
				return n[vs[i]] > n[vs[j]]
			}
			return vs[i] < vs[j]
		})
		if len(vs) > maxCategoryLevels {
			vs = vs[:maxCategoryLevels]
		}
		for _, v := range vs {
			out = append(out, cat.prefix+v)
		}
	}
	return out
}

// FeatureSet is a compiled list of feature names: where each value comes
// from (a base feature or a category indicator).
type FeatureSet struct {
	Names []string
	base  []int    // index in baseFeatures, or -1
	cat   []int    // 1 acquisition channel, 2 industry, 0 none
	value []string // the category's value
}

// CompileFeatures compiles names (unknown names give 0).
func CompileFeatures(names []string) *FeatureSet {
	fs := &FeatureSet{Names: names, base: make([]int, len(names)), cat: make([]int, len(names)), value: make([]string, len(names))}
	for j, n := range names {
		fs.base[j] = -1
		if i, ok := baseIndex[n]; ok {
			fs.base[j] = i
		} else if v, ok := strings.CutPrefix(n, "acquisition_channel="); ok {
			fs.cat[j], fs.value[j] = 1, v
		} else if v, ok := strings.CutPrefix(n, "industry="); ok {
			fs.cat[j], fs.value[j] = 2, v
		}
	}
	return fs
}

// Values writes the set's values for lead h at cutoff (see baseValues) to
// dst (len(Names)), with scoring model modelID's points; scratch, if
// len(baseFeatures) long, saves an allocation.
func (fs *FeatureSet) Values(dst, scratch []float64, h *LeadHistory, cutoff time.Time, modelID string) {
	if len(scratch) != len(baseFeatures) {
		scratch = make([]float64, len(baseFeatures))
	}
	baseValues(h, cutoff, modelID, scratch)
	for j := range fs.Names {
		switch {
		case fs.base[j] >= 0:
			dst[j] = scratch[fs.base[j]]
		case fs.cat[j] == 1:
			dst[j] = b2f(h.Customer.AcquisitionChannel == fs.value[j])
		case fs.cat[j] == 2:
			dst[j] = b2f(h.Customer.Industry == fs.value[j])
		default:
			dst[j] = 0
		}
	}
}

// LeadFeatures returns the values of features names for lead h at cutoff
// (see baseValues), with scoring model modelID's points.
func LeadFeatures(h *LeadHistory, names []string, cutoff time.Time, modelID string) []float64 {
	x := make([]float64, len(names))
	CompileFeatures(names).Values(x, nil, h, cutoff, modelID)
	return x
}

// ConversionFactor is one feature's contribution to a lead's log-odds,
// relative to a lead at the training means.
type ConversionFactor struct {
	Feature      string
	Value        float64
	Contribution float64
}

// LeadConversionStatus says what a lead's conversion output holds.
type LeadConversionStatus string

// Lead conversion statuses.
const (
	// LeadScored: an open lead with a probability.
	LeadScored LeadConversionStatus = "scored"
	// LeadNoModel: no model is in use (too little data, or never
	// trained); no probability, the lead keeps its rule score.
	LeadNoModel LeadConversionStatus = "no_model"
	// LeadConverted, LeadClosedLost: the outcome is known; no probability.
	LeadConverted  LeadConversionStatus = "converted"
	LeadClosedLost LeadConversionStatus = "lost"
	// LeadNotALead: the customer never was a lead.
	LeadNotALead LeadConversionStatus = "not_lead"
)

// MaxConversionFactors is how many positive and how many negative factors
// a lead's output lists.
const MaxConversionFactors = 3

// LeadConversion is the conversion output of one lead.
type LeadConversion struct {
	CustomerID string
	Status     LeadConversionStatus
	// Probability and Band, when Status is LeadScored.
	Probability float64
	Band        ConversionBand
	// Positive and Negative are the largest contributions up and down,
	// largest first.
	Positive, Negative []ConversionFactor
	// Points is the lead's rule score in the scoring model now.
	Points int64
	// ModelID is the fit that scored (when scored); State is the state of
	// the conversion model (its counts say why there is no model).
	ModelID string
	State   ConversionState
}

// topFactors returns the MaxConversionFactors largest positive and the
// largest negative contributions, largest first (ties by feature order).
func topFactors(names []string, x, contrib []float64) (pos, neg []ConversionFactor) {
	var p, n [MaxConversionFactors]int
	np, nn := 0, 0
	for i, c := range contrib {
		switch {
		case c > 1e-9:
			np = insertTop(p[:], np, i, func(a, b int) bool { return contrib[a] > contrib[b] })
		case c < -1e-9:
			nn = insertTop(n[:], nn, i, func(a, b int) bool { return contrib[a] < contrib[b] })
		}
	}
	for _, i := range p[:np] {
		pos = append(pos, ConversionFactor{names[i], x[i], contrib[i]})
	}
	for _, i := range n[:nn] {
		neg = append(neg, ConversionFactor{names[i], x[i], contrib[i]})
	}
	return pos, neg
}

// insertTop inserts i into the sorted top list top[:k] (capacity len(top))
// by better, and returns the new length.
func insertTop(top []int, k, i int, better func(a, b int) bool) int {
	pos := k
	for pos > 0 && better(i, top[pos-1]) {
		pos--
	}
	if pos >= len(top) {
		return k
	}
	if k < len(top) {
		k++
	}
	copy(top[pos+1:k], top[pos:k-1])
	top[pos] = i
	return k
}
