package domain

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/potentialhq/potential/domain/rules"
)

// Next best action: every customer gets one recommended action, with a
// reason, from its tenant's action table: an ordered list of rules, each a
// CEL condition over what a segment rule sees of the customer (customer,
// rfm, clv, churn, stage, grade, conversion, open_complaints, ...; see
// rules.CompileActionCondition), an action name, a reason template and an
// optional deadline in days. The first rule whose condition holds gives
// the action; when none holds the action is ActionNone.
//
// The action is computed when it is read, from the stored facts the
// segment rules read (the stored assessment, grade, open complaints,
// recent interactions and the stored lead conversion score): it is a pure
// function of those facts and the table, so it costs one CEL evaluation
// per rule and needs no storage of its own, and it is always consistent
// with the segments that use it (`action.name == "call"`).

// ActionNone is the action of a customer for whom no rule holds.
const ActionNone = "none"

// Limits of an action table.
const (
	MaxActionRules       = 50
	maxActionNameBytes   = 64
	MaxActionDueDays     = 3650
	maxActionReasonBytes = rules.MaxTemplateLength
)

var actionNamePattern = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// ActionRule is one rule of an action table.
type ActionRule struct {
	// Action is the action's name: lowercase letters, digits and
	// underscores, starting with a letter (e.g. "call"), not "none".
	Action string
	// Condition is the CEL condition (rules.CompileActionCondition).
	Condition string
	// Reason is a template (rules.CompileTemplate), e.g.
	// "Predicted value {{ clv.predicted }} at risk".
	Reason string
	// DueWithinDays is the days within which to act; 0 for no deadline.
	DueWithinDays int
}

// ActionTable is a tenant's next-best-action rules, first match wins.
// Every change is a new Version; Version 0 is the default table of a
// tenant that never set one.
type ActionTable struct {
	TenantID   string
	Version    int64
	Rules      []ActionRule
	UpdateTime time.Time
}

// DefaultActionTable is the table of a tenant that has not set one, in
// this order:
//
//	resolve_complaint  open_complaints > 0                             within 2 days
//	call               churn high or medium, predicted CLV ≥ 500       within 7 days
//	ask_referral       RFM segment champions
//	onboard            lifecycle stage new                             within 14 days
//	sales_call         a lead whose conversion band is hot             within 3 days
//
// and ActionNone otherwise: an open complaint comes before any selling,
// and high value at risk before the happy cases.
func DefaultActionTable() ActionTable {
	return ActionTable{Rules: []ActionRule{
		{Action: "resolve_complaint", Condition: `open_complaints > 0`, DueWithinDays: 2,
			Reason: `{{ open_complaints }} open complaint(s): resolve them before anything else`},
		{Action: "call", Condition: `churn.level in ["high", "medium"] && clv.predicted >= 500.0`, DueWithinDays: 7,
			Reason: `High value at risk: predicted value {{ clv.predicted }} with {{ churn.level }} churn risk`},
		{Action: "ask_referral", Condition: `rfm.segment == "champions"`,
			Reason: `A champion (RFM {{ rfm.recency_score }}{{ rfm.frequency_score }}{{ rfm.monetary_score }}): ask for a referral`},
		{Action: "onboard", Condition: `stage == "new"`, DueWithinDays: 14,
			Reason: `New customer: start onboarding`},
		{Action: "sales_call", Condition: `customer.kind == "lead" && conversion.band == "hot"`, DueWithinDays: 3,
			Reason: `Hot lead: conversion probability {{ conversion.probability }}`},
	}}
}

// Validate checks the rules as a client sent them, compiling every
// condition and reason; fields are named "action_table.rules[i].…" and a
// rule that does not compile says the line and column of the problem.
func (t *ActionTable) Validate() error {
	v := violations{prefix: "action_table"}
	if len(t.Rules) > MaxActionRules {
		v.add("rules", "at most %d rules", MaxActionRules)
	}
	for i, r := range t.Rules {
		path := fmt.Sprintf("rules[%d]", i)
		switch {
		case r.Action == "":
			v.add(path+".action", "required")
		case len(r.Action) > maxActionNameBytes || !actionNamePattern.MatchString(r.Action):
			v.add(path+".action", "must be lowercase letters, digits and underscores, starting with a letter, at most %d bytes", maxActionNameBytes)
		case r.Action == ActionNone:
			v.add(path+".action", "%q is the action when no rule holds", ActionNone)
		}
		if !utf8.ValidString(r.Condition) || strings.IndexByte(r.Condition, 0) >= 0 {
			v.add(path+".condition", "must be valid UTF-8 without NUL bytes")
		} else if _, err := rules.CompileActionCondition(r.Condition); err != nil {
			v.add(path+".condition", "%s", err.Error())
		}
		if !utf8.ValidString(r.Reason) || strings.IndexByte(r.Reason, 0) >= 0 {
			v.add(path+".reason", "must be valid UTF-8 without NUL bytes")
		} else if len(r.Reason) > maxActionReasonBytes {
			v.add(path+".reason", "longer than %d bytes", maxActionReasonBytes)
		} else if _, err := rules.CompileTemplate(r.Reason); err != nil {
			v.add(path+".reason", "%s", err.Error())
		}
		if r.DueWithinDays < 0 || r.DueWithinDays > MaxActionDueDays {
			v.add(path+".due_within_days", "must be between 0 and %d", MaxActionDueDays)
		}
	}
	return v.err()
}

// Action is a customer's next best action.
type Action struct {
	// Name is the action (ActionNone when no rule holds).
	Name string
	// Reason is the rule's reason, rendered for the customer.
	Reason string
	// DueWithinDays is the deadline in days (0: none).
	DueWithinDays int
	// Rule is the index of the rule that gave it in the table, -1 for none.
	Rule int
	// TableVersion is the version of the table (0: the default).
	TableVersion int64
}

// ActionStore keeps the tenants' action tables. Store embeds it.
type ActionStore interface {
	// GetActionTable returns the tenant's current table; ErrNotFound if
	// it never set one.
	GetActionTable(ctx context.Context, tenantID string) (ActionTable, error)
	// SaveActionTable stores t as the tenant's table if t.Version is the
	// current version plus one (1 for the first); else ErrStale.
	SaveActionTable(ctx context.Context, t ActionTable) (ActionTable, error)
}

// actionRules is an action table compiled (its Version and TenantID are
// those of the first table with the same rules).
type actionRules struct {
	t      *ActionTable
	conds  []*rules.SegmentRule
	reason []*rules.Template
	timed  bool
}

// actionCache holds compiled tables by their rules' sources.
var (
	actionCache  sync.Map // string -> *actionRules
	cachedTables atomic.Int64
)

// compileActions compiles t (a stored table, or the default when its
// Version is 0).
func compileActions(t ActionTable) (*actionRules, error) {
	if t.Version == 0 {
		t = DefaultActionTable()
	}
	var kb strings.Builder
	for _, r := range t.Rules {
		fmt.Fprintf(&kb, "%s\x00%s\x00%s\x00%d\x00", r.Action, r.Condition, r.Reason, r.DueWithinDays)
	}
	key := kb.String()
	if a, ok := actionCache.Load(key); ok {
		return a.(*actionRules), nil
	}
	a := &actionRules{t: &t}
	for i, r := range t.Rules {
		c, err := rules.CompileActionCondition(r.Condition)
		if err != nil {
			return nil, fmt.Errorf("action rule %d: %w", i, err)
		}
		tp, err := rules.CompileTemplate(r.Reason)
		if err != nil {
			return nil, fmt.Errorf("action rule %d: %w", i, err)
		}
		a.conds, a.reason = append(a.conds, c), append(a.reason, tp)
		a.timed = a.timed || c.TimeDependent()
	}
	if cachedTables.Add(1) <= maxCachedRules {
		actionCache.Store(key, a)
	}
	return a, nil
}

// match returns the index of the first rule whose condition holds for
// subject s, -1 when none does. A condition that fails at run time for s
// (e.g. a missing attribute) does not hold.
func (a *actionRules) match(s *rules.Subject) int {
	for i, c := range a.conds {
		if ok, err := c.Eval(s); err == nil && ok {
			return i
		}
	}
	return -1
}

// decide returns the action of subject s, its reason rendered.
func (a *actionRules) decide(s *rules.Subject) Action {
	i := a.match(s)
	if i < 0 {
		return Action{Name: ActionNone, Reason: "No rule of the action table holds", Rule: -1}
	}
	r := a.t.Rules[i]
	return Action{Name: r.Action, Reason: a.reason[i].Render(s), DueWithinDays: r.DueWithinDays, Rule: i}
}

// ruleAction is what segment rules see of the action of rule i (-1: none);
// the reason, text for people, is not rendered for them.
func (a *actionRules) ruleAction(i int) rules.Action {
	if i < 0 {
		return rules.Action{Name: ActionNone}
	}
	r := a.t.Rules[i]
	return rules.Action{Name: r.Action, DueWithinDays: int64(r.DueWithinDays)}
}

// actionTable returns the tenant's table, or the default (Version 0).
func (s *Service) actionTable(ctx context.Context, tenantID string) (ActionTable, error) {
	t, err := s.store.GetActionTable(ctx, tenantID)
	if errors.Is(err, ErrNotFound) {
		return DefaultActionTable(), nil
	}
	return t, err
}

// currentActionTable is actionTable through a cache that lives as long as
// a cached value model (modelCacheTTL): a replica shows actions decided by
// a table another replica replaced for at most that long, as it assesses
// with a model another replica replaced. Only what a read shows of a
// customer uses it; GetActionTable, UpdateActionTable and previews read the
// store, and segment evaluations read the table with the facts.
func (s *Service) currentActionTable(ctx context.Context, tenantID string) (ActionTable, error) {
	return cachedFor(s, &s.actionTables, tenantID, func() (ActionTable, error) { return s.actionTable(ctx, tenantID) })
}

// GetActionTable returns the caller's action table (the default, Version
// 0, when it never set one).
func (s *Service) GetActionTable(ctx context.Context) (ActionTable, error) {
	p, err := PrincipalFrom(ctx)
	if err != nil {
		return ActionTable{}, err
	}
	return s.actionTable(ctx, p.TenantID)
}

// UpdateActionTable replaces the caller's action table by rs (at etag,
// when given) after compiling every rule: a rule that does not compile is
// an InvalidArgument naming it, with the line and column, and nothing is
// stored. Segments whose rules read `action` are re-evaluated.
func (s *Service) UpdateActionTable(ctx context.Context, rs []ActionRule, etag string) (ActionTable, error) {
	p, err := PrincipalFrom(ctx)
	if err != nil {
		return ActionTable{}, err
	}
	for i := range rs {
		rs[i].Action, rs[i].Condition = strings.TrimSpace(rs[i].Action), strings.TrimSpace(rs[i].Condition)
	}
	next := ActionTable{TenantID: p.TenantID, Rules: rs}
	if err := next.Validate(); err != nil {
		return ActionTable{}, err
	}
	cur, err := s.actionTable(ctx, p.TenantID)
	if err != nil {
		return ActionTable{}, err
	}
	// The default table's etag, "v0", asks that no table be saved yet.
	if etag == ETag(0) {
		if cur.Version != 0 {
			return ActionTable{}, fmt.Errorf("%w: action table is at %s, not %s", ErrStale, ETag(cur.Version), etag)
		}
	} else if err := checkEtag(etag, cur.Version, "action table"); err != nil {
		return ActionTable{}, err
	}
	next.Version, next.UpdateTime = cur.Version+1, s.Now()
	out, err := s.store.SaveActionTable(ctx, next)
	if err != nil {
		return ActionTable{}, err
	}
	s.actionTables.Delete(p.TenantID)
	if err := s.audit(ctx, "action_table.update", "action_table", p.TenantID, cur, out); err != nil {
		return ActionTable{}, err
	}
	return out, s.refreshSegmentsUsing(ctx, p.TenantID, "action_changed", func(r *rules.SegmentRule) bool { return r.UsesAction() })
}

// refreshSegmentsUsing re-evaluates, over every customer, the tenant's
// dynamic segments whose rules uses says yes to; none: nothing is read.
func (s *Service) refreshSegmentsUsing(ctx context.Context, tenantID, cause string, uses func(*rules.SegmentRule) bool) error {
	sgs, err := s.store.ListSegments(ctx, tenantID)
	if err != nil {
		return err
	}
	var ids []string
	for _, sg := range sgs {
		if sg.Kind != SegmentDynamic {
			continue
		}
		if r, err := cachedSegmentRule(sg.Rule); err == nil && uses(r) {
			ids = append(ids, sg.ID)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	now := s.Now()
	return s.store.EvaluateSegments(ctx, tenantID, SegmentRun{All: true, SegmentIDs: ids, Now: now, Cause: cause},
		func(b *SegmentBatch) ([]SegmentDecision, error) { return decideSegments(b, ids, now) })
}

// CustomerActions returns the next best action of each of the given
// customers now (unknown ones are absent), under the tenant's table.
func (s *Service) customerActions(ctx context.Context, tenantID string, ids []string) (map[string]Action, error) {
	t, err := s.currentActionTable(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	a, err := compileActions(t)
	if err != nil {
		return nil, err
	}
	now := s.Now()
	out := make(map[string]Action, len(ids))
	var mu sync.Mutex
	err = s.store.ReadSegmentFacts(ctx, tenantID, ids, now, func(fs []SegmentFacts) error {
		mu.Lock()
		defer mu.Unlock()
		for i := range fs {
			subj := SegmentSubject(&fs[i], now)
			act := a.decide(&subj)
			act.TableVersion = t.Version
			out[fs[i].Customer.ID] = act
		}
		return nil
	})
	return out, err
}
