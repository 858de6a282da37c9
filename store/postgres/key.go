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

// CreateAPIKey stores k and its audit records in one transaction;
// ErrConflict if its id exists in any tenant, ErrNotFound if its tenant
// does not exist.
func (s *Store) CreateAPIKey(ctx context.Context, k domain.APIKey, audit ...domain.AuditEvent) error {
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
	sc, ok := tenantScope(k.TenantID)
	if !ok {
		return fmt.Errorf("%w: tenant %q", domain.ErrNotFound, k.TenantID)
	}
	hash := k.SecretHash
	if hash == nil {
		hash = []byte{}
	}
	// One implicit transaction: a failing insert fails the batch, key and
	// records alike.
	return s.batch(ctx, sc, func(b *pgx.Batch) {
		b.Queue(qCreateKey, k.ID, sc.tenant, k.Name, string(k.Role), hash,
			sortTime(k.CreateTime), nullTime(k.ExpireTime), nullTime(k.RevokeTime))
		queueAudit(b, sc.tenant, audit)
	}, func(br pgx.BatchResults) error {
		if _, err := br.Exec(); err != nil {
			return err
		}
		return readAudit(br, audit)
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

// RevokeAPIKey sets the key's revoke time unless it is set already, and
// stores the audit records, in one transaction: none when the key is not
// the tenant's.
func (s *Store) RevokeAPIKey(ctx context.Context, tenantID, id string, at time.Time, audit ...domain.AuditEvent) (domain.APIKey, error) {
	if err := checkTime(at); err != nil {
		return domain.APIKey{}, fieldError("revoke_time", err)
	}
	if err := checkAudit(audit); err != nil {
		return domain.APIKey{}, err
	}
	notFound := fmt.Errorf("%w: api key %q", domain.ErrNotFound, id)
	sc, ok := tenantScope(tenantID)
	if !ok || checkText(id) != nil {
		return domain.APIKey{}, notFound
	}
	var k domain.APIKey
	err := s.tx(ctx, sc, func(b *pgx.Batch) {
		b.Queue(qRevokeKey, sc.tenant, id, nullTime(at))
		queueAudit(b, sc.tenant, audit)
	}, func(br pgx.BatchResults) (err error) {
		if k, err = scanKey(br.QueryRow()); err != nil {
			return err // no such key: the transaction, records included, is rolled back
		}
		return readAudit(br, audit)
	}, commit)
	if errors.Is(err, domain.ErrNotFound) {
		return domain.APIKey{}, notFound
	}
	return k, err
}
