package domain

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/potentialhq/potential/domain/rfm"
	"github.com/potentialhq/potential/domain/rules"
)

// SegmentKind says how a segment's members are chosen.
type SegmentKind string

// Segment kinds.
const (
	// SegmentStatic: members are added and removed explicitly.
	SegmentStatic SegmentKind = "static"
	// SegmentDynamic: members are the customers for which the segment's
	// CEL rule holds, kept current as events arrive and time passes.
	SegmentDynamic SegmentKind = "dynamic"
)

// Segment is a named group of a tenant's customers.
type Segment struct {
	ID          string
	TenantID    string
	Name        string // unique in the tenant
	Description string
	Kind        SegmentKind
	// Rule is the CEL rule of a dynamic segment (rules.CompileSegmentRule).
	Rule string
	// BuiltIn segments (one per named RFM segment and lifecycle stage) are
	// created by Potential and cannot be changed or deleted.
	BuiltIn    bool
	Version    int64
	CreateTime time.Time
	UpdateTime time.Time
}

// Limits of segments.
const (
	MaxSegmentNameLength = 200
	MaxSegments          = 500
	// MaxMembersPerCall bounds the members one Add/RemoveSegmentMembers call names.
	MaxMembersPerCall = 1000
)

// Validate checks the client-set fields, type-checking a dynamic rule:
// a rule that does not compile is an InvalidArgument on "segment.rule"
// whose description starts with its line and column.
func (sg *Segment) Validate() error {
	var v violations
	v.prefix = "segment"
	if sg.Name == "" {
		v.add("name", "required")
	} else if len(sg.Name) > MaxSegmentNameLength {
		v.add("name", "longer than %d bytes", MaxSegmentNameLength)
	}
	switch sg.Kind {
	case SegmentStatic:
		if sg.Rule != "" {
			v.add("rule", "a static segment has no rule")
		}
	case SegmentDynamic:
		if _, err := rules.CompileSegmentRule(sg.Rule); err != nil {
			v.add("rule", "%s", err.Error())
		}
	default:
		v.add("kind", "must be static or dynamic")
	}
	return v.err()
}

// SegmentEventKind says whether a customer entered or exited a segment.
type SegmentEventKind int8

// Segment event kinds.
const (
	SegmentEntered SegmentEventKind = 1
	SegmentExited  SegmentEventKind = 2
)

// String returns "entered" or "exited".
func (k SegmentEventKind) String() string {
	switch k {
	case SegmentEntered:
		return "entered"
	case SegmentExited:
		return "exited"
	}
	return fmt.Sprintf("SegmentEventKind(%d)", int8(k))
}

// SegmentEvent is one entry of a tenant's append-only segment event log.
type SegmentEvent struct {
	// Cursor is the event's position in the tenant's log: 1, 2, 3, ... in
	// commit order, without gaps, so a reader that has seen every event up
	// to n resumes after n and misses none.
	Cursor     int64
	SegmentID  string
	CustomerID string
	Kind       SegmentEventKind
	Time       time.Time
	// Cause says what moved the customer: "events_recorded",
	// "customer_changed", "assessment_changed", "grade_changed", "time",
	// "segment_changed" or "static".
	Cause string
}

// SegmentMember is a customer of a segment, with when it entered.
type SegmentMember struct {
	CustomerID string
	Since      time.Time
}

// SegmentFacts is what a store reads of one customer for segment rules,
// at the time of the run.
type SegmentFacts struct {
	// Customer as stored, with its stored Assessment.
	Customer Customer
	// Grade is the stored grade (Grade "" if none).
	Grade          CustomerGrade
	OpenComplaints int64
	// RecentInteractions are the times of the customer's interactions in
	// the SegmentWindow before the run's time (t > now - SegmentWindow and
	// t <= now), oldest first.
	RecentInteractions []time.Time
	// Conversion is the lead's stored conversion score that rules see
	// (RuleLeadScore of its stored scores), nil when it has none.
	Conversion *LeadScore
}

// SegmentWindow is the longest interaction window segment rules see.
const SegmentWindow = 90 * 24 * time.Hour

// SegmentRun selects what EvaluateSegments visits.
type SegmentRun struct {
	// CustomerIDs lists the customers (unknown ones are skipped), unless All.
	CustomerIDs []string
	All         bool
	// SegmentIDs restricts the evaluated segments; nil evaluates every
	// dynamic segment of the tenant.
	SegmentIDs []string
	Now        time.Time
	Cause      string
	// Facts names the facts the evaluated rules read (0: all of them); a
	// store may leave the others zero.
	Facts SegmentFactSet
	// KeepDue: the run leaves the customers' due times as they are and
	// ignores its decisions' Due. Set when no evaluated rule depends on
	// time: a due time is a function of the customer's facts (when its
	// inputs next change), kept by the customers for whom time can change
	// a rule's result, and current by every run that evaluates a
	// time-dependent rule.
	KeepDue bool
}

// SegmentFactSet names parts of SegmentFacts, one bit each.
type SegmentFactSet uint32

// Parts of SegmentFacts. Customer.ID is always read.
const (
	// FactKind ... FactAcquisitionChannel: one field of the customer's
	// profile each.
	FactKind SegmentFactSet = 1 << iota
	FactCountry
	FactRegion
	FactCity
	FactIndustry
	FactCompanySize
	FactAgeBand
	FactGender
	FactAcquisitionChannel
	// FactPurchases: the customer's orders, purchase days, spend, refunds
	// and latest purchase time.
	FactPurchases
	// FactEngagement: the customer's latest interaction time.
	FactEngagement
	// FactAttributes: the customer's custom attributes.
	FactAttributes
	// FactAssessment: Customer.Assessment.
	FactAssessment
	// FactGrade: Grade.
	FactGrade
	// FactComplaints: OpenComplaints.
	FactComplaints
	// FactInteractions: RecentInteractions.
	FactInteractions
	// FactConversion: Conversion.
	FactConversion

	// FactProfile is every profile field.
	FactProfile = FactKind | FactCountry | FactRegion | FactCity | FactIndustry | FactCompanySize | FactAgeBand |
		FactGender | FactAcquisitionChannel
	// AllSegmentFacts is every part.
	AllSegmentFacts = FactProfile | FactPurchases | FactEngagement | FactAttributes | FactAssessment | FactGrade |
		FactComplaints | FactInteractions | FactConversion
)

// customerFieldFacts are the facts each field of a rule's `customer`
// comes from (celCustomer, SegmentSubject).
var customerFieldFacts = map[string]SegmentFactSet{
	"kind": FactKind, "country": FactCountry, "region": FactRegion, "city": FactCity, "industry": FactIndustry,
	"company_size": FactCompanySize, "age_band": FactAgeBand, "gender": FactGender,
	"acquisition_channel": FactAcquisitionChannel,
	"orders":              FactPurchases, "purchase_days": FactPurchases, "total_spend": FactPurchases,
}

// segmentVariableFacts are the facts SegmentSubject derives each rule
// variable but `customer` from; a variable missing here needs every fact.
var segmentVariableFacts = map[string]SegmentFactSet{
	"attributes":               FactAttributes,
	"rfm":                      FactAssessment,
	"clv":                      FactAssessment | FactPurchases, // historical: the net spend
	"p_alive":                  FactAssessment,
	"churn":                    FactAssessment,
	"stage":                    FactAssessment | FactPurchases, // not assessed: from the purchases
	"grade":                    FactGrade,
	"score":                    FactGrade,
	"engagement":               FactGrade,
	"interactions":             FactInteractions | FactEngagement, // days_since_last: the latest interaction
	"days_since_last_purchase": FactPurchases,
	"open_complaints":          FactComplaints,
	"conversion":               FactConversion,
}

// dueFacts are what segmentDue reads.
const dueFacts = FactInteractions | FactPurchases | FactEngagement

// ruleFacts returns the facts rule r reads.
func ruleFacts(r *rules.SegmentRule) SegmentFactSet {
	var out SegmentFactSet
	for _, v := range r.Variables() {
		if v == "customer" {
			fields, whole := r.CustomerFields()
			if whole {
				out |= FactProfile | FactPurchases
			}
			for _, f := range fields {
				ff, ok := customerFieldFacts[f]
				if !ok {
					return AllSegmentFacts
				}
				out |= ff
			}
			continue
		}
		f, ok := segmentVariableFacts[v]
		if !ok {
			return AllSegmentFacts
		}
		out |= f
	}
	return out
}

// SegmentBatch is one batch of a segment run (EvaluateSegments).
type SegmentBatch struct {
	// Segments are every dynamic segment of the tenant.
	Segments []Segment
	Facts    []SegmentFacts
	// Actions is the tenant's stored action table (Version 0 when it has
	// none: the default applies), which segment rules see as `action`.
	Actions ActionTable
}

// SegmentDecision is the outcome of a run for one customer.
type SegmentDecision struct {
	CustomerID string
	// Members are the ids of the evaluated segments the customer belongs to.
	Members []string
	// Due is the next time the customer's time-dependent rule inputs
	// change, when time can change the result of an evaluated rule for
	// the customer (zero: never, or no evaluated rule's result can change
	// as time passes). A run restricted to some segments (SegmentIDs)
	// never clears or postpones a stored due time (a zero Due, or a later
	// one, leaves it), since a rule it did not evaluate may need it; a run
	// of every segment sets what it decides.
	Due time.Time
}

// SegmentEventQuery selects events of the log.
type SegmentEventQuery struct {
	After      int64    // events with a cursor above this
	SegmentIDs []string // nil: every segment
	CustomerID string   // "": every customer
	Limit      int
}

// SegmentStore is the storage segments need. Store embeds it.
//
// Every membership change is written in the same database transaction as
// its event in the tenant's append-only log; cursors are assigned under a
// per-tenant lock held to the commit, so cursor order is commit order.
type SegmentStore interface {
	// CreateSegment stores sg (Version 1); ErrConflict if its name is taken.
	CreateSegment(ctx context.Context, sg Segment) (Segment, error)
	// GetSegment returns a segment by id.
	GetSegment(ctx context.Context, tenantID, id string) (Segment, error)
	// ListSegments returns the tenant's segments by name.
	ListSegments(ctx context.Context, tenantID string) ([]Segment, error)
	// UpdateSegment replaces the client-set fields of segment sg.ID if it
	// is at sg.Version (else ErrStale), setting Version to sg.Version+1.
	UpdateSegment(ctx context.Context, sg Segment) (Segment, error)
	// DeleteSegment deletes a segment (at version, unless 0) with its
	// members; each member gets an exited event.
	DeleteSegment(ctx context.Context, tenantID, id string, version int64, at time.Time) error

	// ReadSegmentFacts calls fn with batches of facts as of now, without
	// locking or writing: for the given customers, or all when ids is nil.
	ReadSegmentFacts(ctx context.Context, tenantID string, ids []string, now time.Time, fn func([]SegmentFacts) error) error
	// EvaluateSegments runs fn over the customers of run in batches and
	// writes what fn decides: the members that differ from the stored ones
	// (among run.SegmentIDs, or every dynamic segment), with their events,
	// and the customers' due times (unless run.KeepDue). The writes commit
	// under the tenant's segment log lock, and the facts they follow are
	// those the lock's previous holders saw or newer: a store reads them
	// under the lock, or reads every customer's (run.All) from one
	// snapshot without it and writes only if no writer of the log has
	// committed since, else reads them again under the lock. A write that
	// commits after a run's read is followed by its own evaluation. fn
	// must be safe for concurrent use: a store may call it for several
	// batches at once.
	EvaluateSegments(ctx context.Context, tenantID string, run SegmentRun, fn func(*SegmentBatch) ([]SegmentDecision, error)) error
	// ChangeStaticMembers adds and removes members of a static segment,
	// writing an event for each actual change; it returns their number.
	ChangeStaticMembers(ctx context.Context, tenantID, segmentID string, add, remove []string, at time.Time) (int, error)
	// ListSegmentMembers returns at most limit members of a segment in
	// customer id order, after the id after.
	ListSegmentMembers(ctx context.Context, tenantID, segmentID, after string, limit int) ([]SegmentMember, error)
	// CustomerSegments returns the ids of the segments a customer is in.
	CustomerSegments(ctx context.Context, tenantID, customerID string) ([]string, error)
	// ListSegmentEvents returns events of the log in cursor order.
	ListSegmentEvents(ctx context.Context, tenantID string, q SegmentEventQuery) ([]SegmentEvent, error)
	// DueSegmentCustomers returns at most limit ids of customers whose due
	// time is at or before now, earliest first.
	DueSegmentCustomers(ctx context.Context, tenantID string, now time.Time, limit int) ([]string, error)
	// SubscribeSegmentEvents returns a channel that receives a value (it
	// holds at most one) after events of the tenant may have been appended
	// by any process, and a function that ends the subscription. It is a
	// wake-up only: readers read the log for the truth, and poll too.
	SubscribeSegmentEvents(tenantID string) (<-chan struct{}, func())
}

// SegmentSubject derives what a segment rule sees of a customer from its
// facts at now.
func SegmentSubject(f *SegmentFacts, now time.Time) rules.Subject {
	c := &f.Customer
	a := &c.Assessment
	cu := celCustomer(c)
	cu.Orders, cu.PurchaseDays, cu.TotalSpend = c.Purchases.Orders, c.Purchases.PurchaseDays, c.Purchases.TotalSpend.Float()
	s := rules.Subject{
		Customer: cu,
		RFM: rules.RFM{RecencyScore: int64(a.RFM.R), FrequencyScore: int64(a.RFM.F), MonetaryScore: int64(a.RFM.M),
			Segment: a.Segment.Slug()},
		CLV: rules.CLV{Predicted: a.PredictedValue.Float(), Historical: c.Purchases.NetSpend().Float(),
			ValueAtRisk: a.ValueAtRisk.Float(), ExpectedPurchases: a.ExpectedPurchases},
		PAlive:                a.PAlive,
		Churn:                 rules.Churn{Level: a.Churn.String(), Reasons: []string{}},
		Stage:                 a.Stage.String(),
		Grade:                 f.Grade.Grade,
		Score:                 f.Grade.Composite,
		Engagement:            f.Grade.Engagement,
		DaysSinceLastPurchase: -1,
		OpenComplaints:        f.OpenComplaints,
		Conversion:            ruleConversion(f.Conversion),
	}
	if a.AssessTime.IsZero() {
		// Not assessed yet: what Assess derives without purchases or model.
		s.Stage = StageLead.String()
		if c.Purchases.PurchaseDays > 0 {
			s.Stage = StageUnknown.String()
		}
	}
	for _, r := range ChurnReasons {
		if a.HasReason(r) {
			s.Churn.Reasons = append(s.Churn.Reasons, r.String())
		}
	}
	if !c.Purchases.LastPurchaseTime.IsZero() {
		s.DaysSinceLastPurchase = max(daysBetween(c.Purchases.LastPurchaseTime, now), 0)
	}
	s.Interactions.DaysSinceLast = -1
	if !c.Engagement.LastInteractionTime.IsZero() {
		s.Interactions.DaysSinceLast = max(daysBetween(c.Engagement.LastInteractionTime, now), 0)
	}
	for _, t := range f.RecentInteractions {
		age := now.Sub(t)
		if age < 0 || age >= SegmentWindow {
			continue
		}
		s.Interactions.Last90Days++
		if age < 30*24*time.Hour {
			s.Interactions.Last30Days++
		}
		if age < 7*24*time.Hour {
			s.Interactions.Last7Days++
		}
	}
	return s
}

// ruleConversion is what rules see of a lead's stored score (nil: none).
func ruleConversion(sc *LeadScore) rules.Conversion {
	if sc == nil {
		return rules.Conversion{}
	}
	return rules.Conversion{Available: true, Probability: sc.Probability, Band: string(sc.Band)}
}

// RuleLeadScore chooses, among a lead's stored conversion scores (one per
// scoring model whose conversion model is in use, see ReplaceLeadScores),
// the one segment rules, action rules and fit criteria see as
// `conversion`: the score under engagementModelID (the grading policy's
// engagement model) when it is set, else the lead's only score. It returns
// nil when there is none: no score, or several and no model named. This
// is the scoring model GetCustomerAssessment reports the conversion of,
// read from what the last training stored.
func RuleLeadScore(scores []LeadScore, engagementModelID string) *LeadScore {
	if engagementModelID != "" {
		for i := range scores {
			if scores[i].ScoringModelID == engagementModelID {
				sc := scores[i]
				return &sc
			}
		}
		return nil
	}
	if len(scores) == 1 {
		sc := scores[0]
		return &sc
	}
	return nil
}

// segmentDue returns the next time after now at which a time-dependent
// input of f changes: an interaction leaving a 7-, 30- or 90-day window,
// or a whole day passing since the latest purchase or interaction. Zero
// when none will.
func segmentDue(f *SegmentFacts, now time.Time) time.Time {
	var due time.Time
	consider := func(t time.Time) {
		if t.After(now) && (due.IsZero() || t.Before(due)) {
			due = t
		}
	}
	for _, w := range []time.Duration{7 * 24 * time.Hour, 30 * 24 * time.Hour, SegmentWindow} {
		// The oldest interaction still in the window leaves it first.
		for _, t := range f.RecentInteractions {
			if now.Sub(t) < w && !t.After(now) {
				consider(t.Add(w))
				break
			}
		}
	}
	nextDay := func(last time.Time) {
		if last.IsZero() || last.After(now) {
			return
		}
		d := max(daysBetween(last, now), 0)
		consider(last.Add(time.Duration(d+1) * 24 * time.Hour))
	}
	nextDay(f.Customer.Purchases.LastPurchaseTime)
	nextDay(f.Customer.Engagement.LastInteractionTime)
	return due
}

// timeCanChange reports whether time passing can change the result of one
// of the rules of eval for subj: a rule that reads a time-dependent input
// (or the action, when the action table's rules do) and is not settled for
// subj by its other parts (rules.SegmentRule.Settled). Only then does the
// customer need a due time: of a million customers, a rule
// `customer.country == "PL" && interactions.last_90_days > 0` needs due
// times for the Polish ones alone.
// held[k] is whether eval[k]'s rule holds for subj.
func timeCanChange(eval []compiledSegment, held []bool, subj *rules.Subject, actions *actionRules) bool {
	for k, c := range eval {
		timed := c.rule.TimeDependent() || c.rule.UsesAction() && actions != nil && actions.timed
		if timed && !c.rule.Settled(subj, held[k]) {
			return true
		}
	}
	return false
}

// compiledSegment is a dynamic segment with its rule compiled.
type compiledSegment struct {
	id   string
	rule *rules.SegmentRule
}

// ruleCache holds compiled segment rules by source: every evaluation
// batch needs every rule of its tenant, and compiling costs far more than
// evaluating.
var ruleCache sync.Map // string -> *rules.SegmentRule

// maxCachedRules bounds ruleCache; past it, rules compile every time.
const maxCachedRules = 10_000

var cachedRules atomic.Int64

func cachedSegmentRule(src string) (*rules.SegmentRule, error) {
	if r, ok := ruleCache.Load(src); ok {
		return r.(*rules.SegmentRule), nil
	}
	r, err := rules.CompileSegmentRule(src)
	if err != nil {
		return nil, err
	}
	if cachedRules.Add(1) <= maxCachedRules {
		ruleCache.Store(src, r)
	}
	return r, nil
}

func compileSegments(sgs []Segment) ([]compiledSegment, bool, error) {
	out := make([]compiledSegment, 0, len(sgs))
	timed := false
	for _, sg := range sgs {
		if sg.Kind != SegmentDynamic {
			continue
		}
		r, err := cachedSegmentRule(sg.Rule)
		if err != nil {
			return nil, false, fmt.Errorf("segment %s: %w", sg.ID, err)
		}
		timed = timed || r.TimeDependent()
		out = append(out, compiledSegment{id: sg.ID, rule: r})
	}
	return out, timed, nil
}

// decideSegments evaluates the segments of only (every dynamic segment of
// b when nil) for each customer of b at now, with the customer's due time
// when an evaluated rule depends on time. A rule that fails at run time
// for a customer (e.g. a missing attribute) does not hold for it. It is
// safe for concurrent use.
func decideSegments(b *SegmentBatch, only []string, now time.Time) ([]SegmentDecision, error) {
	all, timed, err := compileSegments(b.Segments)
	if err != nil {
		return nil, err
	}
	eval := all
	if only != nil {
		eval, timed = eval[:0:0], false
		for _, c := range all {
			for _, id := range only {
				if c.id == id {
					eval = append(eval, c)
					timed = timed || c.rule.TimeDependent()
				}
			}
		}
	}
	// The action is decided only when a rule reads it; then its inputs'
	// time dependence is the rule's too.
	var actions *actionRules
	for _, c := range all {
		if c.rule.UsesAction() {
			if actions, err = compileActions(b.Actions); err != nil {
				return nil, err
			}
			timed = timed || actions.timed
			break
		}
	}
	out := make([]SegmentDecision, len(b.Facts))
	held := make([]bool, len(eval))
	for i := range b.Facts {
		f := &b.Facts[i]
		subj := SegmentSubject(f, now)
		if actions != nil {
			subj.Action = actions.ruleAction(actions.match(&subj))
		}
		d := SegmentDecision{CustomerID: f.Customer.ID}
		for k, c := range eval {
			ok, err := c.rule.Eval(&subj)
			held[k] = err == nil && ok
			if held[k] {
				d.Members = append(d.Members, c.id)
			}
		}
		if timed && timeCanChange(eval, held, &subj, actions) {
			d.Due = segmentDue(f, now)
		}
		out[i] = d
	}
	return out, nil
}

// refreshSegments re-evaluates every dynamic segment for the given
// customers (all of them when all is set): what a recorded batch, a
// customer change, an assessment or a grade change needs.
func (s *Service) refreshSegments(ctx context.Context, tenantID string, ids []string, all bool, cause string) error {
	if !all && len(ids) == 0 {
		return nil
	}
	now := s.Now()
	return s.store.EvaluateSegments(ctx, tenantID, SegmentRun{CustomerIDs: ids, All: all, Now: now, Cause: cause},
		func(b *SegmentBatch) ([]SegmentDecision, error) { return decideSegments(b, nil, now) })
}

// populateSegments evaluates the dynamic segments sgs over every customer
// of the tenant, reading only the facts their rules read.
func (s *Service) populateSegments(ctx context.Context, tenantID string, sgs []Segment, cause string) error {
	now := s.Now()
	run := SegmentRun{All: true, Now: now, Cause: cause, KeepDue: true}
	for _, sg := range sgs {
		r, err := cachedSegmentRule(sg.Rule)
		if err != nil {
			return fmt.Errorf("segment %s: %w", sg.ID, err)
		}
		run.SegmentIDs = append(run.SegmentIDs, sg.ID)
		run.Facts |= ruleFacts(r)
		if r.TimeDependent() {
			run.KeepDue = false
			run.Facts |= dueFacts
		}
	}
	if len(run.SegmentIDs) == 0 {
		return nil
	}
	only := run.SegmentIDs
	return s.store.EvaluateSegments(ctx, tenantID, run,
		func(b *SegmentBatch) ([]SegmentDecision, error) { return decideSegments(b, only, now) })
}

// DueBatch is the number of customers EvaluateDueSegments visits per step.
const DueBatch = 5000

// EvaluateDueSegments re-evaluates the dynamic segments of the tenant's
// customers whose time-dependent rule inputs (interaction windows, days
// since the latest purchase or interaction) have changed since they were
// last evaluated, and only those: each evaluation stores the customer's
// next due time, kept in an index ordered by time. It returns the number
// of customers visited.
//
// A scheduler calls it for every tenant periodically (every few seconds to
// a minute: an entered or exited event caused by time alone is delivered
// at most that late). Calls are safe to run concurrently and on several
// processes: evaluation is idempotent and each batch is written under the
// tenant's segment log lock.
func (s *Service) EvaluateDueSegments(ctx context.Context, tenantID string) (int, error) {
	total := 0
	now := s.Now()
	for {
		ids, err := s.store.DueSegmentCustomers(ctx, tenantID, now, DueBatch)
		if err != nil {
			return total, err
		}
		if len(ids) == 0 {
			return total, nil
		}
		if err := s.store.EvaluateSegments(ctx, tenantID, SegmentRun{CustomerIDs: ids, Now: now, Cause: "time"},
			func(b *SegmentBatch) ([]SegmentDecision, error) { return decideSegments(b, nil, now) }); err != nil {
			return total, err
		}
		total += len(ids)
		if len(ids) < DueBatch {
			return total, nil
		}
	}
}

// builtInSegments are the segments every tenant has: one per named RFM
// segment ("rfm_<slug>") and one per lifecycle stage ("stage_<name>").
func builtInSegments() []Segment {
	var out []Segment
	for _, sg := range rfm.Segments() {
		out = append(out, Segment{Name: "rfm_" + sg.Slug(), Description: "RFM segment " + sg.String() + " (built in).",
			Kind: SegmentDynamic, Rule: fmt.Sprintf("rfm.segment == %q", sg.Slug()), BuiltIn: true})
	}
	for _, st := range LifecycleStages {
		out = append(out, Segment{Name: "stage_" + st.String(), Description: "Lifecycle stage " + st.String() + " (built in).",
			Kind: SegmentDynamic, Rule: fmt.Sprintf("stage == %q", st.String()), BuiltIn: true})
	}
	return out
}

// ensureBuiltIns creates the tenant's missing built-in segments (and
// populates them), once per process and tenant.
func (s *Service) ensureBuiltIns(ctx context.Context, tenantID string) error {
	if _, ok := s.builtIns.Load(tenantID); ok {
		return nil
	}
	have, err := s.store.ListSegments(ctx, tenantID)
	if err != nil {
		return err
	}
	names := map[string]bool{}
	for _, sg := range have {
		names[sg.Name] = true
	}
	now := s.Now()
	var created []Segment
	for _, sg := range builtInSegments() {
		if names[sg.Name] {
			continue
		}
		sg.ID, sg.TenantID, sg.Version, sg.CreateTime, sg.UpdateTime = NewID(), tenantID, 1, now, now
		out, err := s.store.CreateSegment(ctx, sg)
		if errors.Is(err, ErrConflict) { // another process created it
			continue
		}
		if err != nil {
			return err
		}
		created = append(created, out)
	}
	// One pass over the customers populates them all.
	if err := s.populateSegments(ctx, tenantID, created, "segment_changed"); err != nil {
		return err
	}
	s.builtIns.Store(tenantID, true)
	return nil
}

// segmentPageSize returns the page size of a listing: n, DefaultPageSize
// when 0, at most MaxPageSize.
func segmentPageSize(n int) (int, error) {
	if n < 0 {
		return 0, Invalid("page_size", "must not be negative")
	}
	if n == 0 {
		return DefaultPageSize, nil
	}
	return min(n, MaxPageSize), nil
}
