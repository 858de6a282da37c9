package domain

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"time"
)

// Idempotent creates. A create whose items carry no id of the source system
// (a scoring model, a scoring rule, an API key, a training run) takes an
// optional request_id instead. Under it the service records the tenant, the
// method, the id, a hash of the request and, once it is done, the response,
// so that a client resending after a lost response (Unavailable, a timeout)
// gets the original response instead of a second resource:
//
//   - the first call reserves the key, runs the create, then records its
//     response; a create that fails releases the key, so it can be resent;
//   - a repeat with the same request returns the recorded response without
//     running the create again;
//   - the same id with another request is ErrInvalid with reason
//     REQUEST_ID_REUSED;
//   - a repeat while the first is still running is ErrAborted (reason
//     REQUEST_IN_FLIGHT): it never runs twice; retry it after a pause.
//
// A recorded response is kept for RequestRetention after the create; after
// that the id is forgotten and may be used again. A reservation whose call
// never finished (the process died) lapses after RequestInFlightLease.
//
// The record is not written in the create's transaction: the reservation
// commits before the create and the response after it. If the process dies
// (or the database cannot be reached to record the response)
// between the create's commit and the response's, the resource exists but
// no response is recorded; repeats get ErrAborted until the reservation
// lapses (RequestInFlightLease), and a repeat after that runs the create
// again, making a second resource. That window is the time between two
// commits of one call, and it needs a crash inside it.
const (
	RequestRetention     = 24 * time.Hour
	RequestInFlightLease = 5 * time.Minute
	// ReasonRequestInFlight is the reason of the ErrAborted a repeat gets
	// while the first call of its request id is still running.
	ReasonRequestInFlight = "REQUEST_IN_FLIGHT"
	// requestPruneBatch bounds how many lapsed records one call deletes.
	requestPruneBatch = 100
)

// ErrAborted: a concurrent call holds what this one needs; retry later.
var ErrAborted = errors.New("aborted")

// RequestRecord is what RequestStore keeps per (tenant, method, request id).
type RequestRecord struct {
	TenantID string
	Method   string
	ID       string
	// Hash identifies the request's content (SHA-256 of its encoding
	// without the request id).
	Hash []byte
	// Token identifies the call holding the reservation.
	Token string
	// Done is set once Response is recorded.
	Done     bool
	Response []byte
	Created  time.Time
	// Expires is when the record lapses: Created+RequestInFlightLease while
	// in flight, the completion time+RequestRetention once done.
	Expires time.Time
}

// RequestStore keeps the records of idempotent creates. Store embeds it;
// store/memory and store/postgres implement it (migration 0009).
type RequestStore interface {
	// ReserveRequest stores r (in flight, r.Expires set) unless a record of
	// its (tenant, method, id) exists that has not expired at now (a lapsed
	// one is replaced). It returns the record stored under the key and
	// whether it is r. Of concurrent calls on one key, exactly one reserves.
	ReserveRequest(ctx context.Context, r RequestRecord, now time.Time) (RequestRecord, bool, error)
	// CompleteRequest records the response of the reservation held by
	// token and sets its expiry; ErrNotFound if token no longer holds it.
	CompleteRequest(ctx context.Context, tenantID, method, id, token string, response []byte, expires time.Time) error
	// ReleaseRequest deletes the in-flight reservation held by token (a no-op
	// when it does not).
	ReleaseRequest(ctx context.Context, tenantID, method, id, token string) error
	// PruneRequests deletes up to limit of the tenant's records that expired
	// at or before now and returns how many it deleted.
	PruneRequests(ctx context.Context, tenantID string, now time.Time, limit int) (int, error)
}

// RequestHash is the hash Idempotent compares requests by.
func RequestHash(payload []byte) []byte {
	sum := sha256.Sum256(payload)
	return sum[:]
}

// Idempotent runs create at most once per (caller's tenant, method,
// requestID) within RequestRetention, as described at the top of this file,
// and returns its response, or the recorded response of the first call.
// payload is the request's encoding without the request id; responses are
// opaque bytes. An empty requestID runs create without any record.
func (s *Service) Idempotent(ctx context.Context, method, requestID string, payload []byte, create func(context.Context) ([]byte, error)) ([]byte, error) {
	if requestID == "" {
		return create(ctx)
	}
	p, err := PrincipalFrom(ctx)
	if err != nil {
		return nil, err
	}
	now := s.Now()
	r := RequestRecord{TenantID: p.TenantID, Method: method, ID: requestID, Hash: RequestHash(payload),
		Token: NewID(), Created: now, Expires: now.Add(RequestInFlightLease)}
	got, reserved, err := s.store.ReserveRequest(ctx, r, now)
	if err != nil {
		return nil, err
	}
	if !reserved {
		switch {
		case !bytes.Equal(got.Hash, r.Hash):
			return nil, &ValidationError{Violations: []FieldViolation{{
				Field:       "request_id",
				Description: fmt.Sprintf("request id %q was used before with a different request; a resend must repeat it exactly", requestID),
				Reason:      ReasonRequestIDReused,
			}}}
		case !got.Done:
			return nil, fmt.Errorf("%w: a call with request id %q is still running; retry later", ErrAborted, requestID)
		}
		return got.Response, nil
	}
	resp, err := create(ctx)
	// The record must be settled even when the caller has gone away.
	bg := context.WithoutCancel(ctx)
	if err != nil {
		if rerr := s.store.ReleaseRequest(bg, p.TenantID, method, requestID, r.Token); rerr != nil {
			return nil, errors.Join(err, rerr)
		}
		return nil, err
	}
	// The create has committed: its response goes to the caller even if it
	// cannot be recorded (the database went away meanwhile). The
	// reservation then lapses like a crashed call's (see the top).
	done := s.Now()
	if err := s.store.CompleteRequest(bg, p.TenantID, method, requestID, r.Token, resp, done.Add(RequestRetention)); err == nil {
		_, _ = s.store.PruneRequests(bg, p.TenantID, done, requestPruneBatch) // best effort; the next call prunes again
	}
	return resp, nil
}
