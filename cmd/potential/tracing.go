package main

import (
	"context"
	"fmt"
	"net/url"

	"connectrpc.com/otelconnect"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/potentialhq/potential/server"
)

// newTracing returns the tracing of both ports, exporting spans over
// OTLP/gRPC to endpoint (http://host:port without TLS, https://host:port
// with it), sampling ratio of the traces that do not arrive sampled or not
// already (W3C trace context). With an empty endpoint tracing is off: it
// returns nil and a no-op. stop flushes the spans still buffered and stops
// the exporter.
func newTracing(ctx context.Context, endpoint string, ratio float64) (tracing *server.Tracing, stop func(context.Context) error, err error) {
	noop := func(context.Context) error { return nil }
	if endpoint == "" {
		return nil, noop, nil
	}
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, noop, fmt.Errorf("%w: otlp-endpoint must be an http:// or https:// URL of an OTLP/gRPC collector", errUsage)
	}
	if ratio < 0 || ratio > 1 {
		return nil, noop, fmt.Errorf("%w: trace-sampling must be within 0 and 1", errUsage)
	}
	exp, err := otlptracegrpc.New(ctx, otlptracegrpc.WithEndpointURL(endpoint))
	if err != nil {
		return nil, noop, fmt.Errorf("otlp exporter: %w", err)
	}
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(ratio))),
		sdktrace.WithResource(resource.NewSchemaless(attribute.String("service.name", "potential"), attribute.String("service.version", version))),
	)
	prop := propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
	ic, err := otelconnect.NewInterceptor(otelconnect.WithTracerProvider(tp), otelconnect.WithPropagator(prop), otelconnect.WithoutMetrics())
	if err != nil {
		_ = tp.Shutdown(ctx)
		return nil, noop, err
	}
	return &server.Tracing{
		Connect: ic,
		GRPC:    otelgrpc.NewServerHandler(otelgrpc.WithTracerProvider(tp), otelgrpc.WithPropagators(prop)),
	}, tp.Shutdown, nil
}
