package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// ServiceRole is the database role the store runs every statement as. The
// first statement of every transaction (qSetTenant, qBeginAuthentication)
// switches to it with set_config('role', …, true), whatever user the pool
// logged in as, so the service's queries never run as the tables' owner,
// who could turn row-level security off, nor as a superuser: the role owns
// nothing, cannot bypass row-level security and holds only the privileges
// that migrations/0003_security.sql grants it (rows of the service's
// tables; the audit log only appended to).
//
// The migrations create it (NOLOGIN) when the migrating user may create
// roles, and make that user a member of it. The user the service logs in
// as must be a member: the migrating user itself, or a login role of its
// own (CREATE ROLE potential_svc LOGIN; GRANT potential_app TO potential_svc).
const ServiceRole = "potential_app"

// checkServiceRole makes sure that the pool's user may switch to
// ServiceRole and that the role is as restricted as it must be: no
// superuser, no BYPASSRLS, owner of no relation. Open refuses a database
// where it is not, rather than serve tenants without isolation.
func checkServiceRole(ctx context.Context, pool *pgxpool.Pool) error {
	b := &pgx.Batch{}
	b.Queue(qServiceRole, ServiceRole)
	b.Queue(qAssumeServiceRole)
	br := pool.SendBatch(ctx, b)
	defer br.Close()
	var super, bypass bool
	var owns int64
	err := br.QueryRow().Scan(&super, &bypass, &owns)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return fmt.Errorf("postgres: role %s does not exist: run the migrations first (potential migrate)", ServiceRole)
	case err != nil:
		return fmt.Errorf("postgres: checking role %s: %w", ServiceRole, translate(err))
	case super || bypass:
		return fmt.Errorf("postgres: role %s is a superuser or bypasses row-level security: it must not (ALTER ROLE %s NOSUPERUSER NOBYPASSRLS)", ServiceRole, ServiceRole)
	case owns > 0:
		return fmt.Errorf("postgres: role %s owns %d relations: it must own none (the migrating user should)", ServiceRole, owns)
	}
	if _, err := br.Exec(); err != nil {
		return fmt.Errorf("postgres: the connecting user may not act as role %s (GRANT %s TO <user>; see the README): %w", ServiceRole, ServiceRole, translate(err))
	}
	return nil
}
