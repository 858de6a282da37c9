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

// Leased time-driven work (domain.JobStore). A claim is one round trip: the
// job's row is created if missing and leased with SELECT … FOR UPDATE SKIP
// LOCKED, so concurrent schedulers never wait for each other and never both
// claim it. The lease itself is the row's token and expiry, not a lock held
// by a session: it outlives the claim's transaction and works behind
// PgBouncer's transaction pooling.

var _ domain.JobStore = (*Store)(nil)

// ClaimJob claims the tenant's job name for owner until now+ttl if it is due
// and not leased.
func (s *Store) ClaimJob(ctx context.Context, tenantID, name string, first, now time.Time, owner string, ttl time.Duration) (domain.JobLease, bool, error) {
	sc, ok := tenantScope(tenantID)
	if !ok {
		return domain.JobLease{}, false, fmt.Errorf("%w: tenant %q", domain.ErrNotFound, tenantID)
	}
	if err := checkText(name + owner); err != nil {
		return domain.JobLease{}, false, err
	}
	now = now.UTC().Truncate(time.Microsecond)
	l := domain.JobLease{TenantID: sc.tenant, Name: name, Owner: owner, Token: domain.NewID(), Claimed: now, Expires: now.Add(ttl)}
	claimed := false
	err := s.batch(ctx, sc, func(b *pgx.Batch) {
		b.Queue(qEnsureJob, sc.tenant, name, first)
		b.Queue(qClaimJob, sc.tenant, name, now, owner, l.Token, l.Expires)
	}, func(br pgx.BatchResults) error {
		if _, err := br.Exec(); err != nil {
			return err
		}
		var slot pgtype.Timestamptz
		err := br.QueryRow().Scan(&slot, &l.Attempt)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			claimed = false
			return nil
		case err != nil:
			return err
		}
		l.Slot, claimed = goTime(slot), true
		return nil
	})
	if err != nil || !claimed {
		return domain.JobLease{}, false, err
	}
	return l, true, nil
}

// ExtendJobLease moves l's expiry to until while l holds the job.
func (s *Store) ExtendJobLease(ctx context.Context, l domain.JobLease, until time.Time) error {
	sc, ok := tenantScope(l.TenantID)
	token, tokOK := parseID(l.Token)
	if !ok || !tokOK {
		return domain.ErrLeaseLost
	}
	return s.batch(ctx, sc, func(b *pgx.Batch) {
		b.Queue(qExtendJobLease, sc.tenant, l.Name, token, until)
	}, func(br pgx.BatchResults) error {
		var one int
		if err := br.QueryRow().Scan(&one); errors.Is(err, pgx.ErrNoRows) {
			return domain.ErrLeaseLost
		} else if err != nil {
			return err
		}
		return nil
	})
}

// CompleteJob logs l's slot as run and moves the job to slot next, while l
// holds the job.
func (s *Store) CompleteJob(ctx context.Context, l domain.JobLease, finished, next time.Time) error {
	sc, ok := tenantScope(l.TenantID)
	token, tokOK := parseID(l.Token)
	if !ok || !tokOK {
		return domain.ErrLeaseLost
	}
	return s.batch(ctx, sc, func(b *pgx.Batch) {
		b.Queue(qCompleteJob, sc.tenant, l.Name, token, next, l.Slot, l.Owner, l.Attempt, l.Claimed, finished,
			l.Slot.Add(-domain.JobRunRetention))
	}, func(br pgx.BatchResults) error {
		var one int
		if err := br.QueryRow().Scan(&one); errors.Is(err, pgx.ErrNoRows) {
			return domain.ErrLeaseLost
		} else if err != nil {
			return err
		}
		return nil
	})
}

// ListJobRuns returns the tenant's run log, by job name, then slot.
func (s *Store) ListJobRuns(ctx context.Context, tenantID string) ([]domain.JobRun, error) {
	sc, ok := tenantScope(tenantID)
	if !ok {
		return nil, nil
	}
	var out []domain.JobRun
	err := s.batch(ctx, sc, func(b *pgx.Batch) {
		b.Queue(qListJobRuns, sc.tenant)
	}, func(br pgx.BatchResults) error {
		rows, err := br.Query()
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (domain.JobRun, error) {
			r := domain.JobRun{TenantID: sc.tenant}
			var slot, claimed, finished pgtype.Timestamptz
			err := row.Scan(&r.Name, &slot, &r.Owner, &r.Attempt, &claimed, &finished)
			r.Slot, r.Claimed, r.Finished = goTime(slot), goTime(claimed), goTime(finished)
			return r, err
		})
		return err
	})
	if len(out) == 0 {
		out = nil
	}
	return out, err
}
