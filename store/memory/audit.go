package memory

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/potentialhq/potential/domain"
)

// checkAudit checks audit records as PostgreSQL would store them: UUID
// ids, text without NUL, storable times, JSON documents.
func checkAudit(evs []domain.AuditEvent) error {
	for i, ev := range evs {
		field := func(name string) string { return fmt.Sprintf("audit[%d].%s", i, name) }
		if _, ok := parseID(ev.ID); !ok {
			return domain.Invalid(field("id"), "must be a UUID")
		}
		for _, f := range []struct{ name, s string }{{"actor", string(ev.Actor)}, {"key_id", ev.KeyID}, {"role", string(ev.Role)},
			{"action", ev.Action}, {"resource_type", ev.ResourceType}, {"resource_id", ev.ResourceID}} {
			if err := checkText(f.s); err != nil {
				return fieldError(field(f.name), err)
			}
		}
		if ev.Actor == "" || ev.Action == "" || ev.ResourceType == "" {
			return domain.Invalid(field("action"), "actor, action and resource type are required")
		}
		if err := checkTime(ev.Time); err != nil || ev.Time.IsZero() {
			return domain.Invalid(field("time"), "must be a time PostgreSQL can store")
		}
		for name, doc := range map[string]json.RawMessage{"before": ev.Before, "after": ev.After} {
			if doc != nil && (!json.Valid(doc) || bytes.Contains(doc, []byte(`\u0000`))) {
				return domain.Invalid(field(name), "must be a JSON document without NUL characters")
			}
		}
	}
	return nil
}

// auditConflict reports ErrConflict if a record's id is stored already in
// tenantID (or repeats in evs). Callers hold the write lock.
func (s *Store) auditConflict(tenantID string, evs []domain.AuditEvent) error {
	seen := map[string]bool{}
	for _, ev := range s.audit[tenantID] {
		seen[ev.ID] = true
	}
	for _, ev := range evs {
		id, _ := parseID(ev.ID)
		if seen[id] {
			return fmt.Errorf("%w: audit event %s exists", domain.ErrConflict, id)
		}
		seen[id] = true
	}
	return nil
}

// appendAudit stores checked records under tenantID. Callers hold the
// write lock and have checked evs with checkAudit and auditConflict.
func (s *Store) appendAudit(tenantID string, evs []domain.AuditEvent) {
	if len(evs) == 0 {
		return
	}
	if s.audit == nil {
		s.audit = map[string][]domain.AuditEvent{}
	}
	for _, ev := range evs {
		ev.ID, _ = parseID(ev.ID)
		ev.TenantID = tenantID
		ev.Time = normTime(ev.Time)
		ev.Before, ev.After = cloneJSON(ev.Before), cloneJSON(ev.After)
		s.audit[tenantID] = append(s.audit[tenantID], ev)
	}
}

func cloneJSON(doc json.RawMessage) json.RawMessage {
	if doc == nil {
		return nil
	}
	return bytes.Clone(doc)
}

// AppendAuditEvents stores records under tenantID, all or none.
func (s *Store) AppendAuditEvents(_ context.Context, tenantID string, evs ...domain.AuditEvent) error {
	if err := checkAudit(evs); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	tid, ok := parseID(tenantID)
	if _, exists := s.tenants[tid]; !ok || !exists {
		return fmt.Errorf("%w: tenant %q", domain.ErrNotFound, tenantID)
	}
	if err := s.auditConflict(tid, evs); err != nil {
		return err
	}
	s.appendAudit(tid, evs)
	return nil
}

// ListAuditEvents returns at most q.Limit of a tenant's records, newest
// first (time, then id, descending), strictly after q.After.
func (s *Store) ListAuditEvents(_ context.Context, tenantID string, q domain.AuditQuery) ([]domain.AuditEvent, error) {
	if q.Limit <= 0 {
		return nil, domain.Invalid("page_size", "must be positive")
	}
	var after domain.AuditCursor
	if q.After != nil {
		id, ok := parseID(q.After.ID)
		if !ok {
			return nil, domain.Invalid("page_token", "malformed page token")
		}
		after = domain.AuditCursor{Time: normTime(q.After.Time), ID: id}
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	tid, _ := parseID(tenantID)
	all := slices.Clone(s.audit[tid])
	slices.SortFunc(all, func(a, b domain.AuditEvent) int {
		if c := b.Time.Compare(a.Time); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID)
	})
	var out []domain.AuditEvent
	for _, ev := range all {
		if q.After != nil {
			if c := ev.Time.Compare(after.Time); c > 0 || (c == 0 && ev.ID >= after.ID) {
				continue
			}
		}
		ev.Before, ev.After = cloneJSON(ev.Before), cloneJSON(ev.After)
		out = append(out, ev)
		if len(out) == q.Limit {
			break
		}
	}
	return out, nil
}
