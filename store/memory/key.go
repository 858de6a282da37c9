package memory

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/potentialhq/potential/domain"
)

// CreateAPIKey stores k and its audit records; ErrConflict if its id
// exists in any tenant, ErrNotFound if its tenant does not exist.
func (s *Store) CreateAPIKey(_ context.Context, k domain.APIKey, audit ...domain.AuditEvent) error {
	if k.ID == "" {
		return domain.Invalid("id", "required")
	}
	for _, f := range []struct{ field, s string }{{"id", k.ID}, {"name", k.Name}, {"role", string(k.Role)}} {
		if err := checkText(f.s); err != nil {
			return fieldError(f.field, err)
		}
	}
	for _, f := range []struct {
		field string
		t     time.Time
	}{{"create_time", k.CreateTime}, {"expire_time", k.ExpireTime}, {"revoke_time", k.RevokeTime}} {
		if err := checkTime(f.t); err != nil {
			return fieldError(f.field, err)
		}
	}
	if err := checkAudit(audit); err != nil {
		return err
	}
	tenantID, tenantOK := parseID(k.TenantID)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, dup := s.keys[k.ID]; dup {
		return fmt.Errorf("%w: api key %q exists", domain.ErrConflict, k.ID)
	}
	if _, ok := s.tenants[tenantID]; !tenantOK || !ok {
		return fmt.Errorf("%w: tenant %q", domain.ErrNotFound, k.TenantID)
	}
	if err := s.auditConflict(tenantID, audit); err != nil {
		return err
	}
	k = cloneKey(k)
	k.TenantID = tenantID
	k.CreateTime, k.ExpireTime, k.RevokeTime = normTime(k.CreateTime), normTime(k.ExpireTime), normTime(k.RevokeTime)
	s.keys[k.ID] = &k
	s.appendAudit(tenantID, audit)
	return nil
}

func cloneKey(k domain.APIKey) domain.APIKey {
	k.SecretHash = bytes.Clone(k.SecretHash)
	if k.SecretHash == nil {
		k.SecretHash = []byte{}
	}
	return k
}

// GetAPIKey returns a key by id, whatever its tenant.
func (s *Store) GetAPIKey(_ context.Context, id string) (domain.APIKey, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if k, ok := s.keys[id]; ok {
		return cloneKey(*k), nil
	}
	return domain.APIKey{}, fmt.Errorf("%w: api key %q", domain.ErrNotFound, id)
}

// ListAPIKeys returns a tenant's keys, newest first (ties by id, descending).
func (s *Store) ListAPIKeys(_ context.Context, tenantID string) ([]domain.APIKey, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	id, ok := parseID(tenantID)
	if !ok {
		return nil, nil
	}
	var out []domain.APIKey
	for _, k := range s.keys {
		if k.TenantID == id {
			out = append(out, cloneKey(*k))
		}
	}
	slices.SortFunc(out, func(a, b domain.APIKey) int {
		if c := b.CreateTime.Compare(a.CreateTime); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID)
	})
	return out, nil
}

// RevokeAPIKey sets the key's revoke time unless it is set already, and
// stores the audit records.
func (s *Store) RevokeAPIKey(_ context.Context, tenantID, id string, at time.Time, audit ...domain.AuditEvent) (domain.APIKey, error) {
	if err := checkTime(at); err != nil {
		return domain.APIKey{}, fieldError("revoke_time", err)
	}
	if err := checkAudit(audit); err != nil {
		return domain.APIKey{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	tid, _ := parseID(tenantID)
	k, ok := s.keys[id]
	if !ok || k.TenantID != tid {
		return domain.APIKey{}, fmt.Errorf("%w: api key %q", domain.ErrNotFound, id)
	}
	if err := s.auditConflict(tid, audit); err != nil {
		return domain.APIKey{}, err
	}
	if k.RevokeTime.IsZero() {
		k.RevokeTime = normTime(at)
	}
	s.appendAudit(tid, audit)
	return cloneKey(*k), nil
}
