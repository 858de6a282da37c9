package domain

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Webhooks: segment entries and exits and grade changes delivered as signed
// HTTP POSTs, for systems that do not hold a stream open.
//
// The path of an event:
//   - The segment event log and the grade changes are read by cursor, per
//     tenant, by whichever replica's worker takes the tenant's feed (the
//     feed's row is taken with FOR UPDATE SKIP LOCKED, so one replica feeds
//     a tenant at a time). Each event matched by an enabled subscription
//     that existed when it happened becomes one delivery in the outbox, and
//     the cursors move, in one transaction (FeedWebhooks). A delivery's id
//     is derived from its subscription and event (WebhookDeliveryID), so
//     feeding an event twice stores it once; that id is the idempotency key
//     subscribers see.
//   - Workers claim due deliveries with FOR UPDATE SKIP LOCKED
//     (ClaimWebhookDeliveries): a claim counts the attempt and pushes the
//     delivery's due time to the lease's expiry, so no other worker takes
//     the same attempt while it runs, and a worker that dies leaves the
//     delivery due again once the lease lapses (the next claim is the next
//     attempt). The POST happens outside any transaction.
//   - The outcome is written with the attempt's log entry, only while the
//     lease is still the worker's (CompleteWebhookAttempt): a 2xx succeeds;
//     anything else is retried with exponential backoff and jitter until
//     MaxAttempts, then the delivery has failed.
//
// Nothing of it lives only in one process: the cursors, the outbox, the
// leases and the log are in the store, so deliveries survive restarts and
// any number of replicas share the work. Delivery is at least once: an
// attempt whose answer was lost (the worker died after the POST) is made
// again with the same idempotency key.

// WebhookEventType is a kind of event a subscription receives.
type WebhookEventType string

// Webhook event types.
const (
	WebhookSegmentEntered WebhookEventType = "segment.entered"
	WebhookSegmentExited  WebhookEventType = "segment.exited"
	WebhookGradeChanged   WebhookEventType = "grade.changed"
)

// WebhookDestination is a URL an admin allowed deliveries to: the allowlist
// every subscription's URL must be on.
type WebhookDestination struct {
	ID       string
	TenantID string
	// URL is canonical (CanonicalWebhookURL).
	URL string
	// AllowPrivateNetwork lets deliveries connect to private, loopback and
	// link-local addresses; without it they are refused at connection time.
	AllowPrivateNetwork bool
	Description         string
	CreateTime          time.Time
}

// WebhookSubscription sends chosen events to a registered URL.
type WebhookSubscription struct {
	ID       string
	TenantID string
	// DestinationID is the destination whose URL the subscription uses.
	DestinationID string
	URL           string
	// EventTypes are distinct and sorted.
	EventTypes []WebhookEventType
	// SegmentIDs restrict segment events to these segments (sorted);
	// none: every segment.
	SegmentIDs  []string
	Description string
	Disabled    bool
	// Secret keys the signatures. The service returns it only from
	// CreateWebhookSubscription and RotateWebhookSecret.
	Secret     string
	Version    int64
	CreateTime time.Time
	UpdateTime time.Time
}

// wants reports whether s is to receive an event of type t about segment
// segmentID ("" for grade changes) that happened at at.
func (s *WebhookSubscription) wants(t WebhookEventType, segmentID string, at time.Time) bool {
	if s.Disabled || at.Before(s.CreateTime) || !slices.Contains(s.EventTypes, t) {
		return false
	}
	return segmentID == "" || len(s.SegmentIDs) == 0 || slices.Contains(s.SegmentIDs, segmentID)
}

// WebhookEvent is what a delivery's body says: one event for one
// subscription. Exactly one of Segment and Grade is set.
type WebhookEvent struct {
	// ID is "segment_event:<cursor>" or "grade_change:<id>".
	ID             string
	Type           WebhookEventType
	Time           time.Time
	SubscriptionID string
	Segment        *SegmentEvent
	Grade          *GradeChange
}

// WebhookDeliveryState says where a delivery stands.
type WebhookDeliveryState string

// Delivery states.
const (
	WebhookPending   WebhookDeliveryState = "pending"
	WebhookSucceeded WebhookDeliveryState = "succeeded"
	WebhookFailed    WebhookDeliveryState = "failed"
)

// WebhookDelivery is one event for one subscription: a row of the outbox.
type WebhookDelivery struct {
	// ID is WebhookDeliveryID(SubscriptionID, EventID): the idempotency key.
	ID             string
	TenantID       string
	SubscriptionID string
	EventID        string
	EventType      WebhookEventType
	EventTime      time.Time
	// Payload is the body, encoded once when the delivery is enqueued, so
	// every attempt sends the same bytes.
	Payload []byte
	State   WebhookDeliveryState
	// Attempts counts the attempts claimed.
	Attempts int
	// NextAttemptTime is when the delivery is due (while pending; while an
	// attempt runs, when its lease lapses).
	NextAttemptTime time.Time
	CreateTime      time.Time
	// Log lists the attempts that finished, oldest first (filled by
	// ListWebhookDeliveries).
	Log []WebhookAttempt
}

// WebhookAttempt is the log entry of one finished attempt.
type WebhookAttempt struct {
	Attempt int
	Start   time.Time
	// StatusCode is the HTTP status answered; 0 without an answer.
	StatusCode int
	// Error says why the attempt failed; "" on success.
	Error   string
	Latency time.Duration
}

// webhookNamespace derives delivery ids (UUIDv5, RFC 9562 §5.5).
var webhookNamespace = uuid.MustParse("6f1d8a52-3c1e-4f0a-9a57-2b7e4c2f9d10")

// WebhookDeliveryID returns the id of the delivery of event eventID to
// subscription subscriptionID: a name-based UUID of both, the same whoever
// computes it, so an event fed twice is stored once and every attempt
// carries the same idempotency key.
func WebhookDeliveryID(subscriptionID, eventID string) string {
	return uuid.NewSHA1(webhookNamespace, []byte(subscriptionID+"/"+eventID)).String()
}

// SegmentWebhookEventID and GradeWebhookEventID name the events deliveries
// carry.
func SegmentWebhookEventID(cursor int64) string { return fmt.Sprintf("segment_event:%d", cursor) }

// GradeWebhookEventID names a grade change's event.
func GradeWebhookEventID(changeID string) string { return "grade_change:" + changeID }

// WebhookFeed is what one feed step reads under the tenant's feed lock: the
// subscriptions, and the events after the feed's cursors.
type WebhookFeed struct {
	Subscriptions []WebhookSubscription
	// SegmentEvents follow the segment cursor, in cursor order.
	SegmentEvents []SegmentEvent
	// GradeChanges follow the grade cursor, in commit order.
	GradeChanges []GradeChange
}

// WebhookLease is a claimed attempt of a delivery, with what sending it
// needs.
type WebhookLease struct {
	Delivery WebhookDelivery
	// Token identifies the claim; only it can complete the attempt.
	Token string
	// Attempt is the number of this attempt (Delivery.Attempts).
	Attempt int
	// URL, AllowPrivateNetwork and Secret are the subscription's and its
	// destination's at the time of the claim.
	URL                 string
	AllowPrivateNetwork bool
	Secret              string
}

// WebhookOutcome is what CompleteWebhookAttempt writes.
type WebhookOutcome struct {
	Log WebhookAttempt
	// State is the delivery's next state; NextAttemptTime its due time
	// when pending.
	State           WebhookDeliveryState
	NextAttemptTime time.Time
}

// WebhookDeliveryCursor is a position in a delivery log (newest first).
type WebhookDeliveryCursor struct {
	CreateTime time.Time
	ID         string
}

// WebhookStore keeps destinations, subscriptions, the feed's cursors, the
// outbox and the delivery log. Store embeds it; the conventions of Store
// apply.
type WebhookStore interface {
	// CreateWebhookDestination stores d; ErrConflict if its URL is
	// registered.
	CreateWebhookDestination(ctx context.Context, d WebhookDestination) (WebhookDestination, error)
	// ListWebhookDestinations returns the tenant's destinations by URL.
	ListWebhookDestinations(ctx context.Context, tenantID string) ([]WebhookDestination, error)
	// DeleteWebhookDestination deletes a destination; ErrFailedPrecondition
	// while a subscription uses it.
	DeleteWebhookDestination(ctx context.Context, tenantID, id string) error

	// CreateWebhookSubscription stores s (Version 1), and starts the
	// tenant's feed at the current end of the segment log and grade
	// changes if it has none; ErrFailedPrecondition if s.DestinationID is
	// not registered (any more).
	CreateWebhookSubscription(ctx context.Context, s WebhookSubscription) (WebhookSubscription, error)
	// GetWebhookSubscription returns a subscription, with its secret.
	GetWebhookSubscription(ctx context.Context, tenantID, id string) (WebhookSubscription, error)
	// ListWebhookSubscriptions returns the tenant's subscriptions by
	// creation time, then id, with their secrets.
	ListWebhookSubscriptions(ctx context.Context, tenantID string) ([]WebhookSubscription, error)
	// UpdateWebhookSubscription replaces the stored subscription s.ID's
	// fields if it is at s.Version (else ErrStale), setting Version to
	// s.Version+1; ErrFailedPrecondition if s.DestinationID is gone.
	UpdateWebhookSubscription(ctx context.Context, s WebhookSubscription) (WebhookSubscription, error)
	// DeleteWebhookSubscription deletes a subscription (at version, unless
	// 0) with its deliveries and their log.
	DeleteWebhookSubscription(ctx context.Context, tenantID, id string, version int64) error

	// FeedWebhooks takes the tenant's feed if no one else holds it, reads
	// its subscriptions and at most limit segment events and limit grade
	// changes after its cursors, stores the deliveries fn returns (those
	// whose id is stored already are skipped) and moves the cursors past
	// what it read, in one transaction. It returns the number of events
	// read; 0 when the tenant has no feed or another caller holds it. fn
	// must not call the store.
	FeedWebhooks(ctx context.Context, tenantID string, limit int, fn func(*WebhookFeed) ([]WebhookDelivery, error)) (int, error)
	// ClaimWebhookDeliveries claims at most limit pending deliveries due at
	// or before now whose subscription is enabled, earliest first, skipping
	// those another claim holds: each gets its next attempt, a fresh lease
	// token, and a due time of leaseUntil.
	ClaimWebhookDeliveries(ctx context.Context, tenantID string, now, leaseUntil time.Time, limit int) ([]WebhookLease, error)
	// CompleteWebhookAttempt logs l's attempt and sets the delivery's state
	// to o's, while l's token holds the delivery (else ErrLeaseLost).
	CompleteWebhookAttempt(ctx context.Context, tenantID string, l WebhookLease, o WebhookOutcome) error
	// ListWebhookDeliveries returns at most limit deliveries of a
	// subscription, newest first (create time, then id, descending),
	// strictly after after (nil: from the newest), each with its log.
	ListWebhookDeliveries(ctx context.Context, tenantID, subscriptionID string, after *WebhookDeliveryCursor, limit int) ([]WebhookDelivery, error)
	// PruneWebhookDeliveries deletes at most limit succeeded or failed
	// deliveries created before before, with their log, and returns how
	// many it deleted.
	PruneWebhookDeliveries(ctx context.Context, tenantID string, before time.Time, limit int) (int, error)
}

// WebhookRetention is how long the delivery log keeps a delivery that
// succeeded or failed; pending ones are kept until they end.
const WebhookRetention = 30 * 24 * time.Hour

// MaxWebhookURLLength bounds a destination's URL.
const MaxWebhookURLLength = 2048

// MaxWebhookSubscriptions bounds a tenant's subscriptions, and
// MaxWebhookDestinations its destinations.
const (
	MaxWebhookSubscriptions = 100
	MaxWebhookDestinations  = 100
)

// CanonicalWebhookURL checks raw as a destination URL and returns its
// canonical form: lower-case scheme and host, no default port, path "/"
// when empty. It must be absolute https (http when insecureLocalhost and
// the host is localhost or a loopback address), without user info or
// fragment. Errors are *ValidationError on field.
func CanonicalWebhookURL(raw, field string, insecureLocalhost bool) (string, error) {
	if raw == "" {
		return "", Invalid(field, "required")
	}
	if len(raw) > MaxWebhookURLLength {
		return "", Invalid(field, "longer than %d bytes", MaxWebhookURLLength)
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" || u.Opaque != "" {
		return "", Invalid(field, "must be an absolute http(s) URL")
	}
	if u.User != nil {
		return "", Invalid(field, "must not carry user info")
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return "", Invalid(field, "must not have a fragment")
	}
	u.Scheme = strings.ToLower(u.Scheme)
	host := strings.ToLower(u.Hostname())
	port := u.Port()
	switch u.Scheme {
	case "https":
		if port == "443" {
			port = ""
		}
	case "http":
		if !insecureLocalhost || !isLocalhost(host) {
			return "", Invalid(field, "must use https (http is allowed only for localhost, and only where the server allows it)")
		}
		if port == "80" {
			port = ""
		}
	default:
		return "", Invalid(field, "must use https")
	}
	if host == "" {
		return "", Invalid(field, "must name a host")
	}
	u.Host = host
	if strings.Contains(host, ":") {
		u.Host = "[" + host + "]"
	}
	if port != "" {
		u.Host += ":" + port
	}
	if u.Path == "" {
		u.Path = "/"
	}
	return u.String(), nil
}

// isLocalhost reports whether host is "localhost" or a loopback address.
func isLocalhost(host string) bool {
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// WebhookBackoff returns the pause after failed attempt n (1 for the
// first): base·2^(n-1), at most max, with "equal jitter": a uniformly random
// pause in [d/2, d) so that failures of many deliveries at once do not
// retry in lockstep.
func WebhookBackoff(n int, base, max time.Duration) time.Duration {
	d := base
	for i := 1; i < n && d < max; i++ {
		d *= 2
	}
	d = min(d, max)
	if d < 2 {
		return d
	}
	return d/2 + rand.N(d/2)
}
