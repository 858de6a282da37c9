package domain

import (
	"cmp"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/potentialhq/potential/domain/rules"
)

// LedgerEntry is one award of points: which rule (at which version) gave
// how many points to which customer in which model, for which event, and
// from when until when they count.
type LedgerEntry struct {
	// ID is LedgerEntryID(RuleID, RuleVersion, EventKind, EventID): scoring
	// the same events with the same rules always gives the same ids.
	ID          string
	ModelID     string
	CustomerID  string
	RuleID      string
	RuleVersion int64
	EventKind   EventKind
	EventID     string
	EventRef    string // the source system's id of the event, if any
	Points      int64
	// AwardedAt is the event's time; ExpiresAt is AwardedAt plus the
	// rule's validity, zero when the points never expire.
	AwardedAt time.Time
	ExpiresAt time.Time
	// Capped: the rule's cap cut the award below the rule's points.
	Capped bool
}

// ValidAt reports whether the entry counts in the score at t: awarded at
// or before t and not yet expired (AwardedAt <= t < ExpiresAt).
func (e *LedgerEntry) ValidAt(t time.Time) bool {
	return !e.AwardedAt.After(t) && (e.ExpiresAt.IsZero() || t.Before(e.ExpiresAt))
}

// ledgerNamespace is the UUID namespace of ledger entry ids.
var ledgerNamespace = uuid.MustParse("6f1c2a4e-5b0d-4e8a-9c39-2d7b1f0e8a51")

// LedgerEntryID is the id of the entry that rule ruleID at ruleVersion
// awards for event eventID of kind kind: a name-based UUID (RFC 9562
// version 5) of the four, so that it is the same every time the same
// events are scored with the same rules.
func LedgerEntryID(ruleID string, ruleVersion int64, kind EventKind, eventID string) string {
	b := make([]byte, 0, len(ruleID)+len(kind)+len(eventID)+24)
	b = append(b, ruleID...)
	b = append(b, 0)
	b = strconv.AppendInt(b, ruleVersion, 10)
	b = append(b, 0)
	b = append(b, kind...)
	b = append(b, 0)
	b = append(b, eventID...)
	return uuid.NewSHA1(ledgerNamespace, b).String()
}

// RuleSet is a tenant's rules, compiled and grouped by the event kind they
// match. Build it with CompileRules; it is safe for concurrent use.
type RuleSet struct {
	byKind map[EventKind][]compiledRule
	models map[string]bool // models with at least one rule
	n      int
}

type compiledRule struct {
	rule ScoringRule
	cond *rules.Condition
}

// Len returns the number of rules in the set.
func (rs *RuleSet) Len() int {
	if rs == nil {
		return 0
	}
	return rs.n
}

// conditionCache maps a condition's source to its compiled program (a
// program depends on nothing but its source), for up to
// maxCachedConditions sources.
var (
	conditionCache  sync.Map
	cachedCondition atomic.Int64
)

const maxCachedConditions = 100_000

// compileCondition compiles src, once per process for the first
// maxCachedConditions sources.
func compileCondition(src string) (*rules.Condition, error) {
	if c, ok := conditionCache.Load(src); ok {
		return c.(*rules.Condition), nil
	}
	c, err := rules.Compile(src)
	if err != nil {
		return nil, err
	}
	if cachedCondition.Add(1) <= maxCachedConditions {
		conditionCache.Store(src, c)
	}
	return c, nil
}

// fitCache holds compiled fit conditions by source, as conditionCache.
var fitCache sync.Map // string -> *rules.Condition

func compileFitCondition(src string) (*rules.Condition, error) {
	if c, ok := fitCache.Load(src); ok {
		return c.(*rules.Condition), nil
	}
	c, err := rules.CompileFit(src)
	if err != nil {
		return nil, err
	}
	if cachedCondition.Add(1) <= maxCachedConditions {
		fitCache.Store(src, c)
	}
	return c, nil
}

// CompileRules compiles rs into a RuleSet. Rules are evaluated in (model
// id, rule id) order whatever the order of rs.
func CompileRules(rs []ScoringRule) (*RuleSet, error) {
	set := &RuleSet{byKind: map[EventKind][]compiledRule{}, models: map[string]bool{}, n: len(rs)}
	for _, r := range rs {
		cond, err := compileCondition(r.Condition)
		if err != nil {
			return nil, prefixViolations(Invalid("condition", "%v", err), "rule")
		}
		set.byKind[r.EventKind] = append(set.byKind[r.EventKind], compiledRule{rule: r, cond: cond})
		set.models[r.ModelID] = true
	}
	for _, list := range set.byKind {
		slices.SortFunc(list, func(a, b compiledRule) int {
			return cmp.Or(cmp.Compare(a.rule.ModelID, b.rule.ModelID), cmp.Compare(a.rule.ID, b.rule.ID))
		})
	}
	return set, nil
}

// celCustomer is what conditions see of c, as `customer` and `attributes`.
// The purchase counts are set per event by Award.
func celCustomer(c *Customer) rules.Customer {
	out := rules.Customer{
		Kind: string(c.Kind), Country: c.Country, Region: c.Region, City: c.City, Industry: c.Industry,
		CompanySize: string(c.CompanySize), AgeBand: string(c.AgeBand), Gender: string(c.Gender),
		AcquisitionChannel: c.AcquisitionChannel,
	}
	if len(c.Attributes) > 0 {
		out.Attributes = make(map[string]any, len(c.Attributes))
		for k, a := range c.Attributes {
			switch a.Kind {
			case AttrString:
				out.Attributes[k] = a.String
			case AttrNumber:
				out.Attributes[k] = a.Number
			case AttrBool:
				out.Attributes[k] = a.Bool
			case AttrTime:
				out.Attributes[k] = a.Time
			}
		}
	}
	return out
}

// capWindow tracks the entries of one rule for one customer that are still
// valid, to apply the rule's cap. Entries arrive in time order and all of
// one rule's entries have the same validity, so they also expire in that
// order: the valid ones are a suffix of the list.
type capWindow struct {
	points []int64     // absolute points of the entries, in award order
	expiry []time.Time // their expiry (zero: never)
	start  int         // first entry not yet expired
	sum    int64       // absolute points of entries[start:]
}

// validAt advances the window to t and returns the absolute points valid at t.
func (w *capWindow) validAt(t time.Time) int64 {
	for w.start < len(w.points) && !w.expiry[w.start].IsZero() && !t.Before(w.expiry[w.start]) {
		w.sum -= w.points[w.start]
		w.start++
	}
	return w.sum
}

func (w *capWindow) add(points int64, expiry time.Time) {
	w.points = append(w.points, points)
	w.expiry = append(w.expiry, expiry)
	w.sum += points
}

// Award computes a customer's complete ledger under the rules of set: for
// every event, in (time, id, kind) order, and every rule of the event's
// kind (in model, rule id order) whose condition holds, an entry of the
// rule's points — or, under a cap, of the part of them that fits: the
// award is min(|points|, cap − |points of the rule valid at the event's
// time|), with the rule's sign, and none when nothing fits.
//
// Conditions see the event, and the customer as it is now except for its
// purchase counts (customer.orders, customer.purchase_days,
// customer.total_spend), which are as of the event, counting the event
// itself: `customer.orders == 1` on an order is the first order. A
// condition that fails to evaluate (e.g. reads a missing attribute) does
// not hold.
//
// Award is a pure function of its arguments: the same rules, customer and
// events give the same ledger, entry for entry.
func Award(set *RuleSet, c *Customer, events []ScoringEvent) []LedgerEntry {
	if set.Len() == 0 || len(events) == 0 {
		return nil
	}
	if !slices.IsSortedFunc(events, compareEvents) {
		events = slices.Clone(events)
		slices.SortFunc(events, compareEvents)
	}
	cu := celCustomer(c)
	windows := map[string]*capWindow{}
	var out []LedgerEntry
	var lastDay int64 = -1 << 62
	for i := range events {
		ev := &events[i]
		if ev.Kind == EventKindOrder {
			cu.Orders++
			cu.TotalSpend += ev.Amount.Float()
			if d := utcDay(ev.At); d != lastDay {
				cu.PurchaseDays++
				lastDay = d
			}
		}
		list := set.byKind[ev.Kind]
		if len(list) == 0 {
			continue
		}
		cev := rules.Event{
			Kind: string(ev.Kind), Amount: ev.Amount.Float(), Margin: ev.Margin.Float(), Quantity: ev.Quantity,
			Channel: ev.Channel, Direction: ev.Direction, Rating: ev.Rating, Topic: ev.Topic,
		}
		for j := range list {
			cr := &list[j]
			if ok, err := cr.cond.Eval(&cev, &cu); err != nil || !ok {
				continue
			}
			r := &cr.rule
			abs := absInt(r.Points)
			award, capped := abs, false
			var w *capWindow
			if r.Cap > 0 {
				if w = windows[r.ID]; w == nil {
					w = &capWindow{}
					windows[r.ID] = w
				}
				if room := r.Cap - w.validAt(ev.At); room < award {
					award, capped = max(room, 0), true
				}
			}
			if award == 0 {
				continue
			}
			e := LedgerEntry{
				ID: LedgerEntryID(r.ID, r.Version, ev.Kind, ev.ID), ModelID: r.ModelID, CustomerID: c.ID,
				RuleID: r.ID, RuleVersion: r.Version, EventKind: ev.Kind, EventID: ev.ID, EventRef: ev.Ref,
				Points: award, AwardedAt: ev.At, Capped: capped,
			}
			if r.Points < 0 {
				e.Points = -award
			}
			if r.HasValidity {
				e.ExpiresAt = ev.At.Add(r.Validity)
			}
			if w != nil {
				w.add(award, e.ExpiresAt)
			}
			out = append(out, e)
		}
	}
	return out
}

// SortScoringEvents sorts events in the order Award reads them: by time,
// then id, then kind.
func SortScoringEvents(events []ScoringEvent) { slices.SortFunc(events, compareEvents) }

func compareEvents(a, b ScoringEvent) int {
	return cmp.Or(a.At.Compare(b.At), cmp.Compare(a.ID, b.ID), cmp.Compare(a.Kind, b.Kind))
}

// utcDay numbers t's UTC calendar day.
func utcDay(t time.Time) int64 { return t.Unix() / 86400 }

func absInt(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}

// ScoreAt is the score of model modelID at t: the sum of the points of the
// entries of that model valid at t.
func ScoreAt(entries []LedgerEntry, modelID string, t time.Time) int64 {
	var sum int64
	for i := range entries {
		if e := &entries[i]; e.ModelID == modelID && e.ValidAt(t) {
			sum += e.Points
		}
	}
	return sum
}

// ExplainAt returns the entries of model modelID valid at t, largest
// first: by absolute points descending, then newest first, then by id.
// Their points sum to ScoreAt(entries, modelID, t).
func ExplainAt(entries []LedgerEntry, modelID string, t time.Time) []LedgerEntry {
	var out []LedgerEntry
	for i := range entries {
		if e := &entries[i]; e.ModelID == modelID && e.ValidAt(t) {
			out = append(out, *e)
		}
	}
	slices.SortFunc(out, func(a, b LedgerEntry) int {
		return cmp.Or(cmp.Compare(absInt(b.Points), absInt(a.Points)), b.AwardedAt.Compare(a.AwardedAt), cmp.Compare(a.ID, b.ID))
	})
	return out
}

// SameLedgerEntry reports whether a and b are the same award.
func SameLedgerEntry(a, b *LedgerEntry) bool {
	return a.ID == b.ID && a.ModelID == b.ModelID && a.CustomerID == b.CustomerID && a.RuleID == b.RuleID &&
		a.RuleVersion == b.RuleVersion && a.EventKind == b.EventKind && a.EventID == b.EventID &&
		a.EventRef == b.EventRef && a.Points == b.Points && a.AwardedAt.Equal(b.AwardedAt) &&
		a.ExpiresAt.Equal(b.ExpiresAt) && a.Capped == b.Capped
}
