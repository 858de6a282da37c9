package postgres

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/potentialhq/potential/domain"
)

// checkAudit checks audit records before they reach the database: UUID
// ids, text without NUL, storable times, JSON documents jsonb accepts.
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

// jsonDoc is a JSON document as a jsonb argument: NULL for nil.
func jsonDoc(doc json.RawMessage) any {
	if doc == nil {
		return nil
	}
	return string(doc)
}

// queueAudit queues the inserts of evs under tenant, for a batch or a
// transaction that makes the change they record; readAudit reads their
// results.
func queueAudit(b *pgx.Batch, tenant string, evs []domain.AuditEvent) {
	for _, ev := range evs {
		b.Queue(qInsertAudit, tenant, ev.ID, ev.Time, string(ev.Actor), ev.KeyID, string(ev.Role),
			ev.Action, ev.ResourceType, ev.ResourceID, jsonDoc(ev.Before), jsonDoc(ev.After))
	}
}

func readAudit(br pgx.BatchResults, evs []domain.AuditEvent) error {
	for range evs {
		if _, err := br.Exec(); err != nil {
			return err
		}
	}
	return nil
}

// commit is the rest of a transaction that has nothing left to do.
func commit(pgx.Tx) error { return nil }

// AppendAuditEvents stores records under tenantID, all or none.
func (s *Store) AppendAuditEvents(ctx context.Context, tenantID string, evs ...domain.AuditEvent) error {
	if err := checkAudit(evs); err != nil {
		return err
	}
	sc, ok := tenantScope(tenantID)
	if !ok {
		return fmt.Errorf("%w: tenant %q", domain.ErrNotFound, tenantID)
	}
	if len(evs) == 0 {
		return nil
	}
	return s.batch(ctx, sc, func(b *pgx.Batch) {
		queueAudit(b, sc.tenant, evs)
	}, func(br pgx.BatchResults) error {
		return readAudit(br, evs)
	})
}

// ListAuditEvents returns at most q.Limit of a tenant's records, newest
// first (time, then id, descending), strictly after q.After.
func (s *Store) ListAuditEvents(ctx context.Context, tenantID string, q domain.AuditQuery) ([]domain.AuditEvent, error) {
	if q.Limit <= 0 {
		return nil, domain.Invalid("page_size", "must be positive")
	}
	var afterID string
	if q.After != nil {
		var ok bool
		if afterID, ok = parseID(q.After.ID); !ok || checkTime(q.After.Time) != nil {
			return nil, domain.Invalid("page_token", "malformed page token")
		}
	}
	sc, ok := tenantScope(tenantID)
	if !ok {
		return nil, nil
	}
	var out []domain.AuditEvent
	err := s.batch(ctx, sc, func(b *pgx.Batch) {
		if q.After == nil {
			b.Queue(qListAudit, sc.tenant, q.Limit)
		} else {
			b.Queue(qListAuditAfter, sc.tenant, q.After.Time, afterID, q.Limit)
		}
	}, func(br pgx.BatchResults) error {
		rows, err := br.Query()
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, scanAudit)
		return err
	})
	if len(out) == 0 {
		out = nil
	}
	return out, err
}

func scanAudit(row pgx.CollectableRow) (domain.AuditEvent, error) {
	var ev domain.AuditEvent
	var at pgtype.Timestamptz
	var actor, role string
	var before, after []byte
	if err := row.Scan(&ev.TenantID, &ev.ID, &at, &actor, &ev.KeyID, &role, &ev.Action, &ev.ResourceType, &ev.ResourceID, &before, &after); err != nil {
		return domain.AuditEvent{}, err
	}
	ev.Time, ev.Actor, ev.Role = goTime(at), domain.Actor(actor), domain.Role(role)
	if before != nil {
		ev.Before = json.RawMessage(before)
	}
	if after != nil {
		ev.After = json.RawMessage(after)
	}
	return ev, nil
}
