package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	customerv1 "github.com/potentialhq/potential/gen/go/potential/customer/v1"
	"github.com/potentialhq/potential/gen/go/potential/customer/v1/customerv1connect"
)

// collector is an OTLP/gRPC trace collector that keeps the names of the
// spans it receives.
type collector struct {
	collectortrace.UnimplementedTraceServiceServer
	mu    sync.Mutex
	spans []string
}

func (c *collector) Export(_ context.Context, req *collectortrace.ExportTraceServiceRequest) (*collectortrace.ExportTraceServiceResponse, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, rs := range req.GetResourceSpans() {
		service := ""
		for _, a := range rs.GetResource().GetAttributes() {
			if a.GetKey() == "service.name" {
				service = a.GetValue().GetStringValue()
			}
		}
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				c.spans = append(c.spans, service+" "+ss.GetScope().GetName()+" "+s.GetName())
			}
		}
	}
	return &collectortrace.ExportTraceServiceResponse{}, nil
}

// TestTracingExportsSpansOfBothPorts serves with --otlp-endpoint set to an
// in-process collector: a call on each port becomes a span there, from
// otelgrpc and from otelconnect, flushed at shutdown.
func TestTracingExportsSpansOfBothPorts(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	col := &collector{}
	gs := grpc.NewServer()
	collectortrace.RegisterTraceServiceServer(gs, col)
	go gs.Serve(lis)
	defer gs.Stop()

	const key = "pk_test_0123456789abcdef"
	var out lockedBuffer
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan int)
	go func() {
		done <- run(ctx, []string{"serve", "--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0", "--demo-customers", "0", "--jobs=false",
			"--bootstrap-key", key, "--otlp-endpoint", "http://" + lis.Addr().String()}, &out, io.Discard)
	}()
	var m []string
	for deadline := time.Now().Add(10 * time.Second); m == nil && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		m = servingRe.FindStringSubmatch(out.String())
	}
	if m == nil {
		cancel()
		t.Fatalf("server did not start: %s", out.String())
	}
	req := &customerv1.GetCustomerRequest{Ref: &customerv1.GetCustomerRequest_ExternalId{ExternalId: "missing"}}
	conn, err := grpc.NewClient(m[1], grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_, err = customerv1.NewCustomerServiceClient(conn).GetCustomer(metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+key), req)
	if !strings.Contains(err.Error(), "NotFound") {
		t.Fatalf("gRPC call: %v", err)
	}
	cc := customerv1connect.NewCustomerServiceClient(http.DefaultClient, "http://"+m[2], connect.WithInterceptors(authHeader(key)))
	if _, err := cc.GetCustomer(ctx, req); connect.CodeOf(err) != connect.CodeNotFound {
		t.Fatalf("Connect call: %v", err)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("exit code %d", code)
	}
	col.mu.Lock()
	defer col.mu.Unlock()
	var grpcSpan, connectSpan bool
	for _, s := range col.spans {
		if !strings.HasPrefix(s, "potential ") || !strings.HasSuffix(s, " potential.customer.v1.CustomerService/GetCustomer") {
			continue
		}
		grpcSpan = grpcSpan || strings.Contains(s, "otelgrpc")
		connectSpan = connectSpan || strings.Contains(s, "otelconnect")
	}
	if !grpcSpan || !connectSpan {
		t.Fatalf("spans = %q; want GetCustomer from otelgrpc and from otelconnect", col.spans)
	}
}

// authHeader sends an API key on every Connect call.
type authHeader string

func (k authHeader) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		req.Header().Set("Authorization", "Bearer "+string(k))
		return next(ctx, req)
	}
}
func (k authHeader) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}
func (k authHeader) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return next
}

func TestTracingIsOffByDefault(t *testing.T) {
	tr, stop, err := newTracing(t.Context(), "", 1)
	if tr != nil || err != nil || stop(t.Context()) != nil {
		t.Fatalf("newTracing without an endpoint = %v, %v", tr, err)
	}
	for _, bad := range []string{"collector:4317", "ftp://x", "http://"} {
		if _, _, err := newTracing(t.Context(), bad, 1); err == nil {
			t.Errorf("newTracing(%q) accepted", bad)
		}
	}
	if _, _, err := newTracing(t.Context(), "http://127.0.0.1:1", 2); err == nil {
		t.Error("accepted a sampling ratio of 2")
	}
}
