package domain

import (
	"context"
	"time"
)

// ConversionStore is the storage predictive lead conversion needs. Both
// stores implement it; the conventions of Store apply. DeleteCustomer
// erases the customer's lead outcome too.
type ConversionStore interface {
	// SetLeadOutcomes stores each outcome as its customer's explicit
	// outcome, replacing the one stored before; all or nothing. An unknown
	// customer fails the batch with an *ItemError (field "customer")
	// wrapping ErrNotFound.
	SetLeadOutcomes(ctx context.Context, tenantID string, os []LeadOutcome) error
	// LeadOutcomes returns the explicit outcomes of the given customers
	// (nil: every customer of the tenant) by customer id.
	LeadOutcomes(ctx context.Context, tenantID string, customerIDs []string) (map[string]LeadOutcome, error)
	// QualificationHistory returns the stored qualification changes of the
	// given customers (nil: every customer of the tenant) by customer id,
	// oldest first (time, then id): the BANT facts as they were at any
	// time.
	QualificationHistory(ctx context.Context, tenantID string, customerIDs []string) (map[string][]QualificationChange, error)
	// SaveConversionState stores st as the state of its (tenant, scoring
	// model), replacing the one stored before.
	SaveConversionState(ctx context.Context, st ConversionState) error
	// GetConversionState returns the state of (tenant, scoring model);
	// ErrNotFound if no training was ever attempted.
	GetConversionState(ctx context.Context, tenantID, scoringModelID string) (ConversionState, error)
	// ListConversionStates returns every state of the tenant, by scoring
	// model id.
	ListConversionStates(ctx context.Context, tenantID string) ([]ConversionState, error)
	// ReplaceLeadScores replaces every stored lead score of (tenant,
	// scoring model) by scores, atomically. Scores of customers that no
	// longer exist are skipped.
	ReplaceLeadScores(ctx context.Context, tenantID, scoringModelID string, scores []LeadScore) error
	// TopLeadScores returns at most limit scores of (tenant, scoring model)
	// by probability descending, then customer id, strictly after after.
	TopLeadScores(ctx context.Context, tenantID, scoringModelID string, limit int, after *LeadScoreCursor) ([]LeadScore, error)
}

// LeadScore is an open lead's conversion probability as scored by a
// training run: what ListTopCustomers ranks leads by.
type LeadScore struct {
	// ScoringModelID is the scoring model of the conversion model that
	// scored (set when read back for rules; ReplaceLeadScores takes it as
	// an argument).
	ScoringModelID string
	CustomerID     string
	Probability    float64
	Band           ConversionBand
	FitID          string
	At             time.Time
}

// LeadScoreCursor is a position in a TopLeadScores listing.
type LeadScoreCursor struct {
	Probability float64
	ID          string
}

// LeadResult is an explicit outcome of a lead, as the CRM reports it.
type LeadResult string

// Lead results.
const (
	LeadWon  LeadResult = "won"
	LeadLost LeadResult = "lost"
)

// LeadOutcome is the explicit outcome of one lead: won or lost, and when.
type LeadOutcome struct {
	CustomerID string
	Customer   CustomerRef // as the client addressed it; resolved to CustomerID
	Result     LeadResult
	At         time.Time
}
