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
