package memory

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/potentialhq/potential/domain"
)

// Records of idempotent creates (domain.RequestStore), kept under the
// store's mutex with the rules of store/postgres: a lapsed record is
// replaced, and only the reservation's token completes or releases it.

var _ domain.RequestStore = (*Store)(nil)

type requestKey struct{ method, id string }

// ReserveRequest stores r unless an unexpired record of its key exists.
func (s *Store) ReserveRequest(_ context.Context, r domain.RequestRecord, now time.Time) (domain.RequestRecord, bool, error) {
	now = normTime(now)
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.tenant(r.TenantID)
	if d == nil {
		return domain.RequestRecord{}, false, fmt.Errorf("%w: tenant %q", domain.ErrNotFound, r.TenantID)
	}
	if d.requests == nil {
		d.requests = map[requestKey]domain.RequestRecord{}
	}
	k := requestKey{r.Method, r.ID}
	if got, ok := d.requests[k]; ok && got.Expires.After(now) {
		return cloneRequest(got), false, nil
	}
	r.TenantID, _ = parseID(r.TenantID)
	r.Done, r.Response = false, nil
	r.Created, r.Expires = normTime(r.Created), normTime(r.Expires)
	r.Hash = slices.Clone(r.Hash)
	d.requests[k] = r
	return cloneRequest(r), true, nil
}

// CompleteRequest records the response of the reservation held by token.
func (s *Store) CompleteRequest(_ context.Context, tenantID, method, id, token string, response []byte, expires time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.tenant(tenantID)
	if d == nil {
		return fmt.Errorf("%w: tenant %q", domain.ErrNotFound, tenantID)
	}
	k := requestKey{method, id}
	got, ok := d.requests[k]
	if !ok || got.Token != token || got.Done {
		return fmt.Errorf("%w: request %q is not reserved by this call", domain.ErrNotFound, id)
	}
	got.Done, got.Response, got.Expires = true, slices.Clone(response), normTime(expires)
	if got.Response == nil {
		got.Response = []byte{}
	}
	d.requests[k] = got
	return nil
}

// ReleaseRequest deletes the in-flight reservation held by token.
func (s *Store) ReleaseRequest(_ context.Context, tenantID, method, id, token string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.tenant(tenantID)
	if d == nil {
		return nil
	}
	k := requestKey{method, id}
	if got, ok := d.requests[k]; ok && got.Token == token && !got.Done {
		delete(d.requests, k)
	}
	return nil
}

// PruneRequests deletes up to limit of the tenant's expired records.
func (s *Store) PruneRequests(_ context.Context, tenantID string, now time.Time, limit int) (int, error) {
	now = normTime(now)
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.tenant(tenantID)
	if d == nil {
		return 0, fmt.Errorf("%w: tenant %q", domain.ErrNotFound, tenantID)
	}
	n := 0
	for k, r := range d.requests {
		if n >= limit {
			break
		}
		if !r.Expires.After(now) {
			delete(d.requests, k)
			n++
		}
	}
	return n, nil
}

func cloneRequest(r domain.RequestRecord) domain.RequestRecord {
	r.Hash, r.Response = slices.Clone(r.Hash), slices.Clone(r.Response)
	if r.Done && r.Response == nil {
		r.Response = []byte{}
	}
	return r
}
