package server_test

import (
	"bytes"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"connectrpc.com/connect"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	"github.com/potentialhq/potential/domain"
	customerv1 "github.com/potentialhq/potential/gen/go/potential/customer/v1"
	"github.com/potentialhq/potential/server"
	"github.com/potentialhq/potential/store/memory"
)

func scrape(t *testing.T, e *env) string {
	t.Helper()
	resp, err := http.Get(e.httpURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/metrics: %s: %s", resp.Status, b)
	}
	return string(b)
}

// TestMetricsOnBothPorts makes a few calls on each port and finds their
// per-RPC counts, error codes and latency histograms, and the ingestion
// counter, in /metrics.
func TestMetricsOnBothPorts(t *testing.T) {
	e := start(t, memory.New())
	for _, tr := range []transport{viaGRPC, viaConnect} {
		c := e.client(tr, adminKey)
		req := &customerv1.BatchUpsertCustomersRequest{Customers: []*customerv1.Customer{{ExternalId: "a-" + string(tr)}, {ExternalId: "b-" + string(tr)}}}
		if _, err := c.BatchUpsertCustomers(t.Context(), req); err != nil {
			t.Fatal(err)
		}
		if _, err := c.GetCustomer(t.Context(), &customerv1.GetCustomerRequest{Ref: &customerv1.GetCustomerRequest_ExternalId{ExternalId: "missing"}}); connect.CodeOf(err) != connect.CodeNotFound {
			t.Fatalf("%s: GetCustomer(missing) = %v", tr, err)
		}
	}
	body := scrape(t, e)
	for _, port := range []string{"grpc", "http"} {
		for _, want := range []string{
			`grpc_server_started_total{grpc_method="BatchUpsertCustomers",grpc_service="potential.customer.v1.CustomerService",grpc_type="unary",port="` + port + `"} 1`,
			`grpc_server_handled_total{grpc_code="OK",grpc_method="BatchUpsertCustomers",grpc_service="potential.customer.v1.CustomerService",grpc_type="unary",port="` + port + `"} 1`,
			`grpc_server_handled_total{grpc_code="NotFound",grpc_method="GetCustomer",grpc_service="potential.customer.v1.CustomerService",grpc_type="unary",port="` + port + `"} 1`,
			`grpc_server_handling_seconds_count{grpc_method="GetCustomer",grpc_service="potential.customer.v1.CustomerService",grpc_type="unary",port="` + port + `"} 1`,
		} {
			if !strings.Contains(body, want) {
				t.Errorf("/metrics lacks %s", want)
			}
		}
	}
	if want := `potential_ingested_items_total{kind="customer"} 4`; !strings.Contains(body, want) {
		t.Errorf("/metrics lacks %s", want)
	}
	if t.Failed() {
		t.Log(body)
	}
}

// TestPoolMetrics checks a registered pool's statistics are scraped.
func TestPoolMetrics(t *testing.T) {
	m := server.NewMetrics()
	m.RegisterPool(func() server.PoolStats { return server.PoolStats{TotalConns: 3, MaxConns: 8, AcquireCount: 42} })
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	for _, want := range []string{"potential_db_pool_total_conns 3", "potential_db_pool_max_conns 8", "potential_db_pool_acquires_total 42"} {
		if !strings.Contains(rec.Body.String(), want) {
			t.Errorf("metrics lack %q:\n%s", want, rec.Body.String())
		}
	}
}

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestRequestIDs checks a client's x-request-id is echoed and logged on both
// ports, and that one is generated when the client sends none.
func TestRequestIDs(t *testing.T) {
	var logs syncBuffer
	svc := domain.NewService(memory.New(), nil)
	if _, _, err := svc.Bootstrap(t.Context(), adminKey); err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(svc, server.Options{Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	e := serveOn(t, srv)
	missing := &customerv1.GetCustomerRequest{Ref: &customerv1.GetCustomerRequest_ExternalId{ExternalId: "missing"}}

	// gRPC port.
	var hdr metadata.MD
	ctx := metadata.AppendToOutgoingContext(t.Context(), "authorization", "Bearer "+adminKey, "x-request-id", "req-grpc-1")
	_, _ = customerv1.NewCustomerServiceClient(e.conn).GetCustomer(ctx, missing, grpc.Header(&hdr))
	if got := hdr.Get("x-request-id"); len(got) != 1 || got[0] != "req-grpc-1" {
		t.Errorf("grpc port echoed %v", got)
	}
	ctx = metadata.AppendToOutgoingContext(t.Context(), "authorization", "Bearer "+adminKey)
	_, _ = customerv1.NewCustomerServiceClient(e.conn).GetCustomer(ctx, missing, grpc.Header(&hdr))
	if got := hdr.Get("x-request-id"); len(got) != 1 || len(got[0]) != 32 {
		t.Errorf("grpc port generated %v", got)
	}

	// HTTP port, Connect protocol; the id comes back on errors too.
	hreq, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, e.httpURL+"/potential.customer.v1.CustomerService/GetCustomer", strings.NewReader(`{"externalId":"missing"}`))
	hreq.Header.Set("Content-Type", "application/json")
	hreq.Header.Set("Authorization", "Bearer "+adminKey)
	hreq.Header.Set("X-Request-Id", "req-http-1")
	resp, err := http.DefaultClient.Do(hreq)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("X-Request-Id"); got != "req-http-1" {
		t.Errorf("http port echoed %q", got)
	}
	resp, err = http.Get(e.httpURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("X-Request-Id"); len(got) != 32 {
		t.Errorf("http port generated %q", got)
	}

	for _, id := range []string{"req-grpc-1", "req-http-1"} {
		if !strings.Contains(logs.String(), `"request_id":"`+id+`"`) {
			t.Errorf("no log line carries request_id %s:\n%s", id, logs.String())
		}
	}
}

// TestPprofBehindFlag checks /debug/pprof/ is served only when asked for.
func TestPprofBehindFlag(t *testing.T) {
	for _, on := range []bool{false, true} {
		svc := domain.NewService(memory.New(), nil)
		srv, err := server.New(svc, server.Options{Pprof: on})
		if err != nil {
			t.Fatal(err)
		}
		e := serveOn(t, srv)
		resp, err := http.Get(e.httpURL + "/debug/pprof/cmdline")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.StatusCode == http.StatusOK; got != on {
			t.Errorf("pprof %v: GET /debug/pprof/cmdline = %s", on, resp.Status)
		}
	}
}

// serveOn serves srv on loopback listeners for the duration of the test.
func serveOn(tb testing.TB, srv *server.Server) *env {
	tb.Helper()
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
	return &env{grpcAddr: gl.Addr().String(), httpURL: "http://" + hl.Addr().String(), conn: conn, h2c: http.DefaultClient}
}
