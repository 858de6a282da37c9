package domain_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/potentialhq/potential/domain"
	"github.com/potentialhq/potential/store/memory"
)

// feedbackEnv is a service on a fresh in-memory store with one tenant, a
// customer "c1" and a clock the test moves.
type feedbackEnv struct {
	svc    *domain.Service
	store  *memory.Store
	ctx    context.Context
	tenant string
	cust   domain.Customer
	mu     sync.Mutex
	now    time.Time
}

func newFeedbackEnv(t *testing.T) *feedbackEnv {
	t.Helper()
	e := &feedbackEnv{store: memory.New(), now: time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)}
	e.svc = domain.NewService(e.store, func() time.Time { e.mu.Lock(); defer e.mu.Unlock(); return e.now })
	tn := domain.Tenant{ID: domain.NewID(), Name: "t", CreateTime: e.now}
	if err := e.store.CreateTenant(t.Context(), tn); err != nil {
		t.Fatal(err)
	}
	e.tenant = tn.ID
	e.ctx = domain.WithPrincipal(t.Context(), domain.Principal{TenantID: tn.ID, KeyID: "key-sales", Role: domain.RoleSales})
	c, err := e.svc.CreateCustomer(e.ctx, domain.Customer{ExternalID: "c1", Kind: domain.KindCustomer})
	if err != nil {
		t.Fatal(err)
	}
	e.cust = c
	return e
}

func (e *feedbackEnv) advance(d time.Duration) {
	e.mu.Lock()
	e.now = e.now.Add(d)
	e.mu.Unlock()
}

func (e *feedbackEnv) as(keyID string) context.Context {
	return domain.WithPrincipal(e.ctx, domain.Principal{TenantID: e.tenant, KeyID: keyID, Role: domain.RoleAdmin})
}

func complaintOf(ext, text string) domain.Feedback {
	return domain.Feedback{
		ExternalID: ext, Customer: domain.CustomerRef{ExternalID: "c1"}, Kind: domain.FeedbackComplaint,
		Channel: "phone", Text: text, OccurredAt: time.Date(2026, 3, 1, 9, 30, 0, 0, time.UTC),
	}
}

// wantReason fails unless err is a validation error with a violation of
// field and reason.
func wantReason(t *testing.T, err error, field, reason string) {
	t.Helper()
	var ve *domain.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("got %v, want invalid %s (%s)", err, field, reason)
	}
	for _, v := range ve.Violations {
		if v.Field == field && v.Reason == reason {
			return
		}
	}
	t.Fatalf("got %+v, want invalid %s (%s)", ve.Violations, field, reason)
}

func wantPrecondition(t *testing.T, err error, reason string) {
	t.Helper()
	var pe *domain.PreconditionError
	if !errors.As(err, &pe) || !errors.Is(err, domain.ErrFailedPrecondition) || pe.Reason != reason || !strings.Contains(err.Error(), reason) {
		t.Fatalf("got %v, want failed precondition %s", err, reason)
	}
}

func TestSubmitFeedbackResendChangesNothing(t *testing.T) {
	t.Parallel()
	e := newFeedbackEnv(t)
	f := complaintOf("zd-1001", "Paczka nie dotarła")
	first, created, err := e.svc.SubmitFeedback(e.ctx, f)
	if err != nil || !created {
		t.Fatalf("submit: %v, %v", created, err)
	}
	if first.Status != domain.ComplaintOpen || first.CustomerID != e.cust.ID || first.Version != 1 || !first.CreateTime.Equal(e.now) {
		t.Fatalf("submitted: %+v", first)
	}
	e.advance(time.Hour)
	for range 3 {
		again, created, err := e.svc.SubmitFeedback(e.ctx, f)
		if err != nil || created {
			t.Fatalf("resend: %v, %v", created, err)
		}
		if !reflect.DeepEqual(again, first) {
			t.Fatalf("resend returned %+v, want %+v", again, first)
		}
	}
	// The same customer by id is the same submission.
	byID := f
	byID.Customer = domain.CustomerRef{ID: e.cust.ID}
	if _, created, err := e.svc.SubmitFeedback(e.ctx, byID); err != nil || created {
		t.Fatalf("resend by customer id: %v, %v", created, err)
	}
	// Another payload under the same id is refused, and changes nothing.
	for _, mutate := range []func(*domain.Feedback){
		func(f *domain.Feedback) { f.Text = "Paczka dotarła" },
		func(f *domain.Feedback) { f.Kind, f.Score, f.HasScore = domain.FeedbackRating, 1, true },
		func(f *domain.Feedback) { f.OccurredAt = f.OccurredAt.Add(time.Second) },
		func(f *domain.Feedback) { f.Topic = "delivery" },
	} {
		other := f
		mutate(&other)
		_, _, err := e.svc.SubmitFeedback(e.ctx, other)
		wantReason(t, err, "feedback.external_id", domain.ReasonRequestIDReused)
	}
	got, err := e.svc.GetFeedback(e.ctx, first.ID)
	if err != nil || !reflect.DeepEqual(got, first) {
		t.Fatalf("stored: %+v, %v", got, err)
	}
	list, _, _ := e.svc.ListFeedback(e.ctx, domain.ListFeedbackRequest{})
	if len(list) != 1 {
		t.Fatalf("%d stored, want 1", len(list))
	}
}

func TestSubmitFeedbackRejectsWithoutChange(t *testing.T) {
	t.Parallel()
	e := newFeedbackEnv(t)
	rating := func(score int) domain.Feedback {
		return domain.Feedback{ExternalID: "r", Customer: domain.CustomerRef{ExternalID: "c1"}, Kind: domain.FeedbackRating, Score: score, HasScore: true, OccurredAt: e.now}
	}
	for _, tc := range []struct {
		f             domain.Feedback
		field, reason string
	}{
		{rating(6), "feedback.score", domain.ReasonScoreOutOfRange},
		{rating(0), "feedback.score", domain.ReasonScoreOutOfRange},
		{domain.Feedback{ExternalID: "n", Customer: domain.CustomerRef{ExternalID: "c1"}, Kind: domain.FeedbackNPS, Score: 11, HasScore: true, OccurredAt: e.now}, "feedback.score", domain.ReasonScoreOutOfRange},
		{domain.Feedback{ExternalID: "n", Customer: domain.CustomerRef{ExternalID: "c1"}, Kind: domain.FeedbackNPS, OccurredAt: e.now}, "feedback.score", domain.ReasonScoreRequired},
		{domain.Feedback{ExternalID: "k", Customer: domain.CustomerRef{ExternalID: "c1"}, Kind: "rant", OccurredAt: e.now}, "feedback.kind", domain.ReasonUnknownKind},
	} {
		_, _, err := e.svc.SubmitFeedback(e.ctx, tc.f)
		wantReason(t, err, tc.field, tc.reason)
	}
	unknown := complaintOf("x", "late")
	unknown.Customer = domain.CustomerRef{ExternalID: "nobody"}
	_, _, err := e.svc.SubmitFeedback(e.ctx, unknown)
	wantReason(t, err, "feedback.customer", domain.ReasonCustomerNotFound)
	if list, _, _ := e.svc.ListFeedback(e.ctx, domain.ListFeedbackRequest{}); len(list) != 0 {
		t.Fatalf("rejected feedback was stored: %+v", list)
	}
}

func TestSubmitFeedbackDerivesTopics(t *testing.T) {
	t.Parallel()
	e := newFeedbackEnv(t)
	admin := e.as("key-admin")
	for _, r := range []domain.TopicRule{
		{Topic: "Delivery", Keywords: []string{"dostaw", "Lieferung", "late deliver"}},
		{Topic: "complaints-process", Keywords: []string{"reklamac", "Beschwerde"}},
	} {
		if _, err := e.svc.CreateTopicRule(admin, r); err != nil {
			t.Fatal(err)
		}
	}
	for i, tc := range []struct {
		text, topic, want string
		source            domain.TopicSource
	}{
		{"Reklamacja dostawy", "", "complaints-process", domain.TopicFromRule},
		{"Dostawa spóźniona o tydzień", "", "delivery", domain.TopicFromRule},
		{"Lieferung verspätet", "", "delivery", domain.TopicFromRule},
		{"LIEFERUNG VERSPÄTET", "", "delivery", domain.TopicFromRule},
		{"Late delivery again", "", "delivery", domain.TopicFromRule},
		{"Lieferung verspätet", "Billing", "billing", domain.TopicFromClient},
		{"The app crashes", "", "", domain.TopicFromNone},
	} {
		f := complaintOf("t-"+string(rune('a'+i)), tc.text)
		f.Topic = tc.topic
		out, _, err := e.svc.SubmitFeedback(e.ctx, f)
		if err != nil {
			t.Fatalf("%q: %v", tc.text, err)
		}
		if out.Topic != tc.want || out.TopicSource != tc.source {
			t.Errorf("%q: topic %q (%s), want %q (%s)", tc.text, out.Topic, out.TopicSource, tc.want, tc.source)
		}
	}
	// A resend after the rules changed is still the same submission.
	if err := e.svc.DeleteTopicRule(admin, "delivery"); err != nil {
		t.Fatal(err)
	}
	f := complaintOf("t-b", "Dostawa spóźniona o tydzień")
	if out, created, err := e.svc.SubmitFeedback(e.ctx, f); err != nil || created || out.Topic != "delivery" {
		t.Fatalf("resend after a rule change: %+v, %v, %v", out, created, err)
	}
}

func TestTransitionComplaint(t *testing.T) {
	t.Parallel()
	e := newFeedbackEnv(t)
	f, _, err := e.svc.SubmitFeedback(e.ctx, complaintOf("zd-1", "Lieferung verspätet"))
	if err != nil {
		t.Fatal(err)
	}
	step := func(ctx context.Context, to domain.ComplaintStatus, note, requestID string) domain.Feedback {
		t.Helper()
		e.advance(time.Hour)
		out, err := e.svc.TransitionComplaint(ctx, domain.TransitionRequest{ID: f.ID, To: to, Note: note, RequestID: requestID})
		if err != nil {
			t.Fatalf("to %s: %v", to, err)
		}
		return out
	}
	// refused checks that r fails as check says and the complaint is as before.
	refused := func(r domain.TransitionRequest, check func(error)) {
		t.Helper()
		before, _ := e.svc.GetFeedback(e.ctx, f.ID)
		r.ID = f.ID
		_, err := e.svc.TransitionComplaint(e.ctx, r)
		check(err)
		after, _ := e.svc.GetFeedback(e.ctx, f.ID)
		if !reflect.DeepEqual(before, after) {
			t.Fatalf("a refused transition changed the complaint:\n%+v\n%+v", before, after)
		}
	}
	refused(domain.TransitionRequest{To: domain.ComplaintOpen, Note: "x"}, func(err error) { wantPrecondition(t, err, domain.ReasonAlreadyInStatus) })
	refused(domain.TransitionRequest{To: domain.ComplaintResolvedUnjustified}, func(err error) { wantReason(t, err, "note", domain.ReasonNoteRequired) })
	refused(domain.TransitionRequest{To: "closed", Note: "x"}, func(err error) { wantReason(t, err, "status", domain.ReasonUnknownStatus) })

	started := step(e.as("key-agent"), domain.ComplaintInProgress, "", "")
	resolved := step(e.as("key-manager"), domain.ComplaintResolvedUnjustified, "Delivered on time, tracking confirms", "req-9")
	if resolved.Status != domain.ComplaintResolvedUnjustified || !resolved.ResolveTime.Equal(e.now) || resolved.Version != 3 {
		t.Fatalf("resolved: %+v", resolved)
	}
	wantTransitions := []domain.ComplaintTransition{
		{Seq: 1, From: domain.ComplaintOpen, To: domain.ComplaintInProgress, Actor: "key-agent", Time: started.UpdateTime},
		{Seq: 2, From: domain.ComplaintInProgress, To: domain.ComplaintResolvedUnjustified, Note: "Delivered on time, tracking confirms", Actor: "key-manager", RequestID: "req-9", Time: e.now},
	}
	if !reflect.DeepEqual(resolved.Transitions, wantTransitions) {
		t.Fatalf("transitions %+v\nwant %+v", resolved.Transitions, wantTransitions)
	}
	// No resolving twice; no reopening without a reason.
	refused(domain.TransitionRequest{To: domain.ComplaintResolvedJustified, Note: "changed my mind"}, func(err error) { wantPrecondition(t, err, domain.ReasonAlreadyResolved) })
	refused(domain.TransitionRequest{To: domain.ComplaintResolvedUnjustified, Note: "again"}, func(err error) { wantPrecondition(t, err, domain.ReasonAlreadyResolved) })
	refused(domain.TransitionRequest{To: domain.ComplaintInProgress}, func(err error) { wantPrecondition(t, err, domain.ReasonComplaintClosed) })
	refused(domain.TransitionRequest{To: domain.ComplaintOpen}, func(err error) { wantReason(t, err, "note", domain.ReasonNoteRequired) })
	// The same request resent is answered with the complaint, unchanged;
	// the same request id for something else is refused.
	e.advance(time.Hour)
	again, err := e.svc.TransitionComplaint(e.ctx, domain.TransitionRequest{ID: f.ID, To: domain.ComplaintResolvedUnjustified, Note: "Delivered on time, tracking confirms", RequestID: "req-9"})
	if err != nil || !reflect.DeepEqual(again, resolved) {
		t.Fatalf("resent transition: %+v, %v", again, err)
	}
	refused(domain.TransitionRequest{To: domain.ComplaintResolvedJustified, Note: "x", RequestID: "req-9"}, func(err error) { wantReason(t, err, "request_id", domain.ReasonRequestIDReused) })
	// Etags.
	refused(domain.TransitionRequest{To: domain.ComplaintOpen, Note: "new evidence", ETag: domain.FeedbackETag(2)}, func(err error) {
		if !errors.Is(err, domain.ErrStale) {
			t.Fatalf("stale etag: %v", err)
		}
	})
	reopened, err := e.svc.TransitionComplaint(e.ctx, domain.TransitionRequest{ID: f.ID, To: domain.ComplaintOpen, Note: "new evidence", ETag: domain.FeedbackETag(3)})
	if err != nil || reopened.Status != domain.ComplaintOpen || !reopened.ResolveTime.IsZero() || reopened.Transitions[2].Actor != "key-sales" {
		t.Fatalf("reopened: %+v, %v", reopened, err)
	}
	// Only complaints have a workflow.
	praise, _, err := e.svc.SubmitFeedback(e.ctx, domain.Feedback{ExternalID: "p1", Customer: domain.CustomerRef{ExternalID: "c1"}, Kind: domain.FeedbackPraise, OccurredAt: e.now})
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.svc.TransitionComplaint(e.ctx, domain.TransitionRequest{ID: praise.ID, To: domain.ComplaintWithdrawn})
	wantPrecondition(t, err, domain.ReasonNotAComplaint)
	_, err = e.svc.TransitionComplaint(e.ctx, domain.TransitionRequest{ID: domain.NewID(), To: domain.ComplaintWithdrawn})
	if !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("unknown complaint: %v", err)
	}
}

// TestUnjustifiedResolutionScoresOnce plays the points ledger: it awards
// −40 for every complaint_resolved_unjustified event whose id it has not
// seen, after every call. Resending the complaint and the resolution
// (with and without its request id) awards nothing more.
func TestUnjustifiedResolutionScoresOnce(t *testing.T) {
	t.Parallel()
	e := newFeedbackEnv(t)
	seen := map[string]bool{}
	points := 0
	score := func() {
		t.Helper()
		evs, err := e.store.FeedbackEvents(e.ctx, e.tenant, e.cust.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range evs {
			if ev.Kind == domain.EventComplaintResolvedUnjustified && !seen[ev.ID] {
				seen[ev.ID] = true
				points -= 40
			}
		}
	}
	f := complaintOf("zd-7", "Reklamacja")
	c, _, err := e.svc.SubmitFeedback(e.ctx, f)
	if err != nil {
		t.Fatal(err)
	}
	score()
	resolve := domain.TransitionRequest{ID: c.ID, To: domain.ComplaintResolvedUnjustified, Note: "not our fault", RequestID: "ticket-7-close"}
	if _, err := e.svc.TransitionComplaint(e.ctx, resolve); err != nil {
		t.Fatal(err)
	}
	score()
	for range 3 {
		if _, err := e.svc.TransitionComplaint(e.ctx, resolve); err != nil { // a retry of the same request
			t.Fatal(err)
		}
		score()
		noID := resolve
		noID.RequestID = ""
		_, err := e.svc.TransitionComplaint(e.ctx, noID) // a resend without a request id
		wantPrecondition(t, err, domain.ReasonAlreadyResolved)
		score()
		if _, _, err := e.svc.SubmitFeedback(e.ctx, f); err != nil {
			t.Fatal(err)
		}
		score()
	}
	if points != -40 || len(seen) != 1 {
		t.Fatalf("points %d from %d events, want -40 from 1", points, len(seen))
	}
}

func TestListFeedbackPages(t *testing.T) {
	t.Parallel()
	e := newFeedbackEnv(t)
	base := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	for i := range 7 {
		f := domain.Feedback{ExternalID: "f" + string(rune('0'+i)), Customer: domain.CustomerRef{ExternalID: "c1"}, Kind: domain.FeedbackNPS,
			Score: i, HasScore: true, OccurredAt: base.Add(time.Duration(i) * 24 * time.Hour)}
		if i%2 == 0 {
			f.Kind, f.Score, f.HasScore = domain.FeedbackComplaint, 0, false
		}
		if _, _, err := e.svc.SubmitFeedback(e.ctx, f); err != nil {
			t.Fatal(err)
		}
	}
	r := domain.ListFeedbackRequest{Kinds: []domain.FeedbackKind{domain.FeedbackComplaint}, PageSize: 3, Customer: domain.CustomerRef{ExternalID: "c1"}}
	var got []string
	for {
		page, next, err := e.svc.ListFeedback(e.ctx, r)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range page {
			got = append(got, f.ExternalID)
		}
		if next == "" {
			break
		}
		r.PageToken = next
	}
	if want := []string{"f6", "f4", "f2", "f0"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("pages: %v, want %v", got, want)
	}
	// A token is bound to its filters.
	_, next, _ := e.svc.ListFeedback(e.ctx, domain.ListFeedbackRequest{PageSize: 2})
	_, _, err := e.svc.ListFeedback(e.ctx, domain.ListFeedbackRequest{PageSize: 2, Topic: "x", PageToken: next})
	wantReasonField(t, err, "page_token")
	_, _, err = e.svc.ListFeedback(e.ctx, domain.ListFeedbackRequest{Kinds: []domain.FeedbackKind{"rant"}})
	wantReason(t, err, "kinds[0]", domain.ReasonUnknownKind)
	_, _, err = e.svc.ListFeedback(e.ctx, domain.ListFeedbackRequest{Statuses: []domain.ComplaintStatus{"closed"}})
	wantReason(t, err, "statuses[0]", domain.ReasonUnknownStatus)
	_, _, err = e.svc.ListFeedback(e.ctx, domain.ListFeedbackRequest{StartTime: base, EndTime: base})
	wantReasonField(t, err, "end_time")
	_, _, err = e.svc.ListFeedback(e.ctx, domain.ListFeedbackRequest{Customer: domain.CustomerRef{ExternalID: "nobody"}})
	if !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("unknown customer: %v", err)
	}
}

func wantReasonField(t *testing.T, err error, field string) {
	t.Helper()
	var ve *domain.ValidationError
	if !errors.As(err, &ve) || ve.Violations[0].Field != field {
		t.Fatalf("got %v, want invalid %s", err, field)
	}
}

func TestFeedbackSummaryRequest(t *testing.T) {
	t.Parallel()
	e := newFeedbackEnv(t)
	other, err := e.svc.CreateCustomer(e.ctx, domain.Customer{ExternalID: "c2", Kind: domain.KindCustomer})
	if err != nil {
		t.Fatal(err)
	}
	submit := func(ext, cust string, kind domain.FeedbackKind, score int, topic string, at time.Time) {
		t.Helper()
		f := domain.Feedback{ExternalID: ext, Customer: domain.CustomerRef{ExternalID: cust}, Kind: kind, Topic: topic, OccurredAt: at}
		if _, _, ok := kind.ScoreRange(); ok {
			f.Score, f.HasScore = score, true
		}
		if _, _, err := e.svc.SubmitFeedback(e.ctx, f); err != nil {
			t.Fatal(err)
		}
	}
	// 2026-01-04T23:30Z: Sunday in UTC, Monday in Warsaw.
	submit("n1", "c1", domain.FeedbackNPS, 10, "app", time.Date(2026, 1, 4, 23, 30, 0, 0, time.UTC))
	submit("n2", "c2", domain.FeedbackNPS, 0, "delivery", time.Date(2026, 1, 2, 10, 0, 0, 0, time.UTC))
	submit("r1", "c1", domain.FeedbackRating, 4, "delivery", time.Date(2026, 1, 3, 10, 0, 0, 0, time.UTC))
	req := domain.FeedbackSummaryRequest{StartTime: time.Date(2025, 12, 29, 0, 0, 0, 0, time.UTC), EndTime: time.Date(2026, 1, 12, 0, 0, 0, 0, time.UTC)}
	s, err := e.svc.FeedbackSummary(e.ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if s.NPS.Responses != 2 || s.NPS.Score() != 0 || len(s.Weeks) != 2 || s.Weeks[0].NPS.Responses != 2 || s.CSAT.Average() != 4 {
		t.Fatalf("tenant summary: %+v", s)
	}
	req.TimeZone = "Europe/Warsaw"
	if s, err = e.svc.FeedbackSummary(e.ctx, req); err != nil {
		t.Fatal(err)
	}
	if s.Weeks[0].NPS.Responses != 1 || s.Weeks[1].NPS.Promoters != 1 || s.Location.String() != "Europe/Warsaw" {
		t.Fatalf("Warsaw summary weeks: %+v", s.Weeks)
	}
	req.TimeZone, req.CustomerIDs = "", []string{other.ID}
	if s, err = e.svc.FeedbackSummary(e.ctx, req); err != nil || s.NPS != (domain.NPSStats{Responses: 1, Detractors: 1}) || s.CSAT.Responses != 0 {
		t.Fatalf("c2's summary: %+v, %v", s, err)
	}
	req.CustomerIDs, req.Topics = nil, []string{"Delivery"}
	if s, err = e.svc.FeedbackSummary(e.ctx, req); err != nil || s.NPS.Responses != 1 || s.CSAT.Responses != 1 {
		t.Fatalf("delivery summary: %+v, %v", s, err)
	}
	for _, tz := range []string{"Mars/Olympus", "Local", "+01:00"} {
		_, err := e.svc.FeedbackSummary(e.ctx, domain.FeedbackSummaryRequest{TimeZone: tz})
		wantReason(t, err, "time_zone", domain.ReasonUnknownTimeZone)
	}
	_, err = e.svc.FeedbackSummary(e.ctx, domain.FeedbackSummaryRequest{StartTime: req.EndTime, EndTime: req.StartTime})
	wantReasonField(t, err, "end_time")
	// The default period is the 12 weeks up to now.
	if s, err = e.svc.FeedbackSummary(e.ctx, domain.FeedbackSummaryRequest{}); err != nil || !s.End.Equal(e.now) || s.End.Sub(s.Start) != 12*7*24*time.Hour {
		t.Fatalf("default period: %v..%v, %v", s.Start, s.End, err)
	}
}

// TestOpenComplaintsFeedChurn: the open complaints the store counts, put
// in a customer's assessment input, make the churn reason OPEN_COMPLAINT;
// resolving them takes it away.
func TestOpenComplaintsFeedChurn(t *testing.T) {
	t.Parallel()
	e := newFeedbackEnv(t)
	f, _, err := e.svc.SubmitFeedback(e.ctx, complaintOf("zd-3", "Reklamacja"))
	if err != nil {
		t.Fatal(err)
	}
	assess := func() domain.Assessment {
		t.Helper()
		open, err := e.store.OpenComplaints(e.ctx, e.tenant, []string{e.cust.ID})
		if err != nil {
			t.Fatal(err)
		}
		return domain.Assess(domain.AssessmentInput{CustomerID: e.cust.ID, Kind: domain.KindCustomer, OpenComplaints: open[e.cust.ID]}, nil, e.now)
	}
	if a := assess(); !a.HasReason(domain.ReasonOpenComplaint) || a.Churn < domain.ChurnMedium {
		t.Fatalf("with an open complaint: %+v", a)
	}
	if _, err := e.svc.TransitionComplaint(e.ctx, domain.TransitionRequest{ID: f.ID, To: domain.ComplaintResolvedJustified, Note: "refunded"}); err != nil {
		t.Fatal(err)
	}
	if a := assess(); a.HasReason(domain.ReasonOpenComplaint) {
		t.Fatalf("after the resolution: %+v", a)
	}
}

func TestTopicRuleUseCases(t *testing.T) {
	t.Parallel()
	e := newFeedbackEnv(t)
	ctx := e.as("key-admin")
	r, err := e.svc.CreateTopicRule(ctx, domain.TopicRule{Topic: " Delivery ", Keywords: []string{"dostaw", "DOSTAW", " Lieferung "}})
	if err != nil {
		t.Fatal(err)
	}
	if r.Topic != "delivery" || !reflect.DeepEqual(r.Keywords, []string{"dostaw", "Lieferung"}) || r.Version != 1 {
		t.Fatalf("created: %+v", r)
	}
	_, err = e.svc.CreateTopicRule(ctx, domain.TopicRule{Topic: "delivery", Keywords: []string{"x"}})
	if !errors.Is(err, domain.ErrConflict) {
		t.Fatalf("create twice: %v", err)
	}
	_, err = e.svc.CreateTopicRule(ctx, domain.TopicRule{Topic: "x", Keywords: []string{"..."}})
	wantReasonField(t, err, "topic_rule.keywords[0]")
	up, err := e.svc.UpdateTopicRule(ctx, domain.TopicRule{Topic: "DELIVERY", Keywords: []string{"przesyłk"}}, domain.ETag(1))
	if err != nil || up.Version != 2 || up.Keywords[0] != "przesyłk" {
		t.Fatalf("update: %+v, %v", up, err)
	}
	_, err = e.svc.UpdateTopicRule(ctx, domain.TopicRule{Topic: "delivery", Keywords: []string{"y"}}, domain.ETag(1))
	if !errors.Is(err, domain.ErrStale) {
		t.Fatalf("stale update: %v", err)
	}
	if got, _ := e.svc.GetTopicRule(ctx, "Delivery"); !reflect.DeepEqual(got, up) {
		t.Fatalf("get: %+v", got)
	}
	if rs, _ := e.svc.ListTopicRules(ctx); len(rs) != 1 {
		t.Fatalf("list: %+v", rs)
	}
	if err := e.svc.DeleteTopicRule(ctx, "delivery"); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.DeleteTopicRule(ctx, "delivery"); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("delete twice: %v", err)
	}
}

// TestOpenComplaintAppearsInTheAssessment: through the service, a submitted
// complaint is in the customer's assessment (and its stored summary) as the
// churn reason OPEN_COMPLAINT, and resolving it takes the reason away.
func TestOpenComplaintAppearsInTheAssessment(t *testing.T) {
	t.Parallel()
	e := newFeedbackEnv(t)
	ref := domain.CustomerRef{ID: e.cust.ID}
	f, _, err := e.svc.SubmitFeedback(e.ctx, complaintOf("zd-9", "Late parcel"))
	if err != nil {
		t.Fatal(err)
	}
	ca, err := e.svc.GetCustomerAssessment(e.ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	if !ca.Assessment.HasReason(domain.ReasonOpenComplaint) || ca.Input.OpenComplaints != 1 || !strings.Contains(ca.Explanation.Churn, "open complaint") {
		t.Fatalf("with an open complaint: %+v %q", ca.Assessment, ca.Explanation.Churn)
	}
	if n, err := e.svc.ReassessAll(e.ctx, e.tenant); err != nil || n != 1 {
		t.Fatalf("ReassessAll = %d, %v", n, err)
	}
	if c, _ := e.svc.GetCustomer(e.ctx, ref); !c.Assessment.HasReason(domain.ReasonOpenComplaint) {
		t.Fatalf("stored assessment after ReassessAll: %+v", c.Assessment)
	}
	if _, err := e.svc.TransitionComplaint(e.as("key-admin"), domain.TransitionRequest{ID: f.ID, To: domain.ComplaintResolvedJustified, Note: "refunded"}); err != nil {
		t.Fatal(err)
	}
	if ca, err := e.svc.GetCustomerAssessment(e.ctx, ref); err != nil || ca.Assessment.HasReason(domain.ReasonOpenComplaint) {
		t.Fatalf("after the resolution: %+v, %v", ca.Assessment, err)
	}
}
