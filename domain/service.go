package domain

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Clock returns the current time. Tests fix it.
type Clock func() time.Time

// Service holds the use cases of the API. It is safe for concurrent use.
type Service struct {
	store Store
	now   Clock

	keyCache     sync.Map // key id -> cachedKey
	models       sync.Map // tenant id -> cached[*ValueModel] (currentModel)
	actionTables sync.Map // tenant id -> cached[ActionTable] (currentActionTable)
	builtIns     sync.Map // tenant id -> true once its built-in segments exist

	insecureWebhooks atomic.Bool // http destinations on localhost allowed (webhook_service.go)
}

// KeyCacheTTL is how long an authenticated key is trusted without a store
// lookup; a revoked or expired key is rejected at most this long after.
const KeyCacheTTL = time.Second

type cachedKey struct {
	key     APIKey
	fetched time.Time
}

// NewService returns the use cases over store, reading time from clock
// (time.Now when nil).
func NewService(store Store, clock Clock) *Service {
	if clock == nil {
		clock = time.Now
	}
	return &Service{store: store, now: clock}
}

// Now returns the service clock's time, in UTC with microsecond precision
// (what the stores keep).
func (s *Service) Now() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// Store returns the underlying store.
func (s *Service) Store() Store { return s.store }

var bootstrapKeyRe = regexp.MustCompile(`^pk_[a-z0-9]{3,32}_[A-Za-z0-9]{16,128}$`)

// Bootstrap makes sure tenant "default" exists. When it has to create it, it
// also creates an admin key: from keyText if given (it must look like
// pk_<id>_<secret>, id 3-32 of [a-z0-9], secret at least 16 letters or
// digits), else a generated one. It returns the key text only when a
// key was generated, so the caller can print it once.
func (s *Service) Bootstrap(ctx context.Context, keyText string) (Tenant, string, error) {
	t, err := s.store.FindTenant(ctx, DefaultTenantName)
	if err == nil {
		if keyText != "" {
			// Make sure a configured bootstrap key exists even on a store
			// bootstrapped before (e.g. by a replica).
			if err := s.ensureKey(ctx, t, keyText); err != nil {
				return Tenant{}, "", err
			}
		}
		return t, "", nil
	}
	if !errors.Is(err, ErrNotFound) {
		return Tenant{}, "", err
	}
	t = Tenant{ID: NewID(), Name: DefaultTenantName, CreateTime: s.Now()}
	if err := s.store.CreateTenant(ctx, t); err != nil {
		if errors.Is(err, ErrConflict) { // another replica won the race
			return s.Bootstrap(ctx, keyText)
		}
		return Tenant{}, "", err
	}
	if keyText != "" {
		return t, "", s.ensureKey(ctx, t, keyText)
	}
	k, text := NewAPIKey(t.ID, "bootstrap admin", RoleAdmin, s.Now())
	if err := s.store.CreateAPIKey(ctx, k); err != nil {
		return Tenant{}, "", err
	}
	return t, text, nil
}

func (s *Service) ensureKey(ctx context.Context, t Tenant, keyText string) error {
	if !bootstrapKeyRe.MatchString(keyText) {
		return fmt.Errorf("bootstrap key must look like pk_<3-32 of a-z0-9>_<16-128 letters or digits>")
	}
	id, secret, _ := ParseAPIKey(keyText)
	if existing, err := s.store.GetAPIKey(ctx, id); err == nil {
		if existing.TenantID != t.ID || !existing.Matches(secret) {
			return fmt.Errorf("bootstrap key id %q is already used by another key", id)
		}
		return nil
	}
	k, _ := NewAPIKey(t.ID, "bootstrap admin", RoleAdmin, s.Now())
	k.ID = id
	k.SecretHash = hashSecret(secret)
	if err := s.store.CreateAPIKey(ctx, k); err != nil && !errors.Is(err, ErrConflict) {
		return err
	}
	return nil
}

// ETag is the opaque entity tag of a customer version.
func ETag(version int64) string { return "v" + strconv.FormatInt(version, 10) }

func parseETag(etag string) (int64, error) {
	v, err := strconv.ParseInt(strings.TrimPrefix(etag, "v"), 10, 64)
	if err != nil || !strings.HasPrefix(etag, "v") || v < 1 {
		return 0, Invalid("etag", "malformed etag %q", etag)
	}
	return v, nil
}

// CreateCustomer validates and stores a new customer of the caller's tenant.
func (s *Service) CreateCustomer(ctx context.Context, c Customer) (Customer, error) {
	p, err := PrincipalFrom(ctx)
	if err != nil {
		return Customer{}, err
	}
	c.Normalize()
	if err := c.Validate(); err != nil {
		return Customer{}, prefixViolations(err, "customer")
	}
	now := s.Now()
	c.ID, c.TenantID, c.CreateTime, c.UpdateTime, c.Version = NewID(), p.TenantID, now, now, 1
	c.Purchases, c.Engagement = PurchaseStats{}, EngagementStats{}
	out, err := s.store.CreateCustomer(ctx, c)
	if errors.Is(err, ErrConflict) {
		return Customer{}, fmt.Errorf("%w: a customer with external_id %q exists", ErrConflict, c.ExternalID)
	}
	if err != nil {
		return Customer{}, err
	}
	if err := s.reassess(ctx, p.TenantID, []string{out.ID}); err != nil {
		return Customer{}, err
	}
	if err := s.scoreNewCustomers(ctx, p.TenantID, []Customer{out}); err != nil {
		return Customer{}, err
	}
	return s.store.GetCustomer(ctx, p.TenantID, CustomerRef{ID: out.ID})
}

// GetCustomer returns a customer of the caller's tenant.
func (s *Service) GetCustomer(ctx context.Context, ref CustomerRef) (Customer, error) {
	p, err := PrincipalFrom(ctx)
	if err != nil {
		return Customer{}, err
	}
	return s.store.GetCustomer(ctx, p.TenantID, ref)
}

// maxFilterSegments bounds the segments one ListCustomers filter names.
const maxFilterSegments = 8

// setGrades sets the stored grade of each of cs (one read for all). Only
// listings pay for it: GetCustomer, a hot point read, leaves Grade empty
// (ScoringService.GetCustomerGrade reads one customer's grade).
func (s *Service) setGrades(ctx context.Context, tenantID string, cs []Customer) error {
	if len(cs) == 0 {
		return nil
	}
	ids := make([]string, len(cs))
	for i := range cs {
		ids[i] = cs[i].ID
	}
	grades, err := s.store.CustomerGrades(ctx, tenantID, ids)
	if err != nil {
		return err
	}
	for i := range cs {
		cs[i].Grade = grades[cs[i].ID].Grade
	}
	return nil
}

// UpdateCustomer applies mutate to the stored customer id and saves it. With
// an etag the update happens only if the customer is still at that version
// (else ErrStale); without one, a concurrent update is retried so that no
// update is ever lost.
func (s *Service) UpdateCustomer(ctx context.Context, id, etag string, mutate func(*Customer) error) (Customer, error) {
	p, err := PrincipalFrom(ctx)
	if err != nil {
		return Customer{}, err
	}
	var want int64
	if etag != "" {
		if want, err = parseETag(etag); err != nil {
			return Customer{}, err
		}
	}
	for attempt := 0; ; attempt++ {
		cur, err := s.store.GetCustomer(ctx, p.TenantID, CustomerRef{ID: id})
		if err != nil {
			return Customer{}, err
		}
		if want != 0 && cur.Version != want {
			return Customer{}, fmt.Errorf("%w: customer is at %s, not %s", ErrStale, ETag(cur.Version), etag)
		}
		next := cur
		next.Attributes = cloneAttrs(cur.Attributes)
		next.AcceptedChannels = append([]Channel(nil), cur.AcceptedChannels...)
		if err := mutate(&next); err != nil {
			return Customer{}, err
		}
		next.Normalize()
		if err := next.Validate(); err != nil {
			return Customer{}, prefixViolations(err, "customer")
		}
		if SameClientFields(&cur, &next) {
			return cur, nil
		}
		next.UpdateTime = s.Now()
		out, err := s.store.UpdateCustomer(ctx, next)
		if errors.Is(err, ErrStale) && want == 0 && attempt < 16 {
			continue
		}
		return s.scoreUpdatedCustomer(ctx, p.TenantID, out, err)
	}
}

func cloneAttrs(m map[string]AttributeValue) map[string]AttributeValue {
	if m == nil {
		return nil
	}
	out := make(map[string]AttributeValue, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// DeleteCustomer erases a customer and everything recorded about it. With
// an etag it deletes only that version. The erasure is audited, in the
// same transaction, by the customer's id and external id alone.
func (s *Service) DeleteCustomer(ctx context.Context, id, etag string) error {
	p, err := PrincipalFrom(ctx)
	if err != nil {
		return err
	}
	var want int64
	if etag != "" {
		if want, err = parseETag(etag); err != nil {
			return err
		}
	}
	cur, err := s.store.GetCustomer(ctx, p.TenantID, CustomerRef{ID: id})
	if err != nil {
		return err
	}
	if want != 0 && cur.Version != want {
		return fmt.Errorf("%w: customer is at %s, not %s", ErrStale, ETag(cur.Version), etag)
	}
	ev, err := s.NewAuditEvent(ctx, AuditEraseCustomer, "customer", cur.ID, erasedCustomer{ID: cur.ID, ExternalID: cur.ExternalID}, nil)
	if err != nil {
		return err
	}
	return s.store.DeleteCustomer(ctx, p.TenantID, cur.ID, ev)
}

// erasedCustomer is what the audit log keeps of an erased customer.
type erasedCustomer struct {
	ID         string `json:"id"`
	ExternalID string `json:"external_id,omitempty"`
}

// ListCustomersRequest is one page request of ListCustomers.
type ListCustomersRequest struct {
	Filter    string
	OrderBy   string
	PageSize  int
	PageToken string
}

// Page sizes of ListCustomers.
const (
	DefaultPageSize = 50
	MaxPageSize     = 1000
)

// ListCustomers returns one page of the caller's customers and the token of
// the next page ("" on the last).
func (s *Service) ListCustomers(ctx context.Context, r ListCustomersRequest) ([]Customer, string, error) {
	p, err := PrincipalFrom(ctx)
	if err != nil {
		return nil, "", err
	}
	if r.PageSize < 0 {
		return nil, "", Invalid("page_size", "must not be negative")
	}
	size := r.PageSize
	if size == 0 {
		size = DefaultPageSize
	}
	size = min(size, MaxPageSize)
	f, err := ParseFilter(r.Filter)
	if err != nil {
		return nil, "", err
	}
	o, err := ParseOrder(r.OrderBy)
	if err != nil {
		return nil, "", err
	}
	canonOrder := o.Field
	if o.Desc {
		canonOrder += " desc"
	}
	after, err := DecodePageToken(p.TenantID, r.Filter, canonOrder, r.PageToken)
	if err != nil {
		return nil, "", err
	}
	// A segment condition names a segment of the tenant: a deleted or
	// mistyped id is the caller's error, not an empty answer.
	segs := f.FilterSegments()
	if len(segs) > maxFilterSegments {
		return nil, "", Invalid("filter", "at most %d segments", maxFilterSegments)
	}
	for _, id := range segs {
		if _, err := s.store.GetSegment(ctx, p.TenantID, id); errors.Is(err, ErrNotFound) {
			return nil, "", Invalid("filter", "no segment %q in this tenant", id)
		} else if err != nil {
			return nil, "", err
		}
	}
	rows, err := s.store.ListCustomers(ctx, p.TenantID, CustomerQuery{Filter: f, Order: o, After: after, Limit: size + 1})
	if err != nil {
		return nil, "", err
	}
	rows, next := trimPage(rows, size, func(last *Customer) string {
		return EncodePageToken(p.TenantID, r.Filter, canonOrder, Cursor{Value: last.SortValue(o.Field), ID: last.ID})
	})
	if err := s.setGrades(ctx, p.TenantID, rows); err != nil {
		return nil, "", err
	}
	return rows, next, nil
}

// BatchUpsertCustomers creates or replaces customers by external id, atomically.
func (s *Service) BatchUpsertCustomers(ctx context.Context, cs []Customer) ([]UpsertOutcome, error) {
	p, err := PrincipalFrom(ctx)
	if err != nil {
		return nil, err
	}
	if err := checkBatch("customers", len(cs)); err != nil {
		return nil, err
	}
	now := s.Now()
	var all ValidationError
	seen := make(map[string]int, len(cs))
	for i := range cs {
		c := &cs[i]
		c.Normalize()
		path := itemPath("customers", i)
		if c.ExternalID == "" {
			all.Violations = append(all.Violations, FieldViolation{Field: path + ".external_id", Description: "required for an upsert"})
		} else if j, dup := seen[c.ExternalID]; dup {
			all.Violations = append(all.Violations, FieldViolation{Field: path + ".external_id", Description: fmt.Sprintf("repeats customers[%d]", j)})
		}
		seen[c.ExternalID] = i
		if err := c.Validate(); err != nil {
			all.Violations = append(all.Violations, prefixViolations(err, path).(*ValidationError).Violations...)
		}
		c.ID, c.TenantID, c.CreateTime, c.UpdateTime, c.Version = NewID(), p.TenantID, now, now, 1
	}
	if len(all.Violations) > 0 {
		return nil, &all
	}
	outs, err := s.store.UpsertCustomers(ctx, p.TenantID, cs, now)
	if err != nil {
		return nil, err
	}
	var created []string
	for i := range outs {
		outs[i].Updated = !outs[i].Created && outs[i].Customer.UpdateTime.Equal(now)
		if outs[i].Created {
			created = append(created, outs[i].Customer.ID)
		}
	}
	if err := s.scoreUpserted(ctx, p.TenantID, outs); err != nil {
		return nil, err
	}
	return outs, s.reassess(ctx, p.TenantID, created)
}

// RecordTransactions records a batch of transactions idempotently.
func (s *Service) RecordTransactions(ctx context.Context, txs []Transaction, createMissing bool) (BatchResult, error) {
	p, err := PrincipalFrom(ctx)
	if err != nil {
		return BatchResult{}, err
	}
	if err := checkBatch("transactions", len(txs)); err != nil {
		return BatchResult{}, err
	}
	now := s.Now()
	var all ValidationError
	for i := range txs {
		t := &txs[i]
		t.OccurredAt = t.OccurredAt.UTC().Truncate(time.Microsecond)
		if err := t.Validate(now); err != nil {
			all.Violations = append(all.Violations, prefixViolations(err, itemPath("transactions", i)).(*ValidationError).Violations...)
		}
		t.ID, t.TenantID = NewID(), p.TenantID
	}
	if len(all.Violations) > 0 {
		return BatchResult{}, &all
	}
	opts, err := s.recordOptions(ctx, p.TenantID, createMissing, now)
	if err != nil {
		return BatchResult{}, err
	}
	res, err := s.store.RecordTransactions(ctx, p.TenantID, txs, opts)
	if err != nil {
		return BatchResult{}, itemErr("transactions", err)
	}
	return res, s.finishBatch(ctx, p.TenantID, res)
}

// RecordInteractions records a batch of interactions idempotently.
func (s *Service) RecordInteractions(ctx context.Context, its []Interaction, createMissing bool) (BatchResult, error) {
	p, err := PrincipalFrom(ctx)
	if err != nil {
		return BatchResult{}, err
	}
	if err := checkBatch("interactions", len(its)); err != nil {
		return BatchResult{}, err
	}
	now := s.Now()
	var all ValidationError
	for i := range its {
		it := &its[i]
		it.OccurredAt = it.OccurredAt.UTC().Truncate(time.Microsecond)
		if err := it.Validate(now); err != nil {
			all.Violations = append(all.Violations, prefixViolations(err, itemPath("interactions", i)).(*ValidationError).Violations...)
		}
		it.ID, it.TenantID = NewID(), p.TenantID
	}
	if len(all.Violations) > 0 {
		return BatchResult{}, &all
	}
	opts, err := s.recordOptions(ctx, p.TenantID, createMissing, now)
	if err != nil {
		return BatchResult{}, err
	}
	res, err := s.store.RecordInteractions(ctx, p.TenantID, its, opts)
	if err != nil {
		return BatchResult{}, itemErr("interactions", err)
	}
	return res, s.finishBatch(ctx, p.TenantID, res)
}

// RecordReferrals records a batch of referrals idempotently.
func (s *Service) RecordReferrals(ctx context.Context, rs []Referral, createMissing bool) (BatchResult, error) {
	p, err := PrincipalFrom(ctx)
	if err != nil {
		return BatchResult{}, err
	}
	if err := checkBatch("referrals", len(rs)); err != nil {
		return BatchResult{}, err
	}
	now := s.Now()
	var all ValidationError
	for i := range rs {
		r := &rs[i]
		r.OccurredAt = r.OccurredAt.UTC().Truncate(time.Microsecond)
		if err := r.Validate(now); err != nil {
			all.Violations = append(all.Violations, prefixViolations(err, itemPath("referrals", i)).(*ValidationError).Violations...)
		}
		r.ID, r.TenantID = NewID(), p.TenantID
	}
	if len(all.Violations) > 0 {
		return BatchResult{}, &all
	}
	opts, err := s.recordOptions(ctx, p.TenantID, createMissing, now)
	if err != nil {
		return BatchResult{}, err
	}
	res, err := s.store.RecordReferrals(ctx, p.TenantID, rs, opts)
	if err != nil {
		return BatchResult{}, itemErr("referrals", err)
	}
	return res, s.finishBatch(ctx, p.TenantID, res)
}

// itemErr turns a store's *ItemError into a field violation of the batch.
func itemErr(field string, err error) error {
	var ie *ItemError
	if !errors.As(err, &ie) {
		return err
	}
	desc := ie.Err.Error()
	reason := ""
	switch {
	case errors.Is(ie.Err, ErrNotFound):
		desc, reason = "no such customer in this tenant (set create_missing_customers to create it)", "CUSTOMER_NOT_FOUND"
	case errors.Is(ie.Err, ErrIDReused):
		desc, reason = "this external_id was recorded before for a different item; resend the original item or use a new id", ReasonRequestIDReused
	}
	return &ValidationError{Violations: []FieldViolation{{Field: itemPath(field, ie.Index) + "." + ie.Field, Description: desc, Reason: reason}}}
}

func sortStrings(s []string) { sort.Strings(s) }

func hashSecret(secret string) []byte { return sha256Sum(secret) }
