package server_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/potentialhq/potential/domain"
	customerv1 "github.com/potentialhq/potential/gen/go/potential/customer/v1"
	"github.com/potentialhq/potential/gen/go/potential/customer/v1/customerv1connect"
	feedbackv1 "github.com/potentialhq/potential/gen/go/potential/feedback/v1"
	"github.com/potentialhq/potential/gen/go/potential/feedback/v1/feedbackv1connect"
	"github.com/potentialhq/potential/store/memory"
)

// feedbackClient returns a FeedbackService client over t that sends key.
func (e *env) feedbackClient(t transport, key string) feedbackv1connect.FeedbackServiceClient {
	opts := []connect.ClientOption{connect.WithInterceptors(sendKey(key))}
	switch t {
	case viaGRPC:
		return grpcFeedback{c: feedbackv1.NewFeedbackServiceClient(e.conn), g: grpcClient{key: key}}
	case viaConnectJSON:
		opts = append(opts, connect.WithProtoJSON())
	case viaConnectGRPC:
		opts = append(opts, connect.WithGRPC())
	case viaGRPCWeb:
		opts = append(opts, connect.WithGRPCWeb())
	}
	return feedbackv1connect.NewFeedbackServiceClient(e.h2c, e.httpURL, opts...)
}

// grpcFeedback adapts the grpc-go client to connect's client interface.
type grpcFeedback struct {
	c feedbackv1.FeedbackServiceClient
	g grpcClient
}

func (g grpcFeedback) SubmitFeedback(ctx context.Context, r *feedbackv1.SubmitFeedbackRequest) (*feedbackv1.SubmitFeedbackResponse, error) {
	return call(ctx, g.g, g.c.SubmitFeedback, r)
}
func (g grpcFeedback) GetFeedback(ctx context.Context, r *feedbackv1.GetFeedbackRequest) (*feedbackv1.Feedback, error) {
	return call(ctx, g.g, g.c.GetFeedback, r)
}
func (g grpcFeedback) ListFeedback(ctx context.Context, r *feedbackv1.ListFeedbackRequest) (*feedbackv1.ListFeedbackResponse, error) {
	return call(ctx, g.g, g.c.ListFeedback, r)
}
func (g grpcFeedback) TransitionComplaint(ctx context.Context, r *feedbackv1.TransitionComplaintRequest) (*feedbackv1.Feedback, error) {
	return call(ctx, g.g, g.c.TransitionComplaint, r)
}
func (g grpcFeedback) GetFeedbackSummary(ctx context.Context, r *feedbackv1.GetFeedbackSummaryRequest) (*feedbackv1.FeedbackSummary, error) {
	return call(ctx, g.g, g.c.GetFeedbackSummary, r)
}
func (g grpcFeedback) CreateTopicRule(ctx context.Context, r *feedbackv1.CreateTopicRuleRequest) (*feedbackv1.TopicRule, error) {
	return call(ctx, g.g, g.c.CreateTopicRule, r)
}
func (g grpcFeedback) GetTopicRule(ctx context.Context, r *feedbackv1.GetTopicRuleRequest) (*feedbackv1.TopicRule, error) {
	return call(ctx, g.g, g.c.GetTopicRule, r)
}
func (g grpcFeedback) ListTopicRules(ctx context.Context, r *feedbackv1.ListTopicRulesRequest) (*feedbackv1.ListTopicRulesResponse, error) {
	return call(ctx, g.g, g.c.ListTopicRules, r)
}
func (g grpcFeedback) UpdateTopicRule(ctx context.Context, r *feedbackv1.UpdateTopicRuleRequest) (*feedbackv1.TopicRule, error) {
	return call(ctx, g.g, g.c.UpdateTopicRule, r)
}
func (g grpcFeedback) DeleteTopicRule(ctx context.Context, r *feedbackv1.DeleteTopicRuleRequest) (*emptypb.Empty, error) {
	return call(ctx, g.g, g.c.DeleteTopicRule, r)
}

// forEachFeedback runs body for every store × transport pair, each on a
// fresh server with customers c1 and c2.
func forEachFeedback(t *testing.T, body func(t *testing.T, e *env, c feedbackv1connect.FeedbackServiceClient, customers customerv1connect.CustomerServiceClient)) {
	for _, st := range stores() {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			for _, tr := range transports {
				t.Run(string(tr), func(t *testing.T) {
					e := start(t, st.open(t))
					customers := e.client(tr, adminKey)
					for _, ext := range []string{"c1", "c2"} {
						if _, err := customers.CreateCustomer(t.Context(), &customerv1.CreateCustomerRequest{Customer: &customerv1.Customer{ExternalId: ext}}); err != nil {
							t.Fatal(err)
						}
					}
					body(t, e, e.feedbackClient(tr, adminKey), customers)
				})
			}
		})
	}
}

func fbAt(s string) *timestamppb.Timestamp { return timestamppb.New(ts(s)) }

func score(n int32) *int32 { return &n }

// newFeedback returns a request's feedback of customer ext.
func newFeedback(id, customer string, kind feedbackv1.FeedbackKind, at string) *feedbackv1.Feedback {
	return &feedbackv1.Feedback{ExternalId: id, Customer: byExt(customer), Kind: kind, Channel: "email", OccurredAt: fbAt(at)}
}

func submitFeedback(t *testing.T, c feedbackv1connect.FeedbackServiceClient, f *feedbackv1.Feedback) *feedbackv1.Feedback {
	t.Helper()
	resp, err := c.SubmitFeedback(t.Context(), &feedbackv1.SubmitFeedbackRequest{Feedback: f})
	if err != nil {
		t.Fatalf("SubmitFeedback(%s): %v", f.GetExternalId(), err)
	}
	return resp.GetFeedback()
}

// wantReasonDetail fails unless err is InvalidArgument with a BadRequest
// violation of field (exactly) with reason.
func wantReasonDetail(tb testing.TB, err error, field, reason string) {
	tb.Helper()
	wantCode(tb, err, connect.CodeInvalidArgument)
	var ce *connect.Error
	if !errors.As(err, &ce) {
		tb.Fatalf("not a connect error: %v", err)
	}
	var got []string
	for _, d := range ce.Details() {
		v, err := d.Value()
		if err != nil {
			continue
		}
		if br, ok := v.(*errdetails.BadRequest); ok {
			for _, fv := range br.GetFieldViolations() {
				if fv.GetField() == field && fv.GetReason() == reason {
					return
				}
				got = append(got, fv.GetField()+" "+fv.GetReason())
			}
		}
	}
	tb.Fatalf("no violation of %s with reason %s (got %v; error %v)", field, reason, got, err)
}

// wantPrecondition fails unless err is FailedPrecondition naming reason.
func wantPrecondition(tb testing.TB, err error, reason string) {
	tb.Helper()
	wantCode(tb, err, connect.CodeFailedPrecondition)
	if !strings.Contains(err.Error(), reason) {
		tb.Fatalf("%v does not name the reason %s", err, reason)
	}
}

func getFeedback(t *testing.T, c feedbackv1connect.FeedbackServiceClient, id string) *feedbackv1.Feedback {
	t.Helper()
	f, err := c.GetFeedback(t.Context(), &feedbackv1.GetFeedbackRequest{Id: id})
	if err != nil {
		t.Fatalf("GetFeedback: %v", err)
	}
	return f
}

func TestFeedbackSubmitAndResend(t *testing.T) {
	forEachFeedback(t, func(t *testing.T, e *env, c feedbackv1connect.FeedbackServiceClient, _ customerv1connect.CustomerServiceClient) {
		ctx := t.Context()
		f := newFeedback("zd-1", "c1", feedbackv1.FeedbackKind_FEEDBACK_KIND_COMPLAINT, "2026-01-05T08:00:00Z")
		f.Text, f.Topic = "Reklamacja: paczka uszkodzona", "Delivery"
		resp, err := c.SubmitFeedback(ctx, &feedbackv1.SubmitFeedbackRequest{Feedback: f})
		if err != nil || !resp.GetCreated() {
			t.Fatalf("submit: %v, %v", resp, err)
		}
		stored := resp.GetFeedback()
		if stored.GetId() == "" || stored.GetStatus() != feedbackv1.ComplaintStatus_COMPLAINT_STATUS_OPEN || stored.GetTopic() != "delivery" ||
			stored.GetTopicSource() != feedbackv1.TopicSource_TOPIC_SOURCE_CLIENT || stored.GetCustomer().GetId() == "" || stored.Score != nil {
			t.Fatalf("stored: %v", stored)
		}
		// Resending changes nothing.
		for range 2 {
			again, err := c.SubmitFeedback(ctx, &feedbackv1.SubmitFeedbackRequest{Feedback: f})
			if err != nil || again.GetCreated() || !proto.Equal(again.GetFeedback(), stored) {
				t.Fatalf("resend: %v, %v", again, err)
			}
		}
		// The same id with other content is refused.
		other := proto.Clone(f).(*feedbackv1.Feedback)
		other.Text = "changed"
		_, err = c.SubmitFeedback(ctx, &feedbackv1.SubmitFeedbackRequest{Feedback: other})
		wantReasonDetail(t, err, "feedback.external_id", domain.ReasonRequestIDReused)

		// Bad input names the field and the reason, and stores nothing.
		rating := func(id string, s *int32) *feedbackv1.Feedback {
			r := newFeedback(id, "c1", feedbackv1.FeedbackKind_FEEDBACK_KIND_RATING, "2026-01-05T08:00:00Z")
			r.Score = s
			return r
		}
		for _, tc := range []struct {
			f             *feedbackv1.Feedback
			field, reason string
		}{
			{rating("r1", score(6)), "feedback.score", domain.ReasonScoreOutOfRange},
			{rating("r2", score(0)), "feedback.score", domain.ReasonScoreOutOfRange},
			{rating("r3", nil), "feedback.score", domain.ReasonScoreRequired},
			{rating("r4", score(11)), "feedback.score", "INT32_GTE_LTE"},
			{newFeedback("k1", "c1", feedbackv1.FeedbackKind(99), "2026-01-05T08:00:00Z"), "feedback.kind", "ENUM_DEFINED_ONLY"},
			{newFeedback("k2", "c1", feedbackv1.FeedbackKind_FEEDBACK_KIND_UNSPECIFIED, "2026-01-05T08:00:00Z"), "feedback.kind", "ENUM_NOT_IN"},
			{newFeedback("u1", "nobody", feedbackv1.FeedbackKind_FEEDBACK_KIND_PRAISE, "2026-01-05T08:00:00Z"), "feedback.customer", domain.ReasonCustomerNotFound},
		} {
			_, err := c.SubmitFeedback(ctx, &feedbackv1.SubmitFeedbackRequest{Feedback: tc.f})
			wantReasonDetail(t, err, tc.field, tc.reason)
		}
		list, err := c.ListFeedback(ctx, &feedbackv1.ListFeedbackRequest{})
		if err != nil || len(list.GetFeedback()) != 1 || !proto.Equal(list.GetFeedback()[0], stored) {
			t.Fatalf("stored after the refusals: %v, %v", list, err)
		}
		// An NPS of 0 is a score.
		n := newFeedback("n0", "c2", feedbackv1.FeedbackKind_FEEDBACK_KIND_NPS, "2026-01-05T08:00:00Z")
		n.Score = score(0)
		if got := submitFeedback(t, c, n); got.Score == nil || got.GetScore() != 0 {
			t.Fatalf("nps 0: %v", got)
		}
		_, err = c.GetFeedback(ctx, &feedbackv1.GetFeedbackRequest{Id: domain.NewID()})
		wantCode(t, err, connect.CodeNotFound)
	})
}

func TestComplaintWorkflow(t *testing.T) {
	forEachFeedback(t, func(t *testing.T, e *env, c feedbackv1connect.FeedbackServiceClient, _ customerv1connect.CustomerServiceClient) {
		ctx := t.Context()
		f := submitFeedback(t, c, newFeedback("zd-2", "c1", feedbackv1.FeedbackKind_FEEDBACK_KIND_COMPLAINT, "2026-01-05T08:00:00Z"))
		move := func(status feedbackv1.ComplaintStatus, note, requestID string) (*feedbackv1.Feedback, error) {
			return c.TransitionComplaint(ctx, &feedbackv1.TransitionComplaintRequest{Id: f.GetId(), Status: status, Note: note, RequestId: requestID})
		}
		// refused checks a refusal and that the complaint is unchanged.
		refused := func(status feedbackv1.ComplaintStatus, note, requestID string, check func(error)) {
			t.Helper()
			before := getFeedback(t, c, f.GetId())
			_, err := move(status, note, requestID)
			check(err)
			if after := getFeedback(t, c, f.GetId()); !proto.Equal(before, after) {
				t.Fatalf("a refused transition changed the complaint:\n%v\n%v", before, after)
			}
		}
		started, err := move(feedbackv1.ComplaintStatus_COMPLAINT_STATUS_IN_PROGRESS, "", "")
		if err != nil {
			t.Fatal(err)
		}
		refused(feedbackv1.ComplaintStatus_COMPLAINT_STATUS_RESOLVED_UNJUSTIFIED, "", "", func(err error) {
			wantReasonDetail(t, err, "note", domain.ReasonNoteRequired)
		})
		refused(feedbackv1.ComplaintStatus_COMPLAINT_STATUS_OPEN, "why", "", func(err error) { wantPrecondition(t, err, domain.ReasonComplaintNotEnded) })
		resolved, err := move(feedbackv1.ComplaintStatus_COMPLAINT_STATUS_RESOLVED_UNJUSTIFIED, "Tracking shows delivery on time", "close-zd-2")
		if err != nil {
			t.Fatal(err)
		}
		tr := resolved.GetTransitions()
		if resolved.GetStatus() != feedbackv1.ComplaintStatus_COMPLAINT_STATUS_RESOLVED_UNJUSTIFIED || len(tr) != 2 || resolved.GetResolveTime() == nil ||
			tr[1].GetActor() != "test" || tr[1].GetFromStatus() != feedbackv1.ComplaintStatus_COMPLAINT_STATUS_IN_PROGRESS ||
			tr[1].GetNote() != "Tracking shows delivery on time" || tr[1].GetRequestId() != "close-zd-2" || tr[1].GetTime() == nil ||
			!proto.Equal(tr[0], started.GetTransitions()[0]) || resolved.GetEtag() == started.GetEtag() {
			t.Fatalf("resolved: %v", resolved)
		}
		// No resolving twice; a retry of the same request is answered unchanged.
		refused(feedbackv1.ComplaintStatus_COMPLAINT_STATUS_RESOLVED_JUSTIFIED, "other verdict", "", func(err error) { wantPrecondition(t, err, domain.ReasonAlreadyResolved) })
		refused(feedbackv1.ComplaintStatus_COMPLAINT_STATUS_RESOLVED_UNJUSTIFIED, "Tracking shows delivery on time", "", func(err error) {
			wantPrecondition(t, err, domain.ReasonAlreadyResolved)
		})
		again, err := move(feedbackv1.ComplaintStatus_COMPLAINT_STATUS_RESOLVED_UNJUSTIFIED, "Tracking shows delivery on time", "close-zd-2")
		if err != nil || !proto.Equal(again, resolved) {
			t.Fatalf("retried request: %v, %v", again, err)
		}
		refused(feedbackv1.ComplaintStatus_COMPLAINT_STATUS_WITHDRAWN, "", "close-zd-2", func(err error) {
			wantReasonDetail(t, err, "request_id", domain.ReasonRequestIDReused)
		})
		refused(feedbackv1.ComplaintStatus_COMPLAINT_STATUS_IN_PROGRESS, "", "", func(err error) { wantPrecondition(t, err, domain.ReasonComplaintClosed) })
		refused(feedbackv1.ComplaintStatus_COMPLAINT_STATUS_OPEN, "", "", func(err error) { wantReasonDetail(t, err, "note", domain.ReasonNoteRequired) })
		refused(feedbackv1.ComplaintStatus(42), "x", "", func(err error) { wantReasonDetail(t, err, "status", "ENUM_DEFINED_ONLY") })
		// A stale etag is Aborted; reopening with a reason works.
		_, err = c.TransitionComplaint(ctx, &feedbackv1.TransitionComplaintRequest{Id: f.GetId(), Status: feedbackv1.ComplaintStatus_COMPLAINT_STATUS_OPEN, Note: "new photos", Etag: started.GetEtag()})
		wantCode(t, err, connect.CodeAborted)
		reopened, err := c.TransitionComplaint(ctx, &feedbackv1.TransitionComplaintRequest{Id: f.GetId(), Status: feedbackv1.ComplaintStatus_COMPLAINT_STATUS_OPEN, Note: "new photos", Etag: resolved.GetEtag()})
		if err != nil || reopened.GetStatus() != feedbackv1.ComplaintStatus_COMPLAINT_STATUS_OPEN || reopened.GetResolveTime() != nil || len(reopened.GetTransitions()) != 3 {
			t.Fatalf("reopened: %v, %v", reopened, err)
		}
		// Praise has no workflow.
		p := submitFeedback(t, c, newFeedback("p1", "c1", feedbackv1.FeedbackKind_FEEDBACK_KIND_PRAISE, "2026-01-05T08:00:00Z"))
		_, err = c.TransitionComplaint(ctx, &feedbackv1.TransitionComplaintRequest{Id: p.GetId(), Status: feedbackv1.ComplaintStatus_COMPLAINT_STATUS_WITHDRAWN})
		wantPrecondition(t, err, domain.ReasonNotAComplaint)
		_, err = c.TransitionComplaint(ctx, &feedbackv1.TransitionComplaintRequest{Id: domain.NewID(), Status: feedbackv1.ComplaintStatus_COMPLAINT_STATUS_WITHDRAWN})
		wantCode(t, err, connect.CodeNotFound)
		// The resolution is one scoring event, however often it was sent.
		evs, err := e.svc.Store().FeedbackEvents(ctx, reopenedTenant(t, e), reopened.GetCustomer().GetId())
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range evs {
			if strings.HasPrefix(ev.Kind, "complaint_resolved") {
				t.Fatalf("a reopened complaint still lists its resolution: %+v", ev)
			}
		}
	})
}

// reopenedTenant returns the tenant of the test server's admin key.
func reopenedTenant(t *testing.T, e *env) string {
	t.Helper()
	p, err := e.svc.Authenticate(t.Context(), adminKey)
	if err != nil {
		t.Fatal(err)
	}
	return p.TenantID
}

func TestFeedbackSummaryAndTopics(t *testing.T) {
	forEachFeedback(t, func(t *testing.T, e *env, c feedbackv1connect.FeedbackServiceClient, customers customerv1connect.CustomerServiceClient) {
		ctx := t.Context()
		for _, r := range []*feedbackv1.TopicRule{
			{Topic: "Delivery", Keywords: []string{"dostaw", "Lieferung", "late deliver"}},
			{Topic: "complaint-process", Keywords: []string{"reklamac"}},
		} {
			if _, err := c.CreateTopicRule(ctx, &feedbackv1.CreateTopicRuleRequest{TopicRule: r}); err != nil {
				t.Fatal(err)
			}
		}
		// Hand computation, weeks in Europe/Warsaw (UTC+1):
		//   2026-W01 (2025-12-29 .. 2026-01-04): NPS 10, 9, 3 → P=2 D=1 N=3, NPS = 100·(2−1)/3 = 33.33;
		//     ratings 5, 2 → average 3.5, satisfied 50 %; complaint "Reklamacja dostawy" (topic complaint-process).
		//   2026-W02 (2026-01-05 .. 2026-01-11): NPS 0 at 2026-01-04T23:30Z (00:30 Monday in Warsaw)
		//     → N=1 D=1, NPS −100; complaint "Lieferung verspätet" (delivery).
		//   All: P=2 Pa=0 D=2 N=4 → NPS 0; ratings 5, 2 → 3.5; 2 complaints, none resolved in the period.
		nps := func(id, customer string, s int32, at string) {
			f := newFeedback(id, customer, feedbackv1.FeedbackKind_FEEDBACK_KIND_NPS, at)
			f.Score = score(s)
			submitFeedback(t, c, f)
		}
		nps("n1", "c1", 10, "2025-12-29T09:00:00Z")
		nps("n2", "c2", 9, "2026-01-01T12:00:00Z")
		nps("n3", "c1", 3, "2026-01-03T12:00:00Z")
		nps("n4", "c2", 0, "2026-01-04T23:30:00Z")
		for i, s := range []int32{5, 2} {
			f := newFeedback(fmt.Sprint("r", i), "c1", feedbackv1.FeedbackKind_FEEDBACK_KIND_RATING, "2026-01-02T12:00:00Z")
			f.Score = score(s)
			submitFeedback(t, c, f)
		}
		pl := newFeedback("zd-pl", "c1", feedbackv1.FeedbackKind_FEEDBACK_KIND_COMPLAINT, "2026-01-02T12:00:00Z")
		pl.Text = "Reklamacja dostawy"
		if got := submitFeedback(t, c, pl); got.GetTopic() != "complaint-process" || got.GetTopicSource() != feedbackv1.TopicSource_TOPIC_SOURCE_RULE {
			t.Fatalf("Polish complaint topic: %v", got)
		}
		de := newFeedback("zd-de", "c2", feedbackv1.FeedbackKind_FEEDBACK_KIND_COMPLAINT, "2026-01-05T08:00:00Z")
		de.Text = "Lieferung VERSPÄTET!"
		deStored := submitFeedback(t, c, de)
		if deStored.GetTopic() != "delivery" {
			t.Fatalf("German complaint topic: %v", deStored)
		}
		// Resolved now (the server's clock is the real one): after the period.
		if _, err := c.TransitionComplaint(ctx, &feedbackv1.TransitionComplaintRequest{Id: deStored.GetId(), Status: feedbackv1.ComplaintStatus_COMPLAINT_STATUS_RESOLVED_JUSTIFIED, Note: "refunded"}); err != nil {
			t.Fatal(err)
		}
		sum, err := c.GetFeedbackSummary(ctx, &feedbackv1.GetFeedbackSummaryRequest{StartTime: fbAt("2025-12-28T23:00:00Z"), EndTime: fbAt("2026-01-11T23:00:00Z"), TimeZone: "Europe/Warsaw"})
		if err != nil {
			t.Fatal(err)
		}
		if n := sum.GetNps(); n.GetResponses() != 4 || n.GetPromoters() != 2 || n.GetDetractors() != 2 || n.Score == nil || n.GetScore() != 0 {
			t.Errorf("NPS: %v", n)
		}
		if cs := sum.GetCsat(); cs.GetResponses() != 2 || cs.GetAverage() != 3.5 || cs.GetSatisfiedPercent() != 50 || len(cs.GetDistribution()) != 5 ||
			cs.GetDistribution()[1].GetCount() != 1 || cs.GetDistribution()[4].GetCount() != 1 || cs.GetDistribution()[4].GetRating() != 5 {
			t.Errorf("CSAT: %v", cs)
		}
		if cp := sum.GetComplaints(); cp.GetOpened() != 2 || len(cp.GetByTopic()) != 2 || cp.GetByTopic()[0].GetTopic() != "complaint-process" || cp.GetResolved() != 0 {
			t.Errorf("complaints: %v", cp) // resolved now, after the period
		}
		w := sum.GetWeeks()
		if sum.GetTimeZone() != "Europe/Warsaw" || len(w) != 2 || w[0].GetWeek() != "2026-W01" || w[1].GetWeek() != "2026-W02" ||
			!w[0].GetStartTime().AsTime().Equal(ts("2025-12-28T23:00:00Z")) || w[0].GetIsoYear() != 2026 || w[0].GetIsoWeek() != 1 {
			t.Fatalf("weeks: %v", w)
		}
		if n := w[0].GetNps(); n.GetResponses() != 3 || math.Abs(n.GetScore()-100.0/3) > 1e-9 {
			t.Errorf("W01 NPS: %v", n)
		}
		if n := w[1].GetNps(); n.GetResponses() != 1 || n.GetScore() != -100 || w[1].GetComplaintsOpened() != 1 || w[0].GetComplaintsOpened() != 1 {
			t.Errorf("W02: %v", w[1])
		}
		if w[1].GetCsat().Average != nil || w[1].GetMedianTimeToResolve() != nil {
			t.Errorf("W02 has no ratings and no resolutions: %v", w[1])
		}
		// The same period in UTC puts the 23:30 answer in W01.
		utc, err := c.GetFeedbackSummary(ctx, &feedbackv1.GetFeedbackSummaryRequest{StartTime: fbAt("2025-12-29T00:00:00Z"), EndTime: fbAt("2026-01-12T00:00:00Z")})
		if err != nil || utc.GetTimeZone() != "UTC" || utc.GetWeeks()[0].GetNps().GetResponses() != 4 {
			t.Fatalf("UTC summary: %v, %v", utc.GetWeeks(), err)
		}
		// Filters: a customer, a topic.
		c2, err := customers.GetCustomer(ctx, &customerv1.GetCustomerRequest{Ref: &customerv1.GetCustomerRequest_ExternalId{ExternalId: "c2"}})
		if err != nil {
			t.Fatal(err)
		}
		one, err := c.GetFeedbackSummary(ctx, &feedbackv1.GetFeedbackSummaryRequest{CustomerIds: []string{c2.GetId()}, StartTime: fbAt("2025-12-29T00:00:00Z"), EndTime: fbAt("2026-01-12T00:00:00Z")})
		if err != nil || one.GetNps().GetResponses() != 2 || one.GetComplaints().GetOpened() != 1 || one.GetCsat().GetResponses() != 0 {
			t.Fatalf("c2's summary: %v, %v", one, err)
		}
		topic, err := c.GetFeedbackSummary(ctx, &feedbackv1.GetFeedbackSummaryRequest{Topics: []string{"DELIVERY"}, StartTime: fbAt("2025-12-29T00:00:00Z"), EndTime: fbAt("2026-01-12T00:00:00Z")})
		if err != nil || topic.GetComplaints().GetOpened() != 1 || topic.GetNps().GetResponses() != 0 {
			t.Fatalf("delivery summary: %v, %v", topic, err)
		}
		// Including now, the resolution counts, with its median time.
		now, err := c.GetFeedbackSummary(ctx, &feedbackv1.GetFeedbackSummaryRequest{StartTime: fbAt("2025-12-29T00:00:00Z"), EndTime: timestamppb.New(time.Now().Add(time.Hour))})
		if err != nil || now.GetComplaints().GetResolved() != 1 || now.GetComplaints().GetMedianTimeToResolve() == nil {
			t.Fatalf("summary up to now: %v, %v", now.GetComplaints(), err)
		}
		_, err = c.GetFeedbackSummary(ctx, &feedbackv1.GetFeedbackSummaryRequest{TimeZone: "Europe/Atlantis"})
		wantReasonDetail(t, err, "time_zone", domain.ReasonUnknownTimeZone)

		// Topic rules: read, update with etags, delete.
		rules, err := c.ListTopicRules(ctx, &feedbackv1.ListTopicRulesRequest{})
		if err != nil || len(rules.GetTopicRules()) != 2 || rules.GetTopicRules()[1].GetTopic() != "delivery" {
			t.Fatalf("rules: %v, %v", rules, err)
		}
		d := rules.GetTopicRules()[1]
		_, err = c.CreateTopicRule(ctx, &feedbackv1.CreateTopicRuleRequest{TopicRule: &feedbackv1.TopicRule{Topic: "delivery", Keywords: []string{"x"}}})
		wantCode(t, err, connect.CodeAlreadyExists)
		up, err := c.UpdateTopicRule(ctx, &feedbackv1.UpdateTopicRuleRequest{TopicRule: &feedbackv1.TopicRule{Topic: "Delivery", Keywords: []string{"przesyłk"}, Etag: d.GetEtag()}})
		if err != nil || up.GetKeywords()[0] != "przesyłk" || up.GetEtag() == d.GetEtag() {
			t.Fatalf("update: %v, %v", up, err)
		}
		_, err = c.UpdateTopicRule(ctx, &feedbackv1.UpdateTopicRuleRequest{TopicRule: &feedbackv1.TopicRule{Topic: "delivery", Keywords: []string{"y"}, Etag: d.GetEtag()}})
		wantCode(t, err, connect.CodeAborted)
		_, err = c.CreateTopicRule(ctx, &feedbackv1.CreateTopicRuleRequest{TopicRule: &feedbackv1.TopicRule{Topic: "x", Keywords: []string{"!!"}}})
		wantReasonDetail(t, err, "topic_rule.keywords[0]", "")
		if _, err := c.DeleteTopicRule(ctx, &feedbackv1.DeleteTopicRuleRequest{Topic: "delivery"}); err != nil {
			t.Fatal(err)
		}
		_, err = c.GetTopicRule(ctx, &feedbackv1.GetTopicRuleRequest{Topic: "delivery"})
		wantCode(t, err, connect.CodeNotFound)
	})
}

func TestListFeedback(t *testing.T) {
	forEachFeedback(t, func(t *testing.T, e *env, c feedbackv1connect.FeedbackServiceClient, _ customerv1connect.CustomerServiceClient) {
		ctx := t.Context()
		kinds := []feedbackv1.FeedbackKind{feedbackv1.FeedbackKind_FEEDBACK_KIND_COMPLAINT, feedbackv1.FeedbackKind_FEEDBACK_KIND_PRAISE, feedbackv1.FeedbackKind_FEEDBACK_KIND_QUESTION}
		for i := range 9 {
			f := newFeedback(fmt.Sprint("f", i), []string{"c1", "c2"}[i%2], kinds[i%3], fmt.Sprintf("2026-01-%02dT10:00:00Z", i+1))
			f.Topic = []string{"app", "delivery"}[i%2]
			submitFeedback(t, c, f)
		}
		page := func(r *feedbackv1.ListFeedbackRequest) []string {
			t.Helper()
			var ids []string
			for {
				resp, err := c.ListFeedback(ctx, r)
				if err != nil {
					t.Fatal(err)
				}
				for _, f := range resp.GetFeedback() {
					ids = append(ids, f.GetExternalId())
				}
				if resp.GetNextPageToken() == "" {
					return ids
				}
				r.PageToken = resp.GetNextPageToken()
			}
		}
		for _, tc := range []struct {
			r    *feedbackv1.ListFeedbackRequest
			want string
		}{
			{&feedbackv1.ListFeedbackRequest{PageSize: 2}, "f8 f7 f6 f5 f4 f3 f2 f1 f0"},
			{&feedbackv1.ListFeedbackRequest{PageSize: 2, Customer: byExt("c1")}, "f8 f6 f4 f2 f0"},
			{&feedbackv1.ListFeedbackRequest{PageSize: 1, Kinds: []feedbackv1.FeedbackKind{feedbackv1.FeedbackKind_FEEDBACK_KIND_COMPLAINT}}, "f6 f3 f0"},
			{&feedbackv1.ListFeedbackRequest{Statuses: []feedbackv1.ComplaintStatus{feedbackv1.ComplaintStatus_COMPLAINT_STATUS_OPEN}, Topic: "Delivery"}, "f3"},
			{&feedbackv1.ListFeedbackRequest{PageSize: 2, StartTime: fbAt("2026-01-03T10:00:00Z"), EndTime: fbAt("2026-01-06T10:00:00Z")}, "f4 f3 f2"},
		} {
			if got := strings.Join(page(tc.r), " "); got != tc.want {
				t.Errorf("list %v: %s, want %s", tc.r, got, tc.want)
			}
		}
		first, err := c.ListFeedback(ctx, &feedbackv1.ListFeedbackRequest{PageSize: 2})
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.ListFeedback(ctx, &feedbackv1.ListFeedbackRequest{PageSize: 2, Topic: "app", PageToken: first.GetNextPageToken()})
		wantField(t, err, "page_token")
		_, err = c.ListFeedback(ctx, &feedbackv1.ListFeedbackRequest{Customer: byExt("nobody")})
		wantCode(t, err, connect.CodeNotFound)
	})
}

// TestFeedbackRoles: sales and ingest submit; sales, analysts and admins
// read; only admins move complaints and manage topic rules.
func TestFeedbackRoles(t *testing.T) {
	e := start(t, memory.New())
	ctx := t.Context()
	tenant := reopenedTenant(t, e)
	if _, err := e.client(viaConnect, adminKey).CreateCustomer(ctx, &customerv1.CreateCustomerRequest{Customer: &customerv1.Customer{ExternalId: "c1"}}); err != nil {
		t.Fatal(err)
	}
	keys := map[domain.Role]string{}
	for _, role := range []domain.Role{domain.RoleAnalyst, domain.RoleSales, domain.RoleIngest} {
		_, text, err := e.svc.CreateKey(domain.WithPrincipal(ctx, domain.CommandLine(tenant)), string(role), role, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		keys[role] = text
	}
	complaint := submitFeedback(t, e.feedbackClient(viaConnect, adminKey), newFeedback("zd-r", "c1", feedbackv1.FeedbackKind_FEEDBACK_KIND_COMPLAINT, "2026-01-05T08:00:00Z"))
	for _, tc := range []struct {
		role                                   domain.Role
		submit, read, transition, manageTopics bool
	}{
		{domain.RoleSales, true, true, false, false},
		{domain.RoleIngest, true, false, false, false},
		{domain.RoleAnalyst, false, true, false, false},
	} {
		for _, tr := range []transport{viaGRPC, viaConnect} {
			c := e.feedbackClient(tr, keys[tc.role])
			check := func(what string, allowed bool, err error) {
				t.Helper()
				if denied := connect.CodeOf(err) == connect.CodePermissionDenied; denied == allowed {
					t.Errorf("%s %s over %s: %v (allowed %v)", tc.role, what, tr, err, allowed)
				}
			}
			_, err := c.SubmitFeedback(ctx, &feedbackv1.SubmitFeedbackRequest{Feedback: newFeedback("fb-"+string(tc.role)+string(tr), "c1", feedbackv1.FeedbackKind_FEEDBACK_KIND_PRAISE, "2026-01-05T08:00:00Z")})
			check("submit", tc.submit, err)
			_, err = c.GetFeedback(ctx, &feedbackv1.GetFeedbackRequest{Id: complaint.GetId()})
			check("get", tc.read, err)
			_, err = c.ListFeedback(ctx, &feedbackv1.ListFeedbackRequest{})
			check("list", tc.read, err)
			_, err = c.GetFeedbackSummary(ctx, &feedbackv1.GetFeedbackSummaryRequest{})
			check("summary", tc.read, err)
			_, err = c.TransitionComplaint(ctx, &feedbackv1.TransitionComplaintRequest{Id: complaint.GetId(), Status: feedbackv1.ComplaintStatus_COMPLAINT_STATUS_IN_PROGRESS})
			check("transition", tc.transition, err)
			_, err = c.CreateTopicRule(ctx, &feedbackv1.CreateTopicRuleRequest{TopicRule: &feedbackv1.TopicRule{Topic: "t", Keywords: []string{"k"}}})
			check("create topic rule", tc.manageTopics, err)
		}
	}
	if got := getFeedback(t, e.feedbackClient(viaConnect, adminKey), complaint.GetId()); len(got.GetTransitions()) != 0 {
		t.Fatalf("a denied transition happened: %v", got)
	}
}
