package domain

import (
	"context"
	"time"
)

// ScoringStore is the storage scoring and grading need. Store embeds it;
// the conventions of Store apply.
//
// The store only persists: which points a rule awards and which grade a
// policy gives are computed by the domain (Award, the grader), inside
// UpdateScoring's callback, so that the store can hold the customers'
// locks while they are computed from what it has just read.
type ScoringStore interface {
	// CreateScoringModel stores m; ErrConflict if its name is taken in the
	// tenant.
	CreateScoringModel(ctx context.Context, m ScoringModel) (ScoringModel, error)
	// GetScoringModel returns a model by id.
	GetScoringModel(ctx context.Context, tenantID, id string) (ScoringModel, error)
	// ListScoringModels returns the tenant's models by name.
	ListScoringModels(ctx context.Context, tenantID string) ([]ScoringModel, error)
	// DeleteScoringModel deletes a model with its rules, their versions and
	// its ledger entries.
	DeleteScoringModel(ctx context.Context, tenantID, id string) error
	// MarkScored raises the model's ScoredRevision to revision (never
	// lowers it).
	MarkScored(ctx context.Context, tenantID, modelID string, revision int64) error

	// CreateScoringRule stores r (Version 1) and increments its model's
	// Revision, returning the new revision; ErrNotFound if the model does
	// not exist.
	CreateScoringRule(ctx context.Context, r ScoringRule) (ScoringRule, int64, error)
	// UpdateScoringRule replaces the client-set fields of rule r.ID (not
	// its model) if it is at r.Version (else ErrStale; ErrNotFound if
	// absent), sets Version to r.Version+1 and UpdateTime to r.UpdateTime,
	// keeps the new version, and increments the model's Revision.
	UpdateScoringRule(ctx context.Context, r ScoringRule) (ScoringRule, int64, error)
	// DeleteScoringRule deletes rule id if it is at version (0: any; else
	// ErrStale), records the deletion as its last version, and increments
	// the model's Revision, returning the rule as it was.
	DeleteScoringRule(ctx context.Context, tenantID, id string, version int64, at time.Time) (ScoringRule, int64, error)
	// GetScoringRule returns a rule's current version.
	GetScoringRule(ctx context.Context, tenantID, id string) (ScoringRule, error)
	// ScoringRuleVersions returns every version of rule id, oldest first;
	// a deleted rule's last version has DeleteTime set. ErrNotFound if the
	// rule never existed.
	ScoringRuleVersions(ctx context.Context, tenantID, id string) ([]ScoringRule, error)
	// ListScoringRules returns the current rules of model modelID ("" for
	// every model), by model id, then creation time, then id.
	ListScoringRules(ctx context.Context, tenantID, modelID string) ([]ScoringRule, error)

	// ReadScoring reads what scoring and grading the customers of q need,
	// in batches of at most ScoringBatchSize customers, and hands each to
	// fn; nothing is locked or written. fn may be called concurrently.
	ReadScoring(ctx context.Context, tenantID string, q ScoringQuery, fn func(*ScoringBatch) error) error
	// UpdateScoring is ReadScoring in one database transaction per batch
	// that first locks the batch's customers (in id order) and then writes
	// what fn returns: for each update, the customer's new ledger (the
	// store writes the difference to the stored one) and grade, and the
	// grade change to record. fn must not call the store; it may be called
	// concurrently. A batch whose fn fails is rolled back and ends the run.
	UpdateScoring(ctx context.Context, tenantID string, q ScoringQuery, fn func(*ScoringBatch) ([]ScoringUpdate, error)) error
	// CustomerLedger returns every ledger entry of a customer, every model,
	// in (model id, awarded_at, id) order; none for an unknown customer.
	CustomerLedger(ctx context.Context, tenantID, customerID string) ([]LedgerEntry, error)
	// TopScores returns at most limit customers in descending order of
	// their score in model modelID at asOf (customers without entries
	// score 0), then by id, strictly after after.
	TopScores(ctx context.Context, tenantID, modelID string, asOf time.Time, limit int, after *ScoreCursor) ([]CustomerScore, error)

	// SaveGradingPolicy stores p as the tenant's current policy if p.Version
	// is the current version plus one (1 for the first); else ErrStale.
	SaveGradingPolicy(ctx context.Context, p GradingPolicy) (GradingPolicy, error)
	// GetGradingPolicy returns the tenant's current policy; ErrNotFound if
	// it never set one.
	GetGradingPolicy(ctx context.Context, tenantID string) (GradingPolicy, error)
	// SetGradingCuts sets the calibrated cuts of policy version (which must
	// still be current; else ErrStale).
	SetGradingCuts(ctx context.Context, tenantID string, version int64, cuts []float64, at time.Time) error
	// CustomerGrades returns the stored grades of the given customers;
	// customers without one are absent.
	CustomerGrades(ctx context.Context, tenantID string, customerIDs []string) (map[string]CustomerGrade, error)
	// CountGrades returns how many customers hold each stored grade.
	CountGrades(ctx context.Context, tenantID string) (map[string]int64, error)
	// TopGrades returns at most limit graded customers by rank, then
	// composite descending, then id, strictly after after.
	TopGrades(ctx context.Context, tenantID string, limit int, after *GradeCursor) ([]CustomerGrade, error)
	// ListGradeChanges returns grade changes newest first (time, then id,
	// descending).
	ListGradeChanges(ctx context.Context, tenantID string, q GradeChangeQuery) ([]GradeChange, error)

	// RecordQualificationChanges stores each change whose qualification
	// differs from the latest one stored for its customer (the zero
	// qualification when none), skipping ids already stored, and returns
	// the number stored. Customers that do not exist are skipped.
	RecordQualificationChanges(ctx context.Context, tenantID string, cs []QualificationChange) (int, error)
}

// ScoringBatchSize is the number of customers of one ScoringBatch.
const ScoringBatchSize = 1000

// ScoringQuery selects the customers of a ReadScoring or UpdateScoring run.
type ScoringQuery struct {
	// CustomerIDs lists the customers (unknown ones are skipped), unless All.
	CustomerIDs []string
	// All selects every customer of the tenant, in id order.
	All bool
	// Events loads each customer's events (to recompute its ledgers).
	Events bool
}

// ScoringBatch is what scoring and grading a batch of customers needs, read
// at one time (and, in UpdateScoring, under the customers' locks).
type ScoringBatch struct {
	// Rules are the current rules of every model of the tenant.
	Rules []ScoringRule
	// Policy is the tenant's grading policy; HasPolicy is false when it has
	// none (the default policy applies).
	Policy    GradingPolicy
	HasPolicy bool
	Customers []ScoringInput
}

// ScoringInput is one customer of a batch.
type ScoringInput struct {
	// Customer as stored, with its stored Assessment.
	Customer Customer
	// Events of the customer in (time, id, kind) order, when the query
	// asked for them.
	Events []ScoringEvent
	// Ledger is the customer's stored ledger, every model.
	Ledger []LedgerEntry
	// Grade is the customer's stored grade (Grade "" if none).
	Grade CustomerGrade
	// LeadScores are the lead's stored conversion scores, one per scoring
	// model whose conversion model is in use, by scoring model id (fit
	// criteria see one of them, RuleLeadScore).
	LeadScores []LeadScore
}

// ScoringUpdate is what UpdateScoring writes for one customer of a batch.
type ScoringUpdate struct {
	CustomerID string
	// SetLedger replaces the customer's ledger (every model) by Ledger.
	SetLedger bool
	Ledger    []LedgerEntry
	// Grade, when not nil, becomes the customer's stored grade.
	Grade *CustomerGrade
	// Change, when not nil, is recorded.
	Change *GradeChange
}

// CustomerScore is a customer's score in one model at one time.
type CustomerScore struct {
	CustomerID string
	Score      int64
}

// ScoreCursor is a position in a TopScores listing.
type ScoreCursor struct {
	Score int64
	ID    string
}

// GradeCursor is a position in a TopGrades listing.
type GradeCursor struct {
	Rank      int
	Composite float64
	ID        string
}

// GradeChangeQuery selects a page of grade changes.
type GradeChangeQuery struct {
	CustomerID string // "" for every customer
	// After is the (Time, ID) of the last change of the previous page.
	After *Cursor
	Limit int
}

// QualificationChange is a new version of a customer's BANT facts: a
// qualification_changed event for scoring rules.
type QualificationChange struct {
	// ID is QualificationChangeID(CustomerID, the customer's version).
	ID            string
	CustomerID    string
	At            time.Time
	Qualification Qualification
}
