package domain

import (
	"context"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"
)

// keyView is what the audit log records of an API key: everything but the
// hash of its secret.
type keyView struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	Role       Role       `json:"role"`
	CreateTime time.Time  `json:"create_time"`
	ExpireTime *time.Time `json:"expire_time,omitempty"`
	RevokeTime *time.Time `json:"revoke_time,omitempty"`
}

func viewKey(k APIKey) keyView {
	v := keyView{ID: k.ID, Name: k.Name, Role: k.Role, CreateTime: k.CreateTime}
	if !k.ExpireTime.IsZero() {
		v.ExpireTime = &k.ExpireTime
	}
	if !k.RevokeTime.IsZero() {
		v.RevokeTime = &k.RevokeTime
	}
	return v
}

// CreateKey creates an API key in the caller's tenant and returns it with
// its text, to be shown once: only the hash of its secret is stored. A zero
// expire means the key never expires; else it must be in the future. The
// creation is audited in the same transaction.
func (s *Service) CreateKey(ctx context.Context, name string, role Role, expire time.Time) (APIKey, string, error) {
	p, err := PrincipalFrom(ctx)
	if err != nil {
		return APIKey{}, "", err
	}
	if name == "" || utf8.RuneCountInString(name) > 128 {
		return APIKey{}, "", Invalid("display_name", "must be 1-128 characters")
	}
	if !role.Valid() {
		return APIKey{}, "", Invalid("role", "unknown role %q", role)
	}
	now := s.Now()
	if !expire.IsZero() && !expire.After(now) {
		return APIKey{}, "", Invalid("expire_time", "must be in the future")
	}
	k, text := NewAPIKey(p.TenantID, name, role, now)
	k.ExpireTime = expire.UTC().Truncate(time.Microsecond)
	ev, err := s.NewAuditEvent(ctx, AuditCreateAPIKey, "api_key", k.ID, nil, viewKey(k))
	if err != nil {
		return APIKey{}, "", err
	}
	if err := s.store.CreateAPIKey(ctx, k, ev); err != nil {
		return APIKey{}, "", err
	}
	return k, text, nil
}

// ListKeys returns one page of the caller's keys, newest first, and the
// token of the next page ("" on the last). Keys carry the hash of their
// secret, which callers must not show.
func (s *Service) ListKeys(ctx context.Context, pageSize int, pageToken string) ([]APIKey, string, error) {
	p, err := PrincipalFrom(ctx)
	if err != nil {
		return nil, "", err
	}
	size, err := pageLimit(pageSize)
	if err != nil {
		return nil, "", err
	}
	cur, err := DecodePageToken(p.TenantID, "api_keys", "create_time desc", pageToken)
	if err != nil {
		return nil, "", err
	}
	// A tenant has a handful of keys: page through the whole list, which
	// the store returns newest first, ties by id descending.
	keys, err := s.store.ListAPIKeys(ctx, p.TenantID)
	if err != nil {
		return nil, "", err
	}
	start := 0
	if cur != nil {
		at, ok := cur.Value.(time.Time)
		if !ok {
			return nil, "", Invalid("page_token", "malformed page token")
		}
		for start < len(keys) {
			k := keys[start]
			if k.CreateTime.Before(at) || (k.CreateTime.Equal(at) && k.ID < cur.ID) {
				break
			}
			start++
		}
	}
	keys, next := trimPage(keys[start:], size, func(last *APIKey) string {
		return EncodePageToken(p.TenantID, "api_keys", "create_time desc", Cursor{Value: last.CreateTime, ID: last.ID})
	})
	return keys, next, nil
}

// RevokeKey revokes a key of the caller's tenant: every server rejects it
// within KeyCacheTTL (this one forgets its cached copy at once). Revoking a revoked key keeps its first revoke time. The
// revocation is audited in the same transaction. ErrNotFound if the key is
// not the tenant's.
func (s *Service) RevokeKey(ctx context.Context, id string) (APIKey, error) {
	p, err := PrincipalFrom(ctx)
	if err != nil {
		return APIKey{}, err
	}
	notFound := fmt.Errorf("%w: api key %q", ErrNotFound, id)
	cur, err := s.store.GetAPIKey(ctx, id)
	if errors.Is(err, ErrNotFound) || (err == nil && cur.TenantID != p.TenantID) {
		return APIKey{}, notFound
	}
	if err != nil {
		return APIKey{}, err
	}
	now := s.Now()
	after := cur
	if after.RevokeTime.IsZero() {
		after.RevokeTime = now
	}
	ev, err := s.NewAuditEvent(ctx, AuditRevokeAPIKey, "api_key", id, viewKey(cur), viewKey(after))
	if err != nil {
		return APIKey{}, err
	}
	k, err := s.store.RevokeAPIKey(ctx, p.TenantID, id, now, ev)
	if err != nil {
		return APIKey{}, err
	}
	s.keyCache.Delete(id)
	return k, nil
}

// Authenticate resolves a bearer key to its principal. Unknown, malformed,
// revoked and expired keys are ErrUnauthenticated.
//
// A key read from the store is trusted for KeyCacheTTL: a key revoked
// elsewhere (another server, the command line) is rejected at most that
// long after its revocation. Its
// expiry is checked on every call, cached or not, so an expired key is
// rejected from its expire time on.
func (s *Service) Authenticate(ctx context.Context, keyText string) (Principal, error) {
	id, secret, err := ParseAPIKey(keyText)
	if err != nil {
		return Principal{}, err
	}
	now := s.now()
	var k APIKey
	if c, ok := s.keyCache.Load(id); ok && now.Sub(c.(cachedKey).fetched) < KeyCacheTTL && !now.Before(c.(cachedKey).fetched) {
		k = c.(cachedKey).key
	} else {
		k, err = s.store.GetAPIKey(ctx, id)
		switch {
		case errors.Is(err, ErrNotFound):
			return Principal{}, fmt.Errorf("%w: unknown api key", ErrUnauthenticated)
		case err != nil:
			return Principal{}, err
		}
		s.keyCache.Store(id, cachedKey{key: k, fetched: now})
	}
	if !k.Matches(secret) {
		return Principal{}, fmt.Errorf("%w: unknown api key", ErrUnauthenticated)
	}
	if !k.Active(now) {
		return Principal{}, fmt.Errorf("%w: api key revoked or expired", ErrUnauthenticated)
	}
	return Principal{TenantID: k.TenantID, KeyID: k.ID, Role: k.Role}, nil
}

// KeyState is whether a key authenticates calls.
type KeyState string

// Key states.
const (
	KeyActive  KeyState = "active"
	KeyExpired KeyState = "expired" // its expire time has passed
	KeyRevoked KeyState = "revoked"
)

// State returns the key's state at now. A key both revoked and expired is
// revoked.
func (k APIKey) State(now time.Time) KeyState {
	switch {
	case !k.RevokeTime.IsZero() && !now.Before(k.RevokeTime):
		return KeyRevoked
	case !k.ExpireTime.IsZero() && !now.Before(k.ExpireTime):
		return KeyExpired
	}
	return KeyActive
}
