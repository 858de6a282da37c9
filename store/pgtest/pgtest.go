// Package pgtest gives tests a real PostgreSQL database of their own.
//
// NewDatabase clones a fresh database from a template that is migrated once
// per migration hash (github.com/peterldowns/pgtestdb does the template
// bookkeeping), so every test gets a migrated, otherwise empty database in
// milliseconds and may run in parallel with any other test, in this package
// binary or another one that go test runs at the same time.
//
// The server is the one named by DATABASE_URL (a postgres:// URL), or else
// PostgreSQL on 127.0.0.1:5432 as user postgres with trust authentication;
// that user must be allowed to create roles and databases (a superuser is
// simplest). ./scripts/test always provides a server, starting a throwaway
// cluster when there is none, and sets POTENTIAL_REQUIRE_POSTGRES=1, so that
// a missing server fails the run instead of silently skipping tests. A plain
// go test without a server skips the tests that need one.
package pgtest

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver that pgtestdb uses
	"github.com/peterldowns/pgtestdb"
)

// LocalURL is the server tried when DATABASE_URL is unset: the PostgreSQL that
// developer machines and CI run on the standard port, with trust
// authentication for the postgres user.
const LocalURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// probeTimeout bounds the connection attempt that decides whether LocalURL is
// reachable; a local server answers in well under a millisecond.
const probeTimeout = 2 * time.Second

// MigrateFunc brings the empty database at connString to the current schema.
// It is called at most once per hash and process, on the template database,
// never on the clones that tests receive. store/postgres's Migrate has this
// shape.
type MigrateFunc func(ctx context.Context, connString string) error

// URL returns the connection string of the PostgreSQL server that tests use:
// DATABASE_URL if it is set, else LocalURL if a server answers there.
//
// With no server, URL fails the test when POTENTIAL_REQUIRE_POSTGRES or CI is
// set (so that a CI run never passes by skipping), and skips it otherwise.
func URL(tb testing.TB) string {
	tb.Helper()
	if u := os.Getenv("DATABASE_URL"); u != "" {
		return u
	}
	err := probeLocal()
	if err == nil {
		return LocalURL
	}
	msg := fmt.Sprintf("pgtest: no PostgreSQL to test against: DATABASE_URL is unset "+
		"and the local server (%s) does not answer: %v; run ./scripts/test, which provides one",
		LocalURL, err)
	if required() {
		tb.Fatal(msg)
	}
	tb.Skip(msg)
	return "" // unreachable
}

// probeLocal reports, once per process, whether LocalURL accepts a connection.
var probeLocal = sync.OnceValue(func() error {
	ctx, cancel := context.WithTimeout(context.Background(), probeTimeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, LocalURL)
	if err != nil {
		return err
	}
	return conn.Close(ctx)
})

// required reports whether a missing server must fail the test rather than
// skip it.
func required() bool {
	return truthy(os.Getenv("POTENTIAL_REQUIRE_POSTGRES")) || truthy(os.Getenv("CI"))
}

// truthy treats any value but "", "0" and "false" as set.
func truthy(v string) bool {
	v = strings.TrimSpace(strings.ToLower(v))
	return v != "" && v != "0" && v != "false"
}

// NewDatabase creates a database for this test alone and returns its
// connection string (a postgres:// URL for pgx).
//
// The database is a clone of a template database that migrate brought up to
// date. Templates are named by hash, which must change whenever migrate's
// result would (HashFS of the embedded migrations is the usual choice); a
// template with the same hash that an earlier run left on the server is
// reused without calling migrate. A nil migrate gives an empty database.
//
// The database belongs to the role pgtest_owner (NOSUPERUSER NOCREATEDB,
// but CREATEROLE), which runs the migrations as a production migrator
// would: it owns the tables, is subject to their row-level security, and
// may create the service's NOLOGIN role and make itself a member of it. It
// is dropped when the test ends, unless the test failed: then it is left on
// the server for inspection, and its URL is in the test log. Close every
// connection to it in an earlier tb.Cleanup (registered after this call): a
// leaked connection makes the drop, and so the test, fail.
//
// NewDatabase is safe for parallel tests and for concurrent go test
// processes sharing a server.
func NewDatabase(tb testing.TB, hash string, migrate MigrateFunc) string {
	tb.Helper()
	if hash == "" {
		tb.Fatal("pgtest: NewDatabase needs a non-empty hash to name the template")
	}
	conf, err := config(URL(tb))
	if err != nil {
		tb.Fatalf("pgtest: %v", err)
	}
	db := pgtestdb.Custom(tb, conf, migrator{hash: hash, migrate: migrate})
	return db.URL()
}

// ownerRole is the role that owns test databases and runs their migrations. It
// is not pgtestdb's default (NOCREATEROLE): store/postgres's migrations
// create the role the service runs its queries as, when it is missing, and
// grant it to the migrating role, as a deployment's migrator does, and that
// takes CREATEROLE. Roles belong to the server, so the name is ours alone.
var ownerRole = pgtestdb.Role{
	Username:     "pgtest_owner",
	Password:     "pgtest_owner",
	Capabilities: "NOSUPERUSER NOCREATEDB CREATEROLE",
}

// config splits a postgres:// URL into the fields pgtestdb.Config wants.
func config(connString string) (pgtestdb.Config, error) {
	u, err := url.Parse(connString)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		// Don't echo the string: it may hold a password.
		return pgtestdb.Config{}, fmt.Errorf("DATABASE_URL must be a postgres:// URL")
	}
	conf := pgtestdb.Config{
		DriverName: "pgx",
		Host:       u.Hostname(),
		Port:       u.Port(),
		User:       u.User.Username(),
		Database:   strings.TrimPrefix(u.Path, "/"),
		Options:    u.RawQuery,
		TestRole:   &ownerRole,
	}
	conf.Password, _ = u.User.Password()
	if strings.Contains(conf.Host, ":") {
		conf.Host = "[" + conf.Host + "]" // IPv6 literal; pgtestdb joins host:port as is
	}
	if conf.Port == "" {
		conf.Port = "5432"
	}
	if conf.User == "" {
		conf.User = "postgres"
	}
	if conf.Database == "" {
		conf.Database = "postgres"
	}
	return conf, nil
}

// migrator adapts a MigrateFunc to pgtestdb.Migrator, which hands migrations
// a *sql.DB; ours take a connection string and open their own pgx
// connection.
type migrator struct {
	hash    string
	migrate MigrateFunc
}

// Hash identifies the template; pgtestdb adds the role's details to it.
func (m migrator) Hash() (string, error) { return m.hash, nil }

// Migrate runs m.migrate against the new template database.
func (m migrator) Migrate(ctx context.Context, _ *sql.DB, conf pgtestdb.Config) error {
	if m.migrate == nil {
		return nil
	}
	return m.migrate(ctx, conf.URL())
}

// HashFS returns a hex SHA-256 over the path and contents of every regular
// file in fsys, in lexical order: a template hash that changes whenever an
// embedded migrations directory does. Changes to the Go code that applies the
// migrations are not covered; fold a version into the hash if that code's
// behaviour changes.
func HashFS(tb testing.TB, fsys fs.FS) string {
	tb.Helper()
	h := sha256.New()
	err := fs.WalkDir(fsys, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		b, err := fs.ReadFile(fsys, path)
		if err != nil {
			return err
		}
		// Length-prefix both parts so that no two file sets hash alike.
		fmt.Fprintf(h, "%d:%s%d:", len(path), path, len(b))
		h.Write(b)
		return nil
	})
	if err != nil {
		tb.Fatalf("pgtest: hashing migrations: %v", err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

var _ pgtestdb.Migrator = migrator{}
