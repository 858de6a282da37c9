package postgres

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/potentialhq/potential/domain"
)

// TestFeedbackPlans seeds a tenant with 10,000 customers and 60,000 pieces
// of feedback over two years (a neighbour tenant with 20,000 more, and
// topic rules of 32 tenants), and
// checks that the feedback statements use the indexes they were written
// for, with custom and generic plans, and never scan a table. Run with -v
// to see the plans.
func TestFeedbackPlans(t *testing.T) {
	if testing.Short() {
		t.Skip("seeds 80,000 rows")
	}
	t.Parallel()
	s := openTest(t)
	ctx := t.Context()
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	rng := rand.New(rand.NewPCG(7, 7))
	kinds := []domain.FeedbackKind{domain.FeedbackComplaint, domain.FeedbackNPS, domain.FeedbackRating, domain.FeedbackPraise, domain.FeedbackQuestion, domain.FeedbackSuggestion}

	var tenant domain.Tenant
	var ids []string
	for n, size := range []struct{ customers, feedback int }{{10_000, 60_000}, {5_000, 20_000}} {
		tn := domain.Tenant{ID: domain.NewID(), Name: fmt.Sprintf("t%d", n), CreateTime: start}
		if err := s.CreateTenant(ctx, tn); err != nil {
			t.Fatal(err)
		}
		var cids []string
		for from := 0; from < size.customers; from += domain.MaxBatch {
			var cs []domain.Customer
			for i := from; i < from+domain.MaxBatch && i < size.customers; i++ {
				cs = append(cs, domain.Customer{ID: domain.NewID(), ExternalID: fmt.Sprintf("crm-%d", i), Kind: domain.KindCustomer})
			}
			out, err := s.UpsertCustomers(ctx, tn.ID, cs, start)
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range out {
				cids = append(cids, o.Customer.ID)
			}
		}
		// The feedback, in one statement from column arrays.
		var fids, exts, customers, kindCol, statuses, topics []string
		var scores []*int16
		var occurred, resolved []pgtype.Timestamptz
		var tFeedback []string
		for i := range size.feedback {
			k := kinds[rng.IntN(len(kinds))]
			at := start.Add(time.Duration(rng.IntN(2*365*24)) * time.Hour)
			f := domain.Feedback{Kind: k}
			if lo, hi, ok := k.ScoreRange(); ok {
				f.Score, f.HasScore = lo+rng.IntN(hi-lo+1), true
			}
			status, res := "", pgtype.Timestamptz{}
			if k == domain.FeedbackComplaint {
				status = string(domain.ComplaintStatuses[rng.IntN(len(domain.ComplaintStatuses))])
				if domain.ComplaintStatus(status).Resolved() {
					res = sortTime(at.Add(time.Duration(1+rng.IntN(500)) * time.Hour))
				}
			}
			id := domain.NewID()
			fids, exts, customers = append(fids, id), append(exts, fmt.Sprintf("f-%d", i)), append(customers, cids[rng.IntN(len(cids))])
			kindCol, statuses, topics = append(kindCol, string(k)), append(statuses, status), append(topics, []string{"", "delivery", "billing", "app"}[rng.IntN(4)])
			scores, occurred, resolved = append(scores, nullScore(&f)), append(occurred, sortTime(at)), append(resolved, res)
			if status != "" && status != string(domain.ComplaintOpen) {
				tFeedback = append(tFeedback, id)
			}
		}
		err := s.batch(ctx, scope{tenant: tn.ID}, func(b *pgx.Batch) {
			b.Queue(`INSERT INTO feedback (tenant_id, id, external_id, customer_id, kind, score, topic, occurred_at, create_time, update_time, status, resolve_time)
SELECT $1, u.id, u.ext, u.customer, u.kind, u.score, u.topic, u.at, u.at, u.at, u.status, u.resolved
FROM unnest($2::uuid[], $3::text[], $4::uuid[], $5::text[], $6::smallint[], $7::text[], $8::timestamptz[], $9::text[], $10::timestamptz[])
    AS u(id, ext, customer, kind, score, topic, at, status, resolved)`,
				tn.ID, fids, exts, customers, kindCol, scores, topics, occurred, statuses, resolved)
			b.Queue(`INSERT INTO complaint_transitions (tenant_id, feedback_id, seq, from_status, to_status, time)
SELECT $1, f.id, 1, 'open', f.status, f.update_time FROM feedback f WHERE f.tenant_id = $1 AND f.id = ANY($2::uuid[])`, tn.ID, tFeedback)
			b.Queue(`INSERT INTO topic_rules (tenant_id, topic, keywords, create_time, update_time)
SELECT $1, 'topic-' || i, ARRAY['k' || i], $2, $2 FROM generate_series(1, 200) i`, tn.ID, sortTime(start))
		}, func(br pgx.BatchResults) error {
			for range 3 {
				if _, err := br.Exec(); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			tenant, ids = tn, cids
		}
	}
	// Topic rules of 30 more tenants: a tenant's rules are a small part of
	// the table, as in production.
	for i := range 30 {
		tn := domain.Tenant{ID: domain.NewID(), Name: fmt.Sprintf("rules-%d", i), CreateTime: start}
		if err := s.CreateTenant(ctx, tn); err != nil {
			t.Fatal(err)
		}
		err := s.batch(ctx, scope{tenant: tn.ID}, func(b *pgx.Batch) {
			b.Queue(`INSERT INTO topic_rules (tenant_id, topic, keywords, create_time, update_time)
SELECT $1, 'topic-' || i, ARRAY['k' || i], $2, $2 FROM generate_series(1, 200) i`, tn.ID, sortTime(start))
		}, func(br pgx.BatchResults) error { _, err := br.Exec(); return err })
		if err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.pool.Exec(ctx, "ANALYZE"); err != nil {
		t.Fatal(err)
	}

	sc := scope{tenant: tenant.ID}
	inf := pgtype.Timestamptz{InfinityModifier: pgtype.Infinity, Valid: true}
	ninf := pgtype.Timestamptz{InfinityModifier: pgtype.NegativeInfinity, Valid: true}
	at := sortTime(start.AddDate(1, 0, 0))
	none, complaints := []string{}, []string{"complaint"}
	type plan struct {
		name string
		sql  string
		args []any
		uses []string // every index the plan must name ("a|b": either)
	}
	plans := []plan{
		{"submit", qSubmitFeedback, []any{tenant.ID, domain.NewID(), "new", ids[3], "praise", nil, "", "", "", "", at, at, at, "", nil}, []string{"customers_pkey"}},
		{"feedback by external id", qFeedbackByExternal, []any{tenant.ID, "f-77"}, []string{"feedback_tenant_id_external_id_key"}},
		{"transitions by external id", qTransitionsByFeedbackExternal, []any{tenant.ID, "f-77"}, []string{"feedback_tenant_id_external_id_key", "complaint_transitions_pkey"}},
		{"get", qGetFeedback, []any{tenant.ID, ids[0]}, []string{"feedback_pkey"}},
		{"transitions of a page", qTransitionsOf, []any{tenant.ID, ids[:50]}, []string{"complaint_transitions_pkey"}},
		{"list, first page", qListFeedback, []any{tenant.ID, none, none, "", ninf, inf, inf, maxUUID, int64(51)}, []string{"feedback_occurred"}},
		// Open complaints are few: reading them from feedback_unresolved and
		// sorting is as good as the ordered scan.
		{"list open complaints, later page", qListFeedback, []any{tenant.ID, complaints, []string{"open"}, "delivery", ninf, inf, at, ids[5], int64(51)}, []string{"feedback_occurred|feedback_unresolved"}},
		{"list complaints, later page", qListFeedback, []any{tenant.ID, complaints, none, "", ninf, inf, at, ids[5], int64(51)}, []string{"feedback_occurred"}},
		{"list a period", qListFeedback, []any{tenant.ID, none, none, "", at, sortTime(start.AddDate(1, 1, 0)), inf, maxUUID, int64(51)}, []string{"feedback_occurred"}},
		{"list a customer's", qListFeedbackOfCustomer, []any{tenant.ID, ids[9], none, none, "", ninf, inf, inf, maxUUID, int64(51)}, []string{"feedback_customer"}},
		{"transition", qAppendTransition, []any{tenant.ID, ids[1], int64(1), "in_progress", nil, at, 1, "open", "", "k", ""}, []string{"feedback_pkey"}},
		{"facts of four weeks", qFeedbackFacts, []any{tenant.ID, at, sortTime(start.AddDate(1, 0, 28))}, []string{"feedback_occurred", "feedback_resolved"}},
		{"facts of some customers", qFeedbackFactsOf, []any{tenant.ID, at, sortTime(start.AddDate(1, 0, 28)), ids[:50]}, []string{"feedback_occurred|feedback_customer"}},
		{"a customer's feedback", qFeedbackOfCustomer, []any{tenant.ID, ids[9]}, []string{"feedback_customer"}},
		{"a customer's transitions", qTransitionsOfCustomer, []any{tenant.ID, ids[9]}, []string{"feedback_customer", "complaint_transitions_pkey"}},
		{"open complaints of a batch", qOpenComplaintsOf, []any{tenant.ID, ids[:1000]}, []string{"feedback_unresolved"}},
		{"open complaints of the tenant", qOpenComplaints, []any{tenant.ID}, []string{"feedback_unresolved"}},
		{"topic rules", qListTopicRules, []any{tenant.ID}, []string{"topic_rules_pkey"}},
	}
	for _, mode := range []string{"force_custom_plan", "force_generic_plan"} {
		for _, p := range plans {
			text := explain(t, s, sc, mode, "", p.sql, p.args)
			t.Logf("%s (%s):\n%s", p.name, mode, text)
			for _, idx := range p.uses {
				if !slices.ContainsFunc(strings.Split(idx, "|"), func(name string) bool { return strings.Contains(text, name) }) {
					t.Errorf("%s (%s): the plan does not use %s:\n%s", p.name, mode, idx, text)
				}
			}
			for _, line := range strings.Split(text, "\n") {
				if strings.Contains(line, "Seq Scan on") {
					t.Errorf("%s (%s): sequential scan: %s", p.name, mode, strings.TrimSpace(line))
				}
			}
		}
	}
}
