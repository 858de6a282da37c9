// Package client is the Go SDK of Potential's API: the generated Connect
// clients (gen/go/...connect) with the three things every caller would
// otherwise write by hand —
//
//   - the API key, sent as "Authorization: Bearer <key>" on every call;
//   - retries of calls that are safe to repeat: those whose method is
//     declared idempotent or side-effect free in the protos (GetCustomer,
//     ListCustomers, RecordTransactions, RecordInteractions, …), when the
//     service is Unavailable, resending the very same request — the same
//     external ids — so the server's idempotency makes the retry harmless;
//   - iterators that page through lists (AllCustomers, and All for any
//     List method).
//
// Calls go over Connect by default, or gRPC (WithGRPC), to the HTTP port
// of potential serve.
package client

import (
	"context"
	"errors"
	"iter"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/potentialhq/potential/gen/go/potential/admin/v1/adminv1connect"
	customerv1 "github.com/potentialhq/potential/gen/go/potential/customer/v1"
	"github.com/potentialhq/potential/gen/go/potential/customer/v1/customerv1connect"
	"github.com/potentialhq/potential/gen/go/potential/feedback/v1/feedbackv1connect"
	"github.com/potentialhq/potential/gen/go/potential/scoring/v1/scoringv1connect"
	"github.com/potentialhq/potential/gen/go/potential/segment/v1/segmentv1connect"
)

// Client calls one Potential service as one tenant (the API key's).
type Client struct {
	// Customers ingests and reads customers, transactions, interactions
	// and referrals.
	Customers customerv1connect.CustomerServiceClient
	// Scoring reads assessments, distributions and value models, and keeps
	// scoring rules, scores and grades.
	Scoring scoringv1connect.ScoringServiceClient
	// Feedback takes and reads complaints, ratings and NPS answers.
	Feedback feedbackv1connect.FeedbackServiceClient
	// Segments keeps static and dynamic segments and reads and watches
	// their entered/exited events.
	Segments segmentv1connect.SegmentServiceClient
	// Admin manages API keys and reads the audit log (admin keys only).
	Admin adminv1connect.AdminServiceClient
}

// Default retry policy: up to 4 attempts, waiting about 100 ms, 200 ms and
// 400 ms (with full jitter) between them.
const (
	DefaultAttempts = 4
	DefaultBackoff  = 100 * time.Millisecond
)

type options struct {
	httpClient connect.HTTPClient
	attempts   int
	backoff    time.Duration
	grpc       bool
	extra      []connect.ClientOption
}

// Option configures New.
type Option func(*options)

// WithHTTPClient sets the HTTP client (default: one that speaks HTTP/1.1
// and, for WithGRPC, unencrypted HTTP/2).
func WithHTTPClient(c connect.HTTPClient) Option { return func(o *options) { o.httpClient = c } }

// WithRetry sets how many attempts a retryable call gets in all (1: no
// retries) and the first wait between them; each later wait doubles, and
// each is drawn uniformly from [0, wait) so that many clients do not retry
// in step.
func WithRetry(attempts int, backoff time.Duration) Option {
	return func(o *options) { o.attempts, o.backoff = max(attempts, 1), backoff }
}

// WithGRPC makes calls over gRPC (HTTP/2 without TLS for http:// URLs)
// instead of Connect.
func WithGRPC() Option { return func(o *options) { o.grpc = true } }

// WithClientOptions passes further options to the generated clients
// (compression, interceptors, read limits).
func WithClientOptions(opts ...connect.ClientOption) Option {
	return func(o *options) { o.extra = append(o.extra, opts...) }
}

// New returns a client of the service at baseURL (potential serve's HTTP
// port, e.g. "http://localhost:8080") that sends apiKey on every call.
func New(baseURL, apiKey string, opts ...Option) *Client {
	o := options{attempts: DefaultAttempts, backoff: DefaultBackoff}
	for _, opt := range opts {
		opt(&o)
	}
	if o.httpClient == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		if o.grpc && strings.HasPrefix(baseURL, "http://") {
			p := new(http.Protocols)
			p.SetUnencryptedHTTP2(true)
			tr.Protocols = p
		}
		o.httpClient = &http.Client{Transport: tr}
	}
	// Retries outermost, so each attempt passes through the others again.
	copts := []connect.ClientOption{connect.WithInterceptors(retry{attempts: o.attempts, backoff: o.backoff}, bearer(apiKey))}
	if o.grpc {
		copts = append(copts, connect.WithGRPC())
	}
	copts = append(copts, o.extra...)
	return &Client{
		Customers: customerv1connect.NewCustomerServiceClient(o.httpClient, baseURL, copts...),
		Scoring:   scoringv1connect.NewScoringServiceClient(o.httpClient, baseURL, copts...),
		Feedback:  feedbackv1connect.NewFeedbackServiceClient(o.httpClient, baseURL, copts...),
		Segments:  segmentv1connect.NewSegmentServiceClient(o.httpClient, baseURL, copts...),
		Admin:     adminv1connect.NewAdminServiceClient(o.httpClient, baseURL, copts...),
	}
}

// AllCustomers pages through every customer that req's filter matches, in
// its order, one ListCustomers call per page (req.PageSize customers, or the
// server's default). req itself is not changed. It stops at the first error,
// which it yields.
func (c *Client) AllCustomers(ctx context.Context, req *customerv1.ListCustomersRequest) iter.Seq2[*customerv1.Customer, error] {
	if req == nil {
		req = &customerv1.ListCustomersRequest{}
	}
	return All(ctx, req, c.Customers.ListCustomers, (*customerv1.ListCustomersResponse).GetCustomers)
}

// All pages through any List method of the API: it calls list with req,
// then again with req's page_token set to the answer's next_page_token
// until that is empty, and yields the items that items takes from each
// answer. req itself is not changed (a copy is sent). It stops at the first
// error, which it yields. For example, every grade change of a customer:
//
//	req := &scoringv1.ListGradeChangesRequest{Ref: &scoringv1.ListGradeChangesRequest_CustomerId{CustomerId: id}}
//	for ch, err := range client.All(ctx, req, c.Scoring.ListGradeChanges, (*scoringv1.ListGradeChangesResponse).GetChanges) {
//
// All panics if Req has no page_token field or Resp no next_page_token.
func All[Req, Resp proto.Message, Item any](ctx context.Context, req Req, list func(context.Context, Req) (Resp, error), items func(Resp) []Item) iter.Seq2[Item, error] {
	token := field(req.ProtoReflect().Descriptor(), "page_token")
	var resp Resp // a nil message still has its descriptor
	next := field(resp.ProtoReflect().Descriptor(), "next_page_token")
	return func(yield func(Item, error) bool) {
		r := proto.CloneOf(req)
		for {
			page, err := list(ctx, r)
			if err != nil {
				var zero Item
				yield(zero, err)
				return
			}
			for _, it := range items(page) {
				if !yield(it, nil) {
					return
				}
			}
			nt := page.ProtoReflect().Get(next).String()
			if nt == "" {
				return
			}
			r.ProtoReflect().Set(token, protoreflect.ValueOfString(nt))
		}
	}
}

// field returns the string field name of a message.
func field(md protoreflect.MessageDescriptor, name protoreflect.Name) protoreflect.FieldDescriptor {
	fd := md.Fields().ByName(name)
	if fd == nil || fd.Kind() != protoreflect.StringKind {
		panic("client.All: " + string(md.FullName()) + " has no string field " + string(name))
	}
	return fd
}

// bearer sends the API key on every call, unary or streaming.
type bearer string

func (b bearer) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		req.Header().Set("Authorization", "Bearer "+string(b))
		return next(ctx, req)
	}
}

func (b bearer) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return func(ctx context.Context, spec connect.Spec) connect.StreamingClientConn {
		conn := next(ctx, spec)
		conn.RequestHeader().Set("Authorization", "Bearer "+string(b))
		return conn
	}
}

func (bearer) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return next
}

// retry repeats unary calls to idempotent or side-effect-free methods that
// failed with Unavailable: the service could not take the call, or its
// answer was lost on the way. Other calls and codes are returned at once.
type retry struct {
	attempts int
	backoff  time.Duration
}

func (r retry) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		if req.Spec().IdempotencyLevel == connect.IdempotencyUnknown {
			return next(ctx, req)
		}
		wait := r.backoff
		for attempt := 1; ; attempt++ {
			res, err := next(ctx, req)
			if err == nil || attempt >= r.attempts || connect.CodeOf(err) != connect.CodeUnavailable {
				return res, err
			}
			t := time.NewTimer(rand.N(wait + 1))
			select {
			case <-ctx.Done():
				t.Stop()
				return nil, errors.Join(err, ctx.Err())
			case <-t.C:
			}
			wait *= 2
		}
	}
}

func (retry) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (retry) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return next
}
