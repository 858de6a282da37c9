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

// Records of idempotent creates (domain.RequestStore), in table requests
// (migration 0009). A reservation is one round trip: a lapsed record of the
// key is deleted, the new one inserted unless the key is taken (ON CONFLICT
// DO NOTHING waits for a concurrent insert of the same key to commit or
// roll back, so exactly one of concurrent callers inserts), and the key's
// record read back. Rows, not advisory locks: it holds behind PgBouncer's
// transaction pooling.

var _ domain.RequestStore = (*Store)(nil)

const (
	qDeleteLapsedRequest = `DELETE FROM requests WHERE tenant_id = $1 AND method = $2 AND request_id = $3 AND expires <= $4`
	qInsertRequest       = `INSERT INTO requests (tenant_id, method, request_id, request_hash, token, created, expires)
VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING RETURNING 1`
	qGetRequest = `SELECT request_hash, token::text, response, created, expires FROM requests
WHERE tenant_id = $1 AND method = $2 AND request_id = $3`
	qCompleteRequest = `UPDATE requests SET response = $5, expires = $6
WHERE tenant_id = $1 AND method = $2 AND request_id = $3 AND token = $4 AND response IS NULL RETURNING 1`
	qReleaseRequest = `DELETE FROM requests
WHERE tenant_id = $1 AND method = $2 AND request_id = $3 AND token = $4 AND response IS NULL`
	qPruneRequests = `DELETE FROM requests r USING (
    SELECT method, request_id FROM requests WHERE tenant_id = $1 AND expires <= $2 LIMIT $3
) old WHERE r.tenant_id = $1 AND r.method = old.method AND r.request_id = old.request_id`
)

// ReserveRequest stores r unless an unexpired record of its key exists.
func (s *Store) ReserveRequest(ctx context.Context, r domain.RequestRecord, now time.Time) (domain.RequestRecord, bool, error) {
	sc, ok := tenantScope(r.TenantID)
	if !ok {
		return domain.RequestRecord{}, false, fmt.Errorf("%w: tenant %q", domain.ErrNotFound, r.TenantID)
	}
	token, tokOK := parseID(r.Token)
	if !tokOK {
		return domain.RequestRecord{}, false, fmt.Errorf("%w: request token %q", domain.ErrInvalid, r.Token)
	}
	if err := checkText(r.Method + r.ID); err != nil {
		return domain.RequestRecord{}, false, err
	}
	now = now.UTC().Truncate(time.Microsecond)
	var got domain.RequestRecord
	reserved := false
	err := s.batch(ctx, sc, func(b *pgx.Batch) {
		b.Queue(qDeleteLapsedRequest, sc.tenant, r.Method, r.ID, now)
		b.Queue(qInsertRequest, sc.tenant, r.Method, r.ID, r.Hash, token, r.Created, r.Expires)
		b.Queue(qGetRequest, sc.tenant, r.Method, r.ID)
	}, func(br pgx.BatchResults) error {
		if _, err := br.Exec(); err != nil {
			return err
		}
		var one int
		switch err := br.QueryRow().Scan(&one); {
		case errors.Is(err, pgx.ErrNoRows):
			reserved = false
		case err != nil:
			return err
		default:
			reserved = true
		}
		var created, expires pgtype.Timestamptz
		got = domain.RequestRecord{TenantID: sc.tenant, Method: r.Method, ID: r.ID}
		if err := br.QueryRow().Scan(&got.Hash, &got.Token, &got.Response, &created, &expires); err != nil {
			if errors.Is(err, pgx.ErrNoRows) {
				return errRetry // released by its holder between our insert's conflict and the read
			}
			return err
		}
		got.Done = got.Response != nil
		got.Created, got.Expires = goTime(created), goTime(expires)
		return nil
	})
	if err != nil {
		return domain.RequestRecord{}, false, err
	}
	return got, reserved && got.Token == token, nil
}

// CompleteRequest records the response of the reservation held by token.
func (s *Store) CompleteRequest(ctx context.Context, tenantID, method, id, token string, response []byte, expires time.Time) error {
	sc, ok := tenantScope(tenantID)
	tok, tokOK := parseID(token)
	if !ok || !tokOK {
		return fmt.Errorf("%w: request %q is not reserved by this call", domain.ErrNotFound, id)
	}
	if response == nil {
		response = []byte{}
	}
	return s.batch(ctx, sc, func(b *pgx.Batch) {
		b.Queue(qCompleteRequest, sc.tenant, method, id, tok, response, expires)
	}, func(br pgx.BatchResults) error {
		var one int
		if err := br.QueryRow().Scan(&one); errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("%w: request %q is not reserved by this call", domain.ErrNotFound, id)
		} else if err != nil {
			return err
		}
		return nil
	})
}

// ReleaseRequest deletes the in-flight reservation held by token.
func (s *Store) ReleaseRequest(ctx context.Context, tenantID, method, id, token string) error {
	sc, ok := tenantScope(tenantID)
	tok, tokOK := parseID(token)
	if !ok || !tokOK {
		return nil
	}
	return s.batch(ctx, sc, func(b *pgx.Batch) {
		b.Queue(qReleaseRequest, sc.tenant, method, id, tok)
	}, func(br pgx.BatchResults) error {
		_, err := br.Exec()
		return err
	})
}

// PruneRequests deletes up to limit of the tenant's expired records.
func (s *Store) PruneRequests(ctx context.Context, tenantID string, now time.Time, limit int) (int, error) {
	sc, ok := tenantScope(tenantID)
	if !ok {
		return 0, fmt.Errorf("%w: tenant %q", domain.ErrNotFound, tenantID)
	}
	n := 0
	err := s.batch(ctx, sc, func(b *pgx.Batch) {
		b.Queue(qPruneRequests, sc.tenant, now.UTC().Truncate(time.Microsecond), limit)
	}, func(br pgx.BatchResults) error {
		tag, err := br.Exec()
		n = int(tag.RowsAffected())
		return err
	})
	return n, err
}
