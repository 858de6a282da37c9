// Package memory is an in-memory implementation of domain.Store, for trying
// the service out and for fast tests of the domain.
//
// It keeps every tenant's records in maps under one sync.RWMutex and behaves
// like store/postgres in every way a caller can observe: the same errors, the
// same ordering (byte-wise string order, as PostgreSQL's "C" collation), the
// same keyset pages, times at microsecond precision in UTC, and all-or-nothing
// batches (everything is checked before anything is applied). Values are
// copied on the way in and out, so a caller never shares a slice or map with
// the store. store/storetest is the suite that holds both stores to this.
package memory

import (
	"context"
	"fmt"
	"sync"

	"github.com/potentialhq/potential/domain"
)

// Store is an in-memory domain.Store. The zero value is not usable; call New.
type Store struct {
	mu      sync.RWMutex
	closed  bool
	tenants map[string]*domain.Tenant      // by id
	names   map[string]string              // tenant name -> tenant id
	keys    map[string]*domain.APIKey      // by key id, across tenants
	data    map[string]*tenantData         // by tenant id
	audit   map[string][]domain.AuditEvent // by tenant id, in the order stored
}

var _ domain.Store = (*Store)(nil)

// tenantData holds one tenant's customers and events.
type tenantData struct {
	customers  map[string]*domain.Customer // by id
	byExternal map[string]string           // external id -> customer id

	txs    map[string]*domain.Transaction // by external id
	txIDs  map[string]bool
	its    map[string]*domain.Interaction // by external id
	itIDs  map[string]bool
	refs   map[string]*domain.Referral // by external id
	refIDs map[string]bool
	events map[string]*customerEvents // by customer id

	feedback *feedbackData // feedback and topic rules (feedback.go); nil until the first
	scoring  *scoringData  // scoring models, rules, ledgers and grades (scoring.go); nil until the first

	conversion *conversionData // lead outcomes and conversion models (conversion.go); nil until the first
	segments   *segmentData    // segments, members and their event log (segment.go); nil until the first

	models      []domain.ValueModel // value models (assess.go), by version - 1
	transitions []transition        // lifecycle transitions, in the order recorded

	jobs jobData // leased time-driven work and its run log (jobs.go)

	actions domain.ActionTable // the next-best-action table (action.go); Version 0 until the first

	requests map[requestKey]domain.RequestRecord // records of idempotent creates (requests.go); nil until the first

	webhooks *webhookData // webhook destinations, subscriptions and outbox (webhook.go); nil until the first
}

// customerEvents are the events recorded about one customer; referrals are
// listed under both the referrer and the referred customer.
type customerEvents struct {
	txs  []*domain.Transaction
	its  []*domain.Interaction
	refs []*domain.Referral
}

func newTenantData() *tenantData {
	return &tenantData{
		customers: map[string]*domain.Customer{}, byExternal: map[string]string{},
		txs: map[string]*domain.Transaction{}, txIDs: map[string]bool{},
		its: map[string]*domain.Interaction{}, itIDs: map[string]bool{},
		refs: map[string]*domain.Referral{}, refIDs: map[string]bool{},
		events: map[string]*customerEvents{},
	}
}

func (d *tenantData) eventsOf(customerID string) *customerEvents {
	e := d.events[customerID]
	if e == nil {
		e = &customerEvents{}
		d.events[customerID] = e
	}
	return e
}

// New returns an empty store.
func New() *Store {
	return &Store{
		tenants: map[string]*domain.Tenant{},
		names:   map[string]string{},
		keys:    map[string]*domain.APIKey{},
		data:    map[string]*tenantData{},
	}
}

// Ping reports ErrUnavailable once the store is closed.
func (s *Store) Ping(ctx context.Context) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return fmt.Errorf("%w: store is closed", domain.ErrUnavailable)
	}
	return ctx.Err()
}

// Close marks the store closed for Ping; the data stays readable.
func (s *Store) Close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
}

// tenant returns the data of the tenant whose id is tenantID in any UUID
// spelling, or nil.
func (s *Store) tenant(tenantID string) *tenantData {
	id, ok := parseID(tenantID)
	if !ok {
		return nil
	}
	return s.data[id]
}

// CreateTenant stores t; ErrConflict if its id or name is taken.
func (s *Store) CreateTenant(_ context.Context, t domain.Tenant) error {
	id, ok := parseID(t.ID)
	if !ok {
		return domain.Invalid("id", "must be a UUID")
	}
	if err := checkText(t.Name); err != nil {
		return fieldError("name", err)
	}
	if err := checkTime(t.CreateTime); err != nil {
		return fieldError("create_time", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, dup := s.tenants[id]; dup {
		return fmt.Errorf("%w: tenant %s exists", domain.ErrConflict, id)
	}
	if _, dup := s.names[t.Name]; dup {
		return fmt.Errorf("%w: tenant name %q is taken", domain.ErrConflict, t.Name)
	}
	t.ID, t.CreateTime = id, normTime(t.CreateTime)
	s.tenants[id] = &t
	s.names[t.Name] = id
	s.data[id] = newTenantData()
	return nil
}

// GetTenant returns a tenant by id.
func (s *Store) GetTenant(_ context.Context, id string) (domain.Tenant, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if cid, ok := parseID(id); ok {
		if t, ok := s.tenants[cid]; ok {
			return *t, nil
		}
	}
	return domain.Tenant{}, fmt.Errorf("%w: tenant %q", domain.ErrNotFound, id)
}

// FindTenant returns a tenant by name.
func (s *Store) FindTenant(_ context.Context, name string) (domain.Tenant, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if id, ok := s.names[name]; ok {
		return *s.tenants[id], nil
	}
	return domain.Tenant{}, fmt.Errorf("%w: tenant named %q", domain.ErrNotFound, name)
}
