package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/potentialhq/potential/domain"
	"github.com/potentialhq/potential/store/postgres"
)

// runKeys is "potential keys create|list|revoke": API keys managed in the
// database directly, for bootstrapping a PostgreSQL deployment (the first
// admin key of a tenant) and for operators who cannot call the API. The
// changes are audited like the API's, with actor "cli".
func runKeys(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	usage := func() {
		fmt.Fprintln(stderr, "Usage: potential keys <create|list|revoke> --database-url URL [flags]")
		fmt.Fprintln(stderr, "\n  create  make a key and print its text (shown once) on standard output")
		fmt.Fprintln(stderr, "  list    list a tenant's keys, without secrets")
		fmt.Fprintln(stderr, "  revoke  revoke a key: servers reject it within a second")
		fmt.Fprintln(stderr, "\nRun 'potential keys <command> --help' for its flags.")
	}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage()
		if len(args) == 0 {
			return fmt.Errorf("%w: keys needs a command: create, list or revoke", errUsage)
		}
		return flag.ErrHelp
	}
	var cfg struct {
		databaseURL, tenant, name, role, id string
		createTenant                        bool
		expiresIn                           time.Duration
	}
	fs := flagSet("keys "+args[0], stderr)
	fs.StringVar(&cfg.databaseURL, "database-url", "", describe("database-url", "PostgreSQL URL (postgres://…) of a migrated database"))
	fs.StringVar(&cfg.tenant, "tenant", domain.DefaultTenantName, describe("tenant", "name of the tenant"))
	switch args[0] {
	case "create":
		fs.StringVar(&cfg.name, "name", "", "what the key is for, e.g. \"CRM sync\" (required)")
		fs.StringVar(&cfg.role, "role", "", "the key's role: admin, analyst, sales or ingest (required)")
		fs.DurationVar(&cfg.expiresIn, "expires-in", 0, "how long the key works, e.g. 720h; 0: until revoked")
		fs.BoolVar(&cfg.createTenant, "create-tenant", false, "create the tenant if it does not exist")
	case "list":
	case "revoke":
		fs.StringVar(&cfg.id, "id", "", "the key's id: the <id> of pk_<id>_<secret> (required)")
	default:
		usage()
		return fmt.Errorf("%w: unknown keys command %q", errUsage, args[0])
	}
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	if cfg.databaseURL == "" {
		return fmt.Errorf("%w: --database-url or POTENTIAL_DATABASE_URL is required", errUsage)
	}
	if !strings.HasPrefix(cfg.databaseURL, "postgres://") && !strings.HasPrefix(cfg.databaseURL, "postgresql://") {
		return fmt.Errorf("%w: database-url must be a postgres:// URL", errUsage)
	}
	switch {
	case args[0] == "create" && cfg.name == "":
		return fmt.Errorf("%w: --name is required", errUsage)
	case args[0] == "create" && !domain.Role(cfg.role).Valid():
		return fmt.Errorf("%w: --role must be admin, analyst, sales or ingest", errUsage)
	case args[0] == "create" && cfg.expiresIn < 0:
		return fmt.Errorf("%w: --expires-in must not be negative", errUsage)
	case args[0] == "revoke" && cfg.id == "":
		return fmt.Errorf("%w: --id is required", errUsage)
	}

	store, err := postgres.Open(ctx, cfg.databaseURL)
	if err != nil {
		return err
	}
	defer store.Close()
	svc := domain.NewService(store, nil)
	tenant, err := store.FindTenant(ctx, cfg.tenant)
	if errors.Is(err, domain.ErrNotFound) && cfg.createTenant {
		tenant = domain.Tenant{ID: domain.NewID(), Name: cfg.tenant, CreateTime: svc.Now()}
		if err = store.CreateTenant(ctx, tenant); err == nil {
			fmt.Fprintf(stderr, "Created tenant %q.\n", tenant.Name)
		}
	}
	if errors.Is(err, domain.ErrNotFound) {
		return fmt.Errorf("no tenant named %q (--create-tenant creates it)", cfg.tenant)
	}
	if err != nil {
		return err
	}
	ctx = domain.WithPrincipal(ctx, domain.CommandLine(tenant.ID))

	switch args[0] {
	case "create":
		var expire time.Time
		if cfg.expiresIn > 0 {
			expire = svc.Now().Add(cfg.expiresIn)
		}
		k, text, err := svc.CreateKey(ctx, cfg.name, domain.Role(cfg.role), expire)
		if err != nil {
			return err
		}
		fmt.Fprintf(stderr, "Created key %s (%s) in tenant %q. Its text follows, shown this once: keep it.\n", k.ID, k.Role, tenant.Name)
		_, err = fmt.Fprintln(stdout, text)
		return err
	case "revoke":
		k, err := svc.RevokeKey(ctx, cfg.id)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(stdout, "Revoked key %s (%s) of tenant %q at %s; servers reject it within %v.\n",
			k.ID, k.Name, tenant.Name, k.RevokeTime.Format(time.RFC3339), domain.KeyCacheTTL)
		return err
	}
	// list
	w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tNAME\tROLE\tSTATE\tCREATED\tEXPIRES\tREVOKED")
	token := ""
	for {
		keys, next, err := svc.ListKeys(ctx, domain.MaxPageSize, token)
		if err != nil {
			return err
		}
		for _, k := range keys {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Name, k.Role, k.State(svc.Now()), when(k.CreateTime), when(k.ExpireTime), when(k.RevokeTime))
		}
		if token = next; token == "" {
			break
		}
	}
	return w.Flush()
}

// when formats an optional time for a listing: "-" for none.
func when(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}
