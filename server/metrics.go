package server

import (
	"context"
	"errors"
	"net/http"
	"net/http/pprof"
	"strings"
	"time"

	"connectrpc.com/connect"
	grpcprom "github.com/grpc-ecosystem/go-grpc-middleware/providers/prometheus"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	customerv1 "github.com/potentialhq/potential/gen/go/potential/customer/v1"
)

// Metric names and help texts shared by both ports. They are those of
// go-grpc-middleware's prometheus provider, so one dashboard reads both; the
// constant label port ("grpc" or "http") tells the ports apart.
const (
	metricStarted  = "grpc_server_started_total"
	helpStarted    = "Total number of RPCs started on the server."
	metricHandled  = "grpc_server_handled_total"
	helpHandled    = "Total number of RPCs completed on the server, regardless of success or failure."
	metricHandling = "grpc_server_handling_seconds"
	helpHandling   = "Histogram of response latency (seconds) of gRPC that had been application-level handled by the server."
)

// Metrics are the Prometheus metrics of one service instance: per-RPC
// counts, result codes and latency histograms on both ports, items ingested,
// database pool statistics once registered, and the Go runtime and process
// collectors. Handler serves them in the Prometheus text format.
type Metrics struct {
	reg  *prometheus.Registry
	grpc *grpcprom.ServerMetrics

	started  *prometheus.CounterVec
	handled  *prometheus.CounterVec
	handling *prometheus.HistogramVec
	ingested *prometheus.CounterVec
}

// NewMetrics creates the metrics in a registry of their own.
func NewMetrics() *Metrics {
	portLabel := func(p string) prometheus.Labels { return prometheus.Labels{"port": p} }
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		grpc: grpcprom.NewServerMetrics(
			grpcprom.WithServerCounterOptions(grpcprom.WithConstLabels(portLabel("grpc"))),
			grpcprom.WithServerHandlingTimeHistogram(grpcprom.WithHistogramConstLabels(portLabel("grpc"))),
		),
		started: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: metricStarted, Help: helpStarted, ConstLabels: portLabel("http"),
		}, []string{"grpc_type", "grpc_service", "grpc_method"}),
		handled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: metricHandled, Help: helpHandled, ConstLabels: portLabel("http"),
		}, []string{"grpc_type", "grpc_service", "grpc_method", "grpc_code"}),
		handling: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: metricHandling, Help: helpHandling, ConstLabels: portLabel("http"), Buckets: prometheus.DefBuckets,
		}, []string{"grpc_type", "grpc_service", "grpc_method"}),
		ingested: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "potential_ingested_items_total",
			Help: "Items accepted by the ingestion calls (customers upserted, transactions, interactions and referrals recorded), repeats included.",
		}, []string{"kind"}),
	}
	m.reg.MustRegister(m.grpc, m.started, m.handled, m.handling, m.ingested,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Registry returns the registry, to register further collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the metrics in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// PoolStats is a snapshot of a database connection pool.
type PoolStats struct {
	// AcquiredConns, IdleConns, TotalConns and MaxConns are connection counts now.
	AcquiredConns, IdleConns, TotalConns, MaxConns int32
	// AcquireCount and EmptyAcquireCount count acquisitions since start, the
	// latter those that had to wait for a connection.
	AcquireCount, EmptyAcquireCount int64
	// AcquireDuration is the total time spent waiting for connections.
	AcquireDuration time.Duration
}

// RegisterPool exports the pool statistics stat returns at every scrape as
// potential_db_pool_* metrics.
func (m *Metrics) RegisterPool(stat func() PoolStats) {
	m.reg.MustRegister(poolCollector(stat))
}

type poolCollector func() PoolStats

var (
	descAcquired     = prometheus.NewDesc("potential_db_pool_acquired_conns", "Connections currently in use.", nil, nil)
	descIdle         = prometheus.NewDesc("potential_db_pool_idle_conns", "Idle connections.", nil, nil)
	descTotal        = prometheus.NewDesc("potential_db_pool_total_conns", "Open connections.", nil, nil)
	descMax          = prometheus.NewDesc("potential_db_pool_max_conns", "Largest number of connections the pool opens.", nil, nil)
	descAcquires     = prometheus.NewDesc("potential_db_pool_acquires_total", "Connections acquired from the pool.", nil, nil)
	descEmptyAcq     = prometheus.NewDesc("potential_db_pool_empty_acquires_total", "Acquisitions that waited because no connection was idle.", nil, nil)
	descAcquireWaits = prometheus.NewDesc("potential_db_pool_acquire_seconds_total", "Total time spent acquiring connections, in seconds.", nil, nil)
)

func (p poolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descAcquired, descIdle, descTotal, descMax, descAcquires, descEmptyAcq, descAcquireWaits} {
		ch <- d
	}
}

func (p poolCollector) Collect(ch chan<- prometheus.Metric) {
	s := p()
	ch <- prometheus.MustNewConstMetric(descAcquired, prometheus.GaugeValue, float64(s.AcquiredConns))
	ch <- prometheus.MustNewConstMetric(descIdle, prometheus.GaugeValue, float64(s.IdleConns))
	ch <- prometheus.MustNewConstMetric(descTotal, prometheus.GaugeValue, float64(s.TotalConns))
	ch <- prometheus.MustNewConstMetric(descMax, prometheus.GaugeValue, float64(s.MaxConns))
	ch <- prometheus.MustNewConstMetric(descAcquires, prometheus.CounterValue, float64(s.AcquireCount))
	ch <- prometheus.MustNewConstMetric(descEmptyAcq, prometheus.CounterValue, float64(s.EmptyAcquireCount))
	ch <- prometheus.MustNewConstMetric(descAcquireWaits, prometheus.CounterValue, s.AcquireDuration.Seconds())
}

// countIngested adds the items of a successful ingestion request.
func (m *Metrics) countIngested(req any) {
	switch r := req.(type) {
	case *customerv1.BatchUpsertCustomersRequest:
		m.ingested.WithLabelValues("customer").Add(float64(len(r.GetCustomers())))
	case *customerv1.RecordTransactionsRequest:
		m.ingested.WithLabelValues("transaction").Add(float64(len(r.GetTransactions())))
	case *customerv1.RecordInteractionsRequest:
		m.ingested.WithLabelValues("interaction").Add(float64(len(r.GetInteractions())))
	case *customerv1.RecordReferralsRequest:
		m.ingested.WithLabelValues("referral").Add(float64(len(r.GetReferrals())))
	}
}

// splitProcedure splits "/pkg.Service/Method" into service and method.
func splitProcedure(procedure string) (service, method string) {
	s := strings.TrimPrefix(procedure, "/")
	if i := strings.LastIndexByte(s, '/'); i >= 0 {
		return s[:i], s[i+1:]
	}
	return "unknown", s
}

// connectType names a stream type as the gRPC provider does.
func connectType(st connect.StreamType) string {
	switch st {
	case connect.StreamTypeClient:
		return "client_stream"
	case connect.StreamTypeServer:
		return "server_stream"
	case connect.StreamTypeBidi:
		return "bidi_stream"
	}
	return "unary"
}

// codeOf is the gRPC code name of a handler's result.
func codeOf(err error) string {
	if err == nil {
		return codes.OK.String()
	}
	var ce *connect.Error
	if errors.As(err, &ce) {
		return codes.Code(ce.Code()).String() // connect's codes are gRPC's numbers
	}
	if errors.Is(err, context.Canceled) {
		return codes.Canceled.String()
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return codes.DeadlineExceeded.String()
	}
	return status.Code(err).String()
}

// connectInterceptor records the per-RPC metrics of calls on the HTTP port
// (Connect, gRPC-Web and gRPC through connect-go) under the provider's names.
type connectInterceptor struct{ m *Metrics }

func (i connectInterceptor) observe(st connect.StreamType, procedure string) func(error) {
	typ := connectType(st)
	svc, method := splitProcedure(procedure)
	i.m.started.WithLabelValues(typ, svc, method).Inc()
	start := time.Now()
	return func(err error) {
		i.m.handled.WithLabelValues(typ, svc, method, codeOf(err)).Inc()
		i.m.handling.WithLabelValues(typ, svc, method).Observe(time.Since(start).Seconds())
	}
}

func (i connectInterceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		done := i.observe(req.Spec().StreamType, req.Spec().Procedure)
		resp, err := next(ctx, req)
		done(err)
		if err == nil {
			i.m.countIngested(req.Any())
		}
		return resp, err
	}
}

func (i connectInterceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (i connectInterceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		done := i.observe(conn.Spec().StreamType, conn.Spec().Procedure)
		err := next(ctx, conn)
		done(err)
		return err
	}
}

// grpcIngested counts the items of successful ingestion calls on the gRPC port.
func (m *Metrics) grpcIngested(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	resp, err := handler(ctx, req)
	if err == nil {
		m.countIngested(req)
	}
	return resp, err
}

// mountPprof serves net/http/pprof's handlers under /debug/pprof/.
func mountPprof(mux *http.ServeMux) {
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
}
