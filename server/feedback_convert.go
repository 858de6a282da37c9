package server

import (
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/potentialhq/potential/domain"
	customerv1 "github.com/potentialhq/potential/gen/go/potential/customer/v1"
	feedbackv1 "github.com/potentialhq/potential/gen/go/potential/feedback/v1"
)

var (
	feedbackKindEnum = newEnumMap(map[feedbackv1.FeedbackKind]domain.FeedbackKind{
		feedbackv1.FeedbackKind_FEEDBACK_KIND_COMPLAINT:  domain.FeedbackComplaint,
		feedbackv1.FeedbackKind_FEEDBACK_KIND_SUGGESTION: domain.FeedbackSuggestion,
		feedbackv1.FeedbackKind_FEEDBACK_KIND_PRAISE:     domain.FeedbackPraise,
		feedbackv1.FeedbackKind_FEEDBACK_KIND_QUESTION:   domain.FeedbackQuestion,
		feedbackv1.FeedbackKind_FEEDBACK_KIND_RATING:     domain.FeedbackRating,
		feedbackv1.FeedbackKind_FEEDBACK_KIND_NPS:        domain.FeedbackNPS,
	})
	complaintStatusEnum = newEnumMap(map[feedbackv1.ComplaintStatus]domain.ComplaintStatus{
		feedbackv1.ComplaintStatus_COMPLAINT_STATUS_OPEN:                 domain.ComplaintOpen,
		feedbackv1.ComplaintStatus_COMPLAINT_STATUS_IN_PROGRESS:          domain.ComplaintInProgress,
		feedbackv1.ComplaintStatus_COMPLAINT_STATUS_RESOLVED_JUSTIFIED:   domain.ComplaintResolvedJustified,
		feedbackv1.ComplaintStatus_COMPLAINT_STATUS_RESOLVED_UNJUSTIFIED: domain.ComplaintResolvedUnjustified,
		feedbackv1.ComplaintStatus_COMPLAINT_STATUS_WITHDRAWN:            domain.ComplaintWithdrawn,
	})
	topicSourceEnum = newEnumMap(map[feedbackv1.TopicSource]domain.TopicSource{
		feedbackv1.TopicSource_TOPIC_SOURCE_CLIENT: domain.TopicFromClient,
		feedbackv1.TopicSource_TOPIC_SOURCE_RULE:   domain.TopicFromRule,
	})
)

// feedbackKind converts a kind; an unknown number (which protovalidate
// rejects before) stays unknown for the domain to reject with a reason.
func feedbackKind(k feedbackv1.FeedbackKind) domain.FeedbackKind {
	if d := feedbackKindEnum.domain(k); d != "" || k == 0 {
		return d
	}
	return domain.FeedbackKind(k.String())
}

func complaintStatus(s feedbackv1.ComplaintStatus) domain.ComplaintStatus {
	if d := complaintStatusEnum.domain(s); d != "" || s == 0 {
		return d
	}
	return domain.ComplaintStatus(s.String())
}

// feedbackFromProto converts the client-set fields of p.
func feedbackFromProto(p *feedbackv1.Feedback) domain.Feedback {
	f := domain.Feedback{
		ExternalID: p.GetExternalId(),
		Customer:   refFromProto(p.GetCustomer()),
		Kind:       feedbackKind(p.GetKind()),
		Channel:    p.GetChannel(),
		Topic:      p.GetTopic(),
		Text:       p.GetText(),
		OccurredAt: toTime(p.GetOccurredAt()),
	}
	if p.Score != nil {
		f.Score, f.HasScore = int(p.GetScore()), true
	}
	return f
}

func feedbackToProto(f *domain.Feedback) *feedbackv1.Feedback {
	p := &feedbackv1.Feedback{
		Id:          f.ID,
		ExternalId:  f.ExternalID,
		Customer:    &customerv1.CustomerRef{Ref: &customerv1.CustomerRef_Id{Id: f.CustomerID}},
		Kind:        feedbackKindEnum.proto(f.Kind),
		Channel:     f.Channel,
		Topic:       f.Topic,
		TopicSource: topicSourceEnum.proto(f.TopicSource),
		Text:        f.Text,
		OccurredAt:  fromTime(f.OccurredAt),
		CreateTime:  fromTime(f.CreateTime),
		UpdateTime:  fromTime(f.UpdateTime),
		Status:      complaintStatusEnum.proto(f.Status),
		ResolveTime: fromTime(f.ResolveTime),
		Etag:        domain.FeedbackETag(f.Version),
	}
	if f.HasScore {
		score := int32(f.Score)
		p.Score = &score
	}
	for _, t := range f.Transitions {
		p.Transitions = append(p.Transitions, &feedbackv1.ComplaintTransition{
			Seq:        int32(t.Seq),
			FromStatus: complaintStatusEnum.proto(t.From),
			Status:     complaintStatusEnum.proto(t.To),
			Note:       t.Note,
			Actor:      t.Actor,
			RequestId:  t.RequestID,
			Time:       fromTime(t.Time),
		})
	}
	return p
}

func topicRuleToProto(r *domain.TopicRule) *feedbackv1.TopicRule {
	return &feedbackv1.TopicRule{
		Topic:      r.Topic,
		Keywords:   r.Keywords,
		CreateTime: fromTime(r.CreateTime),
		UpdateTime: fromTime(r.UpdateTime),
		Etag:       domain.ETag(r.Version),
	}
}

func durationOrNil(d time.Duration, any bool) *durationpb.Duration {
	if !any {
		return nil
	}
	return durationpb.New(d)
}

func npsToProto(n domain.NPSStats) *feedbackv1.NpsStats {
	p := &feedbackv1.NpsStats{Responses: n.Responses, Promoters: n.Promoters, Passives: n.Passives, Detractors: n.Detractors}
	if n.Responses > 0 {
		score := n.Score()
		p.Score = &score
	}
	return p
}

func csatToProto(c domain.CSATStats) *feedbackv1.CsatStats {
	p := &feedbackv1.CsatStats{Responses: c.Responses}
	if c.Responses > 0 {
		avg, sat := c.Average(), c.SatisfiedPercent()
		p.Average, p.SatisfiedPercent = &avg, &sat
	}
	for i, n := range c.Distribution {
		p.Distribution = append(p.Distribution, &feedbackv1.RatingCount{Rating: int32(i + 1), Count: n})
	}
	return p
}

// kindCounts lists counts in the order of domain.FeedbackKinds, kinds with
// none left out.
func kindCounts(m map[domain.FeedbackKind]int64) []*feedbackv1.KindCount {
	var out []*feedbackv1.KindCount
	for _, k := range domain.FeedbackKinds {
		if n := m[k]; n > 0 {
			out = append(out, &feedbackv1.KindCount{Kind: feedbackKindEnum.proto(k), Count: n})
		}
	}
	return out
}

// statusCounts lists counts in workflow order, statuses with none left out.
func statusCounts(m map[domain.ComplaintStatus]int64) []*feedbackv1.StatusCount {
	var out []*feedbackv1.StatusCount
	for _, s := range domain.ComplaintStatuses {
		if n := m[s]; n > 0 {
			out = append(out, &feedbackv1.StatusCount{Status: complaintStatusEnum.proto(s), Count: n})
		}
	}
	return out
}

func summaryToProto(s *domain.FeedbackSummary) *feedbackv1.FeedbackSummary {
	p := &feedbackv1.FeedbackSummary{
		StartTime: timestamppb.New(s.Start),
		EndTime:   timestamppb.New(s.End),
		TimeZone:  s.Location.String(),
		Counts:    kindCounts(s.Counts),
		Nps:       npsToProto(s.NPS),
		Csat:      csatToProto(s.CSAT),
		Complaints: &feedbackv1.ComplaintStats{
			Opened:              s.Complaints.Opened,
			ByStatus:            statusCounts(s.Complaints.ByStatus),
			Resolved:            s.Complaints.Resolved,
			MedianTimeToResolve: durationOrNil(s.Complaints.MedianTimeToResolve, s.Complaints.Resolved > 0),
		},
	}
	for _, tc := range s.Complaints.ByTopic {
		p.Complaints.ByTopic = append(p.Complaints.ByTopic, &feedbackv1.TopicComplaints{Topic: tc.Topic, Total: tc.Total, ByStatus: statusCounts(tc.ByStatus)})
	}
	for _, w := range s.Weeks {
		p.Weeks = append(p.Weeks, &feedbackv1.WeekSummary{
			Week:                w.Label(),
			IsoYear:             int32(w.Year),
			IsoWeek:             int32(w.Week),
			StartTime:           timestamppb.New(w.Start),
			Counts:              kindCounts(w.Counts),
			Nps:                 npsToProto(w.NPS),
			Csat:                csatToProto(w.CSAT),
			ComplaintsOpened:    w.ComplaintsOpened,
			ComplaintsResolved:  w.ComplaintsResolved,
			MedianTimeToResolve: durationOrNil(w.MedianTimeToResolve, w.ComplaintsResolved > 0),
		})
	}
	return p
}
