package domain

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"fmt"
	"strings"
	"time"
)

// DefaultTenantName is the tenant created when the service starts on an empty store.
const DefaultTenantName = "default"

// Tenant is an isolated workspace. Every other record belongs to exactly one.
type Tenant struct {
	ID         string
	Name       string
	CreateTime time.Time
}

// Role decides what a principal may call. See server/roles.go for the RPC table.
type Role string

// Roles, from most to least powerful.
const (
	RoleAdmin   Role = "admin"   // everything, including keys, rules and policies
	RoleAnalyst Role = "analyst" // read all, preview changes, manage segments
	RoleSales   Role = "sales"   // read customers and assessments; submit feedback and interactions
	RoleIngest  Role = "ingest"  // write customers and events only
)

// Valid reports whether r is one of the defined roles.
func (r Role) Valid() bool {
	switch r {
	case RoleAdmin, RoleAnalyst, RoleSales, RoleIngest:
		return true
	}
	return false
}

// APIKey is a credential. Only the SHA-256 hash of its secret is stored; the
// secret itself is shown once, when the key is created.
//
// A key's text is "pk_<id>_<secret>": the id is a public, identifiable prefix
// (so a leaked key can be found in logs and revoked), the secret 160 random bits.
// A fast hash is appropriate because the secret has full entropy (it is not a
// password that could be guessed); comparison is constant-time.
type APIKey struct {
	ID         string // public prefix, unique across tenants
	TenantID   string
	Name       string
	Role       Role
	SecretHash []byte // SHA-256 of the secret part
	CreateTime time.Time
	ExpireTime time.Time // zero: never expires
	RevokeTime time.Time // zero: not revoked
}

// keyEncoding is lower-case base32 without padding: URL- and header-safe.
var keyEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// NewAPIKey makes a key with a fresh id and secret and returns it with the
// full key text, which must be shown to the user once and never stored.
func NewAPIKey(tenantID, name string, role Role, now time.Time) (APIKey, string) {
	id := make([]byte, 5)
	secret := make([]byte, 20)
	_, _ = rand.Read(id)
	_, _ = rand.Read(secret)
	k := APIKey{
		ID:         keyEncoding.EncodeToString(id),
		TenantID:   tenantID,
		Name:       name,
		Role:       role,
		CreateTime: now,
	}
	sec := keyEncoding.EncodeToString(secret)
	sum := sha256.Sum256([]byte(sec))
	k.SecretHash = sum[:]
	return k, "pk_" + k.ID + "_" + sec
}

// ParseAPIKey splits a key's text into its id and secret.
func ParseAPIKey(text string) (id, secret string, err error) {
	rest, ok := strings.CutPrefix(text, "pk_")
	if !ok {
		return "", "", fmt.Errorf("%w: malformed api key", ErrUnauthenticated)
	}
	id, secret, ok = strings.Cut(rest, "_")
	if !ok || id == "" || secret == "" {
		return "", "", fmt.Errorf("%w: malformed api key", ErrUnauthenticated)
	}
	return id, secret, nil
}

// Matches reports, in constant time, whether secret is this key's secret.
func (k APIKey) Matches(secret string) bool {
	sum := sha256.Sum256([]byte(secret))
	return subtle.ConstantTimeCompare(sum[:], k.SecretHash) == 1
}

// Active reports whether the key may be used at now.
func (k APIKey) Active(now time.Time) bool {
	if !k.RevokeTime.IsZero() && !now.Before(k.RevokeTime) {
		return false
	}
	if !k.ExpireTime.IsZero() && !now.Before(k.ExpireTime) {
		return false
	}
	return true
}

// Principal is the authenticated caller of a request.
type Principal struct {
	TenantID string
	KeyID    string
	Role     Role
}

type principalKey struct{}

// WithPrincipal returns a context carrying p.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the principal of ctx, or ErrUnauthenticated.
func PrincipalFrom(ctx context.Context) (Principal, error) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	if !ok || p.TenantID == "" {
		return Principal{}, ErrUnauthenticated
	}
	return p, nil
}

func sha256Sum(s string) []byte {
	sum := sha256.Sum256([]byte(s))
	return sum[:]
}
