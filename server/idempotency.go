package server

import (
	"context"
	"fmt"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	adminv1 "github.com/potentialhq/potential/gen/go/potential/admin/v1"
	"github.com/potentialhq/potential/gen/go/potential/admin/v1/adminv1connect"
	conversionv1 "github.com/potentialhq/potential/gen/go/potential/conversion/v1"
	"github.com/potentialhq/potential/gen/go/potential/conversion/v1/conversionv1connect"
	customerv1 "github.com/potentialhq/potential/gen/go/potential/customer/v1"
	"github.com/potentialhq/potential/gen/go/potential/customer/v1/customerv1connect"
	feedbackv1 "github.com/potentialhq/potential/gen/go/potential/feedback/v1"
	"github.com/potentialhq/potential/gen/go/potential/feedback/v1/feedbackv1connect"
	scoringv1 "github.com/potentialhq/potential/gen/go/potential/scoring/v1"
	"github.com/potentialhq/potential/gen/go/potential/scoring/v1/scoringv1connect"
)

// Idempotent creates (domain/requests.go). The chain honours the request_id
// of the creates listed here, on every protocol, with the same code: it
// hashes the request without its request_id, lets domain.Service.Idempotent
// decide whether to run the handler, records the encoded response, and
// answers a resend with the recorded response decoded again. The procedure
// names the method, so a create sent over gRPC and resent over Connect is
// one request.
//
// A create is listed here, rather than found by its request_id field,
// because a request_id may mean something else (TransitionComplaint keeps
// its own, for good, in the complaint), and because a Connect response must
// be rebuilt with its Go type. TestIdempotentCreatesAreListed checks the
// list against the request_id fields of the API.
var idempotentCreates = map[string]idempotentCreate{
	customerv1connect.CustomerServiceCreateCustomerProcedure:           idempotent[customerv1.Customer](nil),
	scoringv1connect.ScoringServiceCreateScoringModelProcedure:         idempotent[scoringv1.ScoringModel](nil),
	scoringv1connect.ScoringServiceCreateScoringRuleProcedure:          idempotent[scoringv1.ScoringRule](nil),
	conversionv1connect.ConversionServiceTrainConversionModelProcedure: idempotent[conversionv1.ConversionModel](nil),
	feedbackv1connect.FeedbackServiceCreateTopicRuleProcedure:          idempotent[feedbackv1.TopicRule](nil),
	adminv1connect.AdminServiceCreateApiKeyProcedure:                   idempotent(withoutKeyText),
}

// withoutKeyText is what is recorded of a new API key: never its text.
func withoutKeyText(r *adminv1.CreateApiKeyResponse) *adminv1.CreateApiKeyResponse {
	return &adminv1.CreateApiKeyResponse{ApiKey: r.GetApiKey()}
}

// idempotentCreate knows one create's response type.
type idempotentCreate struct {
	newResponse     func() proto.Message
	record          func(proto.Message) proto.Message
	connectResponse func(proto.Message) connect.AnyResponse
}

// idempotent describes a create answering *T; record, when set, picks what
// of a response is stored and returned to resends.
func idempotent[T any, PT interface {
	*T
	proto.Message
}](record func(PT) PT) idempotentCreate {
	return idempotentCreate{
		newResponse: func() proto.Message { return PT(new(T)) },
		record: func(m proto.Message) proto.Message {
			if record == nil {
				return m
			}
			return record(m.(PT))
		},
		connectResponse: func(m proto.Message) connect.AnyResponse { return connect.NewResponse((*T)(m.(PT))) },
	}
}

type requestIDer interface{ GetRequestId() string }

// idempotent runs call under the request_id of req if procedure is an
// idempotent create and req carries one, else just runs it. replayed is
// true when the response is a recorded one and call did not run.
func (c *chain) idempotent(ctx context.Context, procedure string, req any, call func(context.Context) (proto.Message, error)) (resp proto.Message, replayed bool, err error) {
	ic, ok := idempotentCreates[procedure]
	r, hasID := req.(requestIDer)
	msg, isMsg := req.(proto.Message)
	if !ok || !hasID || !isMsg || r.GetRequestId() == "" {
		resp, err := call(ctx)
		return resp, false, err
	}
	payload, err := requestPayload(msg)
	if err != nil {
		return nil, false, err
	}
	var fresh proto.Message
	b, err := c.svc.Idempotent(ctx, procedure, r.GetRequestId(), payload, func(ctx context.Context) ([]byte, error) {
		out, err := call(ctx)
		if err != nil {
			return nil, err
		}
		fresh = out
		return proto.MarshalOptions{Deterministic: true}.Marshal(ic.record(out))
	})
	if err != nil {
		return nil, false, err
	}
	if fresh != nil {
		return fresh, false, nil
	}
	out := ic.newResponse()
	if err := proto.Unmarshal(b, out); err != nil {
		return nil, false, fmt.Errorf("decoding the recorded response of %s: %w", procedure, err)
	}
	return out, true, nil
}

// requestPayload is the deterministic encoding of req without its
// request_id: what tells a resend from another request.
func requestPayload(req proto.Message) ([]byte, error) {
	c := proto.Clone(req)
	m := c.ProtoReflect()
	if f := m.Descriptor().Fields().ByName("request_id"); f != nil {
		m.Clear(f)
	}
	return proto.MarshalOptions{Deterministic: true}.Marshal(c)
}

// IdempotentCreates returns the procedures whose request_id is honoured.
func IdempotentCreates() []string {
	out := make([]string, 0, len(idempotentCreates))
	for p := range idempotentCreates {
		out = append(out, p)
	}
	return out
}
