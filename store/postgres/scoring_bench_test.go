package postgres_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/url"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/potentialhq/potential/domain"
	"github.com/potentialhq/potential/store/pgtest"
	"github.com/potentialhq/potential/store/postgres"
)

// scoringBenchNow is the clock of the scoring benchmarks' services.
var scoringBenchNow = time.Date(2026, 6, 1, 6, 0, 0, 0, time.UTC)

// scoringBenchRules are 20 rules over every sort of event, with
// conditions, caps and validity windows, as a tenant might have them.
func scoringBenchRules(modelID string) []domain.ScoringRule {
	day := 24 * time.Hour
	rs := []domain.ScoringRule{
		{Name: "Orders", EventKind: domain.EventKindOrder, Points: 50, HasValidity: true, Validity: 180 * day},
		{Name: "Big orders", EventKind: domain.EventKindOrder, Points: 30, Condition: `event.amount > 500.0`, Cap: 90, HasValidity: true, Validity: 365 * day},
		{Name: "First order", EventKind: domain.EventKindOrder, Points: 40, Condition: `customer.orders == 1`},
		{Name: "Big orders in Poland", EventKind: domain.EventKindOrder, Points: 20, Condition: `event.amount > 900.0 && customer.country == "PL"`},
		{Name: "Refunds", EventKind: domain.EventKindRefund, Points: -20, HasValidity: true, Validity: 90 * day},
		{Name: "Opens", EventKind: domain.EventKindEmailOpened, Points: 2, Cap: 10, HasValidity: true, Validity: 30 * day},
		{Name: "Clicks", EventKind: domain.EventKindEmailClicked, Points: 5, Cap: 20, HasValidity: true, Validity: 30 * day},
		{Name: "Sends", EventKind: domain.EventKindEmailSent, Points: 1, Cap: 5, HasValidity: true, Validity: 30 * day},
		{Name: "Page views", EventKind: domain.EventKindPageView, Points: 1, Cap: 10, HasValidity: true, Validity: 14 * day},
		{Name: "Site visits", EventKind: domain.EventKindSiteVisit, Points: 1, Cap: 5, HasValidity: true, Validity: 14 * day},
		{Name: "Meetings", EventKind: domain.EventKindMeeting, Points: 25, HasValidity: true, Validity: 120 * day},
		{Name: "Inbound calls", EventKind: domain.EventKindCall, Points: 10, Condition: `event.direction == "inbound"`, HasValidity: true, Validity: 60 * day},
		{Name: "Chats", EventKind: domain.EventKindChat, Points: 5, HasValidity: true, Validity: 60 * day},
		{Name: "Forms", EventKind: domain.EventKindFormSubmission, Points: 15, HasValidity: true, Validity: 90 * day},
		{Name: "Social", EventKind: domain.EventKindSocialEngagement, Points: 3, Cap: 15, HasValidity: true, Validity: 30 * day},
		{Name: "Referrals", EventKind: domain.EventKindReferralGiven, Points: 30},
		{Name: "Unjustified complaints", EventKind: domain.EventKindComplaintResolvedUnjustified, Points: -40, HasValidity: true, Validity: 365 * day},
		{Name: "Poor ratings", EventKind: domain.EventKindRating, Points: -10, Condition: `event.rating <= 2`},
		{Name: "Promoters", EventKind: domain.EventKindNPS, Points: 10, Condition: `event.rating >= 9`},
		{Name: "Qualified", EventKind: domain.EventKindQualificationChanged, Points: 10, Condition: `customer.kind == "lead"`},
	}
	for i := range rs {
		rs[i].ModelID = modelID
	}
	return rs
}

// scoringBenchEvents returns the batches (of domain.MaxBatch) of n events
// of the customers ids: 30 % transactions (a tenth refunds), 70 %
// interactions of every type, over the year before scoringBenchNow.
func scoringBenchEvents(ids []string, n int) (txBatches [][]domain.Transaction, itBatches [][]domain.Interaction) {
	rng := rand.New(rand.NewPCG(5, 20))
	types := []domain.InteractionType{domain.InteractionEmailOpened, domain.InteractionEmailOpened, domain.InteractionEmailClicked, domain.InteractionEmailSent,
		domain.InteractionPageView, domain.InteractionPageView, domain.InteractionSiteVisit, domain.InteractionMeeting, domain.InteractionCall,
		domain.InteractionChat, domain.InteractionFormSubmission, domain.InteractionSocial}
	at := func() time.Time { return scoringBenchNow.Add(-time.Duration(rng.Int64N(365*86400)) * time.Second) }
	var txs []domain.Transaction
	var its []domain.Interaction
	for i := range n {
		c := domain.CustomerRef{ID: ids[rng.IntN(len(ids))]}
		if i%10 < 3 {
			kind := domain.TxOrder
			if rng.IntN(10) == 0 {
				kind = domain.TxRefund
			}
			txs = append(txs, domain.Transaction{ExternalID: fmt.Sprintf("t%d", i), Customer: c, Kind: kind, Amount: domain.Money(rng.Int64N(1_500_000_000)), OccurredAt: at()})
		} else {
			dir := domain.DirectionOutbound
			if rng.IntN(2) == 0 {
				dir = domain.DirectionInbound
			}
			its = append(its, domain.Interaction{ExternalID: fmt.Sprintf("i%d", i), Customer: c, Type: types[rng.IntN(len(types))], Direction: dir, Channel: "web", OccurredAt: at()})
		}
	}
	for start := 0; start < len(txs); start += domain.MaxBatch {
		txBatches = append(txBatches, txs[start:min(start+domain.MaxBatch, len(txs))])
	}
	for start := 0; start < len(its); start += domain.MaxBatch {
		itBatches = append(itBatches, its[start:min(start+domain.MaxBatch, len(its))])
	}
	return txBatches, itBatches
}

// scoringBenchTenant creates a tenant with n customers (a fifth in PL) and
// returns it with their ids.
func scoringBenchTenant(b testing.TB, s *postgres.Store, name string, n int) (domain.Tenant, []string) {
	b.Helper()
	ctx := context.Background()
	tn := domain.Tenant{ID: domain.NewID(), Name: name, CreateTime: scoringBenchNow.AddDate(-2, 0, 0)}
	if err := s.CreateTenant(ctx, tn); err != nil {
		b.Fatal(err)
	}
	var ids []string
	for start := 0; start < n; start += domain.MaxBatch {
		var cs []domain.Customer
		for i := start; i < min(start+domain.MaxBatch, n); i++ {
			c := domain.Customer{ID: domain.NewID(), ExternalID: fmt.Sprintf("c%d", i), Kind: domain.KindCustomer, Country: "DE"}
			if i%5 == 0 {
				c.Country = "PL"
			}
			cs = append(cs, c)
		}
		out, err := s.UpsertCustomers(ctx, tn.ID, cs, tn.CreateTime)
		if err != nil {
			b.Fatal(err)
		}
		for _, o := range out {
			ids = append(ids, o.Customer.ID)
		}
	}
	return tn, ids
}

// analyze gathers the statistics of tables of the benchmark's database.
func analyze(b testing.TB, dbURL string, tables ...string) {
	b.Helper()
	conn := superuser(b, dbURL)
	defer conn.Close(context.Background())
	for _, t := range tables {
		if _, err := conn.Exec(context.Background(), "ANALYZE "+pgx.Identifier{t}.Sanitize()); err != nil {
			b.Fatal(err)
		}
	}
}

// superuser connects to the benchmark's database as the server's
// (privileged) user, which COPY into tables with row-level security needs.
func superuser(b testing.TB, dbURL string) *pgx.Conn {
	b.Helper()
	u, err := url.Parse(pgtest.URL(b))
	if err != nil {
		b.Fatal(err)
	}
	tu, _ := url.Parse(dbURL)
	u.Path = tu.Path
	return connect(b, u.String())
}

// BenchmarkScoredIngestion records 100,000 events (30,000 transactions and
// 70,000 interactions, in calls of 1,000, over 10,000 customers) four ways,
// each into a tenant of its own in one database, and reports the seconds
// of each and the ratios:
//
//   - copy-s: COPY of the same rows into the event tables, as the
//     server's user: the floor of what PostgreSQL can absorb;
//   - store-s: the store's RecordTransactions and RecordInteractions,
//     which insert the events idempotently and maintain the customers'
//     statistics (the "plain insert" of Potential);
//   - norules-s: the service's RecordTransactions and RecordInteractions
//     for a tenant without scoring rules (validation, the store, and what
//     every recording does after it: assessing and grading the customers);
//   - rules-s: the same with 20 active rules: the batch's customers are
//     also re-scored from their events and their ledgers written.
//
// x-copy, x-store and x-norules are rules-s over each. One iteration:
//
//	go test -run '^$' -bench 'ScoredIngestion' -benchtime 1x -timeout 30m ./store/postgres/
func BenchmarkScoredIngestion(b *testing.B) {
	const customers, events = 10_000, 100_000
	dbURL := newDatabase(b)
	s := open(b, dbURL)
	ctx := context.Background()
	for b.Loop() {
		b.StopTimer()
		var secs [4]float64
		for phase := range 4 {
			tn, ids := scoringBenchTenant(b, s, fmt.Sprintf("phase-%d-%s", phase, domain.NewID()), customers)
			// The customers exist before their events, and have statistics
			// (autovacuum analyses a table within a minute of such growth);
			// the event tables grow during the run, as they do in use.
			analyze(b, dbURL, "customers", "assessments", "customer_grades")
			txBatches, itBatches := scoringBenchEvents(ids, events)
			svc := domain.NewService(s, func() time.Time { return scoringBenchNow })
			actx := domain.WithPrincipal(ctx, domain.Principal{TenantID: tn.ID, KeyID: "bench", Role: domain.RoleAdmin})
			if phase == 3 {
				m, err := svc.CreateScoringModel(actx, domain.ScoringModel{Name: "engagement"})
				if err != nil {
					b.Fatal(err)
				}
				for _, r := range scoringBenchRules(m.ID) {
					if _, err := svc.CreateScoringRule(actx, r); err != nil {
						b.Fatal(err)
					}
				}
			}
			var copyRows func() error
			if phase == 0 {
				conn := superuser(b, dbURL)
				copyRows = func() error {
					for _, batch := range txBatches {
						rows := make([][]any, len(batch))
						for i, t := range batch {
							rows[i] = []any{tn.ID, domain.NewID(), t.ExternalID, t.Customer.ID, string(t.Kind), int64(t.Amount), nil, int64(0), t.OccurredAt}
						}
						if _, err := conn.CopyFrom(ctx, pgx.Identifier{"transactions"}, []string{"tenant_id", "id", "external_id", "customer_id", "kind", "amount", "margin", "quantity", "occurred_at"}, pgx.CopyFromRows(rows)); err != nil {
							return err
						}
					}
					for _, batch := range itBatches {
						rows := make([][]any, len(batch))
						for i, it := range batch {
							rows[i] = []any{tn.ID, domain.NewID(), it.ExternalID, it.Customer.ID, string(it.Type), string(it.Direction), it.Channel, it.OccurredAt}
						}
						if _, err := conn.CopyFrom(ctx, pgx.Identifier{"interactions"}, []string{"tenant_id", "id", "external_id", "customer_id", "type", "direction", "channel", "occurred_at"}, pgx.CopyFromRows(rows)); err != nil {
							return err
						}
					}
					return nil
				}
			}
			start := time.Now()
			b.StartTimer()
			var err error
			switch phase {
			case 0:
				err = copyRows()
			case 1:
				for i := 0; err == nil && i < max(len(txBatches), len(itBatches)); i++ {
					if i < len(txBatches) {
						_, err = s.RecordTransactions(ctx, tn.ID, freshIDs(txBatches[i]), domain.RecordOptions{Now: scoringBenchNow})
					}
					if err == nil && i < len(itBatches) {
						_, err = s.RecordInteractions(ctx, tn.ID, freshInteractionIDs(itBatches[i]), domain.RecordOptions{Now: scoringBenchNow})
					}
				}
			default:
				for i := 0; err == nil && i < max(len(txBatches), len(itBatches)); i++ {
					if i < len(txBatches) {
						_, err = svc.RecordTransactions(actx, append([]domain.Transaction(nil), txBatches[i]...), false)
					}
					if err == nil && i < len(itBatches) {
						_, err = svc.RecordInteractions(actx, append([]domain.Interaction(nil), itBatches[i]...), false)
					}
				}
			}
			b.StopTimer()
			if err != nil {
				b.Fatal(err)
			}
			secs[phase] = time.Since(start).Seconds()
			if phase == 3 {
				entries := 0
				if err := s.ReadScoring(actx, tn.ID, domain.ScoringQuery{All: true}, func(bt *domain.ScoringBatch) error {
					for _, in := range bt.Customers {
						entries += len(in.Ledger)
					}
					return nil
				}); err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(float64(entries), "ledger-entries")
			}
		}
		b.ReportMetric(secs[0], "copy-s")
		b.ReportMetric(secs[1], "store-s")
		b.ReportMetric(secs[2], "norules-s")
		b.ReportMetric(secs[3], "rules-s")
		b.ReportMetric(secs[3]/secs[0], "x-copy")
		b.ReportMetric(secs[3]/secs[1], "x-store")
		b.ReportMetric(secs[3]/secs[2], "x-norules")
		b.ReportMetric(events/secs[3], "events/s")
		b.StartTimer()
	}
}

func freshIDs(txs []domain.Transaction) []domain.Transaction {
	out := append([]domain.Transaction(nil), txs...)
	for i := range out {
		out[i].ID = domain.NewID()
	}
	return out
}

func freshInteractionIDs(its []domain.Interaction) []domain.Interaction {
	out := append([]domain.Interaction(nil), its...)
	for i := range out {
		out[i].ID = domain.NewID()
	}
	return out
}

// BenchmarkRescoreAfterRuleChange times the re-scoring of a whole tenant
// after one of its 20 rules changes. The tenant has n customers with an
// order and one or two interactions each (loaded with COPY, outside the
// timer), a model with 20 rules and the default grading policy:
//
//   - initial-s: the 20th rule created through the service, which scores
//     and grades every customer from the stored events the first time
//     (every ledger entry is written);
//   - change-s: the "Orders" rule's points changed through the service:
//     every customer is re-scored and re-graded, and the entries of that
//     rule (one per order) are replaced, since their ids name the version.
//
// One iteration:
//
//	go test -run '^$' -bench 'RescoreAfterRuleChange/customers=100000$' -benchtime 1x -timeout 60m ./store/postgres/
//	go test -run '^$' -bench 'RescoreAfterRuleChange/customers=1000000$' -benchtime 1x -timeout 120m ./store/postgres/
func BenchmarkRescoreAfterRuleChange(b *testing.B) {
	for _, n := range []int{100_000, 1_000_000} {
		b.Run(fmt.Sprintf("customers=%d", n), func(b *testing.B) { benchRescore(b, n) })
	}
}

func benchRescore(b *testing.B, n int) {
	dbURL := newDatabase(b)
	s := open(b, dbURL)
	ctx := context.Background()
	tn := domain.Tenant{ID: domain.NewID(), Name: "rescore", CreateTime: scoringBenchNow.AddDate(-2, 0, 0)}
	if err := s.CreateTenant(ctx, tn); err != nil {
		b.Fatal(err)
	}
	load := time.Now()
	conn := benchLoadTenant(b, dbURL, tn, n)
	b.ReportMetric(time.Since(load).Seconds(), "load-s")

	svc := domain.NewService(s, func() time.Time { return scoringBenchNow })
	actx := domain.WithPrincipal(ctx, domain.Principal{TenantID: tn.ID, KeyID: "bench", Role: domain.RoleAdmin})
	m, err := svc.CreateScoringModel(actx, domain.ScoringModel{Name: "engagement"})
	if err != nil {
		b.Fatal(err)
	}
	rules := scoringBenchRules(m.ID)
	// 19 rules straight into the store (no re-scoring), the 20th through
	// the service, which scores everyone.
	var orders domain.ScoringRule
	for i, r := range rules[:len(rules)-1] {
		r.ID, r.TenantID, r.Version, r.CreateTime, r.UpdateTime = domain.NewID(), tn.ID, 1, scoringBenchNow, scoringBenchNow.Add(time.Duration(i))
		out, _, err := s.CreateScoringRule(ctx, r)
		if err != nil {
			b.Fatal(err)
		}
		if r.Name == "Orders" {
			orders = out
		}
	}
	for b.Loop() {
		start := time.Now()
		if _, err := svc.CreateScoringRule(actx, rules[len(rules)-1]); err != nil {
			b.Fatal(err)
		}
		initial := time.Since(start).Seconds()
		start = time.Now()
		if _, err := svc.UpdateScoringRule(actx, orders.ID, "", func(r *domain.ScoringRule) error { r.Points = 60; return nil }); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(initial, "initial-s")
		b.ReportMetric(time.Since(start).Seconds(), "change-s")
	}
	var entries int64
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM scoring_ledger WHERE tenant_id = $1", tn.ID).Scan(&entries); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(entries), "ledger-entries")
}

// benchLoadTenant loads n customers into tenant tn with COPY, as the
// server's user, with an order and one or two interactions each over the
// year before scoringBenchNow, and returns the connection.
func benchLoadTenant(b *testing.B, dbURL string, tn domain.Tenant, n int) *pgx.Conn {
	b.Helper()
	ctx := context.Background()
	conn := superuser(b, dbURL)
	rng := rand.New(rand.NewPCG(9, uint64(n)))
	types := []string{"email_opened", "email_clicked", "page_view", "meeting", "call"}
	const chunk = 50_000
	for start := 0; start < n; start += chunk {
		var cs, txs, its [][]any
		for i := start; i < min(start+chunk, n); i++ {
			id := uuid.Must(uuid.NewV7())
			country := "DE"
			if i%5 == 0 {
				country = "PL"
			}
			cs = append(cs, []any{tn.ID, id, fmt.Sprintf("c%d", i), "customer", country, tn.CreateTime, tn.CreateTime})
			at := scoringBenchNow.Add(-time.Duration(rng.Int64N(365*86400)) * time.Second)
			txs = append(txs, []any{tn.ID, uuid.Must(uuid.NewV7()), fmt.Sprintf("t%d", i), id, "order", rng.Int64N(1_500_000_000), at})
			for j := range 1 + rng.IntN(2) {
				its = append(its, []any{tn.ID, uuid.Must(uuid.NewV7()), fmt.Sprintf("i%d-%d", i, j), id, types[rng.IntN(len(types))], "inbound",
					scoringBenchNow.Add(-time.Duration(rng.Int64N(365*86400)) * time.Second)})
			}
		}
		for _, c := range []struct {
			table string
			cols  []string
			rows  [][]any
		}{
			{"customers", []string{"tenant_id", "id", "external_id", "kind", "country", "create_time", "update_time"}, cs},
			{"transactions", []string{"tenant_id", "id", "external_id", "customer_id", "kind", "amount", "occurred_at"}, txs},
			{"interactions", []string{"tenant_id", "id", "external_id", "customer_id", "type", "direction", "occurred_at"}, its},
		} {
			if _, err := conn.CopyFrom(ctx, pgx.Identifier{c.table}, c.cols, pgx.CopyFromRows(c.rows)); err != nil {
				b.Fatal(err)
			}
		}
	}
	if _, err := conn.Exec(ctx, "ANALYZE"); err != nil {
		b.Fatal(err)
	}
	return conn
}
