package postgres

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// migrationFiles are the schema's migrations, NNNN_name.sql, applied in
// the order of NNNN.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// migratorVersion names the behaviour of Migrate; MigrationsHash includes it
// so that test templates are rebuilt when Migrate itself changes.
const migratorVersion = "potential-migrate-v1"

type migration struct {
	version  int
	name     string
	sql      string
	checksum string
}

// migrations reads and orders the embedded migrations.
func migrations() ([]migration, error) {
	entries, err := fs.ReadDir(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	var out []migration
	seen := map[int]string{}
	for _, e := range entries {
		name := e.Name()
		num, _, ok := strings.Cut(name, "_")
		version, err := strconv.Atoi(num)
		if !ok || err != nil || version <= 0 || path.Ext(name) != ".sql" {
			return nil, fmt.Errorf("postgres: migration %q is not named NNNN_name.sql", name)
		}
		if other, dup := seen[version]; dup {
			return nil, fmt.Errorf("postgres: migrations %q and %q share version %d", other, name, version)
		}
		seen[version] = name
		b, err := fs.ReadFile(migrationFiles, "migrations/"+name)
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(b)
		out = append(out, migration{version: version, name: name, sql: string(b), checksum: hex.EncodeToString(sum[:])})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	return out, nil
}

// MigrationsHash returns a hex SHA-256 of the embedded migrations (names
// and contents) and of the migrator's version: it changes whenever Migrate
// would produce a different schema, which makes it the name of test
// template databases (store/pgtest).
func MigrationsHash() string {
	ms, err := migrations()
	if err != nil {
		panic(err) // the embedded files are fixed at build time; TestMigrations covers this
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s\n", migratorVersion)
	for _, m := range ms {
		fmt.Fprintf(h, "%d %s %s\n", m.version, m.name, m.checksum)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Migrate brings the database at connString to the current schema. It
// applies the embedded migrations that schema_migrations does not list, in
// order, in one transaction, and records them. Replicas may start at once:
// the transaction first takes an ACCESS EXCLUSIVE lock on
// schema_migrations, so one applies the migrations while the others wait
// and then find nothing to do. A migration that was applied with other
// contents is an error: applied migrations must never be edited. Versions
// the database has and this binary does not know (a newer replica ran
// first) are left alone.
func Migrate(ctx context.Context, connString string) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	conn, err := pgx.Connect(ctx, connString)
	if err != nil {
		return fmt.Errorf("postgres: migrate: %w", translate(err))
	}
	defer conn.Close(context.WithoutCancel(ctx))

	// CREATE TABLE IF NOT EXISTS is not safe against itself: two sessions
	// may both find the table missing, and the second then fails on the
	// catalog's unique indexes (of relations, or of the table's row type:
	// 42710). Such a loser only has to look again.
	for attempt := 0; ; attempt++ {
		_, err = conn.Exec(ctx, qCreateMigrations)
		var pe *pgconn.PgError
		if err == nil || attempt == 3 || !errors.As(err, &pe) || (pe.Code != "23505" && pe.Code != "42P07" && pe.Code != "42710") {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("postgres: migrate: creating schema_migrations: %w", translate(err))
	}

	tx, err := conn.Begin(ctx)
	if err != nil {
		return fmt.Errorf("postgres: migrate: %w", translate(err))
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // a no-op after Commit
	if _, err := tx.Exec(ctx, qLockMigrations); err != nil {
		return fmt.Errorf("postgres: migrate: locking schema_migrations: %w", translate(err))
	}
	applied := map[int]string{}
	rows, _ := tx.Query(ctx, qAppliedMigration)
	var version int
	var checksum string
	if _, err := pgx.ForEachRow(rows, []any{&version, &checksum}, func() error {
		applied[version] = checksum
		return nil
	}); err != nil {
		return fmt.Errorf("postgres: migrate: reading schema_migrations: %w", translate(err))
	}
	for _, m := range ms {
		if sum, ok := applied[m.version]; ok {
			if sum != m.checksum {
				return fmt.Errorf("postgres: migrate: %s was changed after it was applied (checksum %s, applied %s)", m.name, m.checksum, sum)
			}
			continue
		}
		// No arguments: pgx sends the file with the simple protocol, which
		// runs all of its statements.
		if _, err := tx.Exec(ctx, m.sql); err != nil {
			return fmt.Errorf("postgres: migrate: applying %s: %w", m.name, translate(err))
		}
		if _, err := tx.Exec(ctx, qRecordMigration, m.version, m.name, m.checksum); err != nil {
			return fmt.Errorf("postgres: migrate: recording %s: %w", m.name, translate(err))
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("postgres: migrate: %w", translate(err))
	}
	return nil
}
