package domain

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors. Stores and use cases wrap them (fmt.Errorf("...: %w", ErrNotFound))
// and servers map them to status codes; compare with errors.Is.
var (
	// ErrNotFound: the addressed record does not exist in the caller's tenant.
	ErrNotFound = errors.New("not found")
	// ErrConflict: a record with the same unique key (e.g. external_id) already exists.
	ErrConflict = errors.New("already exists")
	// ErrStale: an etag or expected version no longer matches the stored record.
	ErrStale = errors.New("stale etag")
	// ErrInvalid: the request is malformed; see ValidationError for the fields.
	ErrInvalid = errors.New("invalid argument")
	// ErrFailedPrecondition: the request is well formed but the state forbids it.
	ErrFailedPrecondition = errors.New("failed precondition")
	// ErrUnauthenticated: no credentials, or credentials that are unknown, revoked or expired.
	ErrUnauthenticated = errors.New("unauthenticated")
	// ErrPermissionDenied: the caller's role does not allow the operation.
	ErrPermissionDenied = errors.New("permission denied")
	// ErrUnavailable: a dependency (the database) is temporarily unreachable;
	// the request is safe to retry with the same ids.
	ErrUnavailable = errors.New("unavailable")
)

// FieldViolation names one request field (a dotted path in the API's snake_case
// field names, with [i] for list elements, e.g. "transactions[3].amount") and
// what is wrong with it.
type FieldViolation struct {
	Field       string
	Description string
	// Reason is a stable UPPER_SNAKE_CASE code for machines, e.g. "REQUIRED".
	Reason string
}

// ValidationError is an ErrInvalid with the offending fields listed.
type ValidationError struct {
	Violations []FieldViolation
}

// Error lists every violation.
func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Violations))
	for i, v := range e.Violations {
		parts[i] = v.Field + ": " + v.Description
	}
	return "invalid argument: " + strings.Join(parts, "; ")
}

// Is makes errors.Is(err, ErrInvalid) true for a *ValidationError.
func (e *ValidationError) Is(target error) bool { return target == ErrInvalid }

// Invalid returns a *ValidationError for one field.
func Invalid(field, format string, args ...any) error {
	return &ValidationError{Violations: []FieldViolation{{Field: field, Description: fmt.Sprintf(format, args...)}}}
}

// violations accumulates field violations while validating a value.
type violations struct {
	prefix string
	list   []FieldViolation
}

func (v *violations) add(field, format string, args ...any) {
	if v.prefix != "" {
		field = v.prefix + "." + field
	}
	v.list = append(v.list, FieldViolation{Field: field, Description: fmt.Sprintf(format, args...)})
}

func (v *violations) err() error {
	if len(v.list) == 0 {
		return nil
	}
	return &ValidationError{Violations: v.list}
}

// prefixViolations rewrites the field paths of a validation error under prefix.
func prefixViolations(err error, prefix string) error {
	var ve *ValidationError
	if !errors.As(err, &ve) {
		return err
	}
	out := &ValidationError{Violations: make([]FieldViolation, len(ve.Violations))}
	for i, v := range ve.Violations {
		v.Field = prefix + "." + v.Field
		out.Violations[i] = v
	}
	return out
}
