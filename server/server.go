// Package server serves Potential's API: one implementation of each
// protobuf service, reachable over grpc-go (gRPC) and over connect-go
// (Connect, gRPC-Web and gRPC on plain HTTP), with reflection and the
// standard health service on both. It converts protobuf messages to domain
// types (convert.go) and maps domain errors to status codes in one place
// (errors.go).
package server

import (
	"context"
	"log/slog"
	"net/http"

	"buf.build/go/protovalidate"
	"connectrpc.com/connect"
	"connectrpc.com/grpchealth"
	"connectrpc.com/grpcreflect"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/logging"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/recovery"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"

	"github.com/potentialhq/potential/domain"
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
	segmentv1 "github.com/potentialhq/potential/gen/go/potential/segment/v1"
	"github.com/potentialhq/potential/gen/go/potential/segment/v1/segmentv1connect"
	webhookv1 "github.com/potentialhq/potential/gen/go/potential/webhook/v1"
	"github.com/potentialhq/potential/gen/go/potential/webhook/v1/webhookv1connect"
)

// MaxRequestBytes bounds one request message on both ports (a full batch of
// 1000 items is well under it).
const MaxRequestBytes = 8 << 20

// MaxHeaderBytes bounds a request's headers (metadata) on the gRPC port;
// serve the HTTP port with http.Server.MaxHeaderBytes set to it too.
const MaxHeaderBytes = 64 << 10

// Server holds the gRPC server and the HTTP handler for one service instance.
type Server struct {
	grpc    *grpc.Server
	mux     *http.ServeMux
	handler http.Handler // mux with the size limit and CORS
	health  *health.Server
	checker *checker
	metrics *Metrics
}

// Options configure New.
type Options struct {
	// Logger receives request logs and internal errors. Default slog.Default().
	Logger *slog.Logger
	// CORSOrigins are the origins (scheme://host[:port]) of browser
	// applications allowed to call the HTTP port. None: same origin only.
	CORSOrigins []string
	// Metrics receive the per-RPC metrics of both ports and are served at
	// /metrics on the HTTP port. Default: NewMetrics().
	Metrics *Metrics
	// Pprof serves net/http/pprof under /debug/pprof/ on the HTTP port.
	// Off by default: profiles reveal internals and cost CPU.
	Pprof bool
	// Tracing instruments both ports for distributed tracing. Nil (the
	// default) traces nothing; see Tracing.
	Tracing *Tracing
}

// serviceNames are the services registered, for health and reflection.
var serviceNames = []string{customerv1connect.CustomerServiceName, scoringv1connect.ScoringServiceName, adminv1connect.AdminServiceName, feedbackv1connect.FeedbackServiceName, conversionv1connect.ConversionServiceName, segmentv1connect.SegmentServiceName, webhookv1connect.WebhookServiceName}

// New builds the servers over svc.
func New(svc *domain.Service, opts Options) (*Server, error) {
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	log = slog.New(logHandler{log.Handler()}) // every call's lines carry its request id
	metrics := opts.Metrics
	if metrics == nil {
		metrics = NewMetrics()
	}
	v, err := protovalidate.New()
	if err != nil {
		return nil, err
	}
	c := &chain{svc: svc, validator: v, log: log}
	customers := &CustomerServer{svc: svc}
	scoring := &ScoringServer{svc: svc}
	admin := &AdminServer{svc: svc}
	feedback := &FeedbackServer{svc: svc}
	conversion := &ConversionServer{svc: svc}
	segments := &SegmentServer{svc: svc}
	webhooks := &WebhookServer{svc: svc}

	s := &Server{health: health.NewServer(), mux: http.NewServeMux(), checker: &checker{}, metrics: metrics}

	// grpc-go: request id outermost, then recovery, metrics, logging, our chain.
	grpcOpts := []grpc.ServerOption{}
	interceptors := []connect.Interceptor{connectInterceptor{metrics}, c}
	if t := opts.Tracing; t != nil {
		if t.GRPC != nil {
			grpcOpts = append(grpcOpts, grpc.StatsHandler(t.GRPC))
		}
		if t.Connect != nil {
			interceptors = append([]connect.Interceptor{t.Connect}, interceptors...)
		}
	}
	s.grpc = grpc.NewServer(append(grpcOpts,
		grpc.MaxRecvMsgSize(MaxRequestBytes),
		grpc.MaxHeaderListSize(MaxHeaderBytes),
		grpc.ChainUnaryInterceptor(
			grpcRequestIDUnary,
			recovery.UnaryServerInterceptor(grpcRecovery(log)...),
			metrics.grpc.UnaryServerInterceptor(),
			metrics.grpcIngested,
			logging.UnaryServerInterceptor(slogLogger(log), logging.WithLevels(logging.DefaultServerCodeToLevel)),
			c.grpcUnary,
		),
		grpc.ChainStreamInterceptor(
			grpcRequestIDStream,
			recovery.StreamServerInterceptor(grpcRecovery(log)...),
			metrics.grpc.StreamServerInterceptor(),
			logging.StreamServerInterceptor(slogLogger(log)),
			c.grpcStream,
		),
	)...)
	customerv1.RegisterCustomerServiceServer(s.grpc, customers)
	scoringv1.RegisterScoringServiceServer(s.grpc, scoringGRPC{ScoringServer: scoring})
	adminv1.RegisterAdminServiceServer(s.grpc, admin)
	feedbackv1.RegisterFeedbackServiceServer(s.grpc, feedback)
	conversionv1.RegisterConversionServiceServer(s.grpc, conversion)
	segmentv1.RegisterSegmentServiceServer(s.grpc, segmentGRPC{SegmentServer: segments})
	webhookv1.RegisterWebhookServiceServer(s.grpc, webhooks)
	healthpb.RegisterHealthServer(s.grpc, s.health)
	reflection.Register(s.grpc)
	metrics.grpc.InitializeMetrics(s.grpc)

	// connect-go: the same implementations.
	handlerOpts := []connect.HandlerOption{
		connect.WithInterceptors(interceptors...),
		connect.WithReadMaxBytes(MaxRequestBytes),
		connect.WithRecover(func(ctx context.Context, spec connect.Spec, _ http.Header, p any) error {
			return toConnectError(ctx, log, spec.Procedure, recoverPanic(log)(ctx, p))
		}),
	}
	s.mux.Handle(customerv1connect.NewCustomerServiceHandler(customers, handlerOpts...))
	s.mux.Handle(scoringv1connect.NewScoringServiceHandler(scoring, handlerOpts...))
	s.mux.Handle(adminv1connect.NewAdminServiceHandler(admin, handlerOpts...))
	s.mux.Handle(feedbackv1connect.NewFeedbackServiceHandler(feedback, handlerOpts...))
	s.mux.Handle(conversionv1connect.NewConversionServiceHandler(conversion, handlerOpts...))
	s.mux.Handle(segmentv1connect.NewSegmentServiceHandler(segments, handlerOpts...))
	s.mux.Handle(webhookv1connect.NewWebhookServiceHandler(webhooks, handlerOpts...))
	s.mux.Handle(grpchealth.NewHandler(s.checker))
	reflector := grpcreflect.NewStaticReflector(serviceNames...)
	s.mux.Handle(grpcreflect.NewHandlerV1(reflector))
	s.mux.Handle(grpcreflect.NewHandlerV1Alpha(reflector))
	s.mux.Handle("GET /metrics", metrics.Handler())
	if opts.Pprof {
		mountPprof(s.mux)
	}

	if s.handler, err = corsHandler(requestIDHandler(http.MaxBytesHandler(s.mux, MaxRequestBytes+1<<20)), opts.CORSOrigins); err != nil {
		return nil, err
	}

	s.SetServing(true)
	return s, nil
}

// GRPC returns the grpc-go server, to be served on its own listener.
func (s *Server) GRPC() *grpc.Server { return s.grpc }

// Handler returns the HTTP handler serving Connect, gRPC-Web and gRPC. Serve
// it with http.Protocols allowing unencrypted HTTP/2 so gRPC clients work.
func (s *Server) Handler() http.Handler { return s.handler }

// Metrics returns the server's metrics, to register further collectors.
func (s *Server) Metrics() *Metrics { return s.metrics }

// Mux returns the HTTP mux, for mounting further handlers (dashboard, metrics).
func (s *Server) Mux() *http.ServeMux { return s.mux }

// SetServing sets the health status reported on both ports, for the whole
// server ("") and each service.
func (s *Server) SetServing(serving bool) {
	st := healthpb.HealthCheckResponse_NOT_SERVING
	if serving {
		st = healthpb.HealthCheckResponse_SERVING
	}
	s.health.SetServingStatus("", st)
	for _, n := range serviceNames {
		s.health.SetServingStatus(n, st)
	}
	s.checker.serving.Store(serving)
}
