package domain

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

var fbNow = time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)

func validFeedback(kind FeedbackKind) Feedback {
	f := Feedback{ExternalID: "fb-1", Customer: CustomerRef{ExternalID: "crm-1"}, Kind: kind, Channel: "email", Text: "hello", OccurredAt: fbNow.Add(-time.Hour)}
	if lo, _, ok := kind.ScoreRange(); ok {
		f.Score, f.HasScore = lo, true
	}
	return f
}

// wantViolation fails unless err is a ValidationError with a violation of
// field with reason (any reason when reason is "").
func wantViolation(t *testing.T, err error, field, reason string) {
	t.Helper()
	var ve *ValidationError
	if !errors.As(err, &ve) || !errors.Is(err, ErrInvalid) {
		t.Fatalf("got %v, want a validation error on %s", err, field)
	}
	for _, v := range ve.Violations {
		if v.Field == field && (reason == "" || v.Reason == reason) {
			return
		}
	}
	t.Fatalf("got %+v, want field %s reason %q", ve.Violations, field, reason)
}

func TestFeedbackValidate(t *testing.T) {
	t.Parallel()
	for _, k := range FeedbackKinds {
		f := validFeedback(k)
		f.Normalize()
		if err := f.Validate(fbNow); err != nil {
			t.Errorf("valid %s: %v", k, err)
		}
	}
	for _, tc := range []struct {
		name          string
		mutate        func(*Feedback)
		field, reason string
	}{
		{"unknown kind", func(f *Feedback) { f.Kind = "rant" }, "kind", ReasonUnknownKind},
		{"no kind", func(f *Feedback) { f.Kind = "" }, "kind", ReasonUnknownKind},
		{"rating 0", func(f *Feedback) { f.Kind, f.Score, f.HasScore = FeedbackRating, 0, true }, "score", ReasonScoreOutOfRange},
		{"rating 6", func(f *Feedback) { f.Kind, f.Score, f.HasScore = FeedbackRating, 6, true }, "score", ReasonScoreOutOfRange},
		{"rating -1", func(f *Feedback) { f.Kind, f.Score, f.HasScore = FeedbackRating, -1, true }, "score", ReasonScoreOutOfRange},
		{"nps 11", func(f *Feedback) { f.Kind, f.Score, f.HasScore = FeedbackNPS, 11, true }, "score", ReasonScoreOutOfRange},
		{"rating without score", func(f *Feedback) { f.Kind, f.HasScore = FeedbackRating, false }, "score", ReasonScoreRequired},
		{"nps without score", func(f *Feedback) { f.Kind, f.HasScore = FeedbackNPS, false }, "score", ReasonScoreRequired},
		{"complaint with score", func(f *Feedback) { f.Score, f.HasScore = 3, true }, "score", ReasonScoreNotAllowed},
		{"no external id", func(f *Feedback) { f.ExternalID = "" }, "external_id", ""},
		{"no customer", func(f *Feedback) { f.Customer = CustomerRef{} }, "customer", ""},
		{"future", func(f *Feedback) { f.OccurredAt = fbNow.Add(48 * time.Hour) }, "occurred_at", ""},
		{"no time", func(f *Feedback) { f.OccurredAt = time.Time{} }, "occurred_at", ""},
		{"long text", func(f *Feedback) { f.Text = strings.Repeat("x", MaxFeedbackText+1) }, "text", ""},
		{"bad utf-8", func(f *Feedback) { f.Text = "\xff" }, "text", ""},
		{"long topic", func(f *Feedback) { f.Topic = strings.Repeat("t", MaxTopic+1) }, "topic", ""},
		{"control in topic", func(f *Feedback) { f.Topic = "a\nb" }, "topic", ""},
	} {
		f := validFeedback(FeedbackComplaint)
		tc.mutate(&f)
		wantViolation(t, f.Validate(fbNow), tc.field, tc.reason)
	}
	// NPS 0 and 10, rating 1 and 5 are in range.
	for _, c := range []struct {
		k FeedbackKind
		s int
	}{{FeedbackNPS, 0}, {FeedbackNPS, 10}, {FeedbackRating, 1}, {FeedbackRating, 5}} {
		f := validFeedback(c.k)
		f.Score = c.s
		if err := f.Validate(fbNow); err != nil {
			t.Errorf("%s %d: %v", c.k, c.s, err)
		}
	}
}

func TestFeedbackNormalize(t *testing.T) {
	t.Parallel()
	f := Feedback{ExternalID: " x ", Topic: "  Delivery ", Channel: " web ", OccurredAt: time.Date(2026, 1, 1, 1, 0, 0, 1500, time.FixedZone("X", 3600))}
	f.Normalize()
	if f.ExternalID != "x" || f.Topic != "delivery" || f.Channel != "web" || f.OccurredAt != time.Date(2026, 1, 1, 0, 0, 0, 1000, time.UTC) {
		t.Fatalf("normalized: %+v", f)
	}
}

// complaintIn returns a complaint that has reached status via valid transitions.
func complaintIn(t *testing.T, status ComplaintStatus) Feedback {
	t.Helper()
	f := Feedback{ID: "f1", Kind: FeedbackComplaint, Status: ComplaintOpen, Version: 1, OccurredAt: fbNow.Add(-48 * time.Hour)}
	path := map[ComplaintStatus][]ComplaintStatus{
		ComplaintOpen:                nil,
		ComplaintInProgress:          {ComplaintInProgress},
		ComplaintResolvedJustified:   {ComplaintInProgress, ComplaintResolvedJustified},
		ComplaintResolvedUnjustified: {ComplaintResolvedUnjustified},
		ComplaintWithdrawn:           {ComplaintWithdrawn},
	}[status]
	for i, to := range path {
		tr, err := f.Transition(to, "because", "key1", "", fbNow.Add(time.Duration(i)*time.Hour))
		if err != nil {
			t.Fatalf("to %s: %v", to, err)
		}
		f = f.Apply(tr)
	}
	return f
}

func TestComplaintTransitions(t *testing.T) {
	t.Parallel()
	const ok = ""
	// want[from][to]: "" allowed, else the precondition reason.
	want := map[ComplaintStatus]map[ComplaintStatus]string{
		ComplaintOpen: {
			ComplaintOpen: ReasonAlreadyInStatus, ComplaintInProgress: ok, ComplaintResolvedJustified: ok,
			ComplaintResolvedUnjustified: ok, ComplaintWithdrawn: ok,
		},
		ComplaintInProgress: {
			ComplaintOpen: ReasonComplaintNotEnded, ComplaintInProgress: ReasonAlreadyInStatus, ComplaintResolvedJustified: ok,
			ComplaintResolvedUnjustified: ok, ComplaintWithdrawn: ok,
		},
		ComplaintResolvedJustified: {
			ComplaintOpen: ok, ComplaintInProgress: ReasonComplaintClosed, ComplaintResolvedJustified: ReasonAlreadyResolved,
			ComplaintResolvedUnjustified: ReasonAlreadyResolved, ComplaintWithdrawn: ReasonComplaintClosed,
		},
		ComplaintResolvedUnjustified: {
			ComplaintOpen: ok, ComplaintInProgress: ReasonComplaintClosed, ComplaintResolvedJustified: ReasonAlreadyResolved,
			ComplaintResolvedUnjustified: ReasonAlreadyResolved, ComplaintWithdrawn: ReasonComplaintClosed,
		},
		ComplaintWithdrawn: {
			ComplaintOpen: ok, ComplaintInProgress: ReasonComplaintClosed, ComplaintResolvedJustified: ReasonComplaintClosed,
			ComplaintResolvedUnjustified: ReasonComplaintClosed, ComplaintWithdrawn: ReasonAlreadyInStatus,
		},
	}
	for _, from := range ComplaintStatuses {
		for _, to := range ComplaintStatuses {
			f := complaintIn(t, from)
			before := f // with its own copy of the transitions, to compare with
			before.Transitions = append([]ComplaintTransition(nil), f.Transitions...)
			tr, err := f.Transition(to, "a note", "key9", "req-1", fbNow.Add(5*time.Hour))
			if !reflect.DeepEqual(f, before) {
				t.Fatalf("%s → %s changed the feedback", from, to)
			}
			reason := want[from][to]
			if reason == ok {
				if err != nil {
					t.Errorf("%s → %s: %v, want allowed", from, to, err)
					continue
				}
				wantTr := ComplaintTransition{Seq: len(f.Transitions) + 1, From: from, To: to, Note: "a note", Actor: "key9", RequestID: "req-1", Time: fbNow.Add(5 * time.Hour)}
				if tr != wantTr {
					t.Errorf("%s → %s: transition %+v, want %+v", from, to, tr, wantTr)
				}
				after := f.Apply(tr)
				if after.Status != to || after.Version != f.Version+1 || len(after.Transitions) != len(f.Transitions)+1 || !after.UpdateTime.Equal(tr.Time) {
					t.Errorf("%s → %s: applied %+v", from, to, after)
				}
				if to.Resolved() != !after.ResolveTime.IsZero() {
					t.Errorf("%s → %s: resolve time %v", from, to, after.ResolveTime)
				}
				continue
			}
			var pe *PreconditionError
			if !errors.As(err, &pe) || !errors.Is(err, ErrFailedPrecondition) || pe.Reason != reason {
				t.Errorf("%s → %s: got %v, want failed precondition %s", from, to, err, reason)
			} else if !strings.Contains(err.Error(), reason) {
				t.Errorf("%s → %s: message %q does not name the reason", from, to, err)
			}
		}
	}
}

func TestComplaintTransitionNotes(t *testing.T) {
	t.Parallel()
	open := complaintIn(t, ComplaintOpen)
	for _, to := range []ComplaintStatus{ComplaintResolvedJustified, ComplaintResolvedUnjustified} {
		_, err := open.Transition(to, "  ", "k", "", fbNow)
		wantViolation(t, err, "note", ReasonNoteRequired)
	}
	resolved := complaintIn(t, ComplaintResolvedUnjustified)
	_, err := resolved.Transition(ComplaintOpen, "", "k", "", fbNow)
	wantViolation(t, err, "note", ReasonNoteRequired)
	_, err = open.Transition("closed", "x", "k", "", fbNow)
	wantViolation(t, err, "status", ReasonUnknownStatus)
	_, err = open.Transition(ComplaintWithdrawn, strings.Repeat("n", MaxTransitionNote+1), "k", "", fbNow)
	wantViolation(t, err, "note", "")
	// Starting work and withdrawing need no note.
	for _, to := range []ComplaintStatus{ComplaintInProgress, ComplaintWithdrawn} {
		if _, err := open.Transition(to, "", "k", "", fbNow); err != nil {
			t.Errorf("%s without a note: %v", to, err)
		}
	}
	// Only complaints have a workflow.
	praise := Feedback{ID: "p", Kind: FeedbackPraise, Version: 1}
	_, err = praise.Transition(ComplaintResolvedJustified, "x", "k", "", fbNow)
	var pe *PreconditionError
	if !errors.As(err, &pe) || pe.Reason != ReasonNotAComplaint {
		t.Fatalf("transition of praise: %v", err)
	}
}

func TestFeedbackEvents(t *testing.T) {
	t.Parallel()
	f := complaintIn(t, ComplaintOpen)
	f.CustomerID, f.Topic, f.Channel = "c1", "delivery", "email"
	base := FeedbackEvent{ID: "f1", CustomerID: "c1", FeedbackID: "f1", Kind: "complaint", OccurredAt: f.OccurredAt, Topic: "delivery", Channel: "email"}
	if got := f.Events(); !reflect.DeepEqual(got, []FeedbackEvent{base}) {
		t.Fatalf("open complaint: %+v", got)
	}
	step := func(to ComplaintStatus, at time.Time) {
		t.Helper()
		tr, err := f.Transition(to, "note", "k", "", at)
		if err != nil {
			t.Fatal(err)
		}
		f = f.Apply(tr)
	}
	step(ComplaintInProgress, fbNow)
	step(ComplaintResolvedUnjustified, fbNow.Add(time.Hour)) // transition 2
	unjust := base
	unjust.ID, unjust.Kind, unjust.OccurredAt = "f1/resolution/2", EventComplaintResolvedUnjustified, fbNow.Add(time.Hour)
	if got := f.Events(); !reflect.DeepEqual(got, []FeedbackEvent{base, unjust}) {
		t.Fatalf("resolved: %+v", got)
	}
	// Listing again gives the same ids: a ledger keyed by them awards once.
	if a, b := f.Events(), f.Events(); !reflect.DeepEqual(a, b) {
		t.Fatal("events are not stable")
	}
	step(ComplaintOpen, fbNow.Add(2*time.Hour)) // 3: the resolution is superseded
	if got := f.Events(); !reflect.DeepEqual(got, []FeedbackEvent{base}) {
		t.Fatalf("reopened: %+v", got)
	}
	step(ComplaintResolvedJustified, fbNow.Add(3*time.Hour)) // 4
	just := base
	just.ID, just.Kind, just.OccurredAt = "f1/resolution/4", EventComplaintResolvedJustified, fbNow.Add(3*time.Hour)
	if got := f.Events(); !reflect.DeepEqual(got, []FeedbackEvent{base, just}) {
		t.Fatalf("resolved again: %+v", got)
	}

	nps := Feedback{ID: "n1", CustomerID: "c1", Kind: FeedbackNPS, Score: 0, HasScore: true, OccurredAt: fbNow}
	if got := nps.Events(); len(got) != 1 || got[0].Kind != "nps" || got[0].Score != 0 || got[0].ID != "n1" {
		t.Fatalf("nps events: %+v", got)
	}
	r := Feedback{ID: "r1", CustomerID: "c1", Kind: FeedbackRating, Score: 4, HasScore: true, OccurredAt: fbNow}
	if got := r.Events(); len(got) != 1 || got[0].Kind != "rating" || got[0].Score != 4 {
		t.Fatalf("rating events: %+v", got)
	}
}

func TestSameSubmission(t *testing.T) {
	t.Parallel()
	a := Feedback{CustomerID: "c", Kind: FeedbackRating, Score: 4, HasScore: true, Channel: "web", Topic: "billing", TopicSource: TopicFromRule, Text: "ok", OccurredAt: fbNow}
	b := a
	b.Topic, b.TopicSource = "", TopicFromNone // a resend without a topic: derived again
	if !SameSubmission(&a, &b) {
		t.Fatal("a resend without the derived topic differs")
	}
	for _, mutate := range []func(*Feedback){
		func(f *Feedback) { f.Score = 5 },
		func(f *Feedback) { f.Text = "ok!" },
		func(f *Feedback) { f.CustomerID = "d" },
		func(f *Feedback) { f.OccurredAt = f.OccurredAt.Add(time.Microsecond) },
		func(f *Feedback) { f.Topic, f.TopicSource = "billing", TopicFromClient },
		func(f *Feedback) { f.Channel = "phone" },
		func(f *Feedback) { f.Kind = FeedbackNPS },
	} {
		c := b
		mutate(&c)
		if SameSubmission(&a, &c) {
			t.Errorf("%+v counts as the same as %+v", c, a)
		}
	}
}
