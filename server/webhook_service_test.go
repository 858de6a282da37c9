package server_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/potentialhq/potential/domain"
	"github.com/potentialhq/potential/domain/webhook"
	customerv1 "github.com/potentialhq/potential/gen/go/potential/customer/v1"
	segmentv1 "github.com/potentialhq/potential/gen/go/potential/segment/v1"
	webhookv1 "github.com/potentialhq/potential/gen/go/potential/webhook/v1"
	"github.com/potentialhq/potential/gen/go/potential/webhook/v1/webhookv1connect"
	"github.com/potentialhq/potential/server"
)

// received is one request a test subscriber got.
type received struct {
	key, eventID, eventType string
	attempt                 int
	signature               string
	body                    []byte
}

// subscriber is an httptest server that records what it receives and
// answers with the status its respond function picks (200 by default).
type subscriber struct {
	srv     *httptest.Server
	mu      sync.Mutex
	got     []received
	respond func(n int, r received) int // n: requests so far, 1 for the first
}

func newSubscriber(t *testing.T) *subscriber {
	t.Helper()
	s := &subscriber{}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		a, _ := strconv.Atoi(r.Header.Get(webhook.HeaderAttempt))
		rc := received{key: r.Header.Get(webhook.HeaderIdempotencyKey), eventID: r.Header.Get(webhook.HeaderEventID),
			eventType: r.Header.Get(webhook.HeaderEventType), attempt: a, signature: r.Header.Get(webhook.HeaderSignature), body: body}
		s.mu.Lock()
		s.got = append(s.got, rc)
		n, respond := len(s.got), s.respond
		s.mu.Unlock()
		code := http.StatusOK
		if respond != nil {
			code = respond(n, rc)
		}
		w.WriteHeader(code)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *subscriber) requests() []received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]received(nil), s.got...)
}

// waitFor polls cond every 10 ms for up to 20 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// webhookClients are the WebhookService over grpc-go and connect-go.
type webhookClients struct {
	grpc    webhookv1.WebhookServiceClient
	connect webhookv1connect.WebhookServiceClient
}

func (e *env) webhooks() webhookClients {
	return webhookClients{grpc: webhookv1.NewWebhookServiceClient(e.conn),
		connect: webhookv1connect.NewWebhookServiceClient(e.h2c, e.httpURL, connect.WithInterceptors(bearer(adminKey)))}
}

func adminCtx(ctx context.Context) context.Context {
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+adminKey)
}

// startWorkers runs n webhook workers over e's service until the test ends.
func startWorkers(t *testing.T, svc *domain.Service, n int, opts domain.WebhookWorkerOptions) {
	t.Helper()
	opts.Encode = server.EncodeWebhookEvent
	if opts.Poll == 0 {
		opts.Poll = 10 * time.Millisecond
	}
	if opts.BackoffBase == 0 {
		opts.BackoffBase, opts.BackoffMax = 20*time.Millisecond, 100*time.Millisecond
	}
	if opts.Timeout == 0 {
		opts.Timeout = 5 * time.Second
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range n {
		w, err := domain.NewWebhookWorker(svc, opts)
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() { defer wg.Done(); _ = w.Run(ctx) }()
	}
	t.Cleanup(func() { cancel(); wg.Wait() })
}

// subscribe registers sub's URL (allowing loopback) over grpc-go and
// subscribes it over connect-go to types, returning the subscription and
// its secret.
func subscribe(t *testing.T, e *env, url string, segmentIDs []string, types ...webhookv1.WebhookEventType) (*webhookv1.WebhookSubscription, string) {
	t.Helper()
	ctx := t.Context()
	c := e.webhooks()
	if _, err := c.grpc.CreateWebhookDestination(adminCtx(ctx), &webhookv1.CreateWebhookDestinationRequest{
		Destination: &webhookv1.WebhookDestination{Url: url, AllowPrivateNetwork: true}}); err != nil && connect.CodeOf(grpcErr(err)) != connect.CodeAlreadyExists {
		t.Fatalf("CreateWebhookDestination: %v", err)
	}
	out, err := c.connect.CreateWebhookSubscription(ctx, &webhookv1.CreateWebhookSubscriptionRequest{Subscription: &webhookv1.WebhookSubscription{
		Url: url, EventTypes: types, SegmentIds: segmentIDs}})
	if err != nil {
		t.Fatalf("CreateWebhookSubscription: %v", err)
	}
	if len(out.GetSecret()) < 40 {
		t.Fatalf("secret %q", out.GetSecret())
	}
	return out.GetSubscription(), out.GetSecret()
}

// staticSegment creates a static segment and returns its id.
func staticSegment(t *testing.T, e *env, name string) string {
	t.Helper()
	sg, err := e.segmentClient(adminKey).CreateSegment(t.Context(), &segmentv1.CreateSegmentRequest{
		Segment: &segmentv1.Segment{Name: name, Kind: segmentv1.SegmentKind_SEGMENT_KIND_STATIC}})
	if err != nil {
		t.Fatal(err)
	}
	return sg.GetId()
}

// addMembers creates customers exts and adds them to segment id.
func addMembers(t *testing.T, e *env, id string, exts ...string) {
	t.Helper()
	var refs []*customerv1.CustomerRef
	for _, ext := range exts {
		if _, err := e.client(viaConnect, adminKey).CreateCustomer(t.Context(), &customerv1.CreateCustomerRequest{
			Customer: &customerv1.Customer{ExternalId: ext, GivenName: "Ada"}}); err != nil {
			t.Fatal(err)
		}
		refs = append(refs, byExt(ext))
	}
	if _, err := e.segmentClient(adminKey).AddSegmentMembers(t.Context(), &segmentv1.AddSegmentMembersRequest{SegmentId: id, Customers: refs}); err != nil {
		t.Fatal(err)
	}
}

// deliveries reads a subscription's whole delivery log over grpc-go.
func deliveries(t *testing.T, e *env, subID string) []*webhookv1.WebhookDelivery {
	t.Helper()
	var out []*webhookv1.WebhookDelivery
	token := ""
	for {
		resp, err := e.webhooks().grpc.ListWebhookDeliveries(adminCtx(t.Context()), &webhookv1.ListWebhookDeliveriesRequest{
			SubscriptionId: subID, PageSize: 2, PageToken: token})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, resp.GetDeliveries()...)
		if token = resp.GetNextPageToken(); token == "" {
			return out
		}
	}
}

func startWebhookEnv(t *testing.T, open func(t *testing.T) domain.Store) *env {
	t.Helper()
	e := start(t, open(t))
	e.svc.AllowInsecureWebhooks(true)
	return e
}

// TestWebhookSegmentEnteredIsDeliveredSigned: a subscriber receives a
// segment entered event, signed with its secret, as protojson of a
// WebhookEvent; the delivery log shows one successful attempt with the
// same idempotency key the subscriber saw. Events before the subscription
// and of other segments are not sent.
func TestWebhookSegmentEnteredIsDeliveredSigned(t *testing.T) {
	for _, st := range stores() {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			e := startWebhookEnv(t, st.open)
			sub := newSubscriber(t)
			vip, other := staticSegment(t, e, "vip"), staticSegment(t, e, "other")
			addMembers(t, e, vip, "before") // before the subscription: not sent
			s, secret := subscribe(t, e, sub.srv.URL+"/hooks/potential", []string{vip}, webhookv1.WebhookEventType_WEBHOOK_EVENT_TYPE_SEGMENT_ENTERED)
			startWorkers(t, e.svc, 1, domain.WebhookWorkerOptions{})
			addMembers(t, e, other, "elsewhere")
			addMembers(t, e, vip, "ada")
			waitFor(t, "the delivery", func() bool { return len(sub.requests()) >= 1 })
			time.Sleep(100 * time.Millisecond) // nothing else arrives
			got := sub.requests()
			if len(got) != 1 {
				t.Fatalf("subscriber got %d requests, want 1: %+v", len(got), got)
			}
			r := got[0]
			if err := webhook.Verify(r.signature, r.body, secret, time.Now(), 5*time.Minute); err != nil {
				t.Fatalf("signature %q does not verify: %v", r.signature, err)
			}
			if err := webhook.Verify(r.signature, append([]byte(" "), r.body...), secret, time.Now(), 5*time.Minute); err == nil {
				t.Fatal("a changed body verifies")
			}
			var ev webhookv1.WebhookEvent
			if err := protojson.Unmarshal(r.body, &ev); err != nil {
				t.Fatalf("body %s: %v", r.body, err)
			}
			c, err := e.client(viaConnect, adminKey).GetCustomer(t.Context(), &customerv1.GetCustomerRequest{Ref: &customerv1.GetCustomerRequest_ExternalId{ExternalId: "ada"}})
			if err != nil {
				t.Fatal(err)
			}
			se := ev.GetSegmentEvent()
			if ev.GetType() != webhookv1.WebhookEventType_WEBHOOK_EVENT_TYPE_SEGMENT_ENTERED || ev.GetSubscriptionId() != s.GetId() ||
				se.GetSegmentId() != vip || se.GetCustomerId() != c.GetId() || se.GetKind() != segmentv1.SegmentEventKind_SEGMENT_EVENT_KIND_ENTERED ||
				ev.GetId() != domain.SegmentWebhookEventID(se.GetCursor()) || r.eventID != ev.GetId() || r.eventType != "segment.entered" || r.attempt != 1 {
				t.Fatalf("event %v with headers %+v", &ev, r)
			}
			ds := deliveries(t, e, s.GetId())
			waitFor(t, "the logged attempt", func() bool {
				ds = deliveries(t, e, s.GetId())
				return len(ds) == 1 && len(ds[0].GetAttempts()) == 1
			})
			d := ds[0]
			if d.GetId() != r.key || d.GetState() != webhookv1.WebhookDeliveryState_WEBHOOK_DELIVERY_STATE_SUCCEEDED || d.GetAttemptCount() != 1 ||
				d.GetAttempts()[0].GetStatusCode() != 200 || d.GetAttempts()[0].GetError() != "" || d.GetPayload() != string(r.body) {
				t.Fatalf("delivery %v, request key %s", d, r.key)
			}
		})
	}
}

// TestWebhookRetriesUntilSuccess: a subscriber that answers 500 and then
// 200 gets the event twice with one idempotency key; the log shows the
// failed attempt and exactly one success. A subscriber that always fails
// sees the delivery failed after MaxAttempts.
func TestWebhookRetriesUntilSuccess(t *testing.T) {
	for _, st := range stores() {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			e := startWebhookEnv(t, st.open)
			flaky, down := newSubscriber(t), newSubscriber(t)
			flaky.respond = func(n int, _ received) int {
				if n == 1 {
					return http.StatusInternalServerError
				}
				return http.StatusOK
			}
			down.respond = func(int, received) int { return http.StatusServiceUnavailable }
			vip := staticSegment(t, e, "vip")
			s1, _ := subscribe(t, e, flaky.srv.URL+"/", []string{vip}, webhookv1.WebhookEventType_WEBHOOK_EVENT_TYPE_SEGMENT_ENTERED)
			s2, _ := subscribe(t, e, down.srv.URL+"/", []string{vip}, webhookv1.WebhookEventType_WEBHOOK_EVENT_TYPE_SEGMENT_ENTERED)
			startWorkers(t, e.svc, 1, domain.WebhookWorkerOptions{MaxAttempts: 3})
			addMembers(t, e, vip, "ada")

			var ds []*webhookv1.WebhookDelivery
			waitFor(t, "the retried delivery", func() bool {
				ds = deliveries(t, e, s1.GetId())
				return len(ds) == 1 && ds[0].GetState() == webhookv1.WebhookDeliveryState_WEBHOOK_DELIVERY_STATE_SUCCEEDED
			})
			got := flaky.requests()
			if len(got) != 2 || got[0].key != got[1].key || got[0].key != ds[0].GetId() || got[0].attempt != 1 || got[1].attempt != 2 ||
				string(got[0].body) != string(got[1].body) {
				t.Fatalf("subscriber got %+v, delivery %s", got, ds[0].GetId())
			}
			as := ds[0].GetAttempts()
			if len(as) != 2 || as[0].GetStatusCode() != 500 || as[0].GetError() == "" || as[1].GetStatusCode() != 200 || as[1].GetError() != "" ||
				ds[0].GetAttemptCount() != 2 || as[1].GetStartTime().AsTime().Before(as[0].GetStartTime().AsTime()) {
				t.Fatalf("attempts %v", as)
			}
			successes := 0
			for _, a := range as {
				if a.GetStatusCode() == 200 {
					successes++
				}
			}
			if successes != 1 {
				t.Fatalf("%d successes logged", successes)
			}

			waitFor(t, "the failed delivery", func() bool {
				ds = deliveries(t, e, s2.GetId())
				return len(ds) == 1 && ds[0].GetState() == webhookv1.WebhookDeliveryState_WEBHOOK_DELIVERY_STATE_FAILED
			})
			if n := len(ds[0].GetAttempts()); n != 3 || len(down.requests()) != 3 || ds[0].GetNextAttemptTime() != nil {
				t.Fatalf("failed delivery %v after %d requests", ds[0], len(down.requests()))
			}
		})
	}
}

// TestWebhookTwoWorkersDeliverEachAttemptOnce: two workers on one store
// (one database) deliver 30 events: each reaches the subscriber exactly
// once, with attempt 1, and each delivery logs one attempt.
func TestWebhookTwoWorkersDeliverEachAttemptOnce(t *testing.T) {
	for _, st := range stores() {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			e := startWebhookEnv(t, st.open)
			sub := newSubscriber(t)
			sub.respond = func(int, received) int { time.Sleep(5 * time.Millisecond); return http.StatusOK }
			vip := staticSegment(t, e, "vip")
			s, _ := subscribe(t, e, sub.srv.URL+"/", []string{vip}, webhookv1.WebhookEventType_WEBHOOK_EVENT_TYPE_SEGMENT_ENTERED)
			// Two workers of two services on the one store, as two replicas.
			startWorkers(t, e.svc, 1, domain.WebhookWorkerOptions{Batch: 4, Concurrency: 2})
			startWorkers(t, domain.NewService(e.svc.Store(), nil), 1, domain.WebhookWorkerOptions{Batch: 4, Concurrency: 2})
			var exts []string
			for i := range 30 {
				exts = append(exts, "c"+strconv.Itoa(i))
			}
			addMembers(t, e, vip, exts...)
			waitFor(t, "30 deliveries", func() bool { return len(sub.requests()) >= 30 })
			time.Sleep(200 * time.Millisecond)
			got := sub.requests()
			seen := map[string]bool{}
			for _, r := range got {
				if seen[r.key] || r.attempt != 1 {
					t.Fatalf("delivery %s attempt %d received again (%d requests)", r.key, r.attempt, len(got))
				}
				seen[r.key] = true
			}
			if len(seen) != 30 {
				t.Fatalf("%d distinct deliveries, want 30", len(seen))
			}
			waitFor(t, "30 logged deliveries", func() bool {
				ds := deliveries(t, e, s.GetId())
				for _, d := range ds {
					if len(d.GetAttempts()) != 1 || d.GetState() != webhookv1.WebhookDeliveryState_WEBHOOK_DELIVERY_STATE_SUCCEEDED {
						return false
					}
				}
				return len(ds) == 30
			})
		})
	}
}

// TestWebhookGradeChangeIsDelivered: a new customer's first grade is a
// grade change, delivered to a grade subscription.
func TestWebhookGradeChangeIsDelivered(t *testing.T) {
	for _, st := range stores() {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			e := startWebhookEnv(t, st.open)
			sub := newSubscriber(t)
			subscribe(t, e, sub.srv.URL+"/grades", nil, webhookv1.WebhookEventType_WEBHOOK_EVENT_TYPE_GRADE_CHANGED)
			startWorkers(t, e.svc, 1, domain.WebhookWorkerOptions{})
			c, err := e.client(viaGRPC, adminKey).CreateCustomer(t.Context(), &customerv1.CreateCustomerRequest{
				Customer: &customerv1.Customer{ExternalId: "graded", GivenName: "Ada"}})
			if err != nil {
				t.Fatal(err)
			}
			waitFor(t, "the grade change", func() bool { return len(sub.requests()) >= 1 })
			var ev webhookv1.WebhookEvent
			if err := protojson.Unmarshal(sub.requests()[0].body, &ev); err != nil {
				t.Fatal(err)
			}
			g := ev.GetGradeChange()
			if ev.GetType() != webhookv1.WebhookEventType_WEBHOOK_EVENT_TYPE_GRADE_CHANGED || g.GetCustomerId() != c.GetId() || g.GetToGrade() == "" ||
				ev.GetId() != domain.GradeWebhookEventID(g.GetId()) {
				t.Fatalf("event %v", &ev)
			}
		})
	}
}

// TestWebhookSubscriptionRefusesUnregisteredURLs: a URL no admin
// registered, http to a host other than localhost, and an unknown segment
// are INVALID_ARGUMENT naming the field, over grpc-go and connect-go, and
// store nothing; a destination in use cannot be deleted.
func TestWebhookSubscriptionRefusesUnregisteredURLs(t *testing.T) {
	for _, st := range stores() {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			e := startWebhookEnv(t, st.open)
			ctx := t.Context()
			c := e.webhooks()
			entered := []webhookv1.WebhookEventType{webhookv1.WebhookEventType_WEBHOOK_EVENT_TYPE_SEGMENT_ENTERED}
			if _, err := c.connect.CreateWebhookDestination(ctx, &webhookv1.CreateWebhookDestinationRequest{
				Destination: &webhookv1.WebhookDestination{Url: "https://Hooks.Example.com:443/in"}}); err != nil {
				t.Fatal(err)
			}
			unregistered := &webhookv1.CreateWebhookSubscriptionRequest{Subscription: &webhookv1.WebhookSubscription{
				Url: "https://hooks.example.com/elsewhere", EventTypes: entered}}
			_, err := c.connect.CreateWebhookSubscription(ctx, unregistered)
			wantField(t, err, "subscription.url")
			_, err = c.grpc.CreateWebhookSubscription(adminCtx(ctx), unregistered)
			wantField(t, grpcErr(err), "subscription.url")
			_, err = c.grpc.CreateWebhookDestination(adminCtx(ctx), &webhookv1.CreateWebhookDestinationRequest{
				Destination: &webhookv1.WebhookDestination{Url: "http://hooks.example.com/in"}})
			wantField(t, grpcErr(err), "destination.url")
			_, err = c.connect.CreateWebhookSubscription(ctx, &webhookv1.CreateWebhookSubscriptionRequest{Subscription: &webhookv1.WebhookSubscription{
				Url: "https://hooks.example.com/in", EventTypes: entered, SegmentIds: []string{domain.NewID()}}})
			wantField(t, err, "subscription.segment_ids[0]")
			list, err := c.connect.ListWebhookSubscriptions(ctx, &webhookv1.ListWebhookSubscriptionsRequest{})
			if err != nil || len(list.GetSubscriptions()) != 0 {
				t.Fatalf("subscriptions %v, %v", list, err)
			}
			// The canonical form of a registered URL is accepted.
			out, err := c.connect.CreateWebhookSubscription(ctx, &webhookv1.CreateWebhookSubscriptionRequest{Subscription: &webhookv1.WebhookSubscription{
				Url: "HTTPS://hooks.example.com/in", EventTypes: entered}})
			if err != nil || out.GetSubscription().GetUrl() != "https://hooks.example.com/in" {
				t.Fatalf("CreateWebhookSubscription: %v, %v", out, err)
			}
			got, err := c.grpc.GetWebhookSubscription(adminCtx(ctx), &webhookv1.GetWebhookSubscriptionRequest{Id: out.GetSubscription().GetId()})
			if err != nil || got.GetEtag() != "v1" {
				t.Fatalf("GetWebhookSubscription: %v, %v", got, err)
			}
			ds, err := c.connect.ListWebhookDestinations(ctx, &webhookv1.ListWebhookDestinationsRequest{})
			if err != nil || len(ds.GetDestinations()) != 1 {
				t.Fatalf("destinations %v, %v", ds, err)
			}
			_, err = c.connect.DeleteWebhookDestination(ctx, &webhookv1.DeleteWebhookDestinationRequest{Id: ds.GetDestinations()[0].GetId()})
			wantCode(t, err, connect.CodeFailedPrecondition)
			// Rotating returns a new secret; a stale etag is ABORTED.
			rot, err := c.grpc.RotateWebhookSecret(adminCtx(ctx), &webhookv1.RotateWebhookSecretRequest{Id: got.GetId()})
			if err != nil || rot.GetSecret() == out.GetSecret() || rot.GetSubscription().GetEtag() != "v2" {
				t.Fatalf("RotateWebhookSecret: %v, %v", rot, err)
			}
			_, err = c.connect.UpdateWebhookSubscription(ctx, &webhookv1.UpdateWebhookSubscriptionRequest{Subscription: &webhookv1.WebhookSubscription{
				Id: got.GetId(), Etag: "v1", Disabled: true}})
			wantCode(t, err, connect.CodeAborted)
			if _, err := c.connect.DeleteWebhookSubscription(ctx, &webhookv1.DeleteWebhookSubscriptionRequest{Id: got.GetId()}); err != nil {
				t.Fatal(err)
			}
			if _, err := c.connect.DeleteWebhookDestination(ctx, &webhookv1.DeleteWebhookDestinationRequest{Id: ds.GetDestinations()[0].GetId()}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestWebhookRefusesPrivateAddressesUnlessAllowed: a destination on a
// loopback address registered without allow_private_network is never
// connected to: the attempts fail with the refusal, and the subscriber
// receives nothing.
func TestWebhookRefusesPrivateAddressesUnlessAllowed(t *testing.T) {
	t.Parallel()
	e := startWebhookEnv(t, stores()[0].open)
	sub := newSubscriber(t)
	ctx := t.Context()
	c := e.webhooks()
	if _, err := c.connect.CreateWebhookDestination(ctx, &webhookv1.CreateWebhookDestinationRequest{
		Destination: &webhookv1.WebhookDestination{Url: sub.srv.URL + "/"}}); err != nil {
		t.Fatal(err)
	}
	vip := staticSegment(t, e, "vip")
	s, err := c.connect.CreateWebhookSubscription(ctx, &webhookv1.CreateWebhookSubscriptionRequest{Subscription: &webhookv1.WebhookSubscription{
		Url: sub.srv.URL + "/", SegmentIds: []string{vip}, EventTypes: []webhookv1.WebhookEventType{webhookv1.WebhookEventType_WEBHOOK_EVENT_TYPE_SEGMENT_ENTERED}}})
	if err != nil {
		t.Fatal(err)
	}
	startWorkers(t, e.svc, 1, domain.WebhookWorkerOptions{MaxAttempts: 2})
	addMembers(t, e, vip, "ada")
	var ds []*webhookv1.WebhookDelivery
	waitFor(t, "the failed delivery", func() bool {
		ds = deliveries(t, e, s.GetSubscription().GetId())
		return len(ds) == 1 && ds[0].GetState() == webhookv1.WebhookDeliveryState_WEBHOOK_DELIVERY_STATE_FAILED
	})
	for _, a := range ds[0].GetAttempts() {
		if a.GetStatusCode() != 0 || !strings.Contains(a.GetError(), "non-public address") {
			t.Fatalf("attempt %v", a)
		}
	}
	if n := len(sub.requests()); n != 0 {
		t.Fatalf("the subscriber received %d requests", n)
	}
}
