package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/potentialhq/potential/domain"
	"github.com/potentialhq/potential/store/pgtest"
	"github.com/potentialhq/potential/store/postgres"
)

// runCmd runs the command line args and returns its exit code and output.
func runCmd(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(t.Context(), args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// TestKeysCommand bootstraps a PostgreSQL deployment's tenant and admin
// key from the command line, lists and revokes keys, and checks that the
// service accepts and then rejects the key, and what the audit log says.
func TestKeysCommand(t *testing.T) {
	t.Parallel()
	url := pgtest.NewDatabase(t, postgres.MigrationsHash(), postgres.Migrate)

	code, _, stderr := runCmd(t, "keys", "create", "--database-url", url, "--tenant", "acme", "--name", "ops", "--role", "admin")
	if code != 1 || !strings.Contains(stderr, `no tenant named "acme"`) {
		t.Fatalf("create in a missing tenant: exit %d, %s", code, stderr)
	}
	code, stdout, stderr := runCmd(t, "keys", "create", "--database-url", url, "--tenant", "acme", "--create-tenant", "--name", "ops", "--role", "admin")
	if code != 0 {
		t.Fatalf("create: exit %d, %s", code, stderr)
	}
	text := strings.TrimSpace(stdout)
	id, secret, err := domain.ParseAPIKey(text)
	if err != nil || strings.Count(stdout, "\n") != 1 || !strings.Contains(stderr, id) {
		t.Fatalf("create printed %q (stderr %q): want the key's text alone on standard output", stdout, stderr)
	}
	code, stdout, stderr = runCmd(t, "keys", "create", "--database-url", url, "--tenant", "acme", "--name", "crm sync", "--role", "ingest", "--expires-in", "720h")
	if code != 0 {
		t.Fatalf("second create: exit %d, %s", code, stderr)
	}
	ingestID, _, _ := domain.ParseAPIKey(strings.TrimSpace(stdout))

	// The service, on the same database, accepts the key as acme's admin.
	store, err := postgres.Open(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(store.Close)
	svc := domain.NewService(store, nil)
	p, err := svc.Authenticate(context.Background(), text)
	if err != nil || p.Role != domain.RoleAdmin || p.KeyID != id {
		t.Fatalf("Authenticate(new key) = %+v, %v", p, err)
	}
	acme, err := store.FindTenant(t.Context(), "acme")
	if err != nil || p.TenantID != acme.ID {
		t.Fatalf("tenant acme = %+v, %v; the key is of %s", acme, err, p.TenantID)
	}

	code, stdout, stderr = runCmd(t, "keys", "list", "--database-url", url, "--tenant", "acme")
	if code != 0 || !strings.Contains(stdout, id) || !strings.Contains(stdout, ingestID) || strings.Contains(stdout, secret) {
		t.Fatalf("list: exit %d, %s%s", code, stdout, stderr)
	}
	for _, want := range []string{"ops", "admin", "crm sync", "ingest", "active"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("list does not show %q:\n%s", want, stdout)
		}
	}

	code, stdout, stderr = runCmd(t, "keys", "revoke", "--database-url", url, "--tenant", "acme", "--id", ingestID)
	if code != 0 || !strings.Contains(stdout, "Revoked key "+ingestID) {
		t.Fatalf("revoke: exit %d, %s%s", code, stdout, stderr)
	}
	code, stdout, _ = runCmd(t, "keys", "list", "--database-url", url, "--tenant", "acme")
	if code != 0 || !strings.Contains(stdout, "revoked") {
		t.Fatalf("list after revoke: exit %d, %s", code, stdout)
	}
	code, _, stderr = runCmd(t, "keys", "revoke", "--database-url", url, "--id", ingestID) // tenant "default" does not exist
	if code != 1 {
		t.Fatalf("revoke in another tenant: exit %d, %s", code, stderr)
	}
	if err := store.CreateTenant(t.Context(), domain.Tenant{ID: domain.NewID(), Name: "other", CreateTime: svc.Now()}); err != nil {
		t.Fatal(err)
	}
	code, _, stderr = runCmd(t, "keys", "revoke", "--database-url", url, "--tenant", "other", "--id", id)
	if code != 1 || !strings.Contains(stderr, "not found") {
		t.Fatalf("revoking acme's key as tenant other: exit %d, %s", code, stderr)
	}
	if _, err := svc.Authenticate(context.Background(), text); err != nil {
		t.Fatalf("acme's admin key after another tenant tried to revoke it: %v", err)
	}

	// The audit log: two creations and a revocation, from the command line.
	ctx := domain.WithPrincipal(t.Context(), domain.Principal{TenantID: acme.ID, KeyID: id, Role: domain.RoleAdmin})
	evs, _, err := svc.ListAuditEvents(ctx, 10, "")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, ev := range evs {
		if ev.Actor != domain.ActorCLI || ev.KeyID != "" {
			t.Errorf("audit record %+v: want actor cli, no key", ev)
		}
		got = append(got, ev.Action+" "+ev.ResourceID)
	}
	want := []string{"api_key.revoke " + ingestID, "api_key.create " + ingestID, "api_key.create " + id}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("audit log = %v, want %v", got, want)
	}
}

func TestKeysCommandUsage(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"keys"},
		{"keys", "rotate", "--database-url", "postgres://x"},
		{"keys", "create", "--name", "x", "--role", "admin"},
		{"keys", "create", "--database-url", "mysql://x", "--name", "x", "--role", "admin"},
		{"keys", "create", "--database-url", "postgres://x", "--role", "admin"},
		{"keys", "create", "--database-url", "postgres://x", "--name", "x", "--role", "root"},
		{"keys", "create", "--database-url", "postgres://x", "--name", "x", "--role", "admin", "--expires-in", "-1h"},
		{"keys", "revoke", "--database-url", "postgres://x"},
		{"serve", "--cors-origins", "*"},
		{"serve", "--cors-origins", "https://dash.example.com/app"},
	} {
		if code, _, stderr := runCmd(t, args...); code != 2 {
			t.Errorf("%v: exit %d (%s), want 2", args, code, stderr)
		}
	}
	if code, _, _ := runCmd(t, "keys", "--help"); code != 0 {
		t.Errorf("keys --help: exit %d", code)
	}
}
