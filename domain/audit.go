package domain

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// AuditEvent is one record of a tenant's audit log: who changed what, when,
// and the resource as it was before and after the change.
//
// Records hold ids, never personal data: a use case passes Before and
// After views that leave out names, contact data and free text (an erased
// customer is recorded by its id and external id only, see
// DeleteCustomer), so the audit log may outlive an erasure.
type AuditEvent struct {
	ID       string // NewID, time-ordered
	TenantID string
	Time     time.Time
	// Who: the API key (and its role) that made the change, or the
	// command line (Actor ActorCLI, no key).
	Actor Actor
	KeyID string
	Role  Role
	// What: an action on a resource, e.g. "api_key.revoke" on the
	// "api_key" whose id is ResourceID.
	Action       string
	ResourceType string
	ResourceID   string
	// Before and After are JSON documents (nil when the resource did not
	// exist before, or does not exist after). Stores return them
	// semantically equal, not byte for byte (PostgreSQL's jsonb orders keys).
	Before json.RawMessage
	After  json.RawMessage
}

// Actor says through which door a change came.
type Actor string

// Actors of audit events.
const (
	ActorAPIKey Actor = "api_key" // a call of the API, with the key in KeyID
	ActorCLI    Actor = "cli"     // the potential command, run against the database
)

// Audited actions. Other use cases name theirs the same way:
// "<resource type>.<verb>".
const (
	AuditCreateAPIKey  = "api_key.create"
	AuditRevokeAPIKey  = "api_key.revoke"
	AuditEraseCustomer = "customer.erase"
)

// AuditCursor is a position in a tenant's audit log, which is listed
// newest first: the time and id of the last record returned.
type AuditCursor struct {
	Time time.Time
	ID   string
}

// AuditQuery selects one page of ListAuditEvents.
type AuditQuery struct {
	After *AuditCursor // nil: from the newest
	Limit int
}

// AuditStore keeps the audit log. Changes that are audited write their
// records through their own store method (CreateAPIKey, RevokeAPIKey,
// DeleteCustomer take them as their last arguments), in the transaction of
// the change itself, so that a change is never without its record nor a
// record without its change. Stores keep the records append-only.
type AuditStore interface {
	// AppendAuditEvents stores records under tenantID, all or none; for
	// changes whose store method cannot take them. ErrConflict if an id
	// exists.
	AppendAuditEvents(ctx context.Context, tenantID string, events ...AuditEvent) error
	// ListAuditEvents returns at most q.Limit of a tenant's records, newest
	// first (time, then id, descending), strictly after q.After.
	ListAuditEvents(ctx context.Context, tenantID string, q AuditQuery) ([]AuditEvent, error)
}

// CommandLine returns the principal of an administrator of tenantID working
// at the command line (potential keys): an admin without an API key, whose
// changes are audited with actor ActorCLI.
func CommandLine(tenantID string) Principal {
	return Principal{TenantID: tenantID, Role: RoleAdmin}
}

// NewAuditEvent returns the record of a change that ctx's principal is
// making now: action on the resource of type resourceType and id
// resourceID, which was before and will be after (each marshalled to JSON;
// nil for none). Use cases pass the record to the store method that makes
// the change, or, where that method takes none, to RecordAudit after it.
//
// before and after must be views of the resource without personal data:
// ids, settings, states and times, no names, contact data or free text.
func (s *Service) NewAuditEvent(ctx context.Context, action, resourceType, resourceID string, before, after any) (AuditEvent, error) {
	p, err := PrincipalFrom(ctx)
	if err != nil {
		return AuditEvent{}, err
	}
	ev := AuditEvent{
		ID: NewID(), TenantID: p.TenantID, Time: s.Now(), Actor: ActorAPIKey, KeyID: p.KeyID, Role: p.Role,
		Action: action, ResourceType: resourceType, ResourceID: resourceID,
	}
	if p.KeyID == "" {
		ev.Actor = ActorCLI
	}
	if ev.Before, err = auditJSON(before); err != nil {
		return AuditEvent{}, fmt.Errorf("audit %s: before: %w", action, err)
	}
	if ev.After, err = auditJSON(after); err != nil {
		return AuditEvent{}, fmt.Errorf("audit %s: after: %w", action, err)
	}
	return ev, nil
}

// auditJSON marshals v, or returns nil for nil.
func auditJSON(v any) (json.RawMessage, error) {
	if v == nil {
		return nil, nil
	}
	if raw, ok := v.(json.RawMessage); ok {
		if !json.Valid(raw) {
			return nil, fmt.Errorf("invalid JSON")
		}
		return bytes.Clone(raw), nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	if bytes.Equal(b, []byte("null")) {
		return nil, nil
	}
	return b, nil
}

// RecordAudit appends the records of a change already made, for use cases
// whose store method cannot write them in the change's own transaction.
func (s *Service) RecordAudit(ctx context.Context, events ...AuditEvent) error {
	p, err := PrincipalFrom(ctx)
	if err != nil {
		return err
	}
	return s.store.AppendAuditEvents(ctx, p.TenantID, events...)
}

// auditOrder names the one order of audit listings in page tokens.
const auditOrder = "time desc"

// auditListing names audit listings in page tokens, which are bound to
// their tenant and listing (see EncodePageToken).
const auditListing = "audit_events"

// ListAuditEvents returns one page of the caller's audit log, newest first,
// and the token of the next page ("" on the last).
func (s *Service) ListAuditEvents(ctx context.Context, pageSize int, pageToken string) ([]AuditEvent, string, error) {
	p, err := PrincipalFrom(ctx)
	if err != nil {
		return nil, "", err
	}
	size, err := pageLimit(pageSize)
	if err != nil {
		return nil, "", err
	}
	cur, err := DecodePageToken(p.TenantID, auditListing, auditOrder, pageToken)
	if err != nil {
		return nil, "", err
	}
	q := AuditQuery{Limit: size + 1}
	if cur != nil {
		t, ok := cur.Value.(time.Time)
		if !ok {
			return nil, "", Invalid("page_token", "malformed page token")
		}
		q.After = &AuditCursor{Time: t, ID: cur.ID}
	}
	evs, err := s.store.ListAuditEvents(ctx, p.TenantID, q)
	if err != nil {
		return nil, "", err
	}
	evs, next := trimPage(evs, size, func(last *AuditEvent) string {
		return EncodePageToken(p.TenantID, auditListing, auditOrder, Cursor{Value: last.Time, ID: last.ID})
	})
	return evs, next, nil
}

// pageLimit checks a request's page size and returns the one to use:
// DefaultPageSize for 0, at most MaxPageSize.
func pageLimit(pageSize int) (int, error) {
	if pageSize < 0 {
		return 0, Invalid("page_size", "must not be negative")
	}
	if pageSize == 0 {
		return DefaultPageSize, nil
	}
	return min(pageSize, MaxPageSize), nil
}
