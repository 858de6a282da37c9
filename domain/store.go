package domain

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// Store is the storage port of the domain. store/memory and store/postgres
// implement it and store/storetest holds the conformance suite both pass.
//
// Conventions every implementation keeps:
//   - Every tenant-scoped method takes the tenant id explicitly and never
//     returns or changes another tenant's records: a record of tenant B
//     addressed by tenant A is ErrNotFound.
//   - Errors wrap the sentinels in errors.go (ErrNotFound, ErrConflict,
//     ErrStale, ErrInvalid, ErrUnavailable); driver errors never escape.
//   - Every write is atomic: a method that returns an error changed nothing.
//   - Times are stored with microsecond precision and returned in UTC.
//   - Ids are assigned by the domain (NewID) before a record reaches the store.
type Store interface {
	// Ping reports whether the store can serve requests (readiness).
	Ping(ctx context.Context) error
	// Close releases the store's resources.
	Close()

	// CreateTenant stores t; ErrConflict if the name is taken.
	CreateTenant(ctx context.Context, t Tenant) error
	// GetTenant returns a tenant by id.
	GetTenant(ctx context.Context, id string) (Tenant, error)
	// FindTenant returns a tenant by name.
	FindTenant(ctx context.Context, name string) (Tenant, error)
	// ListTenants returns every tenant, oldest first: what a job that
	// visits each tenant (the daily re-assessment) walks.
	ListTenants(ctx context.Context) ([]Tenant, error)

	// CreateAPIKey stores k, and the audit records of its creation in the
	// same transaction; ErrConflict if its id exists.
	CreateAPIKey(ctx context.Context, k APIKey, audit ...AuditEvent) error
	// GetAPIKey returns a key by its public id, whatever its tenant: it is
	// the lookup that authenticates a request and so establishes the tenant.
	GetAPIKey(ctx context.Context, id string) (APIKey, error)
	// ListAPIKeys returns a tenant's keys, newest first.
	ListAPIKeys(ctx context.Context, tenantID string) ([]APIKey, error)
	// RevokeAPIKey sets the key's revoke time (once; a second revoke keeps
	// the first time), and stores the audit records in the same transaction.
	RevokeAPIKey(ctx context.Context, tenantID, id string, at time.Time, audit ...AuditEvent) (APIKey, error)

	// CreateCustomer stores c (Version 1); ErrConflict if c.ExternalID is
	// taken in the tenant.
	CreateCustomer(ctx context.Context, c Customer) (Customer, error)
	// GetCustomer returns a customer by id or by external id.
	GetCustomer(ctx context.Context, tenantID string, ref CustomerRef) (Customer, error)
	// UpdateCustomer replaces the client-set fields of the stored customer
	// c.ID with c's, if the stored version equals c.Version (else ErrStale;
	// ErrNotFound if absent; ErrConflict if the new external id is taken).
	// It sets Version to c.Version+1 and UpdateTime to c.UpdateTime, and
	// leaves CreateTime and the statistics alone.
	UpdateCustomer(ctx context.Context, c Customer) (Customer, error)
	// DeleteCustomer erases the customer and everything recorded about it
	// (transactions, interactions, referrals in either role), and stores
	// the audit records of the erasure in the same transaction. ErrNotFound
	// if absent (and then stores no record).
	DeleteCustomer(ctx context.Context, tenantID, id string, audit ...AuditEvent) error
	// ListCustomers returns at most q.Limit customers matching q.Filter,
	// in q.Order then id order, strictly after q.After. Customers read by
	// GetCustomer and ListCustomers carry their stored Assessment.
	ListCustomers(ctx context.Context, tenantID string, q CustomerQuery) ([]Customer, error)
	// UpsertCustomers creates or replaces customers by external id, all or
	// nothing. An item equal in every client-set field to the stored one is
	// left untouched (same version). The result lists, per item, the stored
	// customer and whether it was created.
	UpsertCustomers(ctx context.Context, tenantID string, cs []Customer, now time.Time) ([]UpsertOutcome, error)

	// RecordTransactions stores new transactions (by external id; already
	// known ids are skipped and counted) and maintains the customers'
	// PurchaseStats in the same database transaction. All or nothing: an
	// unknown customer fails the batch with an *ItemError wrapping ErrNotFound,
	// unless opts.CreateMissingCustomers.
	RecordTransactions(ctx context.Context, tenantID string, txs []Transaction, opts RecordOptions) (BatchResult, error)
	// RecordInteractions is RecordTransactions for interactions, maintaining
	// EngagementStats.
	RecordInteractions(ctx context.Context, tenantID string, its []Interaction, opts RecordOptions) (BatchResult, error)
	// RecordReferrals is RecordTransactions for referrals, maintaining the
	// referrer's ReferralsGiven and the referred customer's ReferredBy.
	RecordReferrals(ctx context.Context, tenantID string, rs []Referral, opts RecordOptions) (BatchResult, error)
	// ListTransactions returns a customer's transactions, oldest first.
	ListTransactions(ctx context.Context, tenantID, customerID string) ([]Transaction, error)

	// Feedback, the complaint workflow and topic rules. DeleteCustomer
	// erases the customer's feedback too.
	FeedbackStore

	AuditStore

	// Scoring models and rules, the points ledger, grading policies and
	// grades (scoring_store.go). DeleteCustomer erases the customer's
	// ledger, grade, grade changes and qualification changes too.
	ScoringStore

	// AssessmentStore keeps the value models and the assessments.
	AssessmentStore

	// JobStore leases time-driven work and keeps its run log (jobs.go).
	JobStore
	// SegmentStore keeps segments, their members, the segment event log
	// and the customers' segment due times (segment.go). DeleteCustomer
	// erases the customer's memberships, due time and events too.
	SegmentStore
	// ActionStore keeps the tenants' next-best-action tables (action.go).
	ActionStore
	// RequestStore keeps the records of idempotent creates (requests.go).
	RequestStore
	// WebhookStore keeps webhook destinations, subscriptions, the outbox
	// and the delivery log (webhook.go).
	WebhookStore
}

// UpsertOutcome is one item's result of UpsertCustomers.
type UpsertOutcome struct {
	Customer Customer
	Created  bool
	// Updated is set by the Service (not the store): the item existed and changed.
	Updated bool
}

// RecordOptions tune an ingestion batch.
type RecordOptions struct {
	// CreateMissingCustomers creates a minimal customer (kind customer) for
	// every external id the batch references that does not exist yet.
	CreateMissingCustomers bool
	// Now is the time stamped on customers created by the batch.
	Now time.Time
	// FollowUp, when not nil, is what the batch's customers need once the
	// batch is stored. A store that runs it in the batch's transaction
	// sets BatchResult.FollowedUp; one that ignores it leaves that to the
	// caller.
	FollowUp *BatchFollowUp
}

// ItemError reports which item of a batch failed, and why.
type ItemError struct {
	Index int
	Field string // the item's field at fault, e.g. "customer"
	Err   error
}

// ErrIDReused is the Err of an *ItemError whose id (the source system's
// external id) was recorded before, or earlier in the batch, for an item
// with another payload: a resend must repeat the original exactly. The
// service reports it as reason REQUEST_ID_REUSED.
var ErrIDReused = fmt.Errorf("%w: the id was used before for a different item", ErrInvalid)

func (e *ItemError) Error() string { return e.Field + ": " + e.Err.Error() }
func (e *ItemError) Unwrap() error { return e.Err }

// NewID returns a new random, time-ordered id (UUIDv7, RFC 9562): ordered
// ids keep B-tree inserts local.
func NewID() string { return uuid.Must(uuid.NewV7()).String() }

// SameClientFields reports whether a and b agree on every field a client sets.
func SameClientFields(a, b *Customer) bool {
	if a.ExternalID != b.ExternalID || a.Kind != b.Kind || a.DisplayName != b.DisplayName ||
		a.GivenName != b.GivenName || a.FamilyName != b.FamilyName || a.CompanyName != b.CompanyName ||
		a.Email != b.Email || a.Phone != b.Phone || a.Country != b.Country || a.Region != b.Region ||
		a.City != b.City || a.AgeBand != b.AgeBand || a.Gender != b.Gender || a.Industry != b.Industry ||
		a.CompanySize != b.CompanySize || a.AcquisitionChannel != b.AcquisitionChannel ||
		a.Qualification.Budget != b.Qualification.Budget || a.Qualification.Authority != b.Qualification.Authority ||
		a.Qualification.Need != b.Qualification.Need || !a.Qualification.DecisionTime.Equal(b.Qualification.DecisionTime) ||
		len(a.AcceptedChannels) != len(b.AcceptedChannels) || len(a.Attributes) != len(b.Attributes) {
		return false
	}
	for i := range a.AcceptedChannels {
		if a.AcceptedChannels[i] != b.AcceptedChannels[i] {
			return false
		}
	}
	for k, av := range a.Attributes {
		bv, ok := b.Attributes[k]
		if !ok || av.Kind != bv.Kind || av.String != bv.String || av.Number != bv.Number || av.Bool != bv.Bool || !av.Time.Equal(bv.Time) {
			return false
		}
	}
	return true
}
