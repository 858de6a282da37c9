package domain

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/potentialhq/potential/domain/rules"
)

// Scoring: a tenant's scoring models are named rule sets (e.g. one per
// business unit or product line). Each rule awards positive or negative
// points for one kind of event, optionally only when a CEL condition over
// the event and the customer holds, for a validity window after which the
// points drop out, and up to an optional cap. Every award is a LedgerEntry;
// a customer's score in a model at time t is the sum of that model's
// entries valid at t (see Award and ScoreAt).

// EventKind is the kind of event a scoring rule matches.
type EventKind string

// Event kinds. Interaction kinds are the interaction types; feedback kinds
// are the feedback kinds and the two resolutions of a complaint.
const (
	EventKindOrder                        EventKind = "order"
	EventKindRefund                       EventKind = "refund"
	EventKindCall                         EventKind = EventKind(InteractionCall)
	EventKindEmailSent                    EventKind = EventKind(InteractionEmailSent)
	EventKindEmailOpened                  EventKind = EventKind(InteractionEmailOpened)
	EventKindEmailClicked                 EventKind = EventKind(InteractionEmailClicked)
	EventKindMeeting                      EventKind = EventKind(InteractionMeeting)
	EventKindChat                         EventKind = EventKind(InteractionChat)
	EventKindSiteVisit                    EventKind = EventKind(InteractionSiteVisit)
	EventKindPageView                     EventKind = EventKind(InteractionPageView)
	EventKindFormSubmission               EventKind = EventKind(InteractionFormSubmission)
	EventKindSocialEngagement             EventKind = EventKind(InteractionSocial)
	EventKindReferralGiven                EventKind = "referral_given"
	EventKindReferralReceived             EventKind = "referral_received"
	EventKindComplaint                    EventKind = "complaint"
	EventKindComplaintResolvedJustified   EventKind = "complaint_resolved_justified"
	EventKindComplaintResolvedUnjustified EventKind = "complaint_resolved_unjustified"
	EventKindSuggestion                   EventKind = "suggestion"
	EventKindPraise                       EventKind = "praise"
	EventKindQuestion                     EventKind = "question"
	EventKindRating                       EventKind = "rating"
	EventKindNPS                          EventKind = "nps"
	EventKindQualificationChanged         EventKind = "qualification_changed"
)

// EventKinds lists every kind a rule may match, in a fixed order.
var EventKinds = []EventKind{
	EventKindOrder, EventKindRefund,
	EventKindCall, EventKindEmailSent, EventKindEmailOpened, EventKindEmailClicked, EventKindMeeting,
	EventKindChat, EventKindSiteVisit, EventKindPageView, EventKindFormSubmission, EventKindSocialEngagement,
	EventKindReferralGiven, EventKindReferralReceived,
	EventKindComplaint, EventKindComplaintResolvedJustified, EventKindComplaintResolvedUnjustified,
	EventKindSuggestion, EventKindPraise, EventKindQuestion, EventKindRating, EventKindNPS,
	EventKindQualificationChanged,
}

// Valid reports whether k is one of EventKinds.
func (k EventKind) Valid() bool {
	for _, e := range EventKinds {
		if k == e {
			return true
		}
	}
	return false
}

// ScoringEvent is one event of a customer as scoring rules see it. Stores
// build them from transactions, interactions, referrals (one event for each
// side), qualification changes and feedback.
type ScoringEvent struct {
	Kind EventKind
	// ID identifies the source record (a transaction, interaction,
	// referral, qualification change or feedback event id) within its kind.
	ID string
	// Ref is the source system's id of the record, for explanations; "" if
	// it has none.
	Ref string
	At  time.Time
	// Amount and Margin of an order or refund (Margin 0 when unknown),
	// Quantity of items.
	Amount, Margin Money
	Quantity       int64
	// Channel of an interaction or feedback, Direction of an interaction,
	// Topic of feedback.
	Channel, Direction, Topic string
	// Rating is a rating's score (1-5) or an NPS answer (0-10).
	Rating int64
}

// FeedbackScoringEvents returns the scoring events of a piece of feedback
// (Feedback.Events): the feedback itself, of its kind, and a resolved
// complaint's resolution, with the rating or NPS answer as Rating.
func FeedbackScoringEvents(f *Feedback) []ScoringEvent {
	evs := f.Events()
	out := make([]ScoringEvent, len(evs))
	for i, e := range evs {
		out[i] = ScoringEvent{Kind: EventKind(e.Kind), ID: e.ID, Ref: f.ExternalID, At: e.OccurredAt,
			Channel: e.Channel, Topic: e.Topic, Rating: int64(e.Score)}
	}
	return out
}

// ScoringModel is a named set of scoring rules with a score of its own.
type ScoringModel struct {
	ID          string
	TenantID    string
	Name        string // unique in the tenant
	Description string
	// Revision counts the changes to the model's rules; every rule change
	// increments it.
	Revision int64
	// ScoredRevision is the revision at which every ledger of the model was
	// last recomputed; below Revision while a re-scoring is under way (or
	// was interrupted: the next rule change, or RescoreStale, finishes it).
	ScoredRevision int64
	CreateTime     time.Time
}

// Limits of scoring models and rules.
const (
	MaxScoringModels  = 50
	MaxRulesPerModel  = 200
	MaxRulePoints     = 1_000_000
	MaxRuleCap        = 1_000_000_000
	MinRuleValidity   = time.Second
	MaxRuleValidity   = 100 * 366 * 24 * time.Hour
	maxNameBytes      = 200
	maxDescribeBytes  = 2048
	maxConditionBytes = rules.MaxLength
)

// Validate checks a model as a client sent it.
func (m *ScoringModel) Validate() error {
	v := violations{prefix: "model"}
	validName(&v, "display_name", m.Name)
	validDescription(&v, "description", m.Description)
	return v.err()
}

func validName(v *violations, field, s string) {
	switch {
	case strings.TrimSpace(s) == "":
		v.add(field, "required")
	case len(s) > maxNameBytes || !utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0:
		v.add(field, "must be valid UTF-8 of at most %d bytes", maxNameBytes)
	}
}

func validDescription(v *violations, field, s string) {
	if len(s) > maxDescribeBytes || !utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0 {
		v.add(field, "must be valid UTF-8 of at most %d bytes", maxDescribeBytes)
	}
}

// ScoringRule awards Points to a customer for every event of kind EventKind
// for which Condition holds, valid for Validity from the event's time (or
// forever without one), and never more than Cap points (in absolute value)
// from this rule valid at any one time.
type ScoringRule struct {
	ID          string
	TenantID    string
	ModelID     string
	Name        string
	Description string
	EventKind   EventKind
	// Condition is a CEL expression over `event`, `customer` and
	// `attributes` (see domain/rules); "" always holds.
	Condition string
	// Points awarded per matching event; negative points lower the score.
	Points int64
	// HasValidity says whether points expire: then they count for Validity
	// after the event (at least MinRuleValidity); otherwise forever.
	HasValidity bool
	Validity    time.Duration
	// Cap bounds the absolute sum of this rule's points valid at any time
	// for one customer; 0 means no cap.
	Cap        int64
	Version    int64 // 1 on creation, incremented by every change
	CreateTime time.Time
	UpdateTime time.Time
	// DeleteTime is set on the last version of a deleted rule (see
	// ScoringStore.ScoringRuleVersions); zero otherwise.
	DeleteTime time.Time
}

// Normalize canonicalises the free-form fields in place.
func (r *ScoringRule) Normalize() {
	r.Name = strings.TrimSpace(r.Name)
	r.EventKind = EventKind(strings.TrimSpace(string(r.EventKind)))
	if strings.TrimSpace(r.Condition) == "" {
		r.Condition = ""
	}
	if !r.HasValidity {
		r.Validity = 0
	}
}

// Validate checks a rule as a client sent it, compiling its condition; the
// fields are named under "rule.". A condition that does not compile is a
// violation of rule.condition whose description starts with "line L,
// column C".
func (r *ScoringRule) Validate() error {
	v := violations{prefix: "rule"}
	if r.ModelID == "" {
		v.add("model_id", "required: the scoring model the rule belongs to")
	}
	validName(&v, "display_name", r.Name)
	validDescription(&v, "description", r.Description)
	if !r.EventKind.Valid() {
		v.add("event_kind", "unknown event kind %q; one of %s", r.EventKind, eventKindList())
	}
	if len(r.Condition) > maxConditionBytes || !utf8.ValidString(r.Condition) {
		v.add("condition", "must be valid UTF-8 of at most %d bytes", maxConditionBytes)
	} else if _, err := rules.Compile(r.Condition); err != nil {
		v.add("condition", "%v", err)
	}
	switch {
	case r.Points == 0:
		v.add("points", "must not be zero")
	case r.Points > MaxRulePoints || r.Points < -MaxRulePoints:
		v.add("points", "must be within ±%d", MaxRulePoints)
	}
	if r.HasValidity {
		switch {
		case r.Validity <= 0:
			v.add("validity", "must be positive (a zero-width window awards nothing); leave it unset for points that never expire")
		case r.Validity < MinRuleValidity:
			v.add("validity", "must be at least %s", MinRuleValidity)
		case r.Validity > MaxRuleValidity:
			v.add("validity", "must be at most 100 years; leave it unset for points that never expire")
		}
	}
	if r.Cap < 0 || r.Cap > MaxRuleCap {
		v.add("cap", "must be between 0 (no cap) and %d", MaxRuleCap)
	}
	return v.err()
}

func eventKindList() string {
	s := make([]string, len(EventKinds))
	for i, k := range EventKinds {
		s[i] = string(k)
	}
	return strings.Join(s, ", ")
}

// SameRule reports whether a and b agree on every field a client sets.
func SameRule(a, b *ScoringRule) bool {
	return a.ModelID == b.ModelID && a.Name == b.Name && a.Description == b.Description && a.EventKind == b.EventKind &&
		a.Condition == b.Condition && a.Points == b.Points && a.HasValidity == b.HasValidity &&
		a.Validity == b.Validity && a.Cap == b.Cap
}

// describeRule renders a rule in a sentence, for explanations.
func describeRule(r *ScoringRule) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%+d points per %s", r.Points, r.EventKind)
	if r.Condition != "" {
		fmt.Fprintf(&b, " when %s", r.Condition)
	}
	if r.HasValidity {
		fmt.Fprintf(&b, ", valid %s", formatDuration(r.Validity))
	}
	if r.Cap > 0 {
		fmt.Fprintf(&b, ", at most %d valid at once", r.Cap)
	}
	return b.String()
}

// formatDuration writes d in days when it is whole days, else as Go does.
func formatDuration(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%d days", d/(24*time.Hour))
	}
	return d.String()
}
