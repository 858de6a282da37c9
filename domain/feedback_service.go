package domain

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// SubmitFeedback validates and records one piece of feedback of the
// caller's tenant. Its external id makes it idempotent: a resend returns the
// stored feedback (as it is now, e.g. resolved) with created false and
// changes nothing; a different payload under a known external id is
// ErrInvalid with reason REQUEST_ID_REUSED. Without a topic, the topic is
// derived from the text with the tenant's keyword rules (TopicMatcher).
// Complaints start open, and re-assess their customer (open complaints
// raise the churn warning).
func (s *Service) SubmitFeedback(ctx context.Context, f Feedback) (stored Feedback, created bool, err error) {
	p, err := PrincipalFrom(ctx)
	if err != nil {
		return Feedback{}, false, err
	}
	now := s.Now()
	f.Normalize()
	if err := f.Validate(now); err != nil {
		return Feedback{}, false, prefixViolations(err, "feedback")
	}
	c, err := s.store.GetCustomer(ctx, p.TenantID, f.Customer)
	if errors.Is(err, ErrNotFound) {
		return Feedback{}, false, &ValidationError{Violations: []FieldViolation{{
			Field: "feedback.customer", Description: "no such customer in this tenant", Reason: ReasonCustomerNotFound,
		}}}
	}
	if err != nil {
		return Feedback{}, false, err
	}
	f.ID, f.TenantID, f.CustomerID = NewID(), p.TenantID, c.ID
	f.CreateTime, f.UpdateTime, f.Version = now, now, 1
	f.Status, f.ResolveTime, f.Transitions = "", time.Time{}, nil
	if f.Kind == FeedbackComplaint {
		f.Status = ComplaintOpen
	}
	f.TopicSource = TopicFromClient
	if f.Topic == "" {
		f.TopicSource = TopicFromNone
		if f.Text != "" {
			rules, err := s.store.ListTopicRules(ctx, p.TenantID)
			if err != nil {
				return Feedback{}, false, err
			}
			if topic, ok := NewTopicMatcher(rules).Match(f.Text); ok {
				f.Topic, f.TopicSource = topic, TopicFromRule
			}
		}
	}
	out, created, err := s.store.SubmitFeedback(ctx, f)
	if err != nil {
		if errors.Is(err, ErrNotFound) { // the customer was erased meanwhile
			return Feedback{}, false, &ValidationError{Violations: []FieldViolation{{
				Field: "feedback.customer", Description: "no such customer in this tenant", Reason: ReasonCustomerNotFound,
			}}}
		}
		return Feedback{}, false, err
	}
	if !created {
		if !SameSubmission(&out, &f) {
			return Feedback{}, false, &ValidationError{Violations: []FieldViolation{{
				Field:       "feedback.external_id",
				Description: fmt.Sprintf("feedback %q was submitted before with different content; a resend must repeat it exactly", f.ExternalID),
				Reason:      ReasonRequestIDReused,
			}}}
		}
		return out, false, nil
	}
	if out.Kind == FeedbackComplaint {
		if err := s.reassess(ctx, p.TenantID, []string{out.CustomerID}); err != nil {
			return Feedback{}, false, err
		}
	}
	if err := s.scoreEvents(ctx, p.TenantID, []string{out.CustomerID}); err != nil {
		return Feedback{}, false, err
	}
	return out, true, nil
}

// GetFeedback returns feedback of the caller's tenant, with its transitions.
func (s *Service) GetFeedback(ctx context.Context, id string) (Feedback, error) {
	p, err := PrincipalFrom(ctx)
	if err != nil {
		return Feedback{}, err
	}
	return s.store.GetFeedback(ctx, p.TenantID, id)
}

// ListFeedbackRequest is one page request of ListFeedback. Zero fields do
// not filter.
type ListFeedbackRequest struct {
	Customer  CustomerRef
	Kinds     []FeedbackKind
	Statuses  []ComplaintStatus
	Topic     string
	StartTime time.Time // occurred_at at or after
	EndTime   time.Time // occurred_at before
	PageSize  int
	PageToken string
}

// ListFeedback returns one page of the caller's feedback, newest first
// (occurred_at, then id, descending), and the token of the next page (""
// on the last). The token is bound to the filters it was issued for.
func (s *Service) ListFeedback(ctx context.Context, r ListFeedbackRequest) ([]Feedback, string, error) {
	p, err := PrincipalFrom(ctx)
	if err != nil {
		return nil, "", err
	}
	var v violations
	if r.PageSize < 0 {
		v.add("page_size", "must not be negative")
	}
	for i, k := range r.Kinds {
		if !k.Valid() {
			addReason(&v, itemPath("kinds", i), ReasonUnknownKind, "unknown feedback kind %q", k)
		}
	}
	for i, st := range r.Statuses {
		if !st.Valid() {
			addReason(&v, itemPath("statuses", i), ReasonUnknownStatus, "unknown complaint status %q", st)
		}
	}
	r.Topic = NormalizeTopic(r.Topic)
	if r.Topic != "" {
		validTopic(&v, "topic", r.Topic)
	}
	r.StartTime, r.EndTime = r.StartTime.UTC().Truncate(time.Microsecond), r.EndTime.UTC().Truncate(time.Microsecond)
	if !r.StartTime.IsZero() && !r.EndTime.IsZero() && !r.StartTime.Before(r.EndTime) {
		v.add("end_time", "must be after start_time")
	}
	if err := v.err(); err != nil {
		return nil, "", err
	}
	size := r.PageSize
	if size == 0 {
		size = DefaultPageSize
	}
	size = min(size, MaxPageSize)
	q := FeedbackQuery{Topic: r.Topic, From: r.StartTime, To: r.EndTime, Limit: size + 1}
	if r.Customer != (CustomerRef{}) {
		c, err := s.store.GetCustomer(ctx, p.TenantID, r.Customer)
		if err != nil {
			return nil, "", err
		}
		q.CustomerID = c.ID
	}
	q.Kinds = slices.Clone(r.Kinds)
	slices.Sort(q.Kinds)
	q.Kinds = slices.Compact(q.Kinds)
	q.Statuses = slices.Clone(r.Statuses)
	slices.Sort(q.Statuses)
	q.Statuses = slices.Compact(q.Statuses)
	filter := fmt.Sprintf("customer=%s kinds=%v statuses=%v topic=%q from=%d to=%d", q.CustomerID, q.Kinds, q.Statuses, q.Topic, q.From.UnixMicro(), q.To.UnixMicro())
	const order = "occurred_at desc"
	if q.After, err = DecodePageToken(p.TenantID, filter, order, r.PageToken); err != nil {
		return nil, "", err
	}
	if q.After != nil {
		if _, ok := q.After.Value.(time.Time); !ok {
			return nil, "", Invalid("page_token", "malformed page token")
		}
	}
	rows, err := s.store.ListFeedback(ctx, p.TenantID, q)
	if err != nil {
		return nil, "", err
	}
	rows, next := trimPage(rows, size, func(last *Feedback) string {
		return EncodePageToken(p.TenantID, filter, order, Cursor{Value: last.OccurredAt, ID: last.ID})
	})
	return rows, next, nil
}

// TransitionRequest moves a complaint along its workflow.
type TransitionRequest struct {
	ID string
	To ComplaintStatus
	// Note is the resolution note (required to resolve) or the reason for
	// reopening (required to reopen).
	Note string
	// RequestID, if set, makes the call idempotent: a resend with the same
	// id, status and note returns the complaint unchanged; the same id with
	// another status or note is ErrInvalid with reason REQUEST_ID_REUSED.
	RequestID string
	// ETag, if set, applies the transition only to that version (else
	// ErrStale).
	ETag string
}

// MaxRequestID bounds a transition's request id, in bytes.
const MaxRequestID = 128

// TransitionComplaint moves a complaint of the caller's tenant to r.To and
// records who (the caller's API key) did it and when. A transition the
// workflow forbids (see Feedback.Transition) is a *PreconditionError that
// names the reason, and changes nothing.
func (s *Service) TransitionComplaint(ctx context.Context, r TransitionRequest) (Feedback, error) {
	p, err := PrincipalFrom(ctx)
	if err != nil {
		return Feedback{}, err
	}
	if r.RequestID != "" && !externalIDRe.MatchString(r.RequestID) {
		return Feedback{}, Invalid("request_id", "must be 1-%d printable ASCII characters without spaces", MaxRequestID)
	}
	var want int64
	if r.ETag != "" {
		if want, err = parseETag(r.ETag); err != nil {
			return Feedback{}, err
		}
	}
	for attempt := 0; ; attempt++ {
		f, err := s.store.GetFeedback(ctx, p.TenantID, r.ID)
		if err != nil {
			return Feedback{}, err
		}
		if r.RequestID != "" {
			if i := slices.IndexFunc(f.Transitions, func(t ComplaintTransition) bool { return t.RequestID == r.RequestID }); i >= 0 {
				if t := f.Transitions[i]; t.To == r.To && t.Note == strings.TrimSpace(r.Note) {
					return f, nil // a resend of a transition made before
				}
				return Feedback{}, &ValidationError{Violations: []FieldViolation{{
					Field: "request_id", Description: "request id was used before for another transition", Reason: ReasonRequestIDReused,
				}}}
			}
		}
		if want != 0 && f.Version != want {
			return Feedback{}, fmt.Errorf("%w: feedback is at %s, not %s", ErrStale, FeedbackETag(f.Version), r.ETag)
		}
		t, err := f.Transition(r.To, r.Note, p.KeyID, r.RequestID, s.Now())
		if err != nil {
			return Feedback{}, err
		}
		out, err := s.store.AppendTransition(ctx, p.TenantID, f.ID, f.Version, t)
		if errors.Is(err, ErrStale) && want == 0 && attempt < 16 {
			continue // a concurrent transition: decide again on the new state
		}
		if err != nil {
			return Feedback{}, err
		}
		if err := s.reassess(ctx, p.TenantID, []string{out.CustomerID}); err != nil {
			return Feedback{}, err
		}
		if err := s.scoreEvents(ctx, p.TenantID, []string{out.CustomerID}); err != nil {
			return Feedback{}, err
		}
		return out, nil
	}
}

// FeedbackSummaryRequest selects what GetFeedbackSummary aggregates.
type FeedbackSummaryRequest struct {
	// CustomerIDs restricts the summary to these customers; empty: the
	// whole tenant.
	CustomerIDs []string
	// Topics restricts it to feedback about these topics; empty: any.
	Topics []string
	// [StartTime, EndTime); defaults: the 12 weeks up to now.
	StartTime, EndTime time.Time
	// TimeZone is the IANA zone the weeks are counted in; default UTC.
	TimeZone string
}

// Summary limits.
const (
	MaxSummaryCustomers = 1000
	MaxSummaryTopics    = 100
	MaxSummaryRange     = 5 * 366 * 24 * time.Hour
	DefaultSummaryRange = 12 * 7 * 24 * time.Hour
)

// ReasonUnknownTimeZone is the reason of an unknown time_zone.
const ReasonUnknownTimeZone = "UNKNOWN_TIME_ZONE"

// LoadTimeZone returns the IANA time zone name ("" is UTC). "Local" is
// refused: it would depend on the server.
func LoadTimeZone(name string) (*time.Location, error) {
	if name == "" {
		return time.UTC, nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil || name == "Local" {
		return nil, &ValidationError{Violations: []FieldViolation{{
			Field: "time_zone", Description: fmt.Sprintf("%q is not an IANA time zone such as Europe/Warsaw", name), Reason: ReasonUnknownTimeZone,
		}}}
	}
	return loc, nil
}

// FeedbackSummary aggregates the caller's feedback (see SummarizeFeedback).
func (s *Service) FeedbackSummary(ctx context.Context, r FeedbackSummaryRequest) (FeedbackSummary, error) {
	p, err := PrincipalFrom(ctx)
	if err != nil {
		return FeedbackSummary{}, err
	}
	loc, err := LoadTimeZone(r.TimeZone)
	if err != nil {
		return FeedbackSummary{}, err
	}
	end, start := r.EndTime, r.StartTime
	if end.IsZero() {
		end = s.Now()
	}
	if start.IsZero() {
		start = end.Add(-DefaultSummaryRange)
	}
	var v violations
	switch {
	case !start.Before(end):
		v.add("end_time", "must be after start_time")
	case end.Sub(start) > MaxSummaryRange:
		v.add("start_time", "the period may span at most 5 years")
	}
	if len(r.CustomerIDs) > MaxSummaryCustomers {
		v.add("customer_ids", "at most %d customers", MaxSummaryCustomers)
	}
	if len(r.Topics) > MaxSummaryTopics {
		v.add("topics", "at most %d topics", MaxSummaryTopics)
	}
	if err := v.err(); err != nil {
		return FeedbackSummary{}, err
	}
	q := FeedbackFactQuery{From: start.UTC().Truncate(time.Microsecond), To: end.UTC().Truncate(time.Microsecond)}
	if len(r.CustomerIDs) > 0 {
		q.CustomerIDs = r.CustomerIDs
	}
	facts, err := s.store.FeedbackFacts(ctx, p.TenantID, q)
	if err != nil {
		return FeedbackSummary{}, err
	}
	if len(r.Topics) > 0 {
		topics := map[string]bool{}
		for _, t := range r.Topics {
			topics[NormalizeTopic(t)] = true
		}
		facts = slices.DeleteFunc(facts, func(f FeedbackFact) bool { return !topics[f.Topic] })
	}
	return SummarizeFeedback(facts, q.From, q.To, loc), nil
}

// CreateTopicRule adds a keyword rule to the caller's tenant; ErrConflict
// if its topic has one.
func (s *Service) CreateTopicRule(ctx context.Context, r TopicRule) (TopicRule, error) {
	p, err := PrincipalFrom(ctx)
	if err != nil {
		return TopicRule{}, err
	}
	r.Normalize()
	if err := r.Validate(); err != nil {
		return TopicRule{}, prefixViolations(err, "topic_rule")
	}
	existing, err := s.store.ListTopicRules(ctx, p.TenantID)
	if err != nil {
		return TopicRule{}, err
	}
	if len(existing) >= MaxTopicRules {
		return TopicRule{}, precondition("TOO_MANY_TOPIC_RULES", "a tenant has at most %d topic rules", MaxTopicRules)
	}
	now := s.Now()
	r.TenantID, r.CreateTime, r.UpdateTime, r.Version = p.TenantID, now, now, 1
	return s.store.CreateTopicRule(ctx, r)
}

// GetTopicRule returns the caller's rule for topic.
func (s *Service) GetTopicRule(ctx context.Context, topic string) (TopicRule, error) {
	p, err := PrincipalFrom(ctx)
	if err != nil {
		return TopicRule{}, err
	}
	return s.store.GetTopicRule(ctx, p.TenantID, NormalizeTopic(topic))
}

// ListTopicRules returns the caller's rules by topic.
func (s *Service) ListTopicRules(ctx context.Context) ([]TopicRule, error) {
	p, err := PrincipalFrom(ctx)
	if err != nil {
		return nil, err
	}
	rs, err := s.store.ListTopicRules(ctx, p.TenantID)
	sortTopicRules(rs)
	return rs, err
}

// UpdateTopicRule replaces the keywords of the caller's rule for r.Topic.
// With an etag it applies only to that version (else ErrStale).
func (s *Service) UpdateTopicRule(ctx context.Context, r TopicRule, etag string) (TopicRule, error) {
	p, err := PrincipalFrom(ctx)
	if err != nil {
		return TopicRule{}, err
	}
	r.Normalize()
	if err := r.Validate(); err != nil {
		return TopicRule{}, prefixViolations(err, "topic_rule")
	}
	var want int64
	if etag != "" {
		if want, err = parseETag(etag); err != nil {
			return TopicRule{}, err
		}
	}
	for attempt := 0; ; attempt++ {
		cur, err := s.store.GetTopicRule(ctx, p.TenantID, r.Topic)
		if err != nil {
			return TopicRule{}, err
		}
		if want != 0 && cur.Version != want {
			return TopicRule{}, fmt.Errorf("%w: topic rule is at %s, not %s", ErrStale, ETag(cur.Version), etag)
		}
		if slices.Equal(cur.Keywords, r.Keywords) {
			return cur, nil
		}
		next := cur
		next.Keywords, next.UpdateTime = r.Keywords, s.Now()
		out, err := s.store.UpdateTopicRule(ctx, next)
		if errors.Is(err, ErrStale) && want == 0 && attempt < 16 {
			continue
		}
		return out, err
	}
}

// DeleteTopicRule deletes the caller's rule for topic. Feedback keeps the
// topics the rule gave it.
func (s *Service) DeleteTopicRule(ctx context.Context, topic string) error {
	p, err := PrincipalFrom(ctx)
	if err != nil {
		return err
	}
	return s.store.DeleteTopicRule(ctx, p.TenantID, NormalizeTopic(topic))
}
