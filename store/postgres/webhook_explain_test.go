package postgres

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/potentialhq/potential/domain"
)

// TestWebhookPlans seeds two tenants (a subscription, 4,000 segment events
// fed as deliveries, 4,000 grade changes each) and checks that the feed,
// the claim and the delivery log use the indexes they were written for,
// with custom and generic plans, and never scan a table.
func TestWebhookPlans(t *testing.T) {
	if testing.Short() {
		t.Skip("seeds 8,000 customers")
	}
	t.Parallel()
	s := openTest(t)
	ctx := t.Context()
	now := time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)
	const size = 4000
	var tenant domain.Tenant
	var subID string
	for n := range 2 {
		tn := domain.Tenant{ID: domain.NewID(), Name: fmt.Sprintf("t%d", n), CreateTime: now}
		if err := s.CreateTenant(ctx, tn); err != nil {
			t.Fatal(err)
		}
		d, err := s.CreateWebhookDestination(ctx, domain.WebhookDestination{ID: domain.NewID(), TenantID: tn.ID, URL: "https://h.example.com/", CreateTime: now})
		if err != nil {
			t.Fatal(err)
		}
		sub, err := s.CreateWebhookSubscription(ctx, domain.WebhookSubscription{ID: domain.NewID(), TenantID: tn.ID, DestinationID: d.ID,
			URL: d.URL, EventTypes: []domain.WebhookEventType{domain.WebhookSegmentEntered}, Secret: "s", CreateTime: now})
		if err != nil {
			t.Fatal(err)
		}
		sg, err := s.CreateSegment(ctx, domain.Segment{ID: domain.NewID(), TenantID: tn.ID, Name: "all", Kind: domain.SegmentStatic, CreateTime: now})
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for start := 0; start < size; start += domain.MaxBatch {
			var cs []domain.Customer
			for i := start; i < start+domain.MaxBatch; i++ {
				cs = append(cs, domain.Customer{ID: domain.NewID(), ExternalID: fmt.Sprintf("crm-%d", i), Kind: domain.KindCustomer})
			}
			out, err := s.UpsertCustomers(ctx, tn.ID, cs, now)
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range out {
				ids = append(ids, o.Customer.ID)
			}
		}
		if _, err := s.ChangeStaticMembers(ctx, tn.ID, sg.ID, ids, nil, now); err != nil {
			t.Fatal(err)
		}
		// Grade changes, as scoring writes them.
		sc := scope{tenant: tn.ID}
		cIDs, times, versions := make([]string, size), make([]time.Time, size), make([]int64, size)
		texts := make([]string, size)
		for i := range size {
			cIDs[i], times[i], texts[i] = domain.NewID(), now, "x"
		}
		if err := s.batch(ctx, sc, func(b *pgx.Batch) {
			b.Queue(qInsertGradeChanges, sc.tenant, cIDs, ids, texts, texts, times, versions, texts, texts)
		}, func(br pgx.BatchResults) error { _, err := br.Exec(); return err }); err != nil {
			t.Fatal(err)
		}
		for {
			n, err := s.FeedWebhooks(ctx, tn.ID, 1000, func(f *domain.WebhookFeed) ([]domain.WebhookDelivery, error) {
				var out []domain.WebhookDelivery
				for _, ev := range f.SegmentEvents {
					id := domain.SegmentWebhookEventID(ev.Cursor)
					out = append(out, domain.WebhookDelivery{ID: domain.WebhookDeliveryID(sub.ID, id), SubscriptionID: sub.ID, EventID: id,
						EventType: domain.WebhookSegmentEntered, EventTime: now, Payload: []byte("{}"), NextAttemptTime: now.Add(time.Duration(ev.Cursor) * time.Second), CreateTime: now})
				}
				return out, nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if n == 0 {
				break
			}
		}
		// 300 deliveries have had an attempt.
		ls, err := s.ClaimWebhookDeliveries(ctx, tn.ID, now.Add(time.Duration(size)*time.Second), now.Add(48*time.Hour), 300)
		if err != nil || len(ls) != 300 {
			t.Fatalf("claimed %d: %v", len(ls), err)
		}
		for _, l := range ls {
			if err := s.CompleteWebhookAttempt(ctx, tn.ID, l, domain.WebhookOutcome{State: domain.WebhookSucceeded,
				Log: domain.WebhookAttempt{Attempt: 1, Start: now, StatusCode: 200}}); err != nil {
				t.Fatal(err)
			}
		}
		if n == 0 {
			tenant, subID = tn, sub.ID
		}
	}
	if _, err := s.pool.Exec(ctx, "ANALYZE"); err != nil {
		t.Fatal(err)
	}
	sc := scope{tenant: tenant.ID}
	plans := []struct {
		name string
		sql  string
		args []any
		uses []string
	}{
		{"segment events of the feed", qFeedSegmentEvents, []any{tenant.ID, int64(size - 100), 100}, []string{"segment_events_pkey"}},
		{"grade changes of the feed", qFeedGradeChanges, []any{tenant.ID, "1", 100}, []string{"grade_changes_feed"}},
		{"claim", qClaimWebhookDeliveries, []any{tenant.ID, now.Add(100 * time.Second), 100, domain.NewID(), now.Add(time.Hour)},
			[]string{"webhook_deliveries_due"}},
		{"delivery log", qListWebhookDeliveries, []any{tenant.ID, subID, now.Add(time.Hour), "ffffffff-ffff-ffff-ffff-ffffffffffff", 51},
			[]string{"webhook_deliveries_subscription", "webhook_attempts_pkey"}},
		{"prune", qPruneWebhookDeliveries, []any{tenant.ID, now.Add(time.Hour), 1000}, []string{"webhook_deliveries_finished"}},
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
				if strings.Contains(line, "Seq Scan on") && !strings.Contains(line, "webhook_subscriptions") && !strings.Contains(line, "webhook_destinations") &&
					!strings.Contains(line, "webhook_feed_grades") { // only the changes above the horizon: empty here
					t.Errorf("%s (%s): sequential scan: %s", p.name, mode, strings.TrimSpace(line))
				}
			}
		}
	}
}
