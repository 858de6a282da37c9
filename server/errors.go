package server

import (
	"context"
	"errors"
	"log/slog"

	"connectrpc.com/connect"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/protoadapt"

	"github.com/potentialhq/potential/domain"
)

// errorDomain is the ErrorInfo domain of every error Potential returns.
const errorDomain = "potential.dev"

// toConnectError maps any error a handler or interceptor returns to the
// status the client sees. It is the only place where domain errors meet
// status codes; gRPC uses the same codes (see toGRPCError).
//
// Unknown errors are logged in full and become Internal with a generic
// message: SQL or stack text never reaches a client.
func toConnectError(ctx context.Context, log *slog.Logger, procedure string, err error) *connect.Error {
	if err == nil {
		return nil
	}
	var ce *connect.Error
	if errors.As(err, &ce) {
		return ce
	}
	if st, ok := status.FromError(err); ok && st.Code() != 0 && !isDomainError(err) {
		return connect.NewError(connect.Code(st.Code()), errors.New(st.Message()))
	}
	var ve *domain.ValidationError
	switch {
	case errors.As(err, &ve):
		e := connect.NewError(connect.CodeInvalidArgument, errors.New(ve.Error()))
		br := &errdetails.BadRequest{}
		for _, v := range ve.Violations {
			br.FieldViolations = append(br.FieldViolations, &errdetails.BadRequest_FieldViolation{Field: v.Field, Description: v.Description, Reason: v.Reason})
		}
		addDetail(e, br)
		// A reused request or item id is one a client's retry logic must
		// recognise without parsing field paths: it also gets an ErrorInfo.
		for _, v := range ve.Violations {
			if v.Reason == domain.ReasonRequestIDReused {
				addDetail(e, &errdetails.ErrorInfo{Reason: v.Reason, Domain: errorDomain, Metadata: map[string]string{"field": v.Field}})
				break
			}
		}
		return e
	case errors.Is(err, domain.ErrNotFound):
		return connect.NewError(connect.CodeNotFound, err)
	case errors.Is(err, domain.ErrConflict):
		return connect.NewError(connect.CodeAlreadyExists, err)
	case errors.Is(err, domain.ErrStale):
		return connect.NewError(connect.CodeAborted, err)
	case errors.Is(err, domain.ErrAborted):
		e := connect.NewError(connect.CodeAborted, err)
		addDetail(e, &errdetails.ErrorInfo{Reason: domain.ReasonRequestInFlight, Domain: errorDomain})
		return e
	case errors.Is(err, domain.ErrInvalid):
		return connect.NewError(connect.CodeInvalidArgument, err)
	case errors.Is(err, domain.ErrFailedPrecondition):
		return connect.NewError(connect.CodeFailedPrecondition, err)
	case errors.Is(err, domain.ErrUnauthenticated):
		return connect.NewError(connect.CodeUnauthenticated, err)
	case errors.Is(err, domain.ErrPermissionDenied):
		return connect.NewError(connect.CodePermissionDenied, err)
	case errors.Is(err, domain.ErrUnavailable):
		log.WarnContext(ctx, "unavailable", "procedure", procedure, "error", err)
		e := connect.NewError(connect.CodeUnavailable, errors.New("temporarily unavailable; retry with the same ids"))
		addDetail(e, &errdetails.ErrorInfo{Reason: "UNAVAILABLE", Domain: errorDomain})
		return e
	case errors.Is(err, context.Canceled):
		return connect.NewError(connect.CodeCanceled, err)
	case errors.Is(err, context.DeadlineExceeded):
		return connect.NewError(connect.CodeDeadlineExceeded, err)
	}
	log.ErrorContext(ctx, "internal error", "procedure", procedure, "error", err)
	return connect.NewError(connect.CodeInternal, errors.New("internal error"))
}

func isDomainError(err error) bool {
	for _, s := range []error{domain.ErrNotFound, domain.ErrConflict, domain.ErrStale, domain.ErrAborted, domain.ErrInvalid, domain.ErrFailedPrecondition, domain.ErrUnauthenticated, domain.ErrPermissionDenied, domain.ErrUnavailable} {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

func addDetail(e *connect.Error, m proto.Message) {
	if d, err := connect.NewErrorDetail(m); err == nil {
		e.AddDetail(d)
	}
}

// toGRPCError is toConnectError for grpc-go: the same code, message and details.
func toGRPCError(ctx context.Context, log *slog.Logger, procedure string, err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok && !isDomainError(err) {
		return err
	}
	ce := toConnectError(ctx, log, procedure, err)
	st := status.New(codes.Code(ce.Code()), ce.Message())
	var details []protoadapt.MessageV1
	for _, d := range ce.Details() {
		if m, err := d.Value(); err == nil {
			details = append(details, protoadapt.MessageV1Of(m))
		}
	}
	if len(details) > 0 {
		if withDetails, err := st.WithDetails(details...); err == nil {
			st = withDetails
		}
	}
	return st.Err()
}
