package storetest

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/potentialhq/potential/domain"
)

// auditEvent returns a record of tenant at the given time.
func auditEvent(tenant domain.Tenant, action string, at time.Time, before, after string) domain.AuditEvent {
	ev := domain.AuditEvent{
		ID: domain.NewID(), TenantID: tenant.ID, Time: at, Actor: domain.ActorAPIKey, KeyID: "abcde", Role: domain.RoleAdmin,
		Action: action, ResourceType: "api_key", ResourceID: "k1",
	}
	if before != "" {
		ev.Before = json.RawMessage(before)
	}
	if after != "" {
		ev.After = json.RawMessage(after)
	}
	return ev
}

// listAudit returns every record of tenant, newest first, in pages of size.
func listAudit(t *testing.T, s domain.Store, tenant domain.Tenant, size int) []domain.AuditEvent {
	t.Helper()
	var all []domain.AuditEvent
	q := domain.AuditQuery{Limit: size}
	for range 100 {
		page, err := s.ListAuditEvents(ctx(t), tenant.ID, q)
		if err != nil {
			t.Fatalf("ListAuditEvents: %v", err)
		}
		if len(page) > size {
			t.Fatalf("ListAuditEvents returned %d records, limit %d", len(page), size)
		}
		all = append(all, page...)
		if len(page) < size {
			return all
		}
		last := page[len(page)-1]
		q.After = &domain.AuditCursor{Time: last.Time, ID: last.ID}
	}
	t.Fatal("ListAuditEvents does not end")
	return nil
}

// sameJSON reports whether a and b are the same JSON document (or both nil).
func sameJSON(a, b json.RawMessage) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

// wantAudit fails unless got holds the records want, in that order, equal
// but for JSON formatting, times in UTC at microsecond precision.
func wantAudit(t *testing.T, what string, got, want []domain.AuditEvent) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d records, want %d:\n got %+v\nwant %+v", what, len(got), len(want), got, want)
	}
	for i := range want {
		g, w := got[i], want[i]
		w.Time = w.Time.UTC().Truncate(time.Microsecond)
		if !sameJSON(g.Before, w.Before) || !sameJSON(g.After, w.After) {
			t.Fatalf("%s: record %d: before %s after %s, want %s and %s", what, i, g.Before, g.After, w.Before, w.After)
		}
		g.Before, g.After, w.Before, w.After = nil, nil, nil, nil
		wantEqual(t, fmt.Sprintf("%s: record %d", what, i), g, w)
	}
}

var auditTests = []test{
	{"Audit/AppendList", func(t *testing.T, s domain.Store) {
		tn := newTenant(t, s)
		cet := time.FixedZone("CET", 3600)
		evs := []domain.AuditEvent{
			auditEvent(tn, "api_key.create", time.Date(2024, 3, 1, 10, 0, 0, 123456789, cet), "", `{"id": "k1", "role": "admin", "n": 1.5, "tags": ["a", "b"]}`),
			auditEvent(tn, "api_key.revoke", t0.Add(time.Hour), `{"id":"k1"}`, `{"id":"k1","revoke_time":"2024-03-01T11:00:00Z"}`),
			auditEvent(tn, "customer.erase", t0.Add(time.Hour), `{"id":"c1","external_id":"crm-1"}`, ""),
			auditEvent(tn, "rule.update", t0.Add(2*time.Hour), `{"points": 5}`, `{"points": 10}`),
			auditEvent(tn, "segment.delete", t0.Add(-time.Hour), `[1, 2]`, `null`),
		}
		evs[2].Actor, evs[2].KeyID, evs[2].Role = domain.ActorCLI, "", ""
		if err := s.AppendAuditEvents(ctx(t), tn.ID, evs[:2]...); err != nil {
			t.Fatalf("AppendAuditEvents: %v", err)
		}
		for _, ev := range evs[2:] {
			if err := s.AppendAuditEvents(ctx(t), tn.ID, ev); err != nil {
				t.Fatalf("AppendAuditEvents: %v", err)
			}
		}
		// Newest first; the two records of 11:00 by id, descending.
		want := []domain.AuditEvent{evs[3], evs[1], evs[2], evs[0], evs[4]}
		if want[1].ID < want[2].ID {
			want[1], want[2] = want[2], want[1]
		}
		for _, size := range []int{1, 2, 5, 10} {
			wantAudit(t, fmt.Sprintf("pages of %d", size), listAudit(t, s, tn, size), want)
		}
		none, err := s.ListAuditEvents(ctx(t), newTenant(t, s).ID, domain.AuditQuery{Limit: 10})
		if err != nil || len(none) != 0 {
			t.Fatalf("a new tenant's audit log = %v, %v", none, err)
		}
		_, err = s.ListAuditEvents(ctx(t), tn.ID, domain.AuditQuery{Limit: 10, After: &domain.AuditCursor{Time: t0, ID: "nope"}})
		wantErr(t, "malformed cursor", err, domain.ErrInvalid)
	}},
	{"Audit/AllOrNothing", func(t *testing.T, s domain.Store) {
		tn := newTenant(t, s)
		first := auditEvent(tn, "a.b", t0, "", `{}`)
		if err := s.AppendAuditEvents(ctx(t), tn.ID, first); err != nil {
			t.Fatalf("AppendAuditEvents: %v", err)
		}
		err := s.AppendAuditEvents(ctx(t), tn.ID, auditEvent(tn, "a.b", t0, "", ""), first)
		wantErr(t, "a known id", err, domain.ErrConflict)
		bad := auditEvent(tn, "a.b", t0, "", `{"x": `)
		wantErr(t, "malformed JSON", s.AppendAuditEvents(ctx(t), tn.ID, auditEvent(tn, "a.b", t0, "", ""), bad), domain.ErrInvalid)
		bad = auditEvent(tn, "a.b", t0, "", "")
		bad.ID = "not-a-uuid"
		wantErr(t, "malformed id", s.AppendAuditEvents(ctx(t), tn.ID, bad), domain.ErrInvalid)
		bad = auditEvent(tn, "a.b", t0, "", "")
		bad.Action = ""
		wantErr(t, "no action", s.AppendAuditEvents(ctx(t), tn.ID, bad), domain.ErrInvalid)
		wantErr(t, "unknown tenant", s.AppendAuditEvents(ctx(t), domain.NewID(), auditEvent(tn, "a.b", t0, "", "")), domain.ErrNotFound)
		wantAudit(t, "after failed appends", listAudit(t, s, tn, 10), []domain.AuditEvent{first})
	}},
	{"Audit/Isolation", func(t *testing.T, s domain.Store) {
		a, b := newTenant(t, s), newTenant(t, s)
		theirs := auditEvent(b, "a.b", t0, "", `{"secret": "b"}`)
		if err := s.AppendAuditEvents(ctx(t), b.ID, theirs); err != nil {
			t.Fatal(err)
		}
		got, err := s.ListAuditEvents(ctx(t), a.ID, domain.AuditQuery{Limit: 10, After: &domain.AuditCursor{Time: t0.Add(time.Hour), ID: domain.NewID()}})
		if err != nil || len(got) != 0 {
			t.Fatalf("A's audit log with a cursor past B's record = %v, %v", got, err)
		}
		wantAudit(t, "A's audit log", listAudit(t, s, a, 10), nil)
		theirs.TenantID = b.ID
		wantAudit(t, "B's audit log", listAudit(t, s, b, 10), []domain.AuditEvent{theirs})
	}},
	{"Audit/WithTheirChange", func(t *testing.T, s domain.Store) {
		// A record given to a change is stored with it, and not at all when
		// the change fails.
		a, b := newTenant(t, s), newTenant(t, s)
		var want []domain.AuditEvent
		k := newKey(a, "k", t0)
		ev := auditEvent(a, domain.AuditCreateAPIKey, t0, "", `{"id": "`+k.ID+`"}`)
		if err := s.CreateAPIKey(ctx(t), k, ev); err != nil {
			t.Fatalf("CreateAPIKey: %v", err)
		}
		want = append(want, ev)
		wantErr(t, "create a key that exists", s.CreateAPIKey(ctx(t), k, auditEvent(a, domain.AuditCreateAPIKey, t0, "", "")), domain.ErrConflict)

		ev = auditEvent(a, domain.AuditRevokeAPIKey, t0.Add(time.Minute), `{"id": "`+k.ID+`"}`, `{"id": "`+k.ID+`", "revoked": true}`)
		if _, err := s.RevokeAPIKey(ctx(t), a.ID, k.ID, t0.Add(time.Minute), ev); err != nil {
			t.Fatalf("RevokeAPIKey: %v", err)
		}
		want = append(want, ev)
		_, err := s.RevokeAPIKey(ctx(t), a.ID, "unknown", t0, auditEvent(a, domain.AuditRevokeAPIKey, t0, "", ""))
		wantErr(t, "revoke an unknown key", err, domain.ErrNotFound)
		theirs := newKey(b, "theirs", t0)
		createKey(t, s, theirs)
		_, err = s.RevokeAPIKey(ctx(t), a.ID, theirs.ID, t0, auditEvent(a, domain.AuditRevokeAPIKey, t0, "", ""))
		wantErr(t, "revoke B's key", err, domain.ErrNotFound)

		c := create(t, s, newCustomer(a, "x"))
		record(t, s, a, order("o1", "x", 100, day(1, 0)))
		err = s.DeleteCustomer(ctx(t), a.ID, domain.NewID(), auditEvent(a, domain.AuditEraseCustomer, t0, "", ""))
		wantErr(t, "erase an unknown customer", err, domain.ErrNotFound)
		bc := create(t, s, newCustomer(b, "y"))
		err = s.DeleteCustomer(ctx(t), a.ID, bc.ID, auditEvent(a, domain.AuditEraseCustomer, t0, "", ""))
		wantErr(t, "erase B's customer", err, domain.ErrNotFound)
		bad := auditEvent(a, domain.AuditEraseCustomer, t0, "", "{")
		wantErr(t, "erase with a malformed record", s.DeleteCustomer(ctx(t), a.ID, c.ID, bad), domain.ErrInvalid)
		get(t, s, a, c.ID) // still there
		ev = auditEvent(a, domain.AuditEraseCustomer, t0.Add(2*time.Minute), `{"id": "`+c.ID+`", "external_id": "x"}`, "")
		if err := s.DeleteCustomer(ctx(t), a.ID, c.ID, ev); err != nil {
			t.Fatalf("DeleteCustomer: %v", err)
		}
		want = append(want, ev)
		_, err = s.GetCustomer(ctx(t), a.ID, domain.CustomerRef{ID: c.ID})
		wantErr(t, "erased customer", err, domain.ErrNotFound)

		wantAudit(t, "A's audit log", listAudit(t, s, a, 10), []domain.AuditEvent{want[2], want[1], want[0]})
		wantAudit(t, "B's audit log", listAudit(t, s, b, 10), nil)
	}},
}
