package server_test

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/potentialhq/potential/domain"
	adminv1 "github.com/potentialhq/potential/gen/go/potential/admin/v1"
	customerv1 "github.com/potentialhq/potential/gen/go/potential/customer/v1"
	feedbackv1 "github.com/potentialhq/potential/gen/go/potential/feedback/v1"
	scoringv1 "github.com/potentialhq/potential/gen/go/potential/scoring/v1"
	"github.com/potentialhq/potential/server"
)

// transportPairs send a create over the first transport and resend it over
// the second: gRPC and Connect share the record.
var transportPairs = [][2]transport{{viaGRPC, viaConnect}, {viaConnect, viaGRPC}, {viaConnectJSON, viaGRPCWeb}}

func countModels(t *testing.T, r rulesAPI) int {
	t.Helper()
	l, err := r.ListScoringModels(t.Context(), &scoringv1.ListScoringModelsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	return len(l.GetModels())
}

// TestIdempotentCreates: each create sent twice with one request_id (first
// over one transport, then over another) makes one resource and returns the
// same response; the id with another payload is InvalidArgument with reason
// REQUEST_ID_REUSED; a create that failed is not recorded; on both stores.
func TestIdempotentCreates(t *testing.T) {
	for _, st := range stores() {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			for _, pair := range transportPairs {
				t.Run(string(pair[0])+"+"+string(pair[1]), func(t *testing.T) {
					e := start(t, st.open(t))
					ctx := t.Context()
					r1, r2 := e.rulesClient(pair[0], adminKey), e.rulesClient(pair[1], adminKey)

					// Scoring model.
					before := countModels(t, r1)
					req := &scoringv1.CreateScoringModelRequest{Model: &scoringv1.ScoringModel{DisplayName: "VIP"}, RequestId: "model-1"}
					first, err := r1.CreateScoringModel(ctx, req)
					if err != nil {
						t.Fatal(err)
					}
					again, err := r2.CreateScoringModel(ctx, req)
					if err != nil || !proto.Equal(first, again) {
						t.Fatalf("resend = %v, %v; want %v", again, err, first)
					}
					if n := countModels(t, r1); n != before+1 {
						t.Fatalf("%d models after a create and its resend; want %d", n, before+1)
					}
					_, err = r2.CreateScoringModel(ctx, &scoringv1.CreateScoringModelRequest{Model: &scoringv1.ScoringModel{DisplayName: "Other"}, RequestId: "model-1"})
					wantIDReused(t, err, "request_id")
					if n := countModels(t, r1); n != before+1 {
						t.Fatalf("%d models after a reused id; want %d", n, before+1)
					}
					// Without a request_id a resend is a new create: here ALREADY_EXISTS.
					if _, err := r1.CreateScoringModel(ctx, &scoringv1.CreateScoringModelRequest{Model: &scoringv1.ScoringModel{DisplayName: "VIP"}}); connect.CodeOf(err) != connect.CodeAlreadyExists {
						t.Fatalf("resend without request_id = %v; want AlreadyExists", err)
					}

					// Scoring rule; a failed create is not recorded.
					bad := &scoringv1.CreateScoringRuleRequest{RequestId: "rule-1", Rule: &scoringv1.ScoringRule{
						ModelId: first.GetId(), DisplayName: "Big", EventKind: "order", Points: 10, Condition: "event.amount >",
					}}
					for range 2 {
						_, err := r1.CreateScoringRule(ctx, bad)
						wantCode(t, err, connect.CodeInvalidArgument)
						wantField(t, err, "rule.condition")
					}
					good := proto.Clone(bad).(*scoringv1.CreateScoringRuleRequest)
					good.Rule.Condition = "event.amount > 1000.0"
					rule, err := r1.CreateScoringRule(ctx, good)
					if err != nil {
						t.Fatal(err)
					}
					ruleAgain, err := r2.CreateScoringRule(ctx, good)
					if err != nil || !proto.Equal(rule, ruleAgain) {
						t.Fatalf("rule resend = %v, %v; want %v", ruleAgain, err, rule)
					}
					rules, err := r1.ListScoringRules(ctx, &scoringv1.ListScoringRulesRequest{ModelId: first.GetId()})
					if err != nil || len(rules.GetRules()) != 1 {
						t.Fatalf("rules = %v, %v; want one", rules, err)
					}

					// Customer without an external id.
					c1, c2 := e.client(pair[0], adminKey), e.client(pair[1], adminKey)
					creq := &customerv1.CreateCustomerRequest{Customer: &customerv1.Customer{GivenName: "Ada"}, RequestId: "cust-1"}
					cust, err := c1.CreateCustomer(ctx, creq)
					if err != nil {
						t.Fatal(err)
					}
					custAgain, err := c2.CreateCustomer(ctx, creq)
					if err != nil || !proto.Equal(cust, custAgain) {
						t.Fatalf("customer resend = %v, %v; want %v", custAgain, err, cust)
					}
					list, err := c1.ListCustomers(ctx, &customerv1.ListCustomersRequest{})
					if err != nil || len(list.GetCustomers()) != 1 {
						t.Fatalf("customers = %v, %v; want one", list, err)
					}

					// API key: the resend has the key but never its text.
					a1, a2 := e.adminClient(pair[0], adminKey), e.adminClient(pair[1], adminKey)
					keys, err := a1.ListApiKeys(ctx, &adminv1.ListApiKeysRequest{})
					if err != nil {
						t.Fatal(err)
					}
					kreq := &adminv1.CreateApiKeyRequest{ApiKey: &adminv1.ApiKey{DisplayName: "etl", Role: adminv1.Role_ROLE_INGEST}, RequestId: "key-1"}
					key, err := a1.CreateApiKey(ctx, kreq)
					if err != nil || key.GetKey() == "" {
						t.Fatalf("CreateApiKey = %v, %v", key, err)
					}
					keyAgain, err := a2.CreateApiKey(ctx, kreq)
					if err != nil || !proto.Equal(key.GetApiKey(), keyAgain.GetApiKey()) || keyAgain.GetKey() != "" {
						t.Fatalf("key resend = %v, %v; want the key %v without its text", keyAgain, err, key.GetApiKey())
					}
					keysAfter, err := a1.ListApiKeys(ctx, &adminv1.ListApiKeysRequest{})
					if err != nil || len(keysAfter.GetApiKeys()) != len(keys.GetApiKeys())+1 {
						t.Fatalf("%d keys after a create and its resend; want %d (%v)", len(keysAfter.GetApiKeys()), len(keys.GetApiKeys())+1, err)
					}

					// Topic rule: a resend returns the rule, not ALREADY_EXISTS.
					f1, f2 := e.feedbackClient(pair[0], adminKey), e.feedbackClient(pair[1], adminKey)
					treq := &feedbackv1.CreateTopicRuleRequest{TopicRule: &feedbackv1.TopicRule{Topic: "Delivery", Keywords: []string{"late"}}, RequestId: "topic-1"}
					topic, err := f1.CreateTopicRule(ctx, treq)
					if err != nil {
						t.Fatal(err)
					}
					topicAgain, err := f2.CreateTopicRule(ctx, treq)
					if err != nil || !proto.Equal(topic, topicAgain) {
						t.Fatalf("topic rule resend = %v, %v; want %v", topicAgain, err, topic)
					}

					// The id is checked: printable ASCII without spaces, at most 128.
					_, err = r1.CreateScoringModel(ctx, &scoringv1.CreateScoringModelRequest{Model: &scoringv1.ScoringModel{DisplayName: "X"}, RequestId: "has space"})
					wantField(t, err, "request_id")
				})
			}
		})
	}
}

// TestIdempotentCreateConcurrent: duplicates sent at once over gRPC and
// Connect create one model; each gets the model or Aborted with reason
// REQUEST_IN_FLIGHT, and a later resend gets the model.
func TestIdempotentCreateConcurrent(t *testing.T) {
	for _, st := range stores() {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			e := start(t, st.open(t))
			clients := []rulesAPI{e.rulesClient(viaGRPC, adminKey), e.rulesClient(viaConnect, adminKey)}
			before := countModels(t, clients[0])
			req := &scoringv1.CreateScoringModelRequest{Model: &scoringv1.ScoringModel{DisplayName: "Race"}, RequestId: "race"}
			var wg sync.WaitGroup
			var mu sync.Mutex
			ids := map[string]bool{}
			var aborted atomic.Int32
			for i := range 16 {
				wg.Go(func() {
					m, err := clients[i%2].CreateScoringModel(t.Context(), req)
					if err == nil {
						mu.Lock()
						ids[m.GetId()] = true
						mu.Unlock()
						return
					}
					var ce *connect.Error
					if !errors.As(err, &ce) || ce.Code() != connect.CodeAborted || !hasReason(ce, domain.ReasonRequestInFlight) {
						t.Errorf("duplicate = %v; want the model or Aborted with REQUEST_IN_FLIGHT", err)
					}
					aborted.Add(1)
				})
			}
			wg.Wait()
			last, err := clients[0].CreateScoringModel(t.Context(), req)
			if err != nil {
				t.Fatal(err)
			}
			ids[last.GetId()] = true
			if len(ids) != 1 {
				t.Fatalf("concurrent duplicates returned %d different models", len(ids))
			}
			if n := countModels(t, clients[0]); n != before+1 {
				t.Fatalf("%d models after 16 concurrent duplicates; want %d", n, before+1)
			}
			t.Logf("%d of 16 concurrent duplicates were aborted while the first ran", aborted.Load())
		})
	}
}

func hasReason(ce *connect.Error, reason string) bool {
	for _, d := range ce.Details() {
		if v, err := d.Value(); err == nil {
			if info, ok := v.(*errdetails.ErrorInfo); ok && info.GetReason() == reason {
				return true
			}
		}
	}
	return false
}

// clock is a settable clock for the service.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }

// TestIdempotentCreateRetention: a request_id is honoured for 24 hours after
// its create and forgotten after (fake clock), when a resend creates anew.
func TestIdempotentCreateRetention(t *testing.T) {
	for _, st := range stores() {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			c := &clock{now: time.Now().UTC()}
			e := startClock(t, st.open(t), c.Now)
			r := e.rulesClient(viaConnect, adminKey)
			req := &scoringv1.CreateScoringModelRequest{Model: &scoringv1.ScoringModel{DisplayName: "Kept"}, RequestId: "keep"}
			first, err := r.CreateScoringModel(t.Context(), req)
			if err != nil {
				t.Fatal(err)
			}
			c.Add(domain.RequestRetention - time.Second)
			again, err := r.CreateScoringModel(t.Context(), req)
			if err != nil || again.GetId() != first.GetId() {
				t.Fatalf("resend within 24 h = %v, %v; want model %s", again, err, first.GetId())
			}
			c.Add(2 * time.Second)
			later, err := r.CreateScoringModel(t.Context(), &scoringv1.CreateScoringModelRequest{Model: &scoringv1.ScoringModel{DisplayName: "Kept 2"}, RequestId: "keep"})
			if err != nil || later.GetId() == first.GetId() {
				t.Fatalf("after 24 h = %v, %v; want a new model", later, err)
			}
		})
	}
}

// TestIdempotentCreatesAreListed: every create request of the API with a
// request_id field is one the chain honours, except those that keep their
// request id themselves.
func TestIdempotentCreatesAreListed(t *testing.T) {
	own := map[protoreflect.FullName]bool{"potential.feedback.v1.TransitionComplaintRequest": true}
	listed := map[string]bool{}
	for _, p := range server.IdempotentCreates() {
		listed[p] = true
	}
	found := 0
	protoregistry.GlobalFiles.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
		if fd.Package() == "potential.segment.v1" {
			return true
		}
		svcs := fd.Services()
		for i := range svcs.Len() {
			ms := svcs.Get(i).Methods()
			for j := range ms.Len() {
				m := ms.Get(j)
				in := m.Input()
				if in.Fields().ByName("request_id") == nil || own[in.FullName()] {
					continue
				}
				found++
				proc := "/" + string(svcs.Get(i).FullName()) + "/" + string(m.Name())
				if !listed[proc] {
					t.Errorf("%s has a request_id but is not an idempotent create", proc)
				}
				delete(listed, proc)
			}
		}
		return true
	})
	for p := range listed {
		t.Errorf("%s is listed but its request has no request_id", p)
	}
	if found < 6 {
		t.Fatalf("found %d creates with a request_id; want at least 6", found)
	}
}
