package storetest

import (
	"bytes"
	"testing"
	"time"

	"github.com/potentialhq/potential/domain"
)

var tenantTests = []test{
	{"Tenant/CreateGetFind", func(t *testing.T, s domain.Store) {
		// A time in another zone with nanoseconds comes back in UTC, to the microsecond.
		at := time.Date(2024, 3, 1, 12, 30, 0, 123456789, time.FixedZone("CET", 3600))
		tn := domain.Tenant{ID: domain.NewID(), Name: "acme", CreateTime: at}
		if err := s.CreateTenant(ctx(t), tn); err != nil {
			t.Fatalf("CreateTenant: %v", err)
		}
		want := domain.Tenant{ID: tn.ID, Name: "acme", CreateTime: time.Date(2024, 3, 1, 11, 30, 0, 123456000, time.UTC)}
		got, err := s.GetTenant(ctx(t), tn.ID)
		if err != nil {
			t.Fatalf("GetTenant: %v", err)
		}
		wantEqual(t, "GetTenant", got, want)
		got, err = s.FindTenant(ctx(t), "acme")
		if err != nil {
			t.Fatalf("FindTenant: %v", err)
		}
		wantEqual(t, "FindTenant", got, want)
	}},
	{"Tenant/Conflict", func(t *testing.T, s domain.Store) {
		tn := newTenant(t, s)
		err := s.CreateTenant(ctx(t), domain.Tenant{ID: domain.NewID(), Name: tn.Name, CreateTime: t0})
		wantErr(t, "same name", err, domain.ErrConflict)
		err = s.CreateTenant(ctx(t), domain.Tenant{ID: tn.ID, Name: "other", CreateTime: t0})
		wantErr(t, "same id", err, domain.ErrConflict)
		_, err = s.FindTenant(ctx(t), "other")
		wantErr(t, "FindTenant after a failed create", err, domain.ErrNotFound)
	}},
	{"Tenant/NotFound", func(t *testing.T, s domain.Store) {
		newTenant(t, s)
		_, err := s.GetTenant(ctx(t), domain.NewID())
		wantErr(t, "GetTenant(unknown)", err, domain.ErrNotFound)
		_, err = s.GetTenant(ctx(t), "not-a-uuid")
		wantErr(t, "GetTenant(malformed)", err, domain.ErrNotFound)
		_, err = s.FindTenant(ctx(t), "nobody")
		wantErr(t, "FindTenant(unknown)", err, domain.ErrNotFound)
	}},
	{"Tenant/Invalid", func(t *testing.T, s domain.Store) {
		err := s.CreateTenant(ctx(t), domain.Tenant{ID: "not-a-uuid", Name: "x", CreateTime: t0})
		wantErr(t, "malformed id", err, domain.ErrInvalid)
		err = s.CreateTenant(ctx(t), domain.Tenant{ID: domain.NewID(), Name: "nul\x00", CreateTime: t0})
		wantErr(t, "NUL in name", err, domain.ErrInvalid)
	}},
}

// newKey returns a key of tenant created at at.
func newKey(tenant domain.Tenant, name string, at time.Time) domain.APIKey {
	k, _ := domain.NewAPIKey(tenant.ID, name, domain.RoleAnalyst, at)
	return k
}

func createKey(t *testing.T, s domain.Store, k domain.APIKey) {
	t.Helper()
	if err := s.CreateAPIKey(ctx(t), k); err != nil {
		t.Fatalf("CreateAPIKey: %v", err)
	}
}

func wantKey(t *testing.T, what string, got, want domain.APIKey) {
	t.Helper()
	if !bytes.Equal(got.SecretHash, want.SecretHash) {
		t.Fatalf("%s: secret hash %x, want %x", what, got.SecretHash, want.SecretHash)
	}
	got.SecretHash, want.SecretHash = nil, nil
	wantEqual(t, what, got, want)
}

var keyTests = []test{
	{"APIKey/CreateGet", func(t *testing.T, s domain.Store) {
		tn := newTenant(t, s)
		k, text := domain.NewAPIKey(tn.ID, "ci", domain.RoleIngest, t0)
		k.ExpireTime = t0.Add(24 * time.Hour)
		createKey(t, s, k)
		want := k
		want.SecretHash = bytes.Clone(k.SecretHash)
		k.SecretHash[0] ^= 0xff // the store keeps its own copy
		got, err := s.GetAPIKey(ctx(t), k.ID)
		if err != nil {
			t.Fatalf("GetAPIKey: %v", err)
		}
		wantKey(t, "GetAPIKey", got, want)
		_, secret, _ := domain.ParseAPIKey(text)
		if !got.Matches(secret) {
			t.Fatal("the stored key does not match its secret")
		}
		got.SecretHash[0] ^= 0xff
		again, _ := s.GetAPIKey(ctx(t), k.ID)
		wantKey(t, "GetAPIKey after changing a returned key", again, want)
		_, err = s.GetAPIKey(ctx(t), "unknown")
		wantErr(t, "GetAPIKey(unknown)", err, domain.ErrNotFound)
	}},
	{"APIKey/Conflict", func(t *testing.T, s domain.Store) {
		a, b := newTenant(t, s), newTenant(t, s)
		k := newKey(a, "first", t0)
		createKey(t, s, k)
		dup := newKey(b, "second", t0)
		dup.ID = k.ID
		wantErr(t, "same id in another tenant", s.CreateAPIKey(ctx(t), dup), domain.ErrConflict)
		got, _ := s.GetAPIKey(ctx(t), k.ID)
		if got.TenantID != a.ID || got.Name != "first" {
			t.Fatalf("a conflicting create changed the key: %+v", got)
		}
	}},
	{"APIKey/UnknownTenant", func(t *testing.T, s domain.Store) {
		err := s.CreateAPIKey(ctx(t), newKey(domain.Tenant{ID: domain.NewID()}, "k", t0))
		wantErr(t, "unknown tenant", err, domain.ErrNotFound)
		err = s.CreateAPIKey(ctx(t), newKey(domain.Tenant{ID: "not-a-uuid"}, "k", t0))
		wantErr(t, "malformed tenant", err, domain.ErrNotFound)
	}},
	{"APIKey/ListNewestFirst", func(t *testing.T, s domain.Store) {
		a, b := newTenant(t, s), newTenant(t, s)
		k1 := newKey(a, "oldest", t0)
		k2 := newKey(a, "tie-1", t0.Add(time.Hour))
		k3 := newKey(a, "tie-2", t0.Add(time.Hour))
		k4 := newKey(a, "newest", t0.Add(2*time.Hour))
		k2.ID, k3.ID = "aaaaaaaa", "bbbbbbbb" // same time: by id, descending
		for _, k := range []domain.APIKey{k3, k1, k4, k2, newKey(b, "other tenant", t0.Add(3*time.Hour))} {
			createKey(t, s, k)
		}
		keys, err := s.ListAPIKeys(ctx(t), a.ID)
		if err != nil {
			t.Fatalf("ListAPIKeys: %v", err)
		}
		var names []string
		for _, k := range keys {
			names = append(names, k.Name)
		}
		wantEqual(t, "names", names, []string{"newest", "tie-2", "tie-1", "oldest"})
		none, err := s.ListAPIKeys(ctx(t), domain.NewID())
		if err != nil || len(none) != 0 {
			t.Fatalf("ListAPIKeys(unknown tenant) = %v, %v; want none", none, err)
		}
	}},
	{"APIKey/Revoke", func(t *testing.T, s domain.Store) {
		a, b := newTenant(t, s), newTenant(t, s)
		k := newKey(a, "k", t0)
		createKey(t, s, k)
		_, err := s.RevokeAPIKey(ctx(t), b.ID, k.ID, t0)
		wantErr(t, "revoke from another tenant", err, domain.ErrNotFound)
		_, err = s.RevokeAPIKey(ctx(t), a.ID, "unknown", t0)
		wantErr(t, "revoke unknown", err, domain.ErrNotFound)
		first := t0.Add(time.Hour + 1500*time.Nanosecond)
		got, err := s.RevokeAPIKey(ctx(t), a.ID, k.ID, first)
		if err != nil {
			t.Fatalf("RevokeAPIKey: %v", err)
		}
		want := t0.Add(time.Hour + time.Microsecond)
		if !got.RevokeTime.Equal(want) {
			t.Fatalf("revoke time %v, want %v", got.RevokeTime, want)
		}
		got, err = s.RevokeAPIKey(ctx(t), a.ID, k.ID, t0.Add(2*time.Hour))
		if err != nil || !got.RevokeTime.Equal(want) {
			t.Fatalf("second revoke: %v, %v; want the first time %v kept", got.RevokeTime, err, want)
		}
		got, _ = s.GetAPIKey(ctx(t), k.ID)
		if !got.RevokeTime.Equal(want) || got.Active(t0.Add(3*time.Hour)) {
			t.Fatalf("stored key %+v: want revoked at %v", got, want)
		}
	}},
}
