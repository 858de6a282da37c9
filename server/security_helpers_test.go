package server_test

import (
	"context"

	"connectrpc.com/connect"
)

// sendKey is a connect-go client interceptor that sends an API key on
// unary and streaming calls.
type sendKey string

func (k sendKey) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		if k != "" {
			req.Header().Set("Authorization", "Bearer "+string(k))
		}
		return next(ctx, req)
	}
}

func (k sendKey) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return func(ctx context.Context, spec connect.Spec) connect.StreamingClientConn {
		conn := next(ctx, spec)
		if k != "" {
			conn.RequestHeader().Set("Authorization", "Bearer "+string(k))
		}
		return conn
	}
}

func (k sendKey) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return next
}
