package domain

import (
	"fmt"
	"time"
)

// MaxBatch is the largest number of items one ingestion or upsert call may carry.
const MaxBatch = 1000

// CustomerRef addresses a customer either by server id or by the CRM's external id.
type CustomerRef struct {
	ID         string
	ExternalID string
}

// TransactionKind tells orders from refunds.
type TransactionKind string

// Transaction kinds.
const (
	TxOrder  TransactionKind = "order"
	TxRefund TransactionKind = "refund"
)

// Transaction is an order or a refund. ExternalID (the CRM's id) makes
// recording idempotent: a resend with the same id changes nothing.
type Transaction struct {
	ID         string
	TenantID   string
	ExternalID string
	Customer   CustomerRef
	CustomerID string // resolved by the store
	Kind       TransactionKind
	Amount     Money // positive; a refund's amount is what is returned
	Margin     Money // gross margin if known
	HasMargin  bool
	Quantity   int64 // items, if known
	OccurredAt time.Time
}

// InteractionType enumerates the touchpoints the service understands.
type InteractionType string

// Interaction types.
const (
	InteractionCall           InteractionType = "call"
	InteractionEmailSent      InteractionType = "email_sent"
	InteractionEmailOpened    InteractionType = "email_opened"
	InteractionEmailClicked   InteractionType = "email_clicked"
	InteractionMeeting        InteractionType = "meeting"
	InteractionChat           InteractionType = "chat"
	InteractionSiteVisit      InteractionType = "site_visit"
	InteractionPageView       InteractionType = "page_view"
	InteractionFormSubmission InteractionType = "form_submission"
	InteractionSocial         InteractionType = "social_engagement"
)

var interactionTypes = map[InteractionType]bool{InteractionCall: true, InteractionEmailSent: true, InteractionEmailOpened: true, InteractionEmailClicked: true, InteractionMeeting: true, InteractionChat: true, InteractionSiteVisit: true, InteractionPageView: true, InteractionFormSubmission: true, InteractionSocial: true}

// Direction of an interaction, seen from the tenant.
type Direction string

// Directions.
const (
	DirectionInbound  Direction = "inbound"
	DirectionOutbound Direction = "outbound"
)

// Interaction is one touchpoint with a customer.
type Interaction struct {
	ID         string
	TenantID   string
	ExternalID string
	Customer   CustomerRef
	CustomerID string
	Type       InteractionType
	Direction  Direction // "" when not applicable
	Channel    string    // free-form, e.g. "web", "linkedin"
	OccurredAt time.Time
}

// Referral records that Referrer brought Referred.
type Referral struct {
	ID         string
	TenantID   string
	ExternalID string
	Referrer   CustomerRef
	Referred   CustomerRef
	ReferrerID string
	ReferredID string
	OccurredAt time.Time
}

// BatchResult says how many items of a batch were new and how many were
// already known (a resend of an id recorded before, or repeated in the batch).
type BatchResult struct {
	Created      int
	AlreadyKnown int
	// CreatedCustomers counts customers created because the batch asked for
	// missing customers to be created.
	CreatedCustomers int
	// CustomerIDs lists, once each and sorted, the ids of every customer
	// the batch's items refer to, new and already known items alike: the
	// customers whose assessment the batch may change.
	CustomerIDs []string
	// FollowedUp is set by a store that ran RecordOptions.FollowUp in the
	// batch's transaction: the customers' assessments, points, grades and
	// segments are current.
	FollowedUp bool
}

func validRef(v *violations, field string, r CustomerRef) {
	if r.ID == "" && r.ExternalID == "" {
		v.add(field, "set either id or external_id")
	}
	if r.ExternalID != "" && !externalIDRe.MatchString(r.ExternalID) {
		v.add(field+".external_id", "must be 1-128 printable ASCII characters without spaces")
	}
}

func validExternal(v *violations, id string) {
	if !externalIDRe.MatchString(id) {
		v.add("external_id", "required: the source system's id, 1-128 printable ASCII characters")
	}
}

// maxFuture is how far in the future an event may be dated (clock skew).
const maxFuture = 24 * time.Hour

func validTime(v *violations, field string, t, now time.Time) {
	switch {
	case t.IsZero():
		v.add(field, "required")
	case t.Year() < 1900:
		v.add(field, "must be after 1900")
	case t.After(now.Add(maxFuture)):
		v.add(field, "must not be more than a day in the future")
	}
}

// Validate checks a transaction as received.
func (t *Transaction) Validate(now time.Time) error {
	var v violations
	validExternal(&v, t.ExternalID)
	validRef(&v, "customer", t.Customer)
	if t.Kind != TxOrder && t.Kind != TxRefund {
		v.add("kind", "must be order or refund")
	}
	if t.Amount < 0 {
		v.add("amount", "must not be negative; record returns as kind refund")
	}
	if t.Quantity < 0 {
		v.add("quantity", "must not be negative")
	}
	validTime(&v, "occurred_at", t.OccurredAt, now)
	return v.err()
}

// Validate checks an interaction as received.
func (it *Interaction) Validate(now time.Time) error {
	var v violations
	validExternal(&v, it.ExternalID)
	validRef(&v, "customer", it.Customer)
	if !interactionTypes[it.Type] {
		v.add("type", "unknown interaction type %q", it.Type)
	}
	if it.Direction != "" && it.Direction != DirectionInbound && it.Direction != DirectionOutbound {
		v.add("direction", "must be inbound or outbound")
	}
	if len(it.Channel) > 64 {
		v.add("channel", "at most 64 bytes")
	}
	validTime(&v, "occurred_at", it.OccurredAt, now)
	return v.err()
}

// Validate checks a referral as received.
func (r *Referral) Validate(now time.Time) error {
	var v violations
	validExternal(&v, r.ExternalID)
	validRef(&v, "referrer", r.Referrer)
	validRef(&v, "referred", r.Referred)
	if r.Referrer == r.Referred && (r.Referrer.ID != "" || r.Referrer.ExternalID != "") {
		v.add("referred", "a customer cannot refer itself")
	}
	validTime(&v, "occurred_at", r.OccurredAt, now)
	return v.err()
}

func checkBatch(field string, n int) error {
	if n == 0 {
		return Invalid(field, "must contain at least one item")
	}
	if n > MaxBatch {
		return Invalid(field, "at most %d items per call, got %d", MaxBatch, n)
	}
	return nil
}

func itemPath(field string, i int) string { return fmt.Sprintf("%s[%d]", field, i) }
