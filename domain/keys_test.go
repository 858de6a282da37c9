package domain_test

import (
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/potentialhq/potential/domain"
	"github.com/potentialhq/potential/store/memory"
)

// clock is a settable clock shared by the services of a test.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Set(t time.Time) { c.mu.Lock(); c.now = t; c.mu.Unlock() }

var t0 = time.Date(2026, 5, 4, 9, 0, 0, 0, time.UTC)

// replicas returns n services over one store, as n servers of one
// deployment, and an admin context of a new tenant.
func replicas(t *testing.T, c *clock, n int) ([]*domain.Service, domain.Tenant) {
	t.Helper()
	store := memory.New()
	tn := domain.Tenant{ID: domain.NewID(), Name: "acme", CreateTime: t0}
	if err := store.CreateTenant(t.Context(), tn); err != nil {
		t.Fatal(err)
	}
	var out []*domain.Service
	for range n {
		out = append(out, domain.NewService(store, c.Now))
	}
	return out, tn
}

// admin is an admin of tn calling with the key "adminkey".
func admin(tn domain.Tenant) domain.Principal {
	return domain.Principal{TenantID: tn.ID, KeyID: "adminkey", Role: domain.RoleAdmin}
}

// TestRevokedKeyRejectedWithinCacheTTL revokes a key on one server while
// another has it cached from up to KeyCacheTTL before, and checks that the
// other rejects it at most KeyCacheTTL after the revocation, and the
// revoking server at once.
func TestRevokedKeyRejectedWithinCacheTTL(t *testing.T) {
	t.Parallel()
	for _, cachedBefore := range []time.Duration{0, time.Millisecond, 500 * time.Millisecond, domain.KeyCacheTTL - time.Microsecond} {
		c := &clock{now: t0}
		svcs, tn := replicas(t, c, 2)
		revoker, other := svcs[0], svcs[1]
		ctx := domain.WithPrincipal(t.Context(), admin(tn))
		k, text, err := revoker.CreateKey(ctx, "crm", domain.RoleIngest, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		revokeAt := t0.Add(time.Hour)
		c.Set(revokeAt.Add(-cachedBefore))
		for _, s := range svcs {
			if _, err := s.Authenticate(t.Context(), text); err != nil {
				t.Fatalf("before revocation: %v", err)
			}
		}
		c.Set(revokeAt)
		if _, err := revoker.RevokeKey(ctx, k.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := revoker.Authenticate(t.Context(), text); !errors.Is(err, domain.ErrUnauthenticated) {
			t.Fatalf("the revoking server accepts the key at once: %v", err)
		}
		var rejectedAfter time.Duration = -1
		for d := time.Duration(0); d <= 2*domain.KeyCacheTTL; d += time.Millisecond {
			c.Set(revokeAt.Add(d))
			if _, err := other.Authenticate(t.Context(), text); errors.Is(err, domain.ErrUnauthenticated) {
				rejectedAfter = d
				break
			} else if err != nil {
				t.Fatal(err)
			}
		}
		if rejectedAfter < 0 || rejectedAfter > domain.KeyCacheTTL {
			t.Errorf("cached %v before the revocation: the other server rejected the key %v after it, want at most %v", cachedBefore, rejectedAfter, domain.KeyCacheTTL)
		}
		// And for good.
		c.Set(revokeAt.Add(time.Hour))
		if _, err := other.Authenticate(t.Context(), text); !errors.Is(err, domain.ErrUnauthenticated) {
			t.Errorf("an hour later: %v", err)
		}
	}
}

// TestExpiredKeyRejected checks that a key stops working at its expire
// time, cached or not, and that a clock stepping back does not revive a
// stale cache entry.
func TestExpiredKeyRejected(t *testing.T) {
	t.Parallel()
	c := &clock{now: t0}
	svcs, tn := replicas(t, c, 1)
	svc := svcs[0]
	ctx := domain.WithPrincipal(t.Context(), admin(tn))
	expire := t0.Add(2 * time.Second)
	_, text, err := svc.CreateKey(ctx, "temp", domain.RoleSales, expire)
	if err != nil {
		t.Fatal(err)
	}
	for _, at := range []time.Time{t0, expire.Add(-500 * time.Millisecond), expire.Add(-time.Microsecond)} {
		c.Set(at)
		if p, err := svc.Authenticate(t.Context(), text); err != nil || p.Role != domain.RoleSales || p.TenantID != tn.ID {
			t.Fatalf("at %v: %+v, %v", at, p, err)
		}
	}
	for _, at := range []time.Time{expire, expire.Add(time.Millisecond), expire.Add(time.Hour)} {
		c.Set(at)
		if _, err := svc.Authenticate(t.Context(), text); !errors.Is(err, domain.ErrUnauthenticated) {
			t.Errorf("at %v, after the expire time: %v", at, err)
		}
	}
	// Expired keys cannot be made.
	c.Set(t0)
	if _, _, err := svc.CreateKey(ctx, "past", domain.RoleSales, t0); !errors.Is(err, domain.ErrInvalid) {
		t.Errorf("a key expiring now: %v, want ErrInvalid", err)
	}
}

func TestCreateKeyChecks(t *testing.T) {
	t.Parallel()
	c := &clock{now: t0}
	svcs, tn := replicas(t, c, 1)
	svc := svcs[0]
	if _, _, err := svc.CreateKey(t.Context(), "x", domain.RoleAdmin, time.Time{}); !errors.Is(err, domain.ErrUnauthenticated) {
		t.Errorf("without a principal: %v", err)
	}
	ctx := domain.WithPrincipal(t.Context(), admin(tn))
	for name, f := range map[string]func() error{
		"unknown role": func() error { _, _, err := svc.CreateKey(ctx, "x", "root", time.Time{}); return err },
		"no name":      func() error { _, _, err := svc.CreateKey(ctx, "", domain.RoleAdmin, time.Time{}); return err },
	} {
		if err := f(); !errors.Is(err, domain.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
	k, text, err := svc.CreateKey(ctx, "x", domain.RoleAnalyst, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	id, secret, _ := domain.ParseAPIKey(text)
	if id != k.ID || !k.Matches(secret) || string(k.SecretHash) == secret || len(k.SecretHash) != 32 {
		t.Errorf("key %+v with text %q", k, text)
	}
}

// TestAuditOfKeysAndErasure checks the records that key changes and an
// erasure leave: who, when, what, before and after; paged newest first; and
// a page token that only its tenant can use.
func TestAuditOfKeysAndErasure(t *testing.T) {
	t.Parallel()
	c := &clock{now: t0}
	svcs, tn := replicas(t, c, 1)
	svc := svcs[0]
	ctx := domain.WithPrincipal(t.Context(), admin(tn))
	k, _, err := svc.CreateKey(ctx, "crm", domain.RoleIngest, t0.Add(48*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	c.Set(t0.Add(time.Minute))
	if _, err := svc.RevokeKey(ctx, k.ID); err != nil {
		t.Fatal(err)
	}
	c.Set(t0.Add(2 * time.Minute))
	cust, err := svc.CreateCustomer(ctx, domain.Customer{ExternalID: "crm-7", Kind: domain.KindLead, GivenName: "Ada", Email: "ada@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	c.Set(t0.Add(3 * time.Minute))
	if err := svc.DeleteCustomer(ctx, cust.ID, ""); err != nil {
		t.Fatal(err)
	}
	// From the command line.
	cli := domain.WithPrincipal(t.Context(), domain.CommandLine(tn.ID))
	c.Set(t0.Add(4 * time.Minute))
	k2, _, err := svc.CreateKey(cli, "ops", domain.RoleAdmin, time.Time{})
	if err != nil {
		t.Fatal(err)
	}

	var got []domain.AuditEvent
	token := ""
	for range 10 {
		page, next, err := svc.ListAuditEvents(ctx, 1, token)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, page...)
		if token = next; token == "" {
			break
		}
	}
	type rec struct {
		action, resource string
		at               time.Time
		actor            domain.Actor
		keyID            string
		before, after    string
	}
	want := []rec{
		{domain.AuditCreateAPIKey, k2.ID, t0.Add(4 * time.Minute), domain.ActorCLI, "", ``,
			`{"id":"` + k2.ID + `","name":"ops","role":"admin","create_time":"2026-05-04T09:04:00Z"}`},
		{domain.AuditEraseCustomer, cust.ID, t0.Add(3 * time.Minute), domain.ActorAPIKey, "adminkey",
			`{"id":"` + cust.ID + `","external_id":"crm-7"}`, ``},
		{domain.AuditRevokeAPIKey, k.ID, t0.Add(time.Minute), domain.ActorAPIKey, "adminkey",
			`{"id":"` + k.ID + `","name":"crm","role":"ingest","create_time":"2026-05-04T09:00:00Z","expire_time":"2026-05-06T09:00:00Z"}`,
			`{"id":"` + k.ID + `","name":"crm","role":"ingest","create_time":"2026-05-04T09:00:00Z","expire_time":"2026-05-06T09:00:00Z","revoke_time":"2026-05-04T09:01:00Z"}`},
		{domain.AuditCreateAPIKey, k.ID, t0, domain.ActorAPIKey, "adminkey", ``,
			`{"id":"` + k.ID + `","name":"crm","role":"ingest","create_time":"2026-05-04T09:00:00Z","expire_time":"2026-05-06T09:00:00Z"}`},
	}
	if len(got) != len(want) {
		t.Fatalf("audit log has %d records, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		g := got[i]
		wantRole := domain.RoleAdmin
		if g.Action != w.action || g.ResourceID != w.resource || !g.Time.Equal(w.at) || g.Actor != w.actor || g.KeyID != w.keyID ||
			g.Role != wantRole || g.TenantID != tn.ID || !sameJSON(g.Before, w.before) || !sameJSON(g.After, w.after) {
			t.Errorf("record %d:\n got %+v (before %s, after %s)\nwant %+v", i, g, g.Before, g.After, w)
		}
	}

	// Another tenant's page token is refused, and that tenant sees nothing.
	other := domain.Tenant{ID: domain.NewID(), Name: "other", CreateTime: t0}
	if err := svc.Store().CreateTenant(t.Context(), other); err != nil {
		t.Fatal(err)
	}
	octx := domain.WithPrincipal(t.Context(), domain.Principal{TenantID: other.ID, KeyID: "o", Role: domain.RoleAdmin})
	_, next, _ := svc.ListAuditEvents(ctx, 1, "")
	if _, _, err := svc.ListAuditEvents(octx, 1, next); !errors.Is(err, domain.ErrInvalid) {
		t.Errorf("another tenant's page token: %v, want ErrInvalid", err)
	}
	if evs, _, err := svc.ListAuditEvents(octx, 10, ""); err != nil || len(evs) != 0 {
		t.Errorf("the other tenant's audit log: %v, %v", evs, err)
	}
	if _, err := svc.RevokeKey(octx, k2.ID); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("revoking another tenant's key: %v, want ErrNotFound", err)
	}
}

func TestListKeysPages(t *testing.T) {
	t.Parallel()
	c := &clock{now: t0}
	svcs, tn := replicas(t, c, 1)
	svc := svcs[0]
	ctx := domain.WithPrincipal(t.Context(), admin(tn))
	for i := range 5 {
		c.Set(t0.Add(time.Duration(i/2) * time.Minute)) // two keys share each time
		if _, _, err := svc.CreateKey(ctx, "k", domain.RoleSales, time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
	all, _, err := svc.ListKeys(ctx, 100, "")
	if err != nil || len(all) != 5 {
		t.Fatalf("ListKeys = %v, %v", all, err)
	}
	for _, size := range []int{1, 2, 3} {
		var got []string
		token := ""
		for range 10 {
			page, next, err := svc.ListKeys(ctx, size, token)
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range page {
				got = append(got, k.ID)
			}
			if token = next; token == "" {
				break
			}
		}
		if len(got) != 5 {
			t.Fatalf("pages of %d: %v", size, got)
		}
		for i := range got {
			if got[i] != all[i].ID {
				t.Fatalf("pages of %d: %v, want %v", size, got, all)
			}
		}
	}
	if _, _, err := svc.ListKeys(ctx, -1, ""); !errors.Is(err, domain.ErrInvalid) {
		t.Errorf("negative page size: %v", err)
	}
}

// sameJSON reports whether doc is the JSON document want ("" for none).
func sameJSON(doc json.RawMessage, want string) bool {
	if want == "" {
		return doc == nil
	}
	var a, b any
	if json.Unmarshal(doc, &a) != nil || json.Unmarshal([]byte(want), &b) != nil {
		return false
	}
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}
