package server

import (
	"connectrpc.com/connect"
	"google.golang.org/grpc/stats"
)

// Tracing is the hook for distributed tracing on both ports: an
// OpenTelemetry deployment sets Connect to otelconnect's interceptor
// (connectrpc.com/otelconnect.NewInterceptor) and GRPC to otelgrpc's
// server handler (otelgrpc.NewServerHandler, from
// go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc),
// both over the same TracerProvider and exporter. The Connect interceptor
// runs outermost on the HTTP port, the stats handler sees every call on the
// gRPC port. potential serve sets both when --otlp-endpoint names an
// OTLP/gRPC collector (cmd/potential/tracing.go); by default tracing is off.
type Tracing struct {
	Connect connect.Interceptor
	GRPC    stats.Handler
}
