// Package postgres is the PostgreSQL implementation of domain.Store, on pgx/v5.
//
// Tenant isolation is enforced twice: every query says tenant_id = $1, and
// row-level security (see migrations/0001_init.sql and 0003_security.sql)
// shows a transaction only the rows of the tenant it named with
// set_config('app.tenant_id', ..., true) as its first statement; a
// statement of a transaction that named none fails. That first statement
// also switches to ServiceRole, which owns no table and cannot bypass
// row-level security, whoever the pool logged in as. Both are local to the
// transaction, so the store keeps no session state and works behind
// PgBouncer in transaction pooling mode. Operations that need one round trip send the setting and
// their statements as one pipelined batch (an implicit transaction); the
// others begin an explicit transaction whose BEGIN, setting and first
// statement share the first round trip.
//
// Driver errors are translated at this boundary into the domain's errors:
// no rows is ErrNotFound, a unique violation ErrConflict, an unusable
// connection or server ErrUnavailable, a value PostgreSQL cannot store
// ErrInvalid. Serialization failures, deadlocks, connections that failed
// before anything was sent and sessions the server terminated before a
// commit (admin_shutdown) are retried inside the store (every operation is
// idempotent up to its commit) and become ErrUnavailable when they persist.
// A connection lost when a commit may already have happened is not retried:
// it is ErrUnavailable, which callers resend with the same ids.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"runtime"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/potentialhq/potential/domain"
)

// Store is a domain.Store on a PostgreSQL connection pool.
type Store struct {
	pool   *pgxpool.Pool
	listen listener // segment event wake-ups (segment.go)
	// bulkBatch and bulkFlush, when set (by tests), replace the constants.
	bulkBatch, bulkFlush int
	// rewriteMin is SetRewriteMin's number; 0 means DefaultRewriteMin.
	rewriteMin int
}

var _ domain.Store = (*Store)(nil)

// DefaultMaxConns is the size of a store's connection pool unless its
// connection string sets pool_max_conns: 4 × GOMAXPROCS, at least 8.
// pgxpool's own default, one per core (at least 4), leaves calls queueing
// for a connection while others wait on the network and on PostgreSQL: a
// point read spends most of its time waiting, so a server answering a few
// concurrent clients on two cores needs more connections than cores (with
// 8 clients on 2 cores, 8 connections halved the median latency of a read
// against 4). Connections are opened on demand, so an idle server holds
// few.
func DefaultMaxConns() int32 {
	return int32(max(8, 4*runtime.GOMAXPROCS(0)))
}

// Open connects to the database at url (a postgres:// URL or key=value
// connection string; pool settings such as pool_max_conns are accepted) and
// checks that it answers. The schema must be migrated (Migrate).
func Open(ctx context.Context, url string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// pgconn's message never includes the password.
		return nil, fmt.Errorf("postgres: parsing the connection string: %w", err)
	}
	if _, ok := cfg.ConnConfig.RuntimeParams["application_name"]; !ok {
		cfg.ConnConfig.RuntimeParams["application_name"] = "potential"
	}
	if !strings.Contains(url, "pool_max_conns") {
		cfg.MaxConns = DefaultMaxConns()
	}
	cfg.AfterConnect = func(_ context.Context, c *pgx.Conn) error {
		registerTypes(c.TypeMap())
		return nil
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, translate(err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, translate(err)
	}
	if err := checkServiceRole(ctx, pool); err != nil {
		pool.Close()
		return nil, err
	}
	return &Store{pool: pool}, nil
}

// Ping reports whether the database answers.
func (s *Store) Ping(ctx context.Context) error { return translate(s.pool.Ping(ctx)) }

// PoolStat returns the connection pool's statistics, for metrics.
func (s *Store) PoolStat() *pgxpool.Stat { return s.pool.Stat() }

// Close closes the pool's connections.
func (s *Store) Close() {
	s.listen.once.Do(func() {}) // no listener starts after Close
	if s.listen.stop != nil {
		s.listen.stop()
		<-s.listen.done
	}
	s.pool.Close()
}

// scope is what a database transaction may see: one tenant's rows, or, for
// authentication, tenants and API keys of any tenant, read-only.
type scope struct {
	tenant string // canonical tenant id
	auth   bool
	writes bool // may update or delete stored assessments (qSetTenantWriting)
}

// tenantScope returns the scope of tenant id, or false if id is no UUID (and
// so names no tenant).
func tenantScope(id string) (scope, bool) {
	id, ok := parseID(id)
	return scope{tenant: id}, ok
}

var authScope = scope{auth: true}

// writing returns sc for a transaction that may update or delete the
// tenant's stored assessments: it waits while the tenant's first rewrite
// moves them out of the shared partition, before it holds anything that
// rewrite waits for.
func (sc scope) writing() scope {
	sc.writes = true
	return sc
}

// queue queues the statement that establishes sc.
func (sc scope) queue(b *pgx.Batch) {
	switch {
	case sc.auth:
		b.Queue(qBeginAuthentication)
	case sc.writes:
		b.Queue(qSetTenantWriting, sc.tenant)
	default:
		b.Queue(qSetTenant, sc.tenant)
	}
}

// batch sends the statements that build queues as one round trip and one
// implicit transaction scoped to sc, and hands their results to read, in
// order. The whole batch commits unless a statement fails; read must not
// rely on rolling anything back. Retried as a whole on transient failures.
func (s *Store) batch(ctx context.Context, sc scope, build func(b *pgx.Batch), read func(br pgx.BatchResults) error) error {
	return s.retry(ctx, func() error {
		b := &pgx.Batch{}
		sc.queue(b)
		build(b)
		br := s.pool.SendBatch(ctx, b)
		_, err := br.Exec()
		if err == nil {
			err = read(br)
		}
		if cerr := br.Close(); err == nil {
			err = cerr
		}
		return err
	})
}

// tx runs a transaction scoped to sc in (at least) two round trips: first
// queues statements that are sent with BEGIN and the scope, readFirst reads
// their results, and rest continues on the transaction, which is committed
// if rest returns nil and rolled back otherwise. On a transient failure the
// three are called again from the start, so they must not carry state from
// one attempt to the next.
func (s *Store) tx(ctx context.Context, sc scope, first func(b *pgx.Batch), readFirst func(br pgx.BatchResults) error, rest func(tx pgx.Tx) error) error {
	return s.retry(ctx, func() error {
		b := &pgx.Batch{}
		b.BeginTx(pgx.TxOptions{})
		sc.queue(b)
		first(b)
		br := s.pool.SendBatch(ctx, b)
		tx := br.Tx()
		defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // a no-op after Commit
		_, err := br.Exec()                           // BEGIN
		if err == nil {
			_, err = br.Exec() // the scope
		}
		if err == nil {
			err = readFirst(br)
		}
		if cerr := br.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
		if err := rest(tx); err != nil {
			return err
		}
		return tx.Commit(ctx)
	})
}

// errRetry asks retry to run an operation again: a concurrent transaction
// got in the way in a way that a fresh attempt resolves.
var errRetry = errors.New("postgres: concurrent change, retry")

// maxAttempts bounds the attempts of one operation.
const maxAttempts = 6

// retry runs op until it succeeds, fails for good, or has failed
// transiently maxAttempts times, sleeping a jittered, doubling pause (1 ms,
// 2 ms, ... 32 ms) between attempts. It returns a translated error.
func (s *Store) retry(ctx context.Context, op func() error) error {
	var err error
	for attempt := range maxAttempts {
		if err = op(); err == nil || !transient(err) {
			return translate(err)
		}
		pause := time.Duration(1<<attempt) * time.Millisecond
		select {
		case <-ctx.Done():
			return translate(err)
		case <-time.After(pause/2 + rand.N(pause)):
		}
	}
	return fmt.Errorf("%w: gave up after %d attempts: %v", domain.ErrUnavailable, maxAttempts, translate(err))
}

// transient reports whether an attempt failed for a reason that a fresh
// attempt may not meet and that leaves nothing committed: a serialization
// failure, a deadlock, a customer deleted or created by a concurrent
// transaction, errRetry, a connection that failed before anything was sent
// on it (pgconn.SafeToRetry), or a server that refused or terminated the
// session before committing (admin_shutdown, cannot_connect_now). A
// connection lost after a commit may have been sent is not retried here:
// it becomes ErrUnavailable, and since every write is keyed by its
// caller's ids, the caller can resend it with the same ids safely.
func transient(err error) bool {
	if errors.Is(err, errRetry) || pgconn.SafeToRetry(err) {
		return true
	}
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return false
	}
	switch pe.Code {
	case "40001", "40P01": // serialization_failure, deadlock_detected
		return true
	case "57P01", "57P03": // admin_shutdown, cannot_connect_now
		return true
	case "23503": // foreign_key_violation: an event's customer was deleted meanwhile
		return !strings.HasSuffix(pe.ConstraintName, "tenant_id_fkey")
	}
	return false
}

// translate turns a driver error into a domain error; domain errors and nil
// pass unchanged. Unknown errors keep only their text, so that no driver
// type escapes the store.
func translate(err error) error {
	switch {
	case err == nil:
		return nil
	case isDomain(err):
		return err
	case errors.Is(err, errRetry):
		return fmt.Errorf("%w: concurrent changes kept interfering", domain.ErrUnavailable)
	case errors.Is(err, pgx.ErrNoRows):
		return domain.ErrNotFound
	case errors.Is(err, context.Canceled):
		return context.Canceled
	case errors.Is(err, context.DeadlineExceeded):
		return context.DeadlineExceeded
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return translateServer(pe)
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	if errors.As(err, &ce) || errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, net.ErrClosed) || pgconn.SafeToRetry(err) || pgconn.Timeout(err) ||
		strings.Contains(err.Error(), "closed pool") || strings.Contains(err.Error(), "conn closed") {
		return fmt.Errorf("%w: postgres: %v", domain.ErrUnavailable, err)
	}
	return fmt.Errorf("postgres: %v", err)
}

// translateServer maps an error the server reported by its SQLSTATE.
func translateServer(pe *pgconn.PgError) error {
	code := pe.Code
	switch {
	case code == "23505": // unique_violation
		return fmt.Errorf("%w: %s", domain.ErrConflict, conflictWhat(pe.ConstraintName))
	case code == "23503": // foreign_key_violation
		if strings.HasSuffix(pe.ConstraintName, "tenant_id_fkey") {
			return fmt.Errorf("%w: tenant", domain.ErrNotFound)
		}
		return fmt.Errorf("%w: customer", domain.ErrNotFound)
	case code == "22003": // numeric_value_out_of_range
		return fmt.Errorf("%w: a total leaves the range of 64-bit micro-units", domain.ErrInvalid)
	case strings.HasPrefix(code, "22"): // data_exception
		return fmt.Errorf("%w: a value cannot be stored (SQLSTATE %s)", domain.ErrInvalid, code)
	case code == "40001", code == "40P01", // serialization_failure, deadlock_detected (after retries)
		strings.HasPrefix(code, "08"),                     // connection_exception
		strings.HasPrefix(code, "53"),                     // insufficient_resources, e.g. too_many_connections
		code == "57P01", code == "57P02", code == "57P03", // admin_shutdown, crash_shutdown, cannot_connect_now
		code == "57014", // query_canceled: statement_timeout
		code == "25006": // read_only_sql_transaction: a failover in progress
		return fmt.Errorf("%w: postgres: %s (SQLSTATE %s)", domain.ErrUnavailable, pe.Message, code)
	}
	return fmt.Errorf("postgres: %s (SQLSTATE %s)", pe.Message, code)
}

// conflictWhat names the unique key a constraint enforces.
func conflictWhat(constraint string) string {
	switch {
	case constraint == "customers_external_id_key":
		return "external id is taken"
	case constraint == "tenants_name_key":
		return "tenant name is taken"
	case strings.HasSuffix(constraint, "_pkey"):
		return strings.TrimSuffix(constraint, "_pkey") + " id exists"
	}
	return constraint
}

// isDomain reports whether err is one of the domain's errors.
func isDomain(err error) bool {
	var ie *domain.ItemError
	if errors.As(err, &ie) {
		return true
	}
	for _, e := range []error{domain.ErrNotFound, domain.ErrConflict, domain.ErrStale, domain.ErrInvalid,
		domain.ErrFailedPrecondition, domain.ErrUnauthenticated, domain.ErrPermissionDenied, domain.ErrUnavailable} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}
