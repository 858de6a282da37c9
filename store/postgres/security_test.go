package postgres

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/potentialhq/potential/domain"
	"github.com/potentialhq/potential/store/pgtest"
	"github.com/potentialhq/potential/store/storetest"
)

// withoutTenant are the tables that hold no tenant's rows and so need no
// tenant_id. Any other table without one fails TestCatalog.
var withoutTenant = []string{"schema_migrations", "tenants"}

// populate gives tenant a row in every table through the domain's use
// cases, as the service would: keys, customers with personal data, every
// kind of event, an erasure and the audit records of it all.
func populate(t *testing.T, s *Store, tenant domain.Tenant) {
	t.Helper()
	svc := domain.NewService(s, nil)
	ctx := domain.WithPrincipal(t.Context(), domain.Principal{TenantID: tenant.ID, KeyID: "catalog", Role: domain.RoleAdmin})
	if _, _, err := svc.CreateKey(ctx, "ingest", domain.RoleIngest, time.Time{}); err != nil {
		t.Fatalf("CreateKey: %v", err)
	}
	var ids []string
	for _, ext := range []string{"x", "y", "z"} {
		c, err := svc.CreateCustomer(ctx, domain.Customer{ExternalID: ext, Kind: domain.KindCustomer, GivenName: "Ada", Email: ext + "@example.com"})
		if err != nil {
			t.Fatalf("CreateCustomer: %v", err)
		}
		ids = append(ids, c.ID)
	}
	at := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	ref := func(ext string) domain.CustomerRef { return domain.CustomerRef{ExternalID: ext} }
	if _, err := svc.RecordTransactions(ctx, []domain.Transaction{
		{ExternalID: "o1", Customer: ref("x"), Kind: domain.TxOrder, Amount: 100_000_000, OccurredAt: at},
		{ExternalID: "o2", Customer: ref("y"), Kind: domain.TxOrder, Amount: 50_000_000, OccurredAt: at.AddDate(0, 1, 0)},
	}, false); err != nil {
		t.Fatalf("RecordTransactions: %v", err)
	}
	if _, err := svc.RecordInteractions(ctx, []domain.Interaction{{ExternalID: "i1", Customer: ref("x"), Type: domain.InteractionCall, OccurredAt: at}}, false); err != nil {
		t.Fatalf("RecordInteractions: %v", err)
	}
	if _, err := svc.RecordReferrals(ctx, []domain.Referral{{ExternalID: "r1", Referrer: ref("x"), Referred: ref("y"), OccurredAt: at}}, false); err != nil {
		t.Fatalf("RecordReferrals: %v", err)
	}
	if err := svc.DeleteCustomer(ctx, ids[2], ""); err != nil {
		t.Fatalf("DeleteCustomer: %v", err)
	}
	// Feedback: a complaint moved along its workflow, and a topic rule.
	fb, _, err := s.SubmitFeedback(ctx, domain.Feedback{ID: domain.NewID(), TenantID: tenant.ID, ExternalID: "f1", CustomerID: ids[0],
		Kind: domain.FeedbackComplaint, Status: domain.ComplaintOpen, Text: "late", OccurredAt: at, CreateTime: at, UpdateTime: at})
	if err != nil {
		t.Fatalf("SubmitFeedback: %v", err)
	}
	if _, err := s.AppendTransition(ctx, tenant.ID, fb.ID, fb.Version, domain.ComplaintTransition{Seq: 1, From: domain.ComplaintOpen,
		To: domain.ComplaintInProgress, Actor: "catalog", Time: at}); err != nil {
		t.Fatalf("AppendTransition: %v", err)
	}
	if _, err := s.CreateTopicRule(ctx, domain.TopicRule{TenantID: tenant.ID, Topic: "delivery", Keywords: []string{"late"}, CreateTime: at, UpdateTime: at}); err != nil {
		t.Fatalf("CreateTopicRule: %v", err)
	}
	// Scoring and grading: a qualification change, a scoring model whose
	// rule scores and grades everyone, a grading policy.
	if _, err := s.RecordQualificationChanges(ctx, tenant.ID, []domain.QualificationChange{{ID: domain.NewID(), CustomerID: ids[0], At: at,
		Qualification: domain.Qualification{Need: "a CRM"}}}); err != nil {
		t.Fatalf("RecordQualificationChanges: %v", err)
	}
	// Lead conversion: an explicit outcome and a conversion state.
	if err := s.SetLeadOutcomes(ctx, tenant.ID, []domain.LeadOutcome{{CustomerID: ids[0], Result: domain.LeadWon, At: at}}); err != nil {
		t.Fatalf("SetLeadOutcomes: %v", err)
	}
	if err := s.SaveConversionState(ctx, domain.ConversionState{TenantID: tenant.ID, WindowDays: 90, ObservationDays: 7,
		LastAttempt: domain.ConversionAttempt{Time: at, Result: domain.AttemptInsufficientData, Converted: 1}}); err != nil {
		t.Fatalf("SaveConversionState: %v", err)
	}
	if err := s.ReplaceLeadScores(ctx, tenant.ID, "", []domain.LeadScore{{CustomerID: ids[1], Probability: 0.4, Band: domain.BandWarm, FitID: "f", At: at}}); err != nil {
		t.Fatalf("ReplaceLeadScores: %v", err)
	}
	m, err := svc.CreateScoringModel(ctx, domain.ScoringModel{Name: "engagement"})
	if err != nil {
		t.Fatalf("CreateScoringModel: %v", err)
	}
	if _, err := svc.CreateScoringRule(ctx, domain.ScoringRule{ModelID: m.ID, Name: "orders", EventKind: domain.EventKindOrder, Points: 50}); err != nil {
		t.Fatalf("CreateScoringRule: %v", err)
	}
	if _, err := svc.UpdateGradingPolicy(ctx, domain.DefaultGradingPolicy(), ""); err != nil {
		t.Fatalf("UpdateGradingPolicy: %v", err)
	}
	if _, err := svc.UpdateActionTable(ctx, []domain.ActionRule{{Action: "call", Condition: `churn.level == "high"`, Reason: "Call"}}, ""); err != nil {
		t.Fatalf("UpdateActionTable: %v", err)
	}
	// A value model (the events above assessed the customers, and recorded
	// their lifecycle transitions).
	if _, err := s.SaveValueModel(ctx, domain.ValueModel{TenantID: tenant.ID, FitTime: at, ObservationEnd: at}); err != nil {
		t.Fatalf("SaveValueModel: %v", err)
	}
	// A scheduled job that ran once, and one leased now.
	for i, name := range []string{"reassess", "regrade"} {
		l, ok, err := s.ClaimJob(ctx, tenant.ID, name, at, at, "catalog", time.Minute)
		if err != nil || !ok {
			t.Fatalf("ClaimJob: %v, %v", ok, err)
		}
		if i == 0 {
			if err := s.CompleteJob(ctx, l, at, at.Add(24*time.Hour)); err != nil {
				t.Fatalf("CompleteJob: %v", err)
			}
		}
	}
	// Segments: a dynamic one with a time-dependent rule (members, events,
	// due times) besides the built-in ones.
	if _, err := svc.CreateSegment(ctx, domain.Segment{Name: "quiet", Kind: domain.SegmentDynamic, Rule: "interactions.days_since_last >= 0"}, nil); err != nil {
		t.Fatalf("CreateSegment: %v", err)
	}
	// Webhooks: a destination, a subscription (which starts the feed), a
	// delivery fed from a segment event, and one attempt of it.
	svc.AllowInsecureWebhooks(true)
	if _, err := svc.CreateWebhookDestination(ctx, domain.WebhookDestination{URL: "http://127.0.0.1:9/hook"}); err != nil {
		t.Fatalf("CreateWebhookDestination: %v", err)
	}
	if _, err := svc.CreateWebhookSubscription(ctx, domain.WebhookSubscription{URL: "http://127.0.0.1:9/hook",
		EventTypes: []domain.WebhookEventType{domain.WebhookSegmentEntered}}); err != nil {
		t.Fatalf("CreateWebhookSubscription: %v", err)
	}
	if _, err := svc.CreateSegment(ctx, domain.Segment{Name: "picked", Kind: domain.SegmentStatic},
		[]domain.CustomerRef{{ID: ids[0]}}); err != nil {
		t.Fatalf("CreateSegment: %v", err)
	}
	// A transaction left open holds the grade horizon below the next grade
	// change, so the feed remembers it in webhook_feed_grades.
	open, err := s.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer open.Rollback(context.Background()) //nolint:errcheck // only ends it
	if _, err := open.Exec(ctx, "SELECT pg_current_xact_id()"); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CreateCustomer(ctx, domain.Customer{ExternalID: "graded", Kind: domain.KindCustomer}); err != nil {
		t.Fatalf("CreateCustomer: %v", err)
	}
	if n, err := s.FeedWebhooks(ctx, tenant.ID, 10, func(f *domain.WebhookFeed) ([]domain.WebhookDelivery, error) {
		sub, ev := f.Subscriptions[0], f.SegmentEvents[0]
		eid := domain.SegmentWebhookEventID(ev.Cursor)
		return []domain.WebhookDelivery{{ID: domain.WebhookDeliveryID(sub.ID, eid), SubscriptionID: sub.ID, EventID: eid,
			EventType: domain.WebhookSegmentEntered, EventTime: ev.Time, Payload: []byte("{}"), NextAttemptTime: at, CreateTime: at}}, nil
	}); err != nil || n == 0 {
		t.Fatalf("FeedWebhooks: %d, %v", n, err)
	}
	ls, err := s.ClaimWebhookDeliveries(ctx, tenant.ID, at, at.Add(time.Minute), 10)
	if err != nil || len(ls) != 1 {
		t.Fatalf("ClaimWebhookDeliveries: %v, %v", ls, err)
	}
	if err := s.CompleteWebhookAttempt(ctx, tenant.ID, ls[0], domain.WebhookOutcome{State: domain.WebhookSucceeded,
		Log: domain.WebhookAttempt{Attempt: 1, Start: at, StatusCode: 200}}); err != nil {
		t.Fatalf("CompleteWebhookAttempt: %v", err)
	}
	// A recorded idempotent create.
	r := domain.RequestRecord{TenantID: tenant.ID, Method: "/potential.scoring.v1.ScoringService/CreateScoringModel", ID: "catalog",
		Hash: domain.RequestHash([]byte("p")), Token: domain.NewID(), Created: at, Expires: at.Add(time.Minute)}
	if _, ok, err := s.ReserveRequest(ctx, r, at); err != nil || !ok {
		t.Fatalf("ReserveRequest: %v, %v", ok, err)
	}
	if err := s.CompleteRequest(ctx, tenant.ID, r.Method, r.ID, r.Token, []byte("response"), at.Add(24*time.Hour)); err != nil {
		t.Fatalf("CompleteRequest: %v", err)
	}
	// A rewrite of the tenant's assessments in flight: its claim, and the
	// note a concurrent writer's trigger leaves (as the service role).
	if err := s.batch(ctx, scope{tenant: tenant.ID}, func(b *pgx.Batch) {
		b.Queue(`INSERT INTO assessment_rewrites VALUES ($1, 'asmt_catalog', now())`, tenant.ID)
		b.Queue(`INSERT INTO assessment_rewrite_changes VALUES ($1, $2)`, tenant.ID, ids[0])
	}, func(br pgx.BatchResults) error {
		if _, err := br.Exec(); err != nil {
			return err
		}
		_, err := br.Exec()
		return err
	}); err != nil {
		t.Fatalf("a rewrite's rows: %v", err)
	}
}

// TestCatalog checks tenant isolation in the database itself, from the
// catalog, so that tables added later are covered without a change here:
//
//   - every table with a tenant_id (and tenants) has row-level security
//     enabled and forced, with the fail-closed tenant policy; no other
//     table exists but those in withoutTenant;
//   - the service role owns nothing, is no superuser, cannot bypass
//     row-level security or log in, may not read schema_migrations nor
//     change the audit log, and is the role the store's transactions run
//     as;
//   - through the store's pool, as the service runs its transactions, a
//     query of any of those tables with no tenant set fails, and with
//     tenant A set sees and changes none of B's rows, which exist.
func TestCatalog(t *testing.T) {
	t.Parallel()
	url := pgtest.NewDatabase(t, MigrationsHash(), Migrate)
	s, err := Open(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	ctx := t.Context()
	var tenants []domain.Tenant
	for _, name := range []string{"a", "b"} {
		tn := domain.Tenant{ID: domain.NewID(), Name: name, CreateTime: time.Now()}
		if err := s.CreateTenant(ctx, tn); err != nil {
			t.Fatal(err)
		}
		populate(t, s, tn)
		tenants = append(tenants, tn)
	}
	a, b := tenants[0], tenants[1]

	// The catalog, read by the pool's own login (the tables' owner here).
	type table struct {
		name              string
		tenantCol         string // "tenant_id", or "id" for tenants
		enabled, forced   bool
		policy            string // the tenant_isolation policy's USING expression
		read, write, drop bool   // the service role's privileges
	}
	rows, _ := s.pool.Query(ctx, `
SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity,
    EXISTS (SELECT FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped),
    coalesce((SELECT pg_get_expr(p.polqual, p.polrelid) FROM pg_policy p WHERE p.polrelid = c.oid AND p.polname = 'tenant_isolation'), ''),
    has_table_privilege($1, c.oid, 'SELECT'),
    has_table_privilege($1, c.oid, 'INSERT'),
    has_table_privilege($1, c.oid, 'UPDATE') OR has_table_privilege($1, c.oid, 'DELETE') OR has_table_privilege($1, c.oid, 'TRUNCATE')
FROM pg_class c
WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p')
ORDER BY 1`, ServiceRole)
	var tables []table
	var tb table
	var hasTenant bool
	_, err = pgx.ForEachRow(rows, []any{&tb.name, &tb.enabled, &tb.forced, &hasTenant, &tb.policy, &tb.read, &tb.write, &tb.drop}, func() error {
		tb.tenantCol = ""
		switch {
		case hasTenant:
			tb.tenantCol = "tenant_id"
		case tb.name == "tenants":
			tb.tenantCol = "id"
		case !slices.Contains(withoutTenant, tb.name):
			t.Errorf("table %s has no tenant_id: give it one (and row-level security), or list it in withoutTenant", tb.name)
		}
		tables = append(tables, tb)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var isolated []table
	for _, tb := range tables {
		switch {
		case tb.tenantCol != "":
			isolated = append(isolated, tb)
			if !tb.enabled || !tb.forced {
				t.Errorf("table %s: row-level security enabled %v, forced %v", tb.name, tb.enabled, tb.forced)
			}
			if !strings.Contains(tb.policy, tb.tenantCol+" = app_tenant_id()") {
				t.Errorf("table %s: tenant_isolation policy is %q, want %s = app_tenant_id()", tb.name, tb.policy, tb.tenantCol)
			}
			if !tb.read || !tb.write {
				t.Errorf("table %s: %s may read %v, insert %v", tb.name, ServiceRole, tb.read, tb.write)
			}
			if tb.name == "audit_events" && tb.drop {
				t.Errorf("%s may change or delete audit records", ServiceRole)
			}
		case tb.read || tb.write || tb.drop:
			t.Errorf("table %s: %s has privileges on it", tb.name, ServiceRole)
		}
	}
	for _, want := range []string{"tenants", "api_keys", "customers", "transactions", "purchase_days", "interactions", "referrals", "audit_events"} {
		if !slices.ContainsFunc(isolated, func(tb table) bool { return tb.name == want }) {
			t.Errorf("table %s is missing", want)
		}
	}

	// The service role itself.
	var super, bypass, login bool
	var owns int
	err = s.pool.QueryRow(ctx, `
SELECT r.rolsuper, r.rolbypassrls, r.rolcanlogin,
    (SELECT count(*) FROM pg_class c WHERE c.relowner = r.oid)
    + (SELECT count(*) FROM pg_namespace n WHERE n.nspowner = r.oid)
    + (SELECT count(*) FROM pg_proc p WHERE p.proowner = r.oid)
    + (SELECT count(*) FROM pg_database d WHERE d.datdba = r.oid)
FROM pg_roles r WHERE r.rolname = $1`, ServiceRole).Scan(&super, &bypass, &login, &owns)
	if err != nil {
		t.Fatalf("role %s: %v", ServiceRole, err)
	}
	if super || bypass || login || owns != 0 {
		t.Errorf("role %s: superuser %v, bypassrls %v, login %v, owns %d objects; want none of it", ServiceRole, super, bypass, login, owns)
	}
	var current, session string
	err = s.batch(ctx, scope{tenant: a.ID}, func(b *pgx.Batch) {
		b.Queue("SELECT current_user, session_user")
	}, func(br pgx.BatchResults) error { return br.QueryRow().Scan(&current, &session) })
	if err != nil || current != ServiceRole || session == ServiceRole {
		t.Errorf("the store's transactions run as %q (logged in as %q), %v; want %s", current, session, err, ServiceRole)
	}

	// inTx runs f in a transaction on the store's pool, started with the
	// given statement, and rolls it back.
	inTx := func(start string, args []any, f func(tx pgx.Tx) error) error {
		tx, err := s.pool.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck
		if start != "" {
			if _, err := tx.Exec(ctx, start, args...); err != nil {
				t.Fatalf("%s: %v", start, err)
			}
		}
		return f(tx)
	}
	count := func(tx pgx.Tx, tb table, where string, args ...any) (n int, err error) {
		err = tx.QueryRow(ctx, "SELECT count(*) FROM "+pgx.Identifier{tb.name}.Sanitize()+" "+where, args...).Scan(&n)
		return n, err
	}
	for _, tb := range isolated {
		col := pgx.Identifier{tb.tenantCol}.Sanitize()
		// No tenant: as the service role, and as the pool's login (the
		// owner, whom FORCE subjects to the policies), every read fails.
		for _, start := range []string{qAssumeServiceRole, ""} {
			err := inTx(start, nil, func(tx pgx.Tx) error {
				_, err := count(tx, tb, "")
				return err
			})
			if err == nil || !strings.Contains(err.Error(), "no tenant") {
				t.Errorf("%s with no tenant set (%q): %v; want the no-tenant error", tb.name, start, err)
			}
		}
		// B's rows exist ...
		_ = inTx(qSetTenant, []any{b.ID}, func(tx pgx.Tx) error {
			n, err := count(tx, tb, "")
			if err != nil || n == 0 {
				t.Errorf("%s has %d rows of tenant b (%v): extend populate so that every table is checked", tb.name, n, err)
			}
			return nil
		})
		// ... and tenant A sees none of them, nor any but its own.
		_ = inTx(qSetTenant, []any{a.ID}, func(tx pgx.Tx) error {
			for where, args := range map[string][]any{"WHERE " + col + " = $1": {b.ID}, "WHERE " + col + " <> $1": {a.ID}} {
				if n, err := count(tx, tb, where, args...); err != nil || n != 0 {
					t.Errorf("as tenant a, %s %s: %d rows, %v", tb.name, where, n, err)
				}
			}
			return nil
		})
		// Nor changes them: updates and deletes find nothing (or, on the
		// audit log, are not allowed at all).
		for _, stmt := range []string{
			"UPDATE " + pgx.Identifier{tb.name}.Sanitize() + " SET " + col + " = " + col + " WHERE " + col + " = $1",
			"DELETE FROM " + pgx.Identifier{tb.name}.Sanitize() + " WHERE " + col + " = $1",
		} {
			err := inTx(qSetTenant, []any{a.ID}, func(tx pgx.Tx) error {
				tag, err := tx.Exec(ctx, stmt, b.ID)
				if err == nil && tag.RowsAffected() != 0 {
					t.Errorf("as tenant a, %s changed %d rows of b", stmt, tag.RowsAffected())
				}
				return err
			})
			var pe *pgconn.PgError
			switch {
			case tb.name == "audit_events" && !(errors.As(err, &pe) && pe.Code == "42501"):
				t.Errorf("%s: %v; want permission denied", stmt, err)
			case tb.name != "audit_events" && err != nil:
				t.Errorf("%s: %v", stmt, err)
			}
		}
	}
}

// TestOpenRefusesAnUnrestrictedServiceRole checks that the store will not
// serve when the service role could escape row-level security.
func TestOpenRefusesAnUnrestrictedServiceRole(t *testing.T) {
	t.Parallel()
	url := pgtest.NewDatabase(t, MigrationsHash(), Migrate)
	// A table owned by the service role, as a migration run by it would
	// leave. (Its owner may make it one: the owner is a member.)
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(t.Context(), "GRANT CREATE ON SCHEMA public TO "+ServiceRole+"; CREATE TABLE stray (x int); ALTER TABLE stray OWNER TO "+ServiceRole); err != nil {
		t.Fatal(err)
	}
	s, err := Open(t.Context(), url)
	if err == nil {
		s.Close()
		t.Fatal("Open accepted a service role that owns a table")
	}
	if !strings.Contains(err.Error(), "owns") {
		t.Errorf("Open: %v; want it to say the role owns relations", err)
	}
}

// TestErasure holds the PostgreSQL store to the right to be forgotten,
// searching every row of every table of the schema, as listed by the
// catalog (so that tables added later are searched too), read as a
// superuser, whom row-level security does not hide anything from.
func TestErasure(t *testing.T) {
	t.Parallel()
	url := pgtest.NewDatabase(t, MigrationsHash(), Migrate)
	s, err := Open(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	db, err := pgx.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := pgx.ParseConfig(pgtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Database = db.Database
	su, err := pgx.ConnectConfig(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { su.Close(context.Background()) })
	var bypass bool
	if err := su.QueryRow(t.Context(), "SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user").Scan(&bypass); err != nil || !bypass {
		t.Skipf("DATABASE_URL's user cannot read past row-level security (%v): the search would see nothing", err)
	}
	var tables []string
	rows, _ := su.Query(t.Context(), `SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p', 'm') ORDER BY 1`)
	tables, err = pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil || len(tables) < 8 {
		t.Fatalf("tables %v, %v", tables, err)
	}
	storetest.Erasure(t, s, func(t *testing.T, text string) []storetest.Place {
		var out []storetest.Place
		for _, table := range tables {
			rows, _ := su.Query(t.Context(), "SELECT r::text FROM "+table+" r WHERE strpos(r::text, $1) > 0", text)
			found, err := pgx.CollectRows(rows, pgx.RowTo[string])
			if err != nil {
				t.Fatalf("searching %s: %v", table, err)
			}
			for _, row := range found {
				out = append(out, storetest.Place{Where: table, Text: row, Audit: strings.HasSuffix(table, ".audit_events")})
			}
		}
		return out
	})
}
