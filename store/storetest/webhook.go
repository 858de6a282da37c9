package storetest

import (
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/potentialhq/potential/domain"
)

// hookEnv is a tenant with a destination and a static segment.
type hookEnv struct {
	t      *testing.T
	s      domain.Store
	tn     domain.Tenant
	dest   domain.WebhookDestination
	segID  string
	custNo int
}

func newHookEnv(t *testing.T, s domain.Store) *hookEnv {
	t.Helper()
	e := &hookEnv{t: t, s: s, tn: newTenant(t, s)}
	d, err := s.CreateWebhookDestination(ctx(t), domain.WebhookDestination{ID: domain.NewID(), TenantID: e.tn.ID,
		URL: "https://hooks.example.com/a", Description: "a", CreateTime: t0})
	if err != nil {
		t.Fatalf("CreateWebhookDestination: %v", err)
	}
	e.dest = d
	sg, err := s.CreateSegment(ctx(t), domain.Segment{ID: domain.NewID(), TenantID: e.tn.ID, Name: "vip", Kind: domain.SegmentStatic, CreateTime: t0})
	if err != nil {
		t.Fatalf("CreateSegment: %v", err)
	}
	e.segID = sg.ID
	return e
}

// subscribe stores a subscription to segment entries created at at.
func (e *hookEnv) subscribe(at time.Time) domain.WebhookSubscription {
	e.t.Helper()
	sub, err := e.s.CreateWebhookSubscription(ctx(e.t), domain.WebhookSubscription{ID: domain.NewID(), TenantID: e.tn.ID,
		DestinationID: e.dest.ID, URL: e.dest.URL, EventTypes: []domain.WebhookEventType{domain.WebhookSegmentEntered},
		SegmentIDs: []string{e.segID}, Secret: "whsec_test", CreateTime: at, UpdateTime: at})
	if err != nil {
		e.t.Fatalf("CreateWebhookSubscription: %v", err)
	}
	return sub
}

// enter adds n new customers to the segment at at.
func (e *hookEnv) enter(n int, at time.Time) {
	e.t.Helper()
	var ids []string
	for range n {
		e.custNo++
		ids = append(ids, create(e.t, e.s, newCustomer(e.tn, "c"+strconv.Itoa(e.custNo))).ID)
	}
	if _, err := e.s.ChangeStaticMembers(ctx(e.t), e.tn.ID, e.segID, ids, nil, at); err != nil {
		e.t.Fatalf("ChangeStaticMembers: %v", err)
	}
}

// feed runs one feed step that turns every segment event into a delivery
// to every subscription, due at due; it returns the events read and the
// events the step saw.
func (e *hookEnv) feed(due time.Time) (int, []domain.SegmentEvent) {
	e.t.Helper()
	var seen []domain.SegmentEvent
	n, err := e.s.FeedWebhooks(ctx(e.t), e.tn.ID, 100, func(f *domain.WebhookFeed) ([]domain.WebhookDelivery, error) {
		var out []domain.WebhookDelivery
		seen = append(seen, f.SegmentEvents...)
		for _, sub := range f.Subscriptions {
			for _, ev := range f.SegmentEvents {
				id := domain.SegmentWebhookEventID(ev.Cursor)
				d := domain.WebhookDelivery{ID: domain.WebhookDeliveryID(sub.ID, id), SubscriptionID: sub.ID, EventID: id,
					EventType: domain.WebhookSegmentEntered, EventTime: ev.Time, Payload: []byte(`{"id":"` + id + `"}`),
					State: domain.WebhookPending, NextAttemptTime: due, CreateTime: due}
				out = append(out, d, d) // twice: stored once
			}
		}
		return out, nil
	})
	if err != nil {
		e.t.Fatalf("FeedWebhooks: %v", err)
	}
	return n, seen
}

func (e *hookEnv) claim(now time.Time, limit int) []domain.WebhookLease {
	e.t.Helper()
	ls, err := e.s.ClaimWebhookDeliveries(ctx(e.t), e.tn.ID, now, now.Add(time.Minute), limit)
	if err != nil {
		e.t.Fatalf("ClaimWebhookDeliveries: %v", err)
	}
	return ls
}

func (e *hookEnv) complete(l domain.WebhookLease, o domain.WebhookOutcome) error {
	return e.s.CompleteWebhookAttempt(ctx(e.t), e.tn.ID, l, o)
}

func (e *hookEnv) log(subID string) []domain.WebhookDelivery {
	e.t.Helper()
	ds, err := e.s.ListWebhookDeliveries(ctx(e.t), e.tn.ID, subID, nil, 1000)
	if err != nil {
		e.t.Fatalf("ListWebhookDeliveries: %v", err)
	}
	return ds
}

var webhookTests = []test{
	{"Webhooks/DestinationsAreAnAllowlist", func(t *testing.T, s domain.Store) {
		e := newHookEnv(t, s)
		_, err := s.CreateWebhookDestination(ctx(t), domain.WebhookDestination{ID: domain.NewID(), TenantID: e.tn.ID, URL: e.dest.URL, CreateTime: t0})
		wantErr(t, "the same URL again", err, domain.ErrConflict)
		b, err := s.CreateWebhookDestination(ctx(t), domain.WebhookDestination{ID: domain.NewID(), TenantID: e.tn.ID, URL: "https://a.example.com/",
			AllowPrivateNetwork: true, CreateTime: t0})
		if err != nil {
			t.Fatal(err)
		}
		ds, err := s.ListWebhookDestinations(ctx(t), e.tn.ID)
		wantEqual(t, "destinations", ds, []domain.WebhookDestination{b, e.dest})
		if err != nil {
			t.Fatal(err)
		}
		// Another tenant sees none, and can register the same URL.
		other := newTenant(t, s)
		if ds, _ := s.ListWebhookDestinations(ctx(t), other.ID); len(ds) != 0 {
			t.Fatalf("other tenant sees %v", ds)
		}
		wantErr(t, "delete of another tenant's", s.DeleteWebhookDestination(ctx(t), other.ID, b.ID), domain.ErrNotFound)
		// A subscription needs a registered destination, which then cannot go.
		_, err = s.CreateWebhookSubscription(ctx(t), domain.WebhookSubscription{ID: domain.NewID(), TenantID: e.tn.ID, DestinationID: domain.NewID(),
			URL: "https://x.example.com/", EventTypes: []domain.WebhookEventType{domain.WebhookGradeChanged}, Secret: "s", CreateTime: t0})
		wantErr(t, "subscription to an unknown destination", err, domain.ErrFailedPrecondition)
		sub := e.subscribe(t0)
		wantErr(t, "delete in use", s.DeleteWebhookDestination(ctx(t), e.tn.ID, e.dest.ID), domain.ErrFailedPrecondition)
		if err := s.DeleteWebhookDestination(ctx(t), e.tn.ID, b.ID); err != nil {
			t.Fatalf("delete unused: %v", err)
		}
		wantErr(t, "delete again", s.DeleteWebhookDestination(ctx(t), e.tn.ID, b.ID), domain.ErrNotFound)
		if err := s.DeleteWebhookSubscription(ctx(t), e.tn.ID, sub.ID, 0); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteWebhookDestination(ctx(t), e.tn.ID, e.dest.ID); err != nil {
			t.Fatalf("delete after its subscription: %v", err)
		}
	}},
	{"Webhooks/SubscriptionsHaveVersions", func(t *testing.T, s domain.Store) {
		e := newHookEnv(t, s)
		sub := e.subscribe(t0)
		got, err := s.GetWebhookSubscription(ctx(t), e.tn.ID, sub.ID)
		wantEqual(t, "stored", got, sub)
		if err != nil || sub.Version != 1 || sub.Secret != "whsec_test" {
			t.Fatalf("created %+v, %v", sub, err)
		}
		next := sub
		next.Disabled, next.Secret, next.EventTypes, next.SegmentIDs, next.UpdateTime = true, "whsec_new",
			[]domain.WebhookEventType{domain.WebhookGradeChanged}, nil, t0.Add(time.Hour)
		up, err := s.UpdateWebhookSubscription(ctx(t), next)
		if err != nil || up.Version != 2 || !up.Disabled || up.Secret != "whsec_new" || !up.UpdateTime.Equal(t0.Add(time.Hour)) || len(up.SegmentIDs) != 0 {
			t.Fatalf("updated %+v, %v", up, err)
		}
		_, err = s.UpdateWebhookSubscription(ctx(t), next)
		wantErr(t, "update at an old version", err, domain.ErrStale)
		wantErr(t, "delete at an old version", s.DeleteWebhookSubscription(ctx(t), e.tn.ID, sub.ID, 1), domain.ErrStale)
		if list, _ := s.ListWebhookSubscriptions(ctx(t), e.tn.ID); len(list) != 1 || list[0].Version != 2 {
			t.Fatalf("list %+v", list)
		}
		if err := s.DeleteWebhookSubscription(ctx(t), e.tn.ID, sub.ID, 2); err != nil {
			t.Fatal(err)
		}
		_, err = s.GetWebhookSubscription(ctx(t), e.tn.ID, sub.ID)
		wantErr(t, "get deleted", err, domain.ErrNotFound)
		next.Version = 2
		_, err = s.UpdateWebhookSubscription(ctx(t), next)
		wantErr(t, "update deleted", err, domain.ErrNotFound)
	}},
	{"Webhooks/FeedStartsAtTheFirstSubscriptionAndStoresEachDeliveryOnce", func(t *testing.T, s domain.Store) {
		e := newHookEnv(t, s)
		e.enter(2, t0) // before any subscription: no feed yet
		if n, _ := e.feed(t0); n != 0 {
			t.Fatalf("a tenant without subscriptions fed %d events", n)
		}
		sub := e.subscribe(t0.Add(time.Minute))
		e.enter(3, t0.Add(2*time.Minute))
		n, seen := e.feed(t0.Add(2 * time.Minute))
		if n != 3 || len(seen) != 3 || seen[0].Cursor != 3 || seen[2].Cursor != 5 {
			t.Fatalf("fed %d events: %+v", n, seen)
		}
		if n, _ := e.feed(t0.Add(3 * time.Minute)); n != 0 {
			t.Fatalf("fed %d events again", n)
		}
		ds := e.log(sub.ID)
		if len(ds) != 3 {
			t.Fatalf("%d deliveries stored, want 3", len(ds))
		}
		for _, d := range ds {
			if d.State != domain.WebhookPending || d.Attempts != 0 || len(d.Log) != 0 || d.SubscriptionID != sub.ID ||
				d.ID != domain.WebhookDeliveryID(sub.ID, d.EventID) || string(d.Payload) != `{"id":"`+d.EventID+`"}` {
				t.Fatalf("delivery %+v", d)
			}
		}
		// Later events are the next step's.
		e.enter(1, t0.Add(4*time.Minute))
		if n, seen := e.feed(t0.Add(4 * time.Minute)); n != 1 || seen[0].Cursor != 6 {
			t.Fatalf("fed %d: %+v", n, seen)
		}
	}},
	{"Webhooks/ClaimsAreExclusiveAndLeased", func(t *testing.T, s domain.Store) {
		e := newHookEnv(t, s)
		sub := e.subscribe(t0)
		e.enter(20, t0)
		e.feed(t0)
		// Four workers claim concurrently: each delivery goes to one.
		var mu sync.Mutex
		var all []string
		var wg sync.WaitGroup
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					ls, err := s.ClaimWebhookDeliveries(ctx(t), e.tn.ID, t0, t0.Add(time.Minute), 3)
					if err != nil {
						t.Errorf("claim: %v", err)
						return
					}
					if len(ls) == 0 {
						return
					}
					mu.Lock()
					for _, l := range ls {
						if l.Attempt != 1 || l.URL != e.dest.URL || l.Secret != "whsec_test" || l.Delivery.SubscriptionID != sub.ID {
							t.Errorf("lease %+v", l)
						}
						all = append(all, l.Delivery.ID)
					}
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		slices.Sort(all)
		if len(all) != 20 || len(slices.Compact(slices.Clone(all))) != 20 {
			t.Fatalf("claimed %d deliveries, %d distinct; want 20", len(all), len(slices.Compact(all)))
		}
		if ls := e.claim(t0.Add(59*time.Second), 100); len(ls) != 0 {
			t.Fatalf("claimed %d leased deliveries", len(ls))
		}
		// The lease lapses: the next claim is the second attempt, and the
		// first can no longer complete.
		second := e.claim(t0.Add(time.Minute), 100)
		if len(second) != 20 || second[0].Attempt != 2 {
			t.Fatalf("reclaimed %d, attempt %d", len(second), second[0].Attempt)
		}
		first := second[0]
		first.Attempt, first.Token = 1, domain.NewID()
		wantErr(t, "complete a lost lease", e.complete(first, domain.WebhookOutcome{State: domain.WebhookSucceeded,
			Log: domain.WebhookAttempt{Attempt: 1, Start: t0}}), domain.ErrLeaseLost)
		// Outcomes: success; retry later; failed.
		ok, retry, fail := second[0], second[1], second[2]
		start := t0.Add(time.Minute)
		if err := e.complete(ok, domain.WebhookOutcome{State: domain.WebhookSucceeded,
			Log: domain.WebhookAttempt{Attempt: 2, Start: start, StatusCode: 200, Latency: 1500 * time.Microsecond}}); err != nil {
			t.Fatal(err)
		}
		wantErr(t, "complete twice", e.complete(ok, domain.WebhookOutcome{State: domain.WebhookSucceeded, Log: domain.WebhookAttempt{Attempt: 2}}), domain.ErrLeaseLost)
		if err := e.complete(retry, domain.WebhookOutcome{State: domain.WebhookPending, NextAttemptTime: t0.Add(time.Hour),
			Log: domain.WebhookAttempt{Attempt: 2, Start: start, StatusCode: 500, Error: "HTTP 500"}}); err != nil {
			t.Fatal(err)
		}
		if err := e.complete(fail, domain.WebhookOutcome{State: domain.WebhookFailed,
			Log: domain.WebhookAttempt{Attempt: 2, Start: start, Error: "refused"}}); err != nil {
			t.Fatal(err)
		}
		// The others' leases lapse at t0+2m; the retried one is due at t0+1h.
		if ls := e.claim(t0.Add(2*time.Minute), 100); len(ls) != 17 {
			t.Fatalf("claimed %d at t0+2m, want 17", len(ls))
		}
		// At t0+1h the retried one is due, besides the 17 whose leases lapsed.
		late := e.claim(t0.Add(time.Hour), 100)
		i := slices.IndexFunc(late, func(l domain.WebhookLease) bool { return l.Delivery.ID == retry.Delivery.ID })
		if len(late) != 18 || i < 0 || late[i].Attempt != 3 {
			t.Fatalf("claimed %d at t0+1h (retried one at %d)", len(late), i)
		}
		byID := map[string]domain.WebhookDelivery{}
		for _, d := range e.log(sub.ID) {
			byID[d.ID] = d
		}
		wantEqual(t, "success log", byID[ok.Delivery.ID].Log, []domain.WebhookAttempt{{Attempt: 2, Start: start, StatusCode: 200, Latency: 1500 * time.Microsecond}})
		if d := byID[ok.Delivery.ID]; d.State != domain.WebhookSucceeded || d.Attempts != 2 || !d.NextAttemptTime.IsZero() {
			t.Fatalf("succeeded delivery %+v", d)
		}
		if d := byID[fail.Delivery.ID]; d.State != domain.WebhookFailed || len(d.Log) != 1 || d.Log[0].Error != "refused" {
			t.Fatalf("failed delivery %+v", d)
		}
		if d := byID[retry.Delivery.ID]; d.State != domain.WebhookPending || d.Attempts != 3 || len(d.Log) != 1 || d.Log[0].StatusCode != 500 {
			t.Fatalf("retried delivery %+v", d)
		}
	}},
	{"Webhooks/DisabledSubscriptionsWait", func(t *testing.T, s domain.Store) {
		e := newHookEnv(t, s)
		sub := e.subscribe(t0)
		e.enter(2, t0)
		e.feed(t0)
		sub.Disabled = true
		sub, err := s.UpdateWebhookSubscription(ctx(t), sub)
		if err != nil {
			t.Fatal(err)
		}
		if ls := e.claim(t0, 10); len(ls) != 0 {
			t.Fatalf("claimed %d deliveries of a disabled subscription", len(ls))
		}
		sub.Disabled = false
		if _, err := s.UpdateWebhookSubscription(ctx(t), sub); err != nil {
			t.Fatal(err)
		}
		if ls := e.claim(t0, 10); len(ls) != 2 {
			t.Fatalf("claimed %d once enabled, want 2", len(ls))
		}
	}},
	{"Webhooks/DeliveryLogPages", func(t *testing.T, s domain.Store) {
		e := newHookEnv(t, s)
		sub := e.subscribe(t0)
		for i := range 3 {
			e.enter(1, t0.Add(time.Duration(i)*time.Minute))
			e.feed(t0.Add(time.Duration(i) * time.Minute))
		}
		all := e.log(sub.ID)
		if len(all) != 3 || !all[0].CreateTime.Equal(t0.Add(2*time.Minute)) || !all[2].CreateTime.Equal(t0) {
			t.Fatalf("log %+v", all)
		}
		page, err := s.ListWebhookDeliveries(ctx(t), e.tn.ID, sub.ID, &domain.WebhookDeliveryCursor{CreateTime: all[0].CreateTime, ID: all[0].ID}, 1)
		if err != nil || len(page) != 1 || page[0].ID != all[1].ID {
			t.Fatalf("page after the first: %+v, %v", page, err)
		}
		if ds, _ := s.ListWebhookDeliveries(ctx(t), newTenant(t, s).ID, sub.ID, nil, 10); len(ds) != 0 {
			t.Fatalf("another tenant reads %d deliveries", len(ds))
		}
		// Pruning takes the finished deliveries created before its time.
		ls := e.claim(t0.Add(3*time.Minute), 3)
		for _, l := range ls {
			if err := e.complete(l, domain.WebhookOutcome{State: domain.WebhookSucceeded, Log: domain.WebhookAttempt{Attempt: 1, Start: t0}}); err != nil {
				t.Fatal(err)
			}
		}
		n, err := s.PruneWebhookDeliveries(ctx(t), e.tn.ID, t0.Add(2*time.Minute), 10)
		if err != nil || n != 2 {
			t.Fatalf("pruned %d, %v; want the two created before t0+2m", n, err)
		}
		if ds := e.log(sub.ID); len(ds) != 1 || ds[0].ID != all[0].ID {
			t.Fatalf("log after pruning: %+v", ds)
		}
		if err := s.DeleteWebhookSubscription(ctx(t), e.tn.ID, sub.ID, 0); err != nil {
			t.Fatal(err)
		}
		if ds := e.log(sub.ID); len(ds) != 0 {
			t.Fatalf("%d deliveries outlive their subscription", len(ds))
		}
	}},
}
