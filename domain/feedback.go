package domain

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// FeedbackKind is what a piece of feedback is.
type FeedbackKind string

// Feedback kinds. Ratings carry a score 1-5 (customer satisfaction, CSAT),
// NPS answers a score 0-10 (the Net Promoter question "how likely are you to
// recommend us"); the other kinds carry no score.
const (
	FeedbackComplaint  FeedbackKind = "complaint"
	FeedbackSuggestion FeedbackKind = "suggestion"
	FeedbackPraise     FeedbackKind = "praise"
	FeedbackQuestion   FeedbackKind = "question"
	FeedbackRating     FeedbackKind = "rating"
	FeedbackNPS        FeedbackKind = "nps"
)

// FeedbackKinds lists every kind, in a fixed order.
var FeedbackKinds = []FeedbackKind{FeedbackComplaint, FeedbackSuggestion, FeedbackPraise, FeedbackQuestion, FeedbackRating, FeedbackNPS}

// Valid reports whether k is one of the defined kinds.
func (k FeedbackKind) Valid() bool {
	switch k {
	case FeedbackComplaint, FeedbackSuggestion, FeedbackPraise, FeedbackQuestion, FeedbackRating, FeedbackNPS:
		return true
	}
	return false
}

// ScoreRange returns the inclusive range of scores feedback of kind k
// carries, and false for kinds without a score.
func (k FeedbackKind) ScoreRange() (lo, hi int, ok bool) {
	switch k {
	case FeedbackRating:
		return 1, 5, true
	case FeedbackNPS:
		return 0, 10, true
	}
	return 0, 0, false
}

// ComplaintStatus is where a complaint stands in its workflow:
//
//	open ──▶ in_progress ──▶ resolved_justified | resolved_unjustified | withdrawn
//	  └──────────────────────▲   (open may skip in_progress)
//	resolved_* | withdrawn ──▶ open   (reopening, with a reason)
//
// Feedback of the other kinds has no status ("").
type ComplaintStatus string

// Complaint statuses.
const (
	ComplaintOpen                ComplaintStatus = "open"
	ComplaintInProgress          ComplaintStatus = "in_progress"
	ComplaintResolvedJustified   ComplaintStatus = "resolved_justified"
	ComplaintResolvedUnjustified ComplaintStatus = "resolved_unjustified"
	ComplaintWithdrawn           ComplaintStatus = "withdrawn"
)

// ComplaintStatuses lists every status, in workflow order.
var ComplaintStatuses = []ComplaintStatus{ComplaintOpen, ComplaintInProgress, ComplaintResolvedJustified, ComplaintResolvedUnjustified, ComplaintWithdrawn}

// Valid reports whether s is one of the defined statuses.
func (s ComplaintStatus) Valid() bool {
	switch s {
	case ComplaintOpen, ComplaintInProgress, ComplaintResolvedJustified, ComplaintResolvedUnjustified, ComplaintWithdrawn:
		return true
	}
	return false
}

// Unresolved reports whether a complaint in status s still needs work (open
// or in progress): what counts as an open complaint for churn warnings.
func (s ComplaintStatus) Unresolved() bool { return s == ComplaintOpen || s == ComplaintInProgress }

// Resolved reports whether s is one of the two resolutions.
func (s ComplaintStatus) Resolved() bool {
	return s == ComplaintResolvedJustified || s == ComplaintResolvedUnjustified
}

// TopicSource says where a feedback's topic came from.
type TopicSource string

// Topic sources.
const (
	TopicFromNone   TopicSource = ""       // no topic: none sent and no keyword rule matched
	TopicFromClient TopicSource = "client" // sent by the client
	TopicFromRule   TopicSource = "rule"   // derived from the tenant's keyword rules
)

// Feedback is one complaint, suggestion, praise, question, rating or NPS
// answer of a customer. ExternalID (the source system's id) makes
// submitting idempotent: a resend changes nothing.
type Feedback struct {
	ID         string
	TenantID   string
	ExternalID string
	Customer   CustomerRef // as sent
	CustomerID string      // resolved
	Kind       FeedbackKind
	// Score is the rating (1-5) or NPS answer (0-10); HasScore is set
	// exactly for those two kinds.
	Score    int
	HasScore bool
	Channel  string // free-form, e.g. "email", "phone", "web"
	// Topic is the product or subject, lower-case; "" if none.
	Topic       string
	TopicSource TopicSource
	Text        string
	OccurredAt  time.Time
	CreateTime  time.Time
	UpdateTime  time.Time

	// Status is the complaint's status; "" for other kinds.
	Status ComplaintStatus
	// ResolveTime is the time of the complaint's current resolution; zero
	// unless Status is a resolution.
	ResolveTime time.Time
	// Transitions are the complaint's workflow steps, oldest first.
	Transitions []ComplaintTransition
	// Version counts the changes: 1 when submitted, +1 per transition.
	Version int64
}

// ComplaintTransition is one recorded step of a complaint's workflow.
type ComplaintTransition struct {
	Seq  int // 1 for the complaint's first transition, then 2, 3, ...
	From ComplaintStatus
	To   ComplaintStatus
	// Note is the resolution note, or the reason for reopening.
	Note string
	// Actor is the id of the API key that made the transition.
	Actor string
	// RequestID, when the client sent one, makes the transition idempotent.
	RequestID string
	Time      time.Time
}

// Limits of feedback fields, in bytes of UTF-8.
const (
	MaxFeedbackText    = 10000
	MaxFeedbackChannel = 64
	MaxTopic           = 64
	MaxTransitionNote  = 2000
)

// Reasons of feedback errors: stable codes in FieldViolation.Reason and in
// the messages of failed preconditions.
const (
	ReasonUnknownKind       = "UNKNOWN_KIND"
	ReasonScoreOutOfRange   = "SCORE_OUT_OF_RANGE"
	ReasonScoreRequired     = "SCORE_REQUIRED"
	ReasonScoreNotAllowed   = "SCORE_NOT_ALLOWED"
	ReasonRequestIDReused   = "REQUEST_ID_REUSED"
	ReasonCustomerNotFound  = "CUSTOMER_NOT_FOUND"
	ReasonUnknownStatus     = "UNKNOWN_STATUS"
	ReasonNoteRequired      = "NOTE_REQUIRED"
	ReasonNotAComplaint     = "NOT_A_COMPLAINT"
	ReasonAlreadyResolved   = "ALREADY_RESOLVED"
	ReasonAlreadyInStatus   = "ALREADY_IN_STATUS"
	ReasonComplaintClosed   = "COMPLAINT_CLOSED"
	ReasonComplaintNotEnded = "COMPLAINT_NOT_CLOSED"
)

// addReason adds a violation with a machine-readable reason.
func addReason(v *violations, field, reason, format string, args ...any) {
	if v.prefix != "" {
		field = v.prefix + "." + field
	}
	v.list = append(v.list, FieldViolation{Field: field, Description: fmt.Sprintf(format, args...), Reason: reason})
}

// PreconditionError is an ErrFailedPrecondition with a stable reason code,
// e.g. ALREADY_RESOLVED. Its message starts with the code.
type PreconditionError struct {
	Reason      string
	Description string
}

// Error returns "failed precondition: REASON: description".
func (e *PreconditionError) Error() string {
	return ErrFailedPrecondition.Error() + ": " + e.Reason + ": " + e.Description
}

// Is makes errors.Is(err, ErrFailedPrecondition) true.
func (e *PreconditionError) Is(target error) bool { return target == ErrFailedPrecondition }

func precondition(reason, format string, args ...any) error {
	return &PreconditionError{Reason: reason, Description: fmt.Sprintf(format, args...)}
}

// Normalize canonicalises free-form fields in place: trims spaces, lower-cases
// the topic (topics are grouped case-insensitively), stores times in UTC at
// microsecond precision.
func (f *Feedback) Normalize() {
	f.ExternalID = strings.TrimSpace(f.ExternalID)
	f.Channel = strings.TrimSpace(f.Channel)
	f.Topic = NormalizeTopic(f.Topic)
	f.OccurredAt = f.OccurredAt.UTC().Truncate(time.Microsecond)
}

// NormalizeTopic trims and lower-cases a topic name.
func NormalizeTopic(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// validTopic checks a normalized topic name: 1-64 bytes of valid UTF-8
// without control characters.
func validTopic(v *violations, field, topic string) {
	if topic == "" || len(topic) > MaxTopic || !utf8.ValidString(topic) || strings.IndexFunc(topic, unicode.IsControl) >= 0 {
		v.add(field, "must be 1-%d bytes of UTF-8 without control characters", MaxTopic)
	}
}

// Validate checks feedback as received (after Normalize). Field names are
// the API's.
func (f *Feedback) Validate(now time.Time) error {
	var v violations
	validExternal(&v, f.ExternalID)
	validRef(&v, "customer", f.Customer)
	lo, hi, scored := f.Kind.ScoreRange()
	switch {
	case !f.Kind.Valid():
		addReason(&v, "kind", ReasonUnknownKind, "unknown feedback kind %q; one of complaint, suggestion, praise, question, rating, nps", f.Kind)
	case scored && !f.HasScore:
		addReason(&v, "score", ReasonScoreRequired, "required for kind %s: %d-%d", f.Kind, lo, hi)
	case scored && (f.Score < lo || f.Score > hi):
		addReason(&v, "score", ReasonScoreOutOfRange, "%d is out of range for kind %s: %d-%d", f.Score, f.Kind, lo, hi)
	case !scored && f.HasScore:
		addReason(&v, "score", ReasonScoreNotAllowed, "only ratings (1-5) and nps answers (0-10) have a score, not kind %s", f.Kind)
	}
	if len(f.Channel) > MaxFeedbackChannel || !utf8.ValidString(f.Channel) {
		v.add("channel", "must be valid UTF-8 of at most %d bytes", MaxFeedbackChannel)
	}
	if f.Topic != "" {
		validTopic(&v, "topic", f.Topic)
	}
	if len(f.Text) > MaxFeedbackText || !utf8.ValidString(f.Text) {
		v.add("text", "must be valid UTF-8 of at most %d bytes", MaxFeedbackText)
	}
	validTime(&v, "occurred_at", f.OccurredAt, now)
	return v.err()
}

// clientTopic is the topic the client sent: a derived topic is not part of
// what a resend must repeat (the keyword rules may have changed since).
func (f *Feedback) clientTopic() string {
	if f.TopicSource == TopicFromClient {
		return f.Topic
	}
	return ""
}

// SameSubmission reports whether stored feedback and a resend of it (with
// its customer resolved to an id) agree on everything a client sends.
func SameSubmission(stored, resend *Feedback) bool {
	return stored.CustomerID == resend.CustomerID && stored.Kind == resend.Kind &&
		stored.HasScore == resend.HasScore && stored.Score == resend.Score &&
		stored.Channel == resend.Channel && stored.clientTopic() == resend.clientTopic() &&
		stored.Text == resend.Text && stored.OccurredAt.Equal(resend.OccurredAt)
}

// FeedbackETag is the opaque entity tag of a feedback version.
func FeedbackETag(version int64) string { return ETag(version) }

// Transition checks that the complaint f may move to status to and returns
// the transition that does it, made by actor at at. It changes nothing: the
// caller stores the transition. Errors: ErrInvalid (an unknown status, a
// missing or too long note) and *PreconditionError (the workflow forbids
// it: not a complaint, already resolved, closed, ...).
//
// Allowed: open → in_progress; open | in_progress → resolved_justified |
// resolved_unjustified (with a note) | withdrawn; resolved_* | withdrawn →
// open (reopening, with the reason as the note).
func (f *Feedback) Transition(to ComplaintStatus, note, actor, requestID string, at time.Time) (ComplaintTransition, error) {
	note = strings.TrimSpace(note)
	var v violations
	if !to.Valid() {
		addReason(&v, "status", ReasonUnknownStatus, "unknown complaint status %q; one of open, in_progress, resolved_justified, resolved_unjustified, withdrawn", to)
	}
	if len(note) > MaxTransitionNote || !utf8.ValidString(note) {
		v.add("note", "must be valid UTF-8 of at most %d bytes", MaxTransitionNote)
	}
	if to.Resolved() && note == "" {
		addReason(&v, "note", ReasonNoteRequired, "a resolution needs a note saying why the complaint is %s", strings.TrimPrefix(string(to), "resolved_"))
	}
	if err := v.err(); err != nil {
		return ComplaintTransition{}, err
	}
	if f.Kind != FeedbackComplaint {
		return ComplaintTransition{}, precondition(ReasonNotAComplaint, "feedback %s is a %s; only complaints have a workflow", f.ID, f.Kind)
	}
	from := f.Status
	switch {
	case from.Resolved() && to.Resolved():
		return ComplaintTransition{}, precondition(ReasonAlreadyResolved, "the complaint is already %s; reopen it first to resolve it again", from)
	case from == to:
		return ComplaintTransition{}, precondition(ReasonAlreadyInStatus, "the complaint is already %s", from)
	case to == ComplaintOpen:
		if from.Unresolved() {
			return ComplaintTransition{}, precondition(ReasonComplaintNotEnded, "only a resolved or withdrawn complaint can be reopened; it is %s", from)
		}
		if note == "" {
			// Checked here, not with the other fields: a reason is needed
			// only where reopening is possible at all.
			return ComplaintTransition{}, &ValidationError{Violations: []FieldViolation{{Field: "note", Description: "reopening a complaint needs the reason as the note", Reason: ReasonNoteRequired}}}
		}
	case !from.Unresolved():
		return ComplaintTransition{}, precondition(ReasonComplaintClosed, "the complaint is %s; reopen it first", from)
	}
	return ComplaintTransition{
		Seq: len(f.Transitions) + 1, From: from, To: to, Note: note, Actor: actor, RequestID: requestID,
		Time: at.UTC().Truncate(time.Microsecond),
	}, nil
}

// Apply returns f after transition t (which Transition made from f).
func (f Feedback) Apply(t ComplaintTransition) Feedback {
	f.Transitions = append(append([]ComplaintTransition(nil), f.Transitions...), t)
	f.Status = t.To
	f.ResolveTime = time.Time{}
	if t.To.Resolved() {
		f.ResolveTime = t.Time
	}
	f.UpdateTime = t.Time
	f.Version++
	return f
}

// FeedbackEvent is something a customer's feedback did that scoring rules
// can match, e.g. "−40 points for complaint_resolved_unjustified". Its ID
// is stable: listing the events again, after any resend of the feedback or
// of a transition, yields the same ids, so a points ledger that records
// each event id once awards its points exactly once.
//
// Kinds: complaint, suggestion, praise, question, rating, nps (the feedback
// itself, at its occurred_at; ID is the feedback id), and
// complaint_resolved_justified, complaint_resolved_unjustified (a
// complaint's current resolution, at the time it was resolved; ID is
// "<feedback id>/resolution/<transition seq>"). A reopened complaint's
// earlier resolution is superseded and no longer listed; resolving it again
// is a new event with a new id.
type FeedbackEvent struct {
	ID         string
	CustomerID string
	FeedbackID string
	Kind       string
	OccurredAt time.Time
	// Score is the rating (1-5) or NPS answer (0-10) of events of kind
	// rating or nps; 0 for other kinds.
	Score   int
	Topic   string
	Channel string
}

// Feedback event kinds beyond the feedback kinds themselves.
const (
	EventComplaintResolvedJustified   = "complaint_resolved_justified"
	EventComplaintResolvedUnjustified = "complaint_resolved_unjustified"
)

// Events returns the scoring events of f: the feedback itself and, for a
// resolved complaint, its current resolution.
func (f *Feedback) Events() []FeedbackEvent {
	base := FeedbackEvent{ID: f.ID, CustomerID: f.CustomerID, FeedbackID: f.ID, Kind: string(f.Kind), OccurredAt: f.OccurredAt, Topic: f.Topic, Channel: f.Channel}
	if f.HasScore {
		base.Score = f.Score
	}
	out := []FeedbackEvent{base}
	if f.Kind == FeedbackComplaint && f.Status.Resolved() {
		for i := len(f.Transitions) - 1; i >= 0; i-- {
			t := f.Transitions[i]
			if t.To != f.Status {
				continue
			}
			ev := base
			ev.ID = f.ID + "/resolution/" + strconv.Itoa(t.Seq)
			ev.Kind = "complaint_" + string(t.To)
			ev.OccurredAt = t.Time
			out = append(out, ev)
			break
		}
	}
	return out
}

// FeedbackQuery is what a store needs to return one page of feedback,
// newest first: occurred_at descending, then id descending.
type FeedbackQuery struct {
	CustomerID string            // "" for every customer
	Kinds      []FeedbackKind    // empty for every kind
	Statuses   []ComplaintStatus // empty for any status (and feedback without one)
	Topic      string            // "" for any topic
	From, To   time.Time         // occurred_at in [From, To); zero: unbounded
	// After is the (OccurredAt, ID) of the last item of the previous page.
	After *Cursor
	Limit int
}

// FeedbackFact is the part of one piece of feedback that summaries need.
type FeedbackFact struct {
	CustomerID  string
	Kind        FeedbackKind
	Score       int // rating or NPS answer; 0 for other kinds
	Topic       string
	Status      ComplaintStatus
	OccurredAt  time.Time
	ResolveTime time.Time // zero unless resolved
}

// FeedbackFactQuery selects the facts of a summary: feedback that occurred
// in [From, To) or was resolved in it.
type FeedbackFactQuery struct {
	CustomerIDs []string // nil for the whole tenant
	From, To    time.Time
}

// TopicRule derives a topic from feedback text: feedback submitted without
// a topic gets Topic when its text contains one of Keywords (see
// TopicMatcher for the matching).
type TopicRule struct {
	TenantID   string
	Topic      string
	Keywords   []string
	CreateTime time.Time
	UpdateTime time.Time
	Version    int64
}

// FeedbackStore is the storage feedback needs. Store embeds it; the
// conventions of Store apply.
type FeedbackStore interface {
	// SubmitFeedback stores f (its CustomerID resolved; ErrNotFound if that
	// customer does not exist) unless the tenant has feedback with f's
	// external id: then it returns that, unchanged, and created false.
	SubmitFeedback(ctx context.Context, f Feedback) (stored Feedback, created bool, err error)
	// GetFeedback returns feedback by id, with its transitions.
	GetFeedback(ctx context.Context, tenantID, id string) (Feedback, error)
	// ListFeedback returns at most q.Limit feedback matching q, newest first
	// (occurred_at, then id, descending), strictly after q.After.
	ListFeedback(ctx context.Context, tenantID string, q FeedbackQuery) ([]Feedback, error)
	// AppendTransition records transition t of complaint id if the
	// complaint is still at version (else ErrStale; ErrNotFound if absent),
	// sets its status to t.To, its resolve time (t.Time for a resolution,
	// zero otherwise) and update time (t.Time), and increments its version.
	AppendTransition(ctx context.Context, tenantID, id string, version int64, t ComplaintTransition) (Feedback, error)
	// FeedbackFacts returns the facts q selects.
	FeedbackFacts(ctx context.Context, tenantID string, q FeedbackFactQuery) ([]FeedbackFact, error)
	// FeedbackEvents returns the scoring events of a customer's feedback
	// (Feedback.Events of each), oldest first (then by id); none for an
	// unknown customer.
	FeedbackEvents(ctx context.Context, tenantID, customerID string) ([]FeedbackEvent, error)
	// OpenComplaints counts the unresolved (open or in progress) complaints
	// of the given customers, or of every customer when customerIDs is nil.
	// Customers without one are absent from the map.
	OpenComplaints(ctx context.Context, tenantID string, customerIDs []string) (map[string]int64, error)

	// CreateTopicRule stores r (Version 1); ErrConflict if the tenant has a
	// rule for r.Topic.
	CreateTopicRule(ctx context.Context, r TopicRule) (TopicRule, error)
	// GetTopicRule returns the tenant's rule for topic.
	GetTopicRule(ctx context.Context, tenantID, topic string) (TopicRule, error)
	// ListTopicRules returns the tenant's rules by topic (byte order).
	ListTopicRules(ctx context.Context, tenantID string) ([]TopicRule, error)
	// UpdateTopicRule replaces the keywords of the rule r.Topic if it is at
	// r.Version (else ErrStale; ErrNotFound if absent), sets Version to
	// r.Version+1 and UpdateTime to r.UpdateTime.
	UpdateTopicRule(ctx context.Context, r TopicRule) (TopicRule, error)
	// DeleteTopicRule deletes the tenant's rule for topic.
	DeleteTopicRule(ctx context.Context, tenantID, topic string) error
}
