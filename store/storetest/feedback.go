package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/potentialhq/potential/domain"
)

// newFeedback returns feedback of customer (a stored customer's id), ready
// to be submitted as the service would: a fresh id, times set, complaints
// open.
func newFeedback(tenant domain.Tenant, customer, ext string, kind domain.FeedbackKind, at time.Time) domain.Feedback {
	f := domain.Feedback{
		ID: domain.NewID(), TenantID: tenant.ID, ExternalID: ext, Customer: domain.CustomerRef{ID: customer}, CustomerID: customer,
		Kind: kind, Channel: "email", OccurredAt: at, CreateTime: t0, UpdateTime: t0, Version: 1,
	}
	if kind == domain.FeedbackComplaint {
		f.Status = domain.ComplaintOpen
	}
	return f
}

func scored(f domain.Feedback, score int) domain.Feedback {
	f.Score, f.HasScore = score, true
	return f
}

func submit(t *testing.T, s domain.Store, f domain.Feedback) domain.Feedback {
	t.Helper()
	out, created, err := s.SubmitFeedback(ctx(t), f)
	if err != nil || !created {
		t.Fatalf("SubmitFeedback(%s): created %v, %v", f.ExternalID, created, err)
	}
	return out
}

func getFeedback(t *testing.T, s domain.Store, tenant domain.Tenant, id string) domain.Feedback {
	t.Helper()
	f, err := s.GetFeedback(ctx(t), tenant.ID, id)
	if err != nil {
		t.Fatalf("GetFeedback(%s): %v", id, err)
	}
	return f
}

// transition appends the next transition of complaint f to status to.
func transition(t *testing.T, s domain.Store, tenant domain.Tenant, f domain.Feedback, to domain.ComplaintStatus, at time.Time) domain.Feedback {
	t.Helper()
	tr := domain.ComplaintTransition{Seq: len(f.Transitions) + 1, From: f.Status, To: to, Note: "note " + string(to), Actor: "key1", Time: at}
	out, err := s.AppendTransition(ctx(t), tenant.ID, f.ID, f.Version, tr)
	if err != nil {
		t.Fatalf("AppendTransition(%s → %s): %v", f.Status, to, err)
	}
	return out
}

func feedbackIDs(fs []domain.Feedback) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.ExternalID
	}
	return out
}

func listFeedback(t *testing.T, s domain.Store, tenant domain.Tenant, q domain.FeedbackQuery) []domain.Feedback {
	t.Helper()
	if q.Limit == 0 {
		q.Limit = 100
	}
	fs, err := s.ListFeedback(ctx(t), tenant.ID, q)
	if err != nil {
		t.Fatalf("ListFeedback(%+v): %v", q, err)
	}
	return fs
}

var feedbackTests = []test{
	{"Feedback/SubmitAndGet", func(t *testing.T, s domain.Store) {
		tn := newTenant(t, s)
		c := create(t, s, newCustomer(tn, "c"))
		f := newFeedback(tn, c.ID, "fb-1", domain.FeedbackComplaint, time.Date(2024, 3, 1, 10, 0, 0, 123456789, time.FixedZone("X", 7200)))
		f.Customer = domain.CustomerRef{ID: c.ID, ExternalID: "c"}
		f.Topic, f.TopicSource, f.Text = "delivery", domain.TopicFromRule, "Reklamacja dostawy: paczka przyszła uszkodzona"
		got := submit(t, s, f)
		want := f
		want.Customer = domain.CustomerRef{ID: c.ID}
		want.OccurredAt = time.Date(2024, 3, 1, 8, 0, 0, 123456000, time.UTC)
		wantEqual(t, "submitted", got, want)
		wantEqual(t, "read back", getFeedback(t, s, tn, f.ID), want)

		// Scores: an NPS of 0 is a score, a suggestion has none.
		n := submit(t, s, scored(newFeedback(tn, c.ID, "fb-2", domain.FeedbackNPS, day(1, 0)), 0))
		if g := getFeedback(t, s, tn, n.ID); !g.HasScore || g.Score != 0 || g.Status != "" {
			t.Fatalf("nps 0 read back as %+v", g)
		}
		r := submit(t, s, scored(newFeedback(tn, c.ID, "fb-3", domain.FeedbackRating, day(1, 0)), 5))
		if g := getFeedback(t, s, tn, r.ID); !g.HasScore || g.Score != 5 {
			t.Fatalf("rating 5 read back as %+v", g)
		}
		sg := submit(t, s, newFeedback(tn, c.ID, "fb-4", domain.FeedbackSuggestion, day(1, 0)))
		if g := getFeedback(t, s, tn, sg.ID); g.HasScore || g.Score != 0 {
			t.Fatalf("suggestion read back as %+v", g)
		}
		_, err := s.GetFeedback(ctx(t), tn.ID, domain.NewID())
		wantErr(t, "get unknown", err, domain.ErrNotFound)
		_, err = s.GetFeedback(ctx(t), tn.ID, "not-a-uuid")
		wantErr(t, "get malformed id", err, domain.ErrNotFound)
	}},
	{"Feedback/ResendChangesNothing", func(t *testing.T, s domain.Store) {
		tn := newTenant(t, s)
		c := create(t, s, newCustomer(tn, "c"))
		d := create(t, s, newCustomer(tn, "d"))
		first := submit(t, s, scored(newFeedback(tn, c.ID, "fb-1", domain.FeedbackRating, day(1, 0)), 4))
		for _, resend := range []domain.Feedback{
			scored(newFeedback(tn, c.ID, "fb-1", domain.FeedbackRating, day(1, 0)), 4),
			scored(newFeedback(tn, d.ID, "fb-1", domain.FeedbackNPS, day(2, 0)), 9), // other content: still the stored one
		} {
			got, created, err := s.SubmitFeedback(ctx(t), resend)
			if err != nil || created {
				t.Fatalf("resend: created %v, %v", created, err)
			}
			wantEqual(t, "resend returns", got, first)
		}
		wantEqual(t, "stored", getFeedback(t, s, tn, first.ID), first)
		wantEqual(t, "listed", feedbackIDs(listFeedback(t, s, tn, domain.FeedbackQuery{})), []string{"fb-1"})
		// A resend of a complaint that moved on returns it as it is now.
		cp := submit(t, s, newFeedback(tn, c.ID, "fb-2", domain.FeedbackComplaint, day(1, 0)))
		moved := transition(t, s, tn, cp, domain.ComplaintInProgress, day(2, 0))
		got, created, err := s.SubmitFeedback(ctx(t), newFeedback(tn, c.ID, "fb-2", domain.FeedbackComplaint, day(1, 0)))
		if err != nil || created {
			t.Fatalf("resend of a complaint: created %v, %v", created, err)
		}
		wantEqual(t, "resent complaint", got, moved)
	}},
	{"Feedback/RejectsWithoutChange", func(t *testing.T, s domain.Store) {
		tn, other := newTenant(t, s), newTenant(t, s)
		c := create(t, s, newCustomer(tn, "c"))
		theirs := create(t, s, newCustomer(other, "c"))
		_, _, err := s.SubmitFeedback(ctx(t), newFeedback(tn, domain.NewID(), "fb-1", domain.FeedbackPraise, day(1, 0)))
		wantErr(t, "unknown customer", err, domain.ErrNotFound)
		_, _, err = s.SubmitFeedback(ctx(t), newFeedback(tn, theirs.ID, "fb-1", domain.FeedbackPraise, day(1, 0)))
		wantErr(t, "another tenant's customer", err, domain.ErrNotFound)
		bad := map[string]domain.Feedback{
			"unknown kind":    newFeedback(tn, c.ID, "fb-1", "rant", day(1, 0)),
			"rating 6":        scored(newFeedback(tn, c.ID, "fb-1", domain.FeedbackRating, day(1, 0)), 6),
			"nps -1":          scored(newFeedback(tn, c.ID, "fb-1", domain.FeedbackNPS, day(1, 0)), -1),
			"rating unscored": newFeedback(tn, c.ID, "fb-1", domain.FeedbackRating, day(1, 0)),
			"scored praise":   scored(newFeedback(tn, c.ID, "fb-1", domain.FeedbackPraise, day(1, 0)), 3),
			"complaint no stat": func() domain.Feedback {
				f := newFeedback(tn, c.ID, "fb-1", domain.FeedbackComplaint, day(1, 0))
				f.Status = ""
				return f
			}(),
			"praise with stat": func() domain.Feedback {
				f := newFeedback(tn, c.ID, "fb-1", domain.FeedbackPraise, day(1, 0))
				f.Status = "open"
				return f
			}(),
			"NUL in text": func() domain.Feedback {
				f := newFeedback(tn, c.ID, "fb-1", domain.FeedbackPraise, day(1, 0))
				f.Text = "a\x00b"
				return f
			}(),
			"bad UTF-8 topic": func() domain.Feedback {
				f := newFeedback(tn, c.ID, "fb-1", domain.FeedbackPraise, day(1, 0))
				f.Topic = "\xff"
				return f
			}(),
			"no occurred_at": newFeedback(tn, c.ID, "fb-1", domain.FeedbackPraise, time.Time{}),
			"year 10000":     newFeedback(tn, c.ID, "fb-1", domain.FeedbackPraise, time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)),
			"malformed id": func() domain.Feedback {
				f := newFeedback(tn, c.ID, "fb-1", domain.FeedbackPraise, day(1, 0))
				f.ID = "x"
				return f
			}(),
		}
		for name, f := range bad {
			_, _, err := s.SubmitFeedback(ctx(t), f)
			wantErr(t, name, err, domain.ErrInvalid)
		}
		if got := listFeedback(t, s, tn, domain.FeedbackQuery{}); len(got) != 0 {
			t.Fatalf("rejected feedback was stored: %+v", got)
		}
	}},
	{"Feedback/Transitions", func(t *testing.T, s domain.Store) {
		tn, other := newTenant(t, s), newTenant(t, s)
		c := create(t, s, newCustomer(tn, "c"))
		f := submit(t, s, newFeedback(tn, c.ID, "fb-1", domain.FeedbackComplaint, day(1, 0)))
		f1 := transition(t, s, tn, f, domain.ComplaintInProgress, day(2, 0))
		if f1.Status != domain.ComplaintInProgress || f1.Version != 2 || !f1.UpdateTime.Equal(day(2, 0)) || !f1.ResolveTime.IsZero() || len(f1.Transitions) != 1 {
			t.Fatalf("after start: %+v", f1)
		}
		// The version it was at is stale now: nothing changes.
		_, err := s.AppendTransition(ctx(t), tn.ID, f.ID, 1, domain.ComplaintTransition{Seq: 2, From: domain.ComplaintOpen, To: domain.ComplaintWithdrawn, Time: day(3, 0)})
		wantErr(t, "stale version", err, domain.ErrStale)
		wantEqual(t, "after a stale transition", getFeedback(t, s, tn, f.ID), f1)

		f2 := transition(t, s, tn, f1, domain.ComplaintResolvedUnjustified, day(3, 0).Add(1500*time.Nanosecond))
		if f2.Status != domain.ComplaintResolvedUnjustified || f2.Version != 3 || !f2.ResolveTime.Equal(day(3, 0).Add(time.Microsecond)) {
			t.Fatalf("after resolving: %+v", f2)
		}
		f3 := transition(t, s, tn, f2, domain.ComplaintOpen, day(4, 0))
		if f3.Status != domain.ComplaintOpen || !f3.ResolveTime.IsZero() || f3.Version != 4 {
			t.Fatalf("after reopening: %+v", f3)
		}
		want := []domain.ComplaintTransition{
			{Seq: 1, From: domain.ComplaintOpen, To: domain.ComplaintInProgress, Note: "note in_progress", Actor: "key1", Time: day(2, 0)},
			{Seq: 2, From: domain.ComplaintInProgress, To: domain.ComplaintResolvedUnjustified, Note: "note resolved_unjustified", Actor: "key1", Time: day(3, 0).Add(time.Microsecond)},
			{Seq: 3, From: domain.ComplaintResolvedUnjustified, To: domain.ComplaintOpen, Note: "note open", Actor: "key1", Time: day(4, 0)},
		}
		wantEqual(t, "transitions", getFeedback(t, s, tn, f.ID).Transitions, want)
		wantEqual(t, "returned", f3, getFeedback(t, s, tn, f.ID))
		withID := domain.ComplaintTransition{Seq: 4, From: domain.ComplaintOpen, To: domain.ComplaintWithdrawn, Actor: "key2", RequestID: "req-7", Time: day(5, 0)}
		f4, err := s.AppendTransition(ctx(t), tn.ID, f.ID, 4, withID)
		if err != nil || f4.Transitions[3] != withID {
			t.Fatalf("transition with a request id: %+v, %v", f4.Transitions, err)
		}

		_, err = s.AppendTransition(ctx(t), tn.ID, domain.NewID(), 1, withID)
		wantErr(t, "unknown feedback", err, domain.ErrNotFound)
		_, err = s.AppendTransition(ctx(t), other.ID, f.ID, 5, withID)
		wantErr(t, "another tenant's complaint", err, domain.ErrNotFound)
		p := submit(t, s, newFeedback(tn, c.ID, "fb-2", domain.FeedbackPraise, day(1, 0)))
		_, err = s.AppendTransition(ctx(t), tn.ID, p.ID, 1, domain.ComplaintTransition{Seq: 1, From: domain.ComplaintOpen, To: domain.ComplaintWithdrawn, Time: day(2, 0)})
		wantErr(t, "praise", err, domain.ErrInvalid)
		_, err = s.AppendTransition(ctx(t), tn.ID, f.ID, 5, domain.ComplaintTransition{Seq: 5, From: domain.ComplaintWithdrawn, To: "gone", Time: day(6, 0)})
		wantErr(t, "unknown status", err, domain.ErrInvalid)
		_, err = s.AppendTransition(ctx(t), tn.ID, f.ID, 5, domain.ComplaintTransition{Seq: 5, From: domain.ComplaintWithdrawn, To: domain.ComplaintOpen, Note: "\x00", Time: day(6, 0)})
		wantErr(t, "NUL in note", err, domain.ErrInvalid)
		wantEqual(t, "after the rejected transitions", getFeedback(t, s, tn, f.ID), f4)
		wantEqual(t, "praise unchanged", getFeedback(t, s, tn, p.ID), p)
	}},
	{"Feedback/List", func(t *testing.T, s domain.Store) {
		tn := newTenant(t, s)
		a := create(t, s, newCustomer(tn, "a"))
		b := create(t, s, newCustomer(tn, "b"))
		mk := func(cust domain.Customer, ext string, kind domain.FeedbackKind, at time.Time, topic string) domain.Feedback {
			f := newFeedback(tn, cust.ID, ext, kind, at)
			if lo, _, ok := kind.ScoreRange(); ok {
				f = scored(f, lo)
			}
			f.Topic = topic
			return submit(t, s, f)
		}
		mk(a, "a1", domain.FeedbackComplaint, day(1, 0), "delivery")
		a2 := mk(a, "a2", domain.FeedbackComplaint, day(2, 0), "billing")
		mk(a, "a3", domain.FeedbackNPS, day(3, 0), "")
		mk(b, "b1", domain.FeedbackRating, day(2, 0), "delivery") // same time as a2: ids break the tie
		mk(b, "b2", domain.FeedbackComplaint, day(4, 0), "delivery")
		mk(b, "b3", domain.FeedbackPraise, day(5, 0), "")
		transition(t, s, tn, a2, domain.ComplaintResolvedJustified, day(3, 0))

		all := listFeedback(t, s, tn, domain.FeedbackQuery{})
		// Newest first; a2 and b1 share a time, and the larger id goes first.
		tie := []string{"a2", "b1"}
		if mustFeedbackID(t, all, "a2") < mustFeedbackID(t, all, "b1") {
			tie = []string{"b1", "a2"}
		}
		order := []string{"b3", "b2", "a3", tie[0], tie[1], "a1"}
		wantEqual(t, "all", feedbackIDs(all), order)
		for _, tc := range []struct {
			q    domain.FeedbackQuery
			want []string
		}{
			{domain.FeedbackQuery{CustomerID: a.ID}, []string{"a3", "a2", "a1"}},
			{domain.FeedbackQuery{Kinds: []domain.FeedbackKind{domain.FeedbackComplaint}}, []string{"b2", "a2", "a1"}},
			{domain.FeedbackQuery{Kinds: []domain.FeedbackKind{domain.FeedbackNPS, domain.FeedbackPraise}}, []string{"b3", "a3"}},
			{domain.FeedbackQuery{Statuses: []domain.ComplaintStatus{domain.ComplaintOpen}}, []string{"b2", "a1"}},
			{domain.FeedbackQuery{Statuses: []domain.ComplaintStatus{domain.ComplaintResolvedJustified, domain.ComplaintWithdrawn}}, []string{"a2"}},
			{domain.FeedbackQuery{Topic: "delivery"}, []string{"b2", "b1", "a1"}},
			{domain.FeedbackQuery{From: day(2, 0), To: day(4, 0)}, []string{"a3", tie[0], tie[1]}},
			{domain.FeedbackQuery{From: day(4, 0)}, []string{"b3", "b2"}},
			{domain.FeedbackQuery{To: day(2, 0)}, []string{"a1"}},
			{domain.FeedbackQuery{CustomerID: b.ID, Kinds: []domain.FeedbackKind{domain.FeedbackRating}, Topic: "delivery"}, []string{"b1"}},
			{domain.FeedbackQuery{CustomerID: domain.NewID()}, []string{}},
			{domain.FeedbackQuery{CustomerID: "not-a-uuid"}, []string{}},
			{domain.FeedbackQuery{After: &domain.Cursor{Value: day(2, 0), ID: mustFeedbackID(t, all, tie[0])}}, []string{tie[1], "a1"}},
			{domain.FeedbackQuery{After: &domain.Cursor{Value: day(3, 0), ID: mustFeedbackID(t, all, "a3")}, CustomerID: a.ID}, []string{"a2", "a1"}},
		} {
			got := feedbackIDs(listFeedback(t, s, tn, tc.q))
			if len(got) == 0 {
				got = []string{}
			}
			wantEqual(t, describeQuery(tc.q), got, tc.want)
		}
		// Pages of two, each after the last item of the one before.
		for _, q := range []domain.FeedbackQuery{{Limit: 2}, {Limit: 2, CustomerID: b.ID}, {Limit: 1, Topic: "delivery"}} {
			var got, want []string
			for _, f := range all {
				if (q.CustomerID == "" || f.CustomerID == q.CustomerID) && (q.Topic == "" || f.Topic == q.Topic) {
					want = append(want, f.ExternalID)
				}
			}
			for page := 0; ; page++ {
				fs := listFeedback(t, s, tn, q)
				got = append(got, feedbackIDs(fs)...)
				if len(fs) < q.Limit || page > 10 {
					break
				}
				last := fs[len(fs)-1]
				q.After = &domain.Cursor{Value: last.OccurredAt, ID: last.ID}
			}
			wantEqual(t, "paged", got, want)
		}
		// Listed feedback carries its transitions.
		for _, f := range all {
			if f.ExternalID == "a2" && (len(f.Transitions) != 1 || f.Status != domain.ComplaintResolvedJustified) {
				t.Fatalf("listed a2: %+v", f)
			}
		}
		_, err := s.ListFeedback(ctx(t), tn.ID, domain.FeedbackQuery{Limit: 10, After: &domain.Cursor{Value: "x", ID: domain.NewID()}})
		wantErr(t, "malformed cursor", err, domain.ErrInvalid)
		_, err = s.ListFeedback(ctx(t), tn.ID, domain.FeedbackQuery{})
		wantErr(t, "no limit", err, domain.ErrInvalid)
	}},
	{"Feedback/Events", func(t *testing.T, s domain.Store) {
		tn := newTenant(t, s)
		c := create(t, s, newCustomer(tn, "c"))
		d := create(t, s, newCustomer(tn, "d"))
		cp := newFeedback(tn, c.ID, "fb-1", domain.FeedbackComplaint, day(1, 0))
		cp.Topic = "delivery"
		cp = submit(t, s, cp)
		n := submit(t, s, scored(newFeedback(tn, c.ID, "fb-2", domain.FeedbackNPS, day(2, 0)), 3))
		submit(t, s, newFeedback(tn, d.ID, "fb-3", domain.FeedbackPraise, day(1, 0)))
		cp = transition(t, s, tn, cp, domain.ComplaintResolvedUnjustified, day(3, 0))
		events := func() []domain.FeedbackEvent {
			t.Helper()
			evs, err := s.FeedbackEvents(ctx(t), tn.ID, c.ID)
			if err != nil {
				t.Fatalf("FeedbackEvents: %v", err)
			}
			return evs
		}
		want := []domain.FeedbackEvent{
			{ID: cp.ID, CustomerID: c.ID, FeedbackID: cp.ID, Kind: "complaint", OccurredAt: day(1, 0), Topic: "delivery", Channel: "email"},
			{ID: n.ID, CustomerID: c.ID, FeedbackID: n.ID, Kind: "nps", OccurredAt: day(2, 0), Score: 3, Channel: "email"},
			{ID: cp.ID + "/resolution/1", CustomerID: c.ID, FeedbackID: cp.ID, Kind: domain.EventComplaintResolvedUnjustified, OccurredAt: day(3, 0), Topic: "delivery", Channel: "email"},
		}
		wantEqual(t, "events", events(), want)
		// Resending the complaint changes nothing: the same events, the same ids.
		if _, created, err := s.SubmitFeedback(ctx(t), newFeedback(tn, c.ID, "fb-1", domain.FeedbackComplaint, day(1, 0))); err != nil || created {
			t.Fatalf("resend: %v, %v", created, err)
		}
		wantEqual(t, "events after a resend", events(), want)
		if evs, err := s.FeedbackEvents(ctx(t), tn.ID, domain.NewID()); err != nil || len(evs) != 0 {
			t.Fatalf("events of an unknown customer: %v, %v", evs, err)
		}
	}},
	{"Feedback/OpenComplaints", func(t *testing.T, s domain.Store) {
		tn, other := newTenant(t, s), newTenant(t, s)
		a := create(t, s, newCustomer(tn, "a"))
		b := create(t, s, newCustomer(tn, "b"))
		c := create(t, s, newCustomer(tn, "c"))
		x := create(t, s, newCustomer(other, "x"))
		submit(t, s, newFeedback(tn, a.ID, "a1", domain.FeedbackComplaint, day(1, 0)))
		a2 := submit(t, s, newFeedback(tn, a.ID, "a2", domain.FeedbackComplaint, day(1, 0)))
		transition(t, s, tn, a2, domain.ComplaintInProgress, day(2, 0)) // in progress is still open
		b1 := submit(t, s, newFeedback(tn, b.ID, "b1", domain.FeedbackComplaint, day(1, 0)))
		transition(t, s, tn, b1, domain.ComplaintWithdrawn, day(2, 0))
		b2 := submit(t, s, newFeedback(tn, b.ID, "b2", domain.FeedbackComplaint, day(1, 0)))
		b2 = transition(t, s, tn, b2, domain.ComplaintResolvedJustified, day(2, 0))
		submit(t, s, newFeedback(tn, c.ID, "c1", domain.FeedbackComplaint, day(1, 0)))
		submit(t, s, newFeedback(tn, c.ID, "c2", domain.FeedbackPraise, day(1, 0)))
		submit(t, s, newFeedback(other, x.ID, "x1", domain.FeedbackComplaint, day(1, 0)))
		open := func(ids []string) map[string]int64 {
			t.Helper()
			m, err := s.OpenComplaints(ctx(t), tn.ID, ids)
			if err != nil {
				t.Fatalf("OpenComplaints: %v", err)
			}
			return m
		}
		wantEqual(t, "every customer", open(nil), map[string]int64{a.ID: 2, c.ID: 1})
		wantEqual(t, "some", open([]string{a.ID, b.ID, x.ID, "junk"}), map[string]int64{a.ID: 2})
		wantEqual(t, "none", open([]string{}), map[string]int64{})
		transition(t, s, tn, b2, domain.ComplaintOpen, day(3, 0)) // reopened
		wantEqual(t, "after reopening", open([]string{b.ID}), map[string]int64{b.ID: 1})
	}},
	{"Feedback/Facts", func(t *testing.T, s domain.Store) {
		tn := newTenant(t, s)
		a := create(t, s, newCustomer(tn, "a"))
		b := create(t, s, newCustomer(tn, "b"))
		old := newFeedback(tn, a.ID, "old", domain.FeedbackComplaint, day(-10, 0))
		old.Topic = "delivery"
		old = submit(t, s, old)
		transition(t, s, tn, old, domain.ComplaintResolvedJustified, day(2, 0)) // resolved in the period
		submit(t, s, scored(newFeedback(tn, a.ID, "in", domain.FeedbackNPS, day(1, 0)), 9))
		submit(t, s, scored(newFeedback(tn, b.ID, "edge", domain.FeedbackRating, day(5, 0)), 2)) // at the end: out
		submit(t, s, newFeedback(tn, b.ID, "start", domain.FeedbackPraise, day(0, 0)))           // at the start: in
		submit(t, s, newFeedback(tn, b.ID, "before", domain.FeedbackPraise, day(-1, 0)))
		facts := func(ids []string) map[string]domain.FeedbackFact {
			t.Helper()
			fs, err := s.FeedbackFacts(ctx(t), tn.ID, domain.FeedbackFactQuery{CustomerIDs: ids, From: day(0, 0), To: day(5, 0)})
			if err != nil {
				t.Fatalf("FeedbackFacts: %v", err)
			}
			out := map[string]domain.FeedbackFact{}
			for _, f := range fs {
				out[fmt.Sprintf("%s %s %d", f.CustomerID, f.Kind, f.Score)] = f
			}
			return out
		}
		want := map[string]domain.FeedbackFact{
			a.ID + " complaint 0": {CustomerID: a.ID, Kind: domain.FeedbackComplaint, Topic: "delivery", Status: domain.ComplaintResolvedJustified, OccurredAt: day(-10, 0), ResolveTime: day(2, 0)},
			a.ID + " nps 9":       {CustomerID: a.ID, Kind: domain.FeedbackNPS, Score: 9, OccurredAt: day(1, 0)},
			b.ID + " praise 0":    {CustomerID: b.ID, Kind: domain.FeedbackPraise, OccurredAt: day(0, 0)},
		}
		wantEqual(t, "tenant", facts(nil), want)
		delete(want, b.ID+" praise 0")
		wantEqual(t, "customer a", facts([]string{a.ID, "junk"}), want)
		wantEqual(t, "no customers", facts([]string{}), map[string]domain.FeedbackFact{})
	}},
	{"Feedback/TopicRules", func(t *testing.T, s domain.Store) {
		tn, other := newTenant(t, s), newTenant(t, s)
		r := domain.TopicRule{TenantID: tn.ID, Topic: "delivery", Keywords: []string{"dostaw", "Lieferung"}, CreateTime: t0, UpdateTime: t0}
		got, err := s.CreateTopicRule(ctx(t), r)
		r.Version = 1
		if err != nil {
			t.Fatalf("CreateTopicRule: %v", err)
		}
		wantEqual(t, "created", got, r)
		_, err = s.CreateTopicRule(ctx(t), r)
		wantErr(t, "create twice", err, domain.ErrConflict)
		b := domain.TopicRule{TenantID: tn.ID, Topic: "billing", Keywords: []string{"faktur"}, CreateTime: t0, UpdateTime: t0}
		if _, err := s.CreateTopicRule(ctx(t), b); err != nil {
			t.Fatal(err)
		}
		b.Version = 1
		if _, err := s.CreateTopicRule(ctx(t), domain.TopicRule{TenantID: other.ID, Topic: "delivery", Keywords: []string{"x"}, CreateTime: t0, UpdateTime: t0}); err != nil {
			t.Fatalf("the same topic in another tenant: %v", err)
		}
		rules, err := s.ListTopicRules(ctx(t), tn.ID)
		if err != nil {
			t.Fatal(err)
		}
		wantEqual(t, "listed", rules, []domain.TopicRule{b, r})
		g, err := s.GetTopicRule(ctx(t), tn.ID, "delivery")
		if err != nil {
			t.Fatal(err)
		}
		wantEqual(t, "get", g, r)

		upd := r
		upd.Keywords, upd.UpdateTime = []string{"przesyłk"}, day(1, 0)
		got, err = s.UpdateTopicRule(ctx(t), upd)
		upd.Version = 2
		if err != nil {
			t.Fatalf("UpdateTopicRule: %v", err)
		}
		wantEqual(t, "updated", got, upd)
		stale := r
		stale.Keywords = []string{"lost"}
		_, err = s.UpdateTopicRule(ctx(t), stale)
		wantErr(t, "stale update", err, domain.ErrStale)
		stale.Topic, stale.Version = "nothing", 1
		_, err = s.UpdateTopicRule(ctx(t), stale)
		wantErr(t, "update of an unknown rule", err, domain.ErrNotFound)
		g, _ = s.GetTopicRule(ctx(t), tn.ID, "delivery")
		wantEqual(t, "after the failed updates", g, upd)

		wantErr(t, "delete unknown", s.DeleteTopicRule(ctx(t), tn.ID, "nothing"), domain.ErrNotFound)
		if err := s.DeleteTopicRule(ctx(t), tn.ID, "delivery"); err != nil {
			t.Fatal(err)
		}
		_, err = s.GetTopicRule(ctx(t), tn.ID, "delivery")
		wantErr(t, "get deleted", err, domain.ErrNotFound)
		rules, _ = s.ListTopicRules(ctx(t), tn.ID)
		wantEqual(t, "after delete", rules, []domain.TopicRule{b})
		rules, _ = s.ListTopicRules(ctx(t), other.ID)
		if len(rules) != 1 || rules[0].Keywords[0] != "x" {
			t.Fatalf("the other tenant's rules: %+v", rules)
		}
		_, err = s.CreateTopicRule(ctx(t), domain.TopicRule{TenantID: tn.ID, Topic: "x\x00", Keywords: []string{"k"}, CreateTime: t0, UpdateTime: t0})
		wantErr(t, "NUL in topic", err, domain.ErrInvalid)
	}},
	{"Feedback/DeleteCustomerErasesIt", func(t *testing.T, s domain.Store) {
		tn := newTenant(t, s)
		x := create(t, s, newCustomer(tn, "x"))
		y := create(t, s, newCustomer(tn, "y"))
		cp := submit(t, s, newFeedback(tn, x.ID, "fb-1", domain.FeedbackComplaint, day(1, 0)))
		transition(t, s, tn, cp, domain.ComplaintInProgress, day(2, 0))
		submit(t, s, scored(newFeedback(tn, x.ID, "fb-2", domain.FeedbackNPS, day(1, 0)), 10))
		keep := submit(t, s, newFeedback(tn, y.ID, "fb-3", domain.FeedbackComplaint, day(1, 0)))
		if err := s.DeleteCustomer(ctx(t), tn.ID, x.ID); err != nil {
			t.Fatalf("DeleteCustomer: %v", err)
		}
		_, err := s.GetFeedback(ctx(t), tn.ID, cp.ID)
		wantErr(t, "erased complaint", err, domain.ErrNotFound)
		wantEqual(t, "left", feedbackIDs(listFeedback(t, s, tn, domain.FeedbackQuery{})), []string{"fb-3"})
		if evs, _ := s.FeedbackEvents(ctx(t), tn.ID, x.ID); len(evs) != 0 {
			t.Fatalf("events survived: %+v", evs)
		}
		open, _ := s.OpenComplaints(ctx(t), tn.ID, nil)
		wantEqual(t, "open complaints", open, map[string]int64{y.ID: 1})
		wantEqual(t, "y's complaint", getFeedback(t, s, tn, keep.ID), keep)
		// Gone for good: sent again for a new customer, it is new.
		x2 := create(t, s, newCustomer(tn, "x"))
		again := submit(t, s, newFeedback(tn, x2.ID, "fb-1", domain.FeedbackComplaint, day(1, 0)))
		if again.CustomerID != x2.ID || len(again.Transitions) != 0 || again.Status != domain.ComplaintOpen {
			t.Fatalf("sent again: %+v", again)
		}
	}},
	{"Feedback/Isolation", func(t *testing.T, s domain.Store) {
		a, b := newTenant(t, s), newTenant(t, s)
		ca := create(t, s, newCustomer(a, "c"))
		cb := create(t, s, newCustomer(b, "c"))
		theirs := submit(t, s, newFeedback(b, cb.ID, "fb-1", domain.FeedbackComplaint, day(1, 0)))
		_, err := s.GetFeedback(ctx(t), a.ID, theirs.ID)
		wantErr(t, "get", err, domain.ErrNotFound)
		if got := listFeedback(t, s, a, domain.FeedbackQuery{}); len(got) != 0 {
			t.Fatalf("A lists B's feedback: %+v", got)
		}
		if got := listFeedback(t, s, a, domain.FeedbackQuery{CustomerID: cb.ID}); len(got) != 0 {
			t.Fatalf("A lists B's customer's feedback: %+v", got)
		}
		if evs, _ := s.FeedbackEvents(ctx(t), a.ID, cb.ID); len(evs) != 0 {
			t.Fatalf("A sees B's events: %+v", evs)
		}
		if open, _ := s.OpenComplaints(ctx(t), a.ID, []string{cb.ID}); len(open) != 0 {
			t.Fatalf("A counts B's open complaints: %+v", open)
		}
		if facts, _ := s.FeedbackFacts(ctx(t), a.ID, domain.FeedbackFactQuery{From: day(0, 0), To: day(9, 0)}); len(facts) != 0 {
			t.Fatalf("A reads B's facts: %+v", facts)
		}
		// The same external id in A is A's own feedback.
		mine := submit(t, s, newFeedback(a, ca.ID, "fb-1", domain.FeedbackPraise, day(1, 0)))
		if mine.ID == theirs.ID {
			t.Fatal("A's resend matched B's feedback")
		}
		wantEqual(t, "B's feedback", getFeedback(t, s, b, theirs.ID), theirs)
		_, err = s.GetFeedback(ctx(t), "not-a-uuid", theirs.ID)
		wantErr(t, "malformed tenant", err, domain.ErrNotFound)
	}},
}

// mustFeedbackID returns the id of the listed feedback with external id ext.
func mustFeedbackID(t *testing.T, fs []domain.Feedback, ext string) string {
	t.Helper()
	for _, f := range fs {
		if f.ExternalID == ext {
			return f.ID
		}
	}
	t.Fatalf("%s not listed", ext)
	return ""
}

// describeQuery renders a feedback query for messages.
func describeQuery(q domain.FeedbackQuery) string { return fmt.Sprintf("%+v", q) }
