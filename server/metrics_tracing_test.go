package server_test

import (
	"context"
	"sync/atomic"
	"testing"

	"connectrpc.com/connect"
	"google.golang.org/grpc/stats"

	"github.com/potentialhq/potential/domain"
	customerv1 "github.com/potentialhq/potential/gen/go/potential/customer/v1"
	"github.com/potentialhq/potential/server"
	"github.com/potentialhq/potential/store/memory"
)

// countingTracer stands in for otelconnect's interceptor and otelgrpc's
// stats handler: it counts the calls it sees.
type countingTracer struct{ connectCalls, grpcCalls atomic.Int64 }

func (c *countingTracer) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		c.connectCalls.Add(1)
		return next(ctx, req)
	}
}
func (c *countingTracer) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}
func (c *countingTracer) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return next
}
func (c *countingTracer) TagRPC(ctx context.Context, _ *stats.RPCTagInfo) context.Context {
	c.grpcCalls.Add(1)
	return ctx
}
func (c *countingTracer) HandleRPC(context.Context, stats.RPCStats) {}
func (c *countingTracer) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context {
	return ctx
}
func (c *countingTracer) HandleConn(context.Context, stats.ConnStats) {}

// TestTracingHookSeesBothPorts checks the tracing hook is called for calls
// on each port.
func TestTracingHookSeesBothPorts(t *testing.T) {
	svc := domain.NewService(memory.New(), nil)
	if _, _, err := svc.Bootstrap(t.Context(), adminKey); err != nil {
		t.Fatal(err)
	}
	tr := &countingTracer{}
	srv, err := server.New(svc, server.Options{Logger: quiet(t), Tracing: &server.Tracing{Connect: tr, GRPC: tr}})
	if err != nil {
		t.Fatal(err)
	}
	e := serveOn(t, srv)
	req := &customerv1.GetCustomerRequest{Ref: &customerv1.GetCustomerRequest_ExternalId{ExternalId: "missing"}}
	_, _ = e.client(viaGRPC, adminKey).GetCustomer(t.Context(), req)
	_, _ = e.client(viaConnect, adminKey).GetCustomer(t.Context(), req)
	if tr.grpcCalls.Load() != 1 || tr.connectCalls.Load() != 1 {
		t.Fatalf("traced %d gRPC-port and %d HTTP-port calls, want 1 and 1", tr.grpcCalls.Load(), tr.connectCalls.Load())
	}
}
