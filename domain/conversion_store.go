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
