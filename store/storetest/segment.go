package storetest

import (
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/potentialhq/potential/domain"
)

var segmentTests = []test{
	{"segments/crud", testSegmentCRUD},
	{"segments/evaluate writes differences with events", testSegmentEvaluate},
	{"segments/facts", testSegmentFacts},
	{"segments/static members and delete", testSegmentStatic},
	{"segments/due customers", testSegmentDue},
	{"segments/a run of every customer reads the facts named and keeps due times", testSegmentAllFacts},
	{"segments/concurrent writers keep cursors dense", testSegmentCursors},
	{"segments/isolation and erasure", testSegmentIsolation},
	{"segments/wake-up", testSegmentWake},
}

func newSegment(t *testing.T, s domain.Store, tenant domain.Tenant, name string, kind domain.SegmentKind, rule string) domain.Segment {
	t.Helper()
	sg, err := s.CreateSegment(t.Context(), domain.Segment{ID: domain.NewID(), TenantID: tenant.ID, Name: name, Kind: kind, Rule: rule, CreateTime: t0, UpdateTime: t0})
	if err != nil {
		t.Fatalf("CreateSegment: %v", err)
	}
	return sg
}

func newCustomers(t *testing.T, s domain.Store, tenant domain.Tenant, exts ...string) []domain.Customer {
	t.Helper()
	var out []domain.Customer
	for _, ext := range exts {
		c, err := s.CreateCustomer(t.Context(), newCustomer(tenant, ext))
		if err != nil {
			t.Fatalf("CreateCustomer: %v", err)
		}
		out = append(out, c)
	}
	return out
}

// decideMembers is an evaluation that puts the customers of want (by id)
// into the segment and the others out, with due time due.
func decideMembers(segmentID string, want map[string]bool, due time.Time) func(*domain.SegmentBatch) ([]domain.SegmentDecision, error) {
	return func(b *domain.SegmentBatch) ([]domain.SegmentDecision, error) {
		var out []domain.SegmentDecision
		for _, f := range b.Facts {
			d := domain.SegmentDecision{CustomerID: f.Customer.ID, Due: due}
			if want[f.Customer.ID] {
				d.Members = []string{segmentID}
			}
			out = append(out, d)
		}
		return out, nil
	}
}

func allEvents(t *testing.T, s domain.Store, tenant domain.Tenant, q domain.SegmentEventQuery) []domain.SegmentEvent {
	t.Helper()
	q.Limit = 100000
	evs, err := s.ListSegmentEvents(t.Context(), tenant.ID, q)
	if err != nil {
		t.Fatalf("ListSegmentEvents: %v", err)
	}
	return evs
}

func memberIDs(t *testing.T, s domain.Store, tenant domain.Tenant, segmentID string) []string {
	t.Helper()
	var out []string
	after := ""
	for {
		ms, err := s.ListSegmentMembers(t.Context(), tenant.ID, segmentID, after, 2)
		if err != nil {
			t.Fatalf("ListSegmentMembers: %v", err)
		}
		for _, m := range ms {
			out = append(out, m.CustomerID)
		}
		if len(ms) < 2 {
			return out
		}
		after = ms[len(ms)-1].CustomerID
	}
}

func testSegmentCRUD(t *testing.T, s domain.Store) {
	ctx := t.Context()
	tn := newTenant(t, s)
	sg := newSegment(t, s, tn, "b", domain.SegmentDynamic, "stage == \"new\"")
	newSegment(t, s, tn, "a", domain.SegmentStatic, "")
	if _, err := s.CreateSegment(ctx, domain.Segment{ID: domain.NewID(), TenantID: tn.ID, Name: "b", Kind: domain.SegmentStatic, CreateTime: t0}); !errors.Is(err, domain.ErrConflict) {
		t.Errorf("duplicate name: %v, want ErrConflict", err)
	}
	got, err := s.GetSegment(ctx, tn.ID, sg.ID)
	if err != nil || got.Name != "b" || got.Rule != sg.Rule || got.Version != 1 || !got.CreateTime.Equal(t0) {
		t.Fatalf("GetSegment = %+v, %v", got, err)
	}
	list, err := s.ListSegments(ctx, tn.ID)
	if err != nil || len(list) != 2 || list[0].Name != "a" || list[1].Name != "b" {
		t.Fatalf("ListSegments = %+v, %v", list, err)
	}
	next := got
	next.Rule, next.UpdateTime = "stage == \"active\"", t0.Add(time.Hour)
	up, err := s.UpdateSegment(ctx, next)
	if err != nil || up.Version != 2 || up.Rule != next.Rule || !up.UpdateTime.Equal(next.UpdateTime) {
		t.Fatalf("UpdateSegment = %+v, %v", up, err)
	}
	if _, err := s.UpdateSegment(ctx, next); !errors.Is(err, domain.ErrStale) {
		t.Errorf("stale update: %v, want ErrStale", err)
	}
	if err := s.DeleteSegment(ctx, tn.ID, sg.ID, 1, t0); !errors.Is(err, domain.ErrStale) {
		t.Errorf("stale delete: %v, want ErrStale", err)
	}
	if err := s.DeleteSegment(ctx, tn.ID, sg.ID, 2, t0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetSegment(ctx, tn.ID, sg.ID); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("deleted: %v, want ErrNotFound", err)
	}
	if _, err := s.GetSegment(ctx, tn.ID, "nope"); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("bad id: %v, want ErrNotFound", err)
	}
}

func testSegmentEvaluate(t *testing.T, s domain.Store) {
	ctx := t.Context()
	tn := newTenant(t, s)
	cs := newCustomers(t, s, tn, "x", "y", "z")
	sg := newSegment(t, s, tn, "d", domain.SegmentDynamic, "true")
	other := newSegment(t, s, tn, "e", domain.SegmentDynamic, "true")
	run := func(want map[string]bool, ids []string, cause string) {
		t.Helper()
		err := s.EvaluateSegments(ctx, tn.ID, domain.SegmentRun{CustomerIDs: ids, All: ids == nil, SegmentIDs: []string{sg.ID}, Now: t0, Cause: cause},
			func(b *domain.SegmentBatch) ([]domain.SegmentDecision, error) {
				if len(b.Segments) != 2 {
					t.Errorf("batch segments = %d, want 2", len(b.Segments))
				}
				return decideMembers(sg.ID, want, time.Time{})(b)
			})
		if err != nil {
			t.Fatal(err)
		}
	}
	run(map[string]bool{cs[0].ID: true, cs[1].ID: true}, nil, "first")
	run(map[string]bool{cs[0].ID: true, cs[1].ID: true}, nil, "again") // no change, no event
	run(map[string]bool{cs[2].ID: true}, []string{cs[1].ID, cs[2].ID}, "second")
	want := []string{cs[0].ID, cs[2].ID}
	slices.Sort(want)
	if got := memberIDs(t, s, tn, sg.ID); !slices.Equal(got, want) {
		t.Fatalf("members = %v, want %v", got, want)
	}
	if got := memberIDs(t, s, tn, other.ID); len(got) != 0 {
		t.Fatalf("a segment outside the run got members %v", got)
	}
	evs := allEvents(t, s, tn, domain.SegmentEventQuery{})
	var kinds []string
	for i, ev := range evs {
		if ev.Cursor != int64(i+1) || ev.SegmentID != sg.ID || !ev.Time.Equal(t0) {
			t.Errorf("event %d = %+v", i, ev)
		}
		kinds = append(kinds, ev.Kind.String()+" "+ev.Cause)
	}
	if w := []string{"entered first", "entered first", "exited second", "entered second"}; !slices.Equal(kinds, w) {
		t.Errorf("events = %v, want %v", kinds, w)
	}
	if evs[2].CustomerID != cs[1].ID || evs[3].CustomerID != cs[2].ID {
		t.Errorf("second run's events = %+v", evs[2:])
	}
	// Reading from a cursor, by customer and by segment.
	if got := allEvents(t, s, tn, domain.SegmentEventQuery{After: 2}); len(got) != 2 || got[0].Cursor != 3 {
		t.Errorf("after 2 = %+v", got)
	}
	if got := allEvents(t, s, tn, domain.SegmentEventQuery{CustomerID: cs[1].ID}); len(got) != 2 || got[1].Kind != domain.SegmentExited {
		t.Errorf("history of y = %+v", got)
	}
	if got := allEvents(t, s, tn, domain.SegmentEventQuery{SegmentIDs: []string{other.ID}}); len(got) != 0 {
		t.Errorf("events of the other segment = %+v", got)
	}
	if got, err := s.CustomerSegments(ctx, tn.ID, cs[0].ID); err != nil || !slices.Equal(got, []string{sg.ID}) {
		t.Errorf("CustomerSegments = %v, %v", got, err)
	}
	// A failing evaluation writes nothing.
	boom := errors.New("boom")
	err := s.EvaluateSegments(ctx, tn.ID, domain.SegmentRun{All: true, Now: t0}, func(*domain.SegmentBatch) ([]domain.SegmentDecision, error) { return nil, boom })
	if !errors.Is(err, boom) || len(allEvents(t, s, tn, domain.SegmentEventQuery{})) != 4 {
		t.Errorf("failed evaluation: %v", err)
	}
}

func testSegmentFacts(t *testing.T, s domain.Store) {
	ctx := t.Context()
	tn := newTenant(t, s)
	cs := newCustomers(t, s, tn, "x", "y")
	var its []domain.Interaction
	for i, at := range []time.Time{day(-100, 0), day(-60, 0), day(-10, 0), day(-1, 0)} {
		its = append(its, domain.Interaction{ID: domain.NewID(), TenantID: tn.ID, ExternalID: "i" + string(rune('0'+i)),
			Customer: domain.CustomerRef{ID: cs[0].ID}, Type: domain.InteractionCall, OccurredAt: at})
	}
	if _, err := s.RecordInteractions(ctx, tn.ID, its, domain.RecordOptions{}); err != nil {
		t.Fatal(err)
	}
	got := map[string]domain.SegmentFacts{}
	if err := s.ReadSegmentFacts(ctx, tn.ID, nil, day(0, 0), func(fs []domain.SegmentFacts) error {
		for _, f := range fs {
			got[f.Customer.ID] = f
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("facts of %d customers", len(got))
	}
	x := got[cs[0].ID]
	if w := []time.Time{day(-60, 0), day(-10, 0), day(-1, 0)}; !slices.EqualFunc(x.RecentInteractions, w, time.Time.Equal) {
		t.Errorf("recent interactions = %v, want %v", x.RecentInteractions, w)
	}
	if x.Customer.ExternalID != "x" || x.Customer.Engagement.Interactions != 4 || len(got[cs[1].ID].RecentInteractions) != 0 {
		t.Errorf("facts = %+v", x)
	}
}

func testSegmentStatic(t *testing.T, s domain.Store) {
	ctx := t.Context()
	tn := newTenant(t, s)
	cs := newCustomers(t, s, tn, "x", "y")
	sg := newSegment(t, s, tn, "s", domain.SegmentStatic, "")
	dyn := newSegment(t, s, tn, "d", domain.SegmentDynamic, "true")
	n, err := s.ChangeStaticMembers(ctx, tn.ID, sg.ID, []string{cs[0].ID, cs[1].ID, cs[0].ID, domain.NewID()}, nil, t0)
	if err != nil || n != 2 {
		t.Fatalf("add = %d, %v; want 2", n, err)
	}
	n, err = s.ChangeStaticMembers(ctx, tn.ID, sg.ID, []string{cs[0].ID}, []string{cs[1].ID}, t0)
	if err != nil || n != 1 {
		t.Fatalf("change = %d, %v; want 1", n, err)
	}
	if _, err := s.ChangeStaticMembers(ctx, tn.ID, dyn.ID, []string{cs[0].ID}, nil, t0); !errors.Is(err, domain.ErrFailedPrecondition) {
		t.Errorf("dynamic: %v, want ErrFailedPrecondition", err)
	}
	if got := memberIDs(t, s, tn, sg.ID); !slices.Equal(got, []string{cs[0].ID}) {
		t.Fatalf("members = %v", got)
	}
	if err := s.DeleteSegment(ctx, tn.ID, sg.ID, 0, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	evs := allEvents(t, s, tn, domain.SegmentEventQuery{})
	if len(evs) != 4 || evs[3].Kind != domain.SegmentExited || evs[3].CustomerID != cs[0].ID || !evs[3].Time.Equal(t0.Add(time.Hour)) {
		t.Errorf("events = %+v", evs)
	}
}

func testSegmentDue(t *testing.T, s domain.Store) {
	ctx := t.Context()
	tn := newTenant(t, s)
	cs := newCustomers(t, s, tn, "x", "y", "z")
	sg := newSegment(t, s, tn, "d", domain.SegmentDynamic, "true")
	for i, c := range cs {
		due := time.Time{}
		if i < 2 {
			due = day(i+1, 0)
		}
		if err := s.EvaluateSegments(ctx, tn.ID, domain.SegmentRun{CustomerIDs: []string{c.ID}, Now: t0},
			decideMembers(sg.ID, nil, due)); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		now  time.Time
		want []string
	}{{day(0, 0), nil}, {day(1, 0), []string{cs[0].ID}}, {day(5, 0), []string{cs[0].ID, cs[1].ID}}} {
		got, err := s.DueSegmentCustomers(ctx, tn.ID, tc.now, 10)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("due at %v = %v, %v; want %v", tc.now, got, err, tc.want)
		}
	}
	// Clearing a due time.
	if err := s.EvaluateSegments(ctx, tn.ID, domain.SegmentRun{CustomerIDs: []string{cs[0].ID}, Now: t0}, decideMembers(sg.ID, nil, time.Time{})); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.DueSegmentCustomers(ctx, tn.ID, day(5, 0), 10); !slices.Equal(got, []string{cs[1].ID}) {
		t.Errorf("due after clearing = %v", got)
	}
}

func testSegmentCursors(t *testing.T, s domain.Store) {
	ctx := t.Context()
	tn := newTenant(t, s)
	cs := newCustomers(t, s, tn, "a", "b", "c", "d", "e", "f")
	sg := newSegment(t, s, tn, "d", domain.SegmentDynamic, "true")
	var wg sync.WaitGroup
	for i, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for round := range 4 {
				want := map[string]bool{c.ID: (round+i)%2 == 0}
				if err := s.EvaluateSegments(ctx, tn.ID, domain.SegmentRun{CustomerIDs: []string{c.ID}, Now: t0}, decideMembers(sg.ID, want, time.Time{})); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	evs := allEvents(t, s, tn, domain.SegmentEventQuery{})
	in := map[string]bool{}
	for i, ev := range evs {
		if ev.Cursor != int64(i+1) {
			t.Fatalf("event %d has cursor %d", i, ev.Cursor)
		}
		if in[ev.CustomerID] == (ev.Kind == domain.SegmentEntered) {
			t.Fatalf("event %+v repeats the customer's state", ev)
		}
		in[ev.CustomerID] = ev.Kind == domain.SegmentEntered
	}
	if len(evs) != 6*4-3 { // three start outside and stay out in their first round
		t.Errorf("%d events, want 21", len(evs))
	}
}

func testSegmentIsolation(t *testing.T, s domain.Store) {
	ctx := t.Context()
	a, b := newTenant(t, s), newTenant(t, s)
	cs := newCustomers(t, s, a, "x", "y")
	sg := newSegment(t, s, a, "s", domain.SegmentStatic, "")
	if _, err := s.ChangeStaticMembers(ctx, a.ID, sg.ID, []string{cs[0].ID, cs[1].ID}, nil, t0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetSegment(ctx, b.ID, sg.ID); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("other tenant's segment: %v", err)
	}
	if _, err := s.ChangeStaticMembers(ctx, b.ID, sg.ID, nil, []string{cs[0].ID}, t0); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("other tenant's members: %v", err)
	}
	if evs := allEvents(t, s, b, domain.SegmentEventQuery{}); len(evs) != 0 {
		t.Errorf("other tenant's events: %+v", evs)
	}
	// Erasure takes the customer's memberships and events.
	if err := s.DeleteCustomer(ctx, a.ID, cs[0].ID); err != nil {
		t.Fatal(err)
	}
	if got := memberIDs(t, s, a, sg.ID); !slices.Equal(got, []string{cs[1].ID}) {
		t.Errorf("members after erasure = %v", got)
	}
	evs := allEvents(t, s, a, domain.SegmentEventQuery{})
	if len(evs) != 1 || evs[0].CustomerID != cs[1].ID {
		t.Errorf("events after erasure = %+v", evs)
	}
}

func testSegmentWake(t *testing.T, s domain.Store) {
	ctx := t.Context()
	tn := newTenant(t, s)
	cs := newCustomers(t, s, tn, "x")
	sg := newSegment(t, s, tn, "s", domain.SegmentStatic, "")
	wake, stop := s.SubscribeSegmentEvents(tn.ID)
	defer stop()
	// A store may wake once when it starts listening; drain that.
	time.Sleep(100 * time.Millisecond)
	select {
	case <-wake:
	default:
	}
	if _, err := s.ChangeStaticMembers(ctx, tn.ID, sg.ID, []string{cs[0].ID}, nil, t0); err != nil {
		t.Fatal(err)
	}
	select {
	case <-wake:
	case <-time.After(5 * time.Second):
		t.Error("no wake-up within 5 s of an appended event")
	}
}

func testSegmentAllFacts(t *testing.T, s domain.Store) {
	ctx := t.Context()
	tn := newTenant(t, s)
	var cs []domain.Customer
	for _, c := range []struct{ ext, country string }{{"x", "PL"}, {"y", "DE"}} {
		in := newCustomer(tn, c.ext)
		in.Country = c.country
		cs = append(cs, create(t, s, in))
	}
	sg := newSegment(t, s, tn, "pl", domain.SegmentDynamic, `customer.country == "PL"`)
	for _, c := range cs {
		if err := s.EvaluateSegments(ctx, tn.ID, domain.SegmentRun{CustomerIDs: []string{c.ID}, Now: t0}, decideMembers(sg.ID, nil, day(1, 0))); err != nil {
			t.Fatal(err)
		}
	}
	inPL := func(due time.Time) func(*domain.SegmentBatch) ([]domain.SegmentDecision, error) {
		return func(b *domain.SegmentBatch) ([]domain.SegmentDecision, error) {
			var out []domain.SegmentDecision
			for _, f := range b.Facts {
				d := domain.SegmentDecision{CustomerID: f.Customer.ID, Due: due}
				if f.Customer.Country == "PL" {
					d.Members = []string{sg.ID}
				}
				out = append(out, d)
			}
			return out, nil
		}
	}
	// KeepDue: the members change, the due times do not.
	run := domain.SegmentRun{All: true, SegmentIDs: []string{sg.ID}, Now: t0, Cause: "segment_changed", Facts: domain.FactCountry, KeepDue: true}
	if err := s.EvaluateSegments(ctx, tn.ID, run, inPL(time.Time{})); err != nil {
		t.Fatal(err)
	}
	if got := memberIDs(t, s, tn, sg.ID); !slices.Equal(got, []string{cs[0].ID}) {
		t.Errorf("members = %v, want x", got)
	}
	if got, err := s.DueSegmentCustomers(ctx, tn.ID, day(5, 0), 10); err != nil || len(got) != 2 {
		t.Errorf("due after a run that keeps them = %v, %v; want both", got, err)
	}
	// Without: y's is brought forward, x's is kept: the run evaluates one
	// segment, and another's rule may need it. A run of some segments
	// never postpones a due time either (an earlier one may be another
	// segment's re-evaluation, not yet done).
	run.KeepDue = false
	clearX := func(due time.Time) func(*domain.SegmentBatch) ([]domain.SegmentDecision, error) {
		return func(b *domain.SegmentBatch) ([]domain.SegmentDecision, error) {
			ds, err := inPL(due)(b)
			for i := range ds {
				if ds[i].CustomerID == cs[0].ID {
					ds[i].Due = time.Time{}
				}
			}
			return ds, err
		}
	}
	for _, due := range []time.Time{day(0, 12), day(3, 0)} {
		if err := s.EvaluateSegments(ctx, tn.ID, run, clearX(due)); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := s.DueSegmentCustomers(ctx, tn.ID, day(0, 12), 10); err != nil || !slices.Equal(got, []string{cs[1].ID}) {
		t.Errorf("due at day 0, noon = %v, %v; want y", got, err)
	}
	if got, err := s.DueSegmentCustomers(ctx, tn.ID, day(2, 0), 10); err != nil || !slices.Equal(got, []string{cs[1].ID, cs[0].ID}) {
		t.Errorf("due at day 2 = %v, %v; want y, x", got, err)
	}
	// A run of every segment clears x's, and sets y's as it decides.
	run.SegmentIDs = nil
	if err := s.EvaluateSegments(ctx, tn.ID, run, clearX(day(4, 0))); err != nil {
		t.Fatal(err)
	}
	if got, err := s.DueSegmentCustomers(ctx, tn.ID, day(3, 0), 10); err != nil || len(got) != 0 {
		t.Errorf("due at day 3 after a run of every segment = %v, %v; want none", got, err)
	}
	if got, err := s.DueSegmentCustomers(ctx, tn.ID, day(4, 0), 10); err != nil || !slices.Equal(got, []string{cs[1].ID}) {
		t.Errorf("due at day 4 = %v, %v; want y", got, err)
	}
	if evs := allEvents(t, s, tn, domain.SegmentEventQuery{}); len(evs) != 1 || evs[0].CustomerID != cs[0].ID || evs[0].Kind != domain.SegmentEntered {
		t.Errorf("events = %+v, want x entered once", evs)
	}
}
