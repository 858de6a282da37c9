package server_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/timestamppb"

	customerv1 "github.com/potentialhq/potential/gen/go/potential/customer/v1"
	segmentv1 "github.com/potentialhq/potential/gen/go/potential/segment/v1"
	"github.com/potentialhq/potential/gen/go/potential/segment/v1/segmentv1connect"
	"github.com/potentialhq/potential/store/pgtest"
	"github.com/potentialhq/potential/store/postgres"
)

// segClock is a settable clock shared by the servers of a test.
type segClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *segClock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *segClock) Set(t time.Time) { c.mu.Lock(); c.now = t; c.mu.Unlock() }

func segDay(n int) time.Time { return time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC).AddDate(0, 0, n) }

func (e *env) segmentClient(key string) segmentv1connect.SegmentServiceClient {
	return segmentv1connect.NewSegmentServiceClient(e.h2c, e.httpURL, connect.WithInterceptors(bearer(key)))
}

// watchEvents opens a watch over tr and returns the channel its events
// arrive on; the channel closes when the stream ends.
func (e *env) watchEvents(ctx context.Context, t *testing.T, tr transport, req *segmentv1.WatchSegmentEventsRequest) <-chan *segmentv1.SegmentEvent {
	t.Helper()
	out := make(chan *segmentv1.SegmentEvent, 100)
	switch tr {
	case viaGRPC:
		ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+adminKey)
		stream, err := segmentv1.NewSegmentServiceClient(e.conn).WatchSegmentEvents(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			defer close(out)
			for {
				m, err := stream.Recv()
				if err != nil {
					return
				}
				out <- m.GetEvent()
			}
		}()
	default:
		stream, err := e.segmentClient(adminKey).WatchSegmentEvents(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			defer close(out)
			defer stream.Close()
			for stream.Receive() {
				out <- stream.Msg().GetEvent()
			}
		}()
	}
	return out
}

func nextEvent(t *testing.T, ch <-chan *segmentv1.SegmentEvent) *segmentv1.SegmentEvent {
	t.Helper()
	select {
	case ev, ok := <-ch:
		if !ok {
			t.Fatal("the watch ended")
		}
		return ev
	case <-time.After(10 * time.Second):
		t.Fatal("no event within 10 s")
	}
	return nil
}

func noEvent(t *testing.T, ch <-chan *segmentv1.SegmentEvent, wait time.Duration) {
	t.Helper()
	select {
	case ev := <-ch:
		t.Fatalf("unexpected event %v", ev)
	case <-time.After(wait):
	}
}

// TestSegmentWatchAcceptance runs the acceptance over grpc-go and
// connect-go streaming clients, with two servers (each with its own
// connection pool) on one PostgreSQL database: the watcher is connected to
// server A and every write goes through server B. A month without
// interactions or orders moves the customer into a "low engagement" rule
// segment (entered); a new order moves it out (exited); a watcher that
// disconnects and resumes from its last cursor gets every event exactly
// once.
func TestSegmentWatchAcceptance(t *testing.T) {
	t.Parallel()
	for _, tr := range []transport{viaGRPC, viaConnect} {
		t.Run(string(tr), func(t *testing.T) {
			t.Parallel()
			url := pgtest.NewDatabase(t, postgres.MigrationsHash(), postgres.Migrate)
			clock := &segClock{now: segDay(0)}
			open := func() *postgres.Store {
				s, err := postgres.Open(t.Context(), url)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(s.Close)
				return s
			}
			a, b := startClock(t, open(), clock.Now), startClock(t, open(), clock.Now)
			ctx := t.Context()
			customers := b.client(viaConnect, adminKey)
			order := func(ext string, day int) {
				t.Helper()
				if _, err := customers.RecordTransactions(ctx, &customerv1.RecordTransactionsRequest{CreateMissingCustomers: true,
					Transactions: []*customerv1.Transaction{{ExternalId: ext, Customer: byExt("c1"), Kind: customerv1.TransactionKind_TRANSACTION_KIND_ORDER,
						Amount: "100", OccurredAt: timestamppb.New(segDay(day))}}}); err != nil {
					t.Fatal(err)
				}
			}
			order("o1", 0)
			if _, err := customers.RecordInteractions(ctx, &customerv1.RecordInteractionsRequest{Interactions: []*customerv1.Interaction{
				{ExternalId: "i1", Customer: byExt("c1"), Type: customerv1.InteractionType_INTERACTION_TYPE_CALL, OccurredAt: timestamppb.New(segDay(0))},
			}}); err != nil {
				t.Fatal(err)
			}
			c1, err := customers.GetCustomer(ctx, &customerv1.GetCustomerRequest{Ref: &customerv1.GetCustomerRequest_ExternalId{ExternalId: "c1"}})
			if err != nil {
				t.Fatal(err)
			}
			segs := b.segmentClient(adminKey)
			_, err = segs.CreateSegment(ctx, &segmentv1.CreateSegmentRequest{Segment: &segmentv1.Segment{
				Name: "bad", Kind: segmentv1.SegmentKind_SEGMENT_KIND_DYNAMIC, Rule: "interactions.last_30_days == \"none\""}})
			wantRulePosition(t, err)
			sg, err := segs.CreateSegment(ctx, &segmentv1.CreateSegmentRequest{Segment: &segmentv1.Segment{
				Name: "low engagement", Kind: segmentv1.SegmentKind_SEGMENT_KIND_DYNAMIC,
				Rule: "interactions.last_30_days == 0 && days_since_last_purchase >= 30",
			}})
			if err != nil {
				t.Fatal(err)
			}
			watchCtx, stop := context.WithCancel(ctx)
			w1 := a.watchEvents(watchCtx, t, tr, &segmentv1.WatchSegmentEventsRequest{SegmentIds: []string{sg.GetId()}})
			noEvent(t, w1, 200*time.Millisecond)

			// A month passes; the scheduler's call (through B) moves c1 in.
			tenant := tenantOf(t, b)
			clock.Set(segDay(31))
			if _, err := b.svc.EvaluateDueSegments(ctx, tenant); err != nil {
				t.Fatal(err)
			}
			var got []*segmentv1.SegmentEvent
			ev := nextEvent(t, w1)
			if ev.GetKind() != segmentv1.SegmentEventKind_SEGMENT_EVENT_KIND_ENTERED || ev.GetCustomerId() != c1.GetId() || ev.GetCause() != "time" {
				t.Fatalf("first event %v, want c1 entered", ev)
			}
			got = append(got, ev)

			// A new order moves it out.
			order("o2", 31)
			ev = nextEvent(t, w1)
			if ev.GetKind() != segmentv1.SegmentEventKind_SEGMENT_EVENT_KIND_EXITED || ev.GetCustomerId() != c1.GetId() {
				t.Fatalf("second event %v, want c1 exited", ev)
			}
			got = append(got, ev)

			// Disconnect; events happen meanwhile; resume from the last
			// cursor received.
			stop()
			for range w1 {
			}
			clock.Set(segDay(62))
			if _, err := b.svc.EvaluateDueSegments(ctx, tenant); err != nil {
				t.Fatal(err)
			}
			order("o3", 62)
			w2 := a.watchEvents(ctx, t, tr, &segmentv1.WatchSegmentEventsRequest{SegmentIds: []string{sg.GetId()}, AfterCursor: got[len(got)-1].GetCursor()})
			got = append(got, nextEvent(t, w2), nextEvent(t, w2))
			clock.Set(segDay(93))
			if _, err := b.svc.EvaluateDueSegments(ctx, tenant); err != nil {
				t.Fatal(err)
			}
			got = append(got, nextEvent(t, w2))
			noEvent(t, w2, 300*time.Millisecond)

			// Exactly the log, in order, without gaps or duplicates.
			log, err := a.segmentClient(adminKey).ListSegmentEvents(ctx, &segmentv1.ListSegmentEventsRequest{SegmentIds: []string{sg.GetId()}, PageSize: 100})
			if err != nil {
				t.Fatal(err)
			}
			var want, have []string
			for _, ev := range log.GetEvents() {
				want = append(want, fmt.Sprintf("%d %s", ev.GetCursor(), ev.GetKind()))
			}
			for _, ev := range got {
				have = append(have, fmt.Sprintf("%d %s", ev.GetCursor(), ev.GetKind()))
			}
			kinds := []string{"ENTERED", "EXITED", "ENTERED", "EXITED", "ENTERED"}
			if !slices.Equal(have, want) || len(have) != len(kinds) {
				t.Fatalf("received %v, log %v", have, want)
			}
			for i, k := range kinds {
				if got[i].GetKind().String() != "SEGMENT_EVENT_KIND_"+k {
					t.Errorf("event %d: %v, want %s", i, got[i], k)
				}
			}
		})
	}
}

// wantRulePosition checks that err is InvalidArgument on segment.rule with
// the position of the error.
func wantRulePosition(t *testing.T, err error) {
	t.Helper()
	var ce *connect.Error
	if !errors.As(err, &ce) || ce.Code() != connect.CodeInvalidArgument {
		t.Fatalf("bad rule: %v, want InvalidArgument", err)
	}
	for _, d := range ce.Details() {
		v, derr := d.Value()
		if br, ok := v.(*errdetails.BadRequest); ok && derr == nil {
			for _, fv := range br.GetFieldViolations() {
				if fv.GetField() == "segment.rule" && len(fv.GetDescription()) > 0 && fv.GetDescription()[:7] == "line 1," {
					return
				}
			}
		}
	}
	t.Fatalf("bad rule: %v, want a violation of segment.rule with its position", err)
}
