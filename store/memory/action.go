package memory

import (
	"context"
	"fmt"
	"slices"

	"github.com/potentialhq/potential/domain"
)

var _ domain.ActionStore = (*Store)(nil)

// GetActionTable returns the tenant's action table; ErrNotFound if it
// never set one.
func (s *Store) GetActionTable(_ context.Context, tenantID string) (domain.ActionTable, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	d := s.tenant(tenantID)
	if d == nil || d.actions.Version == 0 {
		return domain.ActionTable{}, fmt.Errorf("%w: no action table", domain.ErrNotFound)
	}
	t := d.actions
	t.Rules = slices.Clone(t.Rules)
	return t, nil
}

// SaveActionTable stores t if it is the next version.
func (s *Store) SaveActionTable(_ context.Context, t domain.ActionTable) (domain.ActionTable, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, err := s.scoringTenant(t.TenantID)
	if err != nil {
		return domain.ActionTable{}, err
	}
	if t.Version != d.actions.Version+1 {
		return domain.ActionTable{}, fmt.Errorf("%w: the action table is at version %d, not %d", domain.ErrStale, d.actions.Version, t.Version-1)
	}
	id, _ := parseID(t.TenantID)
	t.TenantID, t.UpdateTime = id, normTime(t.UpdateTime)
	t.Rules = slices.Clone(t.Rules)
	d.actions = t
	out := t
	out.Rules = slices.Clone(t.Rules)
	return out, nil
}
