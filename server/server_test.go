package server_test

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/potentialhq/potential/domain"
	customerv1 "github.com/potentialhq/potential/gen/go/potential/customer/v1"
	"github.com/potentialhq/potential/gen/go/potential/customer/v1/customerv1connect"
	"github.com/potentialhq/potential/server"
)

// adminKey is the bootstrap key of every test server.
const adminKey = "pk_test_0123456789abcdef0123"

// env is a running server on real listeners and the clients that reach it.
type env struct {
	svc      *domain.Service
	grpcAddr string
	httpURL  string
	conn     *grpc.ClientConn
	h2c      *http.Client
}

// start serves svc over both ports on loopback for the duration of the test.
func start(tb testing.TB, store domain.Store) *env {
	tb.Helper()
	return startClock(tb, store, nil)
}

// startClock is start with the service reading time from clock.
func startClock(tb testing.TB, store domain.Store, clock domain.Clock) *env {
	tb.Helper()
	svc := domain.NewService(store, clock)
	if _, _, err := svc.Bootstrap(tb.Context(), adminKey); err != nil {
		tb.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(testWriter{tb}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	srv, err := server.New(svc, server.Options{Logger: log})
	if err != nil {
		tb.Fatal(err)
	}
	gl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	hl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	protocols := new(http.Protocols)
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true)
	hs := &http.Server{Handler: srv.Handler(), Protocols: protocols}
	go srv.GRPC().Serve(gl)
	go hs.Serve(hl)
	tb.Cleanup(func() {
		srv.GRPC().Stop()
		hs.Close()
	})
	conn, err := grpc.NewClient(gl.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { conn.Close() })
	tp := &http.Transport{}
	cp := new(http.Protocols)
	cp.SetUnencryptedHTTP2(true)
	tp.Protocols = cp
	return &env{svc: svc, grpcAddr: gl.Addr().String(), httpURL: "http://" + hl.Addr().String(), conn: conn, h2c: &http.Client{Transport: tp}}
}

type testWriter struct{ tb testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.tb.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// transport names a way of calling the service.
type transport string

const (
	viaGRPC        transport = "grpc-go"
	viaConnect     transport = "connect"
	viaConnectJSON transport = "connect-json"
	viaConnectGRPC transport = "connect-grpc"
	viaGRPCWeb     transport = "grpc-web"
)

var transports = []transport{viaGRPC, viaConnect, viaConnectJSON, viaConnectGRPC, viaGRPCWeb}

// client returns a CustomerService client over t that sends key.
func (e *env) client(t transport, key string) customerv1connect.CustomerServiceClient {
	opts := []connect.ClientOption{connect.WithInterceptors(bearer(key))}
	switch t {
	case viaGRPC:
		return grpcClient{c: customerv1.NewCustomerServiceClient(e.conn), key: key}
	case viaConnectJSON:
		opts = append(opts, connect.WithProtoJSON())
	case viaConnectGRPC:
		opts = append(opts, connect.WithGRPC())
	case viaGRPCWeb:
		opts = append(opts, connect.WithGRPCWeb())
	}
	return customerv1connect.NewCustomerServiceClient(e.h2c, e.httpURL, opts...)
}

// grpcClient adapts the grpc-go client to connect's client interface, so one
// test body runs over every transport. Errors become *connect.Error with the
// same code and details.
type grpcClient struct {
	c   customerv1.CustomerServiceClient
	key string
}

func (g grpcClient) ctx(ctx context.Context) context.Context {
	if g.key == "" {
		return ctx
	}
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+g.key)
}

func grpcErr(err error) error {
	if err == nil {
		return nil
	}
	st, _ := status.FromError(err)
	ce := connect.NewError(connect.Code(st.Code()), errors.New(st.Message()))
	for _, d := range st.Details() {
		if m, ok := d.(proto.Message); ok {
			if det, err := connect.NewErrorDetail(m); err == nil {
				ce.AddDetail(det)
			}
		}
	}
	return ce
}

func call[Req, Resp any](ctx context.Context, g grpcClient, f func(context.Context, *Req, ...grpc.CallOption) (*Resp, error), r *Req) (*Resp, error) {
	resp, err := f(g.ctx(ctx), r)
	return resp, grpcErr(err)
}

func (g grpcClient) CreateCustomer(ctx context.Context, r *customerv1.CreateCustomerRequest) (*customerv1.Customer, error) {
	return call(ctx, g, g.c.CreateCustomer, r)
}
func (g grpcClient) GetCustomer(ctx context.Context, r *customerv1.GetCustomerRequest) (*customerv1.Customer, error) {
	return call(ctx, g, g.c.GetCustomer, r)
}
func (g grpcClient) UpdateCustomer(ctx context.Context, r *customerv1.UpdateCustomerRequest) (*customerv1.Customer, error) {
	return call(ctx, g, g.c.UpdateCustomer, r)
}
func (g grpcClient) DeleteCustomer(ctx context.Context, r *customerv1.DeleteCustomerRequest) (*emptypb.Empty, error) {
	return call(ctx, g, g.c.DeleteCustomer, r)
}
func (g grpcClient) ListCustomers(ctx context.Context, r *customerv1.ListCustomersRequest) (*customerv1.ListCustomersResponse, error) {
	return call(ctx, g, g.c.ListCustomers, r)
}
func (g grpcClient) BatchUpsertCustomers(ctx context.Context, r *customerv1.BatchUpsertCustomersRequest) (*customerv1.BatchUpsertCustomersResponse, error) {
	return call(ctx, g, g.c.BatchUpsertCustomers, r)
}
func (g grpcClient) RecordTransactions(ctx context.Context, r *customerv1.RecordTransactionsRequest) (*customerv1.RecordTransactionsResponse, error) {
	return call(ctx, g, g.c.RecordTransactions, r)
}
func (g grpcClient) RecordInteractions(ctx context.Context, r *customerv1.RecordInteractionsRequest) (*customerv1.RecordInteractionsResponse, error) {
	return call(ctx, g, g.c.RecordInteractions, r)
}
func (g grpcClient) RecordReferrals(ctx context.Context, r *customerv1.RecordReferralsRequest) (*customerv1.RecordReferralsResponse, error) {
	return call(ctx, g, g.c.RecordReferrals, r)
}

// wantCode fails unless err has code.
func wantCode(tb testing.TB, err error, code connect.Code) {
	tb.Helper()
	if got := connect.CodeOf(err); got != code {
		tb.Fatalf("got %v (%v), want code %v", got, err, code)
	}
}

// wantField fails unless err is InvalidArgument with a BadRequest violation
// whose field starts with field.
func wantField(tb testing.TB, err error, field string) {
	tb.Helper()
	wantCode(tb, err, connect.CodeInvalidArgument)
	var ce *connect.Error
	if !errors.As(err, &ce) {
		tb.Fatalf("not a connect error: %v", err)
	}
	var fields []string
	for _, d := range ce.Details() {
		v, err := d.Value()
		if err != nil {
			continue
		}
		if br, ok := v.(*errdetails.BadRequest); ok {
			for _, fv := range br.GetFieldViolations() {
				if strings.HasPrefix(fv.GetField(), field) {
					return
				}
				fields = append(fields, fv.GetField())
			}
		}
	}
	tb.Fatalf("no BadRequest violation of field %q (got %v; error %v)", field, fields, err)
}

func ts(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func txn(id, customer string, amount string, at string) *customerv1.Transaction {
	return &customerv1.Transaction{
		ExternalId: id,
		Customer:   &customerv1.CustomerRef{Ref: &customerv1.CustomerRef_ExternalId{ExternalId: customer}},
		Kind:       customerv1.TransactionKind_TRANSACTION_KIND_ORDER,
		Amount:     amount,
		OccurredAt: timestamppb.New(ts(at)),
	}
}

// dial opens a plaintext grpc-go connection to addr.
func dial(tb testing.TB, addr string) *grpc.ClientConn {
	tb.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { conn.Close() })
	return conn
}

// bearer is a client interceptor sending key, unary and streaming.
type bearer string

func (b bearer) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		if b != "" {
			req.Header().Set("Authorization", "Bearer "+string(b))
		}
		return next(ctx, req)
	}
}

func (b bearer) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return func(ctx context.Context, spec connect.Spec) connect.StreamingClientConn {
		conn := next(ctx, spec)
		if b != "" {
			conn.RequestHeader().Set("Authorization", "Bearer "+string(b))
		}
		return conn
	}
}

func (b bearer) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return next
}
