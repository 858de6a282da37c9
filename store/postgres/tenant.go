package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/potentialhq/potential/domain"
)

// Times: the domain's zero time is stored as NULL where the column is
// optional and as -infinity where it is sorted or compared (the purchase and
// interaction times), which orders before every time as the zero time does.

// nullTime is t for an optional column: NULL when zero.
func nullTime(t time.Time) pgtype.Timestamptz {
	if t.IsZero() {
		return pgtype.Timestamptz{}
	}
	return pgtype.Timestamptz{Time: t, Valid: true}
}

// sortTime is t for a sorted column: -infinity when zero.
func sortTime(t time.Time) pgtype.Timestamptz {
	if t.IsZero() {
		return pgtype.Timestamptz{InfinityModifier: pgtype.NegativeInfinity, Valid: true}
	}
	return pgtype.Timestamptz{Time: t, Valid: true}
}

// goTime is a stored time in UTC; NULL and -infinity are the zero time.
func goTime(t pgtype.Timestamptz) time.Time {
	if !t.Valid || t.InfinityModifier != pgtype.Finite {
		return time.Time{}
	}
	return t.Time.UTC()
}

// CreateTenant stores t; ErrConflict if its id or name is taken.
func (s *Store) CreateTenant(ctx context.Context, t domain.Tenant) error {
	sc, ok := tenantScope(t.ID)
	if !ok {
		return domain.Invalid("id", "must be a UUID")
	}
	if err := checkText(t.Name); err != nil {
		return fieldError("name", err)
	}
	if err := checkTime(t.CreateTime); err != nil {
		return fieldError("create_time", err)
	}
	return s.batch(ctx, sc, func(b *pgx.Batch) {
		b.Queue(qCreateTenant, sc.tenant, t.Name, sortTime(t.CreateTime))
	}, func(br pgx.BatchResults) error {
		_, err := br.Exec()
		return err
	})
}

func scanTenant(row pgx.Row) (domain.Tenant, error) {
	var t domain.Tenant
	var at pgtype.Timestamptz
	if err := row.Scan(&t.ID, &t.Name, &at); err != nil {
		return domain.Tenant{}, err
	}
	t.CreateTime = goTime(at)
	return t, nil
}

// GetTenant returns a tenant by id. It reads in the tenant's own scope.
func (s *Store) GetTenant(ctx context.Context, id string) (domain.Tenant, error) {
	notFound := fmt.Errorf("%w: tenant %q", domain.ErrNotFound, id)
	sc, ok := tenantScope(id)
	if !ok {
		return domain.Tenant{}, notFound
	}
	var t domain.Tenant
	err := s.batch(ctx, sc, func(b *pgx.Batch) {
		b.Queue(qGetTenant, sc.tenant)
	}, func(br pgx.BatchResults) (err error) {
		t, err = scanTenant(br.QueryRow())
		return err
	})
	if errors.Is(err, domain.ErrNotFound) {
		return domain.Tenant{}, notFound
	}
	return t, err
}

// FindTenant returns a tenant by name. It reads in the authentication scope:
// it is how a server finds its bootstrap tenant before it knows its id.
func (s *Store) FindTenant(ctx context.Context, name string) (domain.Tenant, error) {
	notFound := fmt.Errorf("%w: tenant named %q", domain.ErrNotFound, name)
	if checkText(name) != nil {
		return domain.Tenant{}, notFound
	}
	var t domain.Tenant
	err := s.batch(ctx, authScope, func(b *pgx.Batch) {
		b.Queue(qFindTenant, name)
	}, func(br pgx.BatchResults) (err error) {
		t, err = scanTenant(br.QueryRow())
		return err
	})
	if errors.Is(err, domain.ErrNotFound) {
		return domain.Tenant{}, notFound
	}
	return t, err
}

// CreateAPIKey stores k; ErrConflict if its id exists in any tenant,
// ErrNotFound if its tenant does not exist.
func (s *Store) CreateAPIKey(ctx context.Context, k domain.APIKey) error {
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
	sc, ok := tenantScope(k.TenantID)
	if !ok {
		return fmt.Errorf("%w: tenant %q", domain.ErrNotFound, k.TenantID)
	}
	hash := k.SecretHash
	if hash == nil {
		hash = []byte{}
	}
	return s.batch(ctx, sc, func(b *pgx.Batch) {
		b.Queue(qCreateKey, k.ID, sc.tenant, k.Name, string(k.Role), hash,
			sortTime(k.CreateTime), nullTime(k.ExpireTime), nullTime(k.RevokeTime))
	}, func(br pgx.BatchResults) error {
		_, err := br.Exec()
		return err
	})
}

func scanKey(row pgx.Row) (domain.APIKey, error) {
	var k domain.APIKey
	var role string
	var created, expires, revoked pgtype.Timestamptz
	if err := row.Scan(&k.ID, &k.TenantID, &k.Name, &role, &k.SecretHash, &created, &expires, &revoked); err != nil {
		return domain.APIKey{}, err
	}
	k.Role = domain.Role(role)
	k.CreateTime, k.ExpireTime, k.RevokeTime = goTime(created), goTime(expires), goTime(revoked)
	return k, nil
}

// GetAPIKey returns a key by id, whatever its tenant. It reads in the
// authentication scope: this lookup is what establishes the tenant.
func (s *Store) GetAPIKey(ctx context.Context, id string) (domain.APIKey, error) {
	notFound := fmt.Errorf("%w: api key %q", domain.ErrNotFound, id)
	if checkText(id) != nil {
		return domain.APIKey{}, notFound
	}
	var k domain.APIKey
	err := s.batch(ctx, authScope, func(b *pgx.Batch) {
		b.Queue(qGetKey, id)
	}, func(br pgx.BatchResults) (err error) {
		k, err = scanKey(br.QueryRow())
		return err
	})
	if errors.Is(err, domain.ErrNotFound) {
		return domain.APIKey{}, notFound
	}
	return k, err
}

// ListAPIKeys returns a tenant's keys, newest first (ties by id, descending).
func (s *Store) ListAPIKeys(ctx context.Context, tenantID string) ([]domain.APIKey, error) {
	sc, ok := tenantScope(tenantID)
	if !ok {
		return nil, nil
	}
	var keys []domain.APIKey
	err := s.batch(ctx, sc, func(b *pgx.Batch) {
		b.Queue(qListKeys, sc.tenant)
	}, func(br pgx.BatchResults) error {
		rows, err := br.Query()
		if err != nil {
			return err
		}
		keys, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (domain.APIKey, error) { return scanKey(row) })
		return err
	})
	if len(keys) == 0 {
		keys = nil
	}
	return keys, err
}

// RevokeAPIKey sets the key's revoke time unless it is set already.
func (s *Store) RevokeAPIKey(ctx context.Context, tenantID, id string, at time.Time) (domain.APIKey, error) {
	if err := checkTime(at); err != nil {
		return domain.APIKey{}, fieldError("revoke_time", err)
	}
	notFound := fmt.Errorf("%w: api key %q", domain.ErrNotFound, id)
	sc, ok := tenantScope(tenantID)
	if !ok || checkText(id) != nil {
		return domain.APIKey{}, notFound
	}
	var k domain.APIKey
	err := s.batch(ctx, sc, func(b *pgx.Batch) {
		b.Queue(qRevokeKey, sc.tenant, id, nullTime(at))
	}, func(br pgx.BatchResults) (err error) {
		k, err = scanKey(br.QueryRow())
		return err
	})
	if errors.Is(err, domain.ErrNotFound) {
		return domain.APIKey{}, notFound
	}
	return k, err
}
