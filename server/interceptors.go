package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strings"
	"time"

	"buf.build/go/protovalidate"
	"connectrpc.com/connect"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/logging"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/recovery"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"

	"github.com/potentialhq/potential/domain"
)

// publicPrefixes are procedures callable without credentials: health and reflection.
var publicPrefixes = []string{"/grpc.health.v1.Health/", "/grpc.reflection.v1.ServerReflection/", "/grpc.reflection.v1alpha.ServerReflection/"}

func isPublic(procedure string) bool {
	for _, p := range publicPrefixes {
		if strings.HasPrefix(procedure, p) {
			return true
		}
	}
	return false
}

// chain is what every RPC goes through after decoding, whatever the
// protocol: authenticate, authorise, validate. It returns the context
// carrying the principal.
type chain struct {
	svc       *domain.Service
	validator protovalidate.Validator
	log       *slog.Logger
}

func (c *chain) authenticate(ctx context.Context, procedure, authorization string) (context.Context, error) {
	token, ok := strings.CutPrefix(authorization, "Bearer ")
	if !ok || token == "" {
		return nil, fmt.Errorf("%w: send \"authorization: Bearer <api key>\"", domain.ErrUnauthenticated)
	}
	p, err := c.svc.Authenticate(ctx, strings.TrimSpace(token))
	if err != nil {
		return nil, err
	}
	if err := authorize(procedure, p.Role); err != nil {
		return nil, err
	}
	return domain.WithPrincipal(ctx, p), nil
}

// validate runs the protovalidate rules of req and reports every violation
// as a field of a domain.ValidationError.
func (c *chain) validate(req any) error {
	msg, ok := req.(proto.Message)
	if !ok {
		return nil
	}
	err := c.validator.Validate(msg)
	var ve *protovalidate.ValidationError
	if errors.As(err, &ve) {
		out := &domain.ValidationError{}
		for _, v := range ve.Violations {
			out.Violations = append(out.Violations, domain.FieldViolation{
				Field:       protovalidate.FieldPathString(v.Proto.GetField()),
				Description: v.Proto.GetMessage(),
				Reason:      strings.ToUpper(strings.NewReplacer(".", "_", "-", "_").Replace(v.Proto.GetRuleId())),
			})
		}
		return out
	}
	return err
}

// WrapUnary applies the chain, logging and error mapping to Connect,
// gRPC-Web and gRPC-over-connect unary calls (chain is a connect.Interceptor).
func (c *chain) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		start := time.Now()
		procedure := req.Spec().Procedure
		resp, err := func() (connect.AnyResponse, error) {
			ctx, err := c.authenticate(ctx, procedure, req.Header().Get("Authorization"))
			if err != nil {
				return nil, err
			}
			if err := c.validate(req.Any()); err != nil {
				return nil, err
			}
			var fresh connect.AnyResponse
			out, replayed, err := c.idempotent(ctx, procedure, req.Any(), func(ctx context.Context) (proto.Message, error) {
				resp, err := next(ctx, req)
				if err != nil {
					return nil, err
				}
				fresh = resp
				m, _ := resp.Any().(proto.Message)
				return m, nil
			})
			if err != nil || !replayed {
				return fresh, err
			}
			return idempotentCreates[procedure].connectResponse(out), nil
		}()
		cerr := toConnectError(ctx, c.log, procedure, err)
		c.logCall(ctx, req.Peer().Protocol, procedure, cerr, start)
		if cerr != nil {
			return nil, cerr
		}
		return resp, nil
	}
}

// WrapStreamingClient leaves client streams alone.
func (c *chain) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

// WrapStreamingHandler authenticates streaming calls and validates every
// message received.
func (c *chain) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		start := time.Now()
		procedure := conn.Spec().Procedure
		err := func() error {
			ctx, err := c.authenticate(ctx, procedure, conn.RequestHeader().Get("Authorization"))
			if err != nil {
				return err
			}
			return next(ctx, &validatingConn{StreamingHandlerConn: conn, c: c})
		}()
		cerr := toConnectError(ctx, c.log, procedure, err)
		c.logCall(ctx, conn.Peer().Protocol, procedure, cerr, start)
		if cerr != nil {
			return cerr
		}
		return nil
	}
}

func (c *chain) logCall(ctx context.Context, protocol, procedure string, err *connect.Error, start time.Time) {
	code := "ok"
	if err != nil {
		code = err.Code().String()
	}
	c.log.InfoContext(ctx, "finished call", "protocol", protocol, "procedure", procedure, "code", code, "duration", time.Since(start))
}

type validatingConn struct {
	connect.StreamingHandlerConn
	c *chain
}

func (v *validatingConn) Receive(msg any) error {
	if err := v.StreamingHandlerConn.Receive(msg); err != nil {
		return err
	}
	return v.c.validate(msg)
}

// grpcUnary applies the chain and error mapping to grpc-go unary calls.
func (c *chain) grpcUnary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	if isPublic(info.FullMethod) {
		return handler(ctx, req)
	}
	resp, err := func() (any, error) {
		md, _ := metadata.FromIncomingContext(ctx)
		auth := ""
		if v := md.Get("authorization"); len(v) > 0 {
			auth = v[0]
		}
		ctx, err := c.authenticate(ctx, info.FullMethod, auth)
		if err != nil {
			return nil, err
		}
		if err := c.validate(req); err != nil {
			return nil, err
		}
		var fresh any
		out, replayed, err := c.idempotent(ctx, info.FullMethod, req, func(ctx context.Context) (proto.Message, error) {
			resp, err := handler(ctx, req)
			if err != nil {
				return nil, err
			}
			fresh = resp
			m, _ := resp.(proto.Message)
			return m, nil
		})
		if err != nil || !replayed {
			return fresh, err
		}
		return out, nil
	}()
	return resp, toGRPCError(ctx, c.log, info.FullMethod, err)
}

// grpcStream authenticates grpc-go streaming calls (reflection and health are public).
func (c *chain) grpcStream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	if isPublic(info.FullMethod) {
		return handler(srv, ss)
	}
	md, _ := metadata.FromIncomingContext(ss.Context())
	auth := ""
	if v := md.Get("authorization"); len(v) > 0 {
		auth = v[0]
	}
	ctx, err := c.authenticate(ss.Context(), info.FullMethod, auth)
	if err != nil {
		return toGRPCError(ss.Context(), c.log, info.FullMethod, err)
	}
	return toGRPCError(ctx, c.log, info.FullMethod, handler(srv, &wrappedStream{ServerStream: ss, ctx: ctx, c: c}))
}

// wrappedStream carries the authenticated context and validates every
// message received.
type wrappedStream struct {
	grpc.ServerStream
	ctx context.Context
	c   *chain
}

func (w *wrappedStream) Context() context.Context { return w.ctx }

func (w *wrappedStream) RecvMsg(m any) error {
	if err := w.ServerStream.RecvMsg(m); err != nil {
		return err
	}
	return w.c.validate(m)
}

// slogLogger adapts slog to go-grpc-middleware's logging interface.
func slogLogger(l *slog.Logger) logging.Logger {
	return logging.LoggerFunc(func(ctx context.Context, lvl logging.Level, msg string, fields ...any) {
		l.Log(ctx, slog.Level(lvl), msg, fields...)
	})
}

// recoverPanic turns a handler panic into Internal, logging the stack.
func recoverPanic(log *slog.Logger) func(ctx context.Context, p any) error {
	return func(ctx context.Context, p any) error {
		log.ErrorContext(ctx, "panic in handler", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
		return errors.New("internal error")
	}
}

func grpcRecovery(log *slog.Logger) []recovery.Option {
	h := recoverPanic(log)
	return []recovery.Option{recovery.WithRecoveryHandlerContext(func(ctx context.Context, p any) error {
		err := h(ctx, p)
		return toGRPCError(ctx, log, "", err)
	})}
}
