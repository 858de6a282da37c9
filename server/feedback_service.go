package server

import (
	"context"

	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/potentialhq/potential/domain"
	feedbackv1 "github.com/potentialhq/potential/gen/go/potential/feedback/v1"
	"github.com/potentialhq/potential/gen/go/potential/feedback/v1/feedbackv1connect"
)

// FeedbackServer implements potential.feedback.v1.FeedbackService for both
// grpc-go and connect-go.
type FeedbackServer struct {
	feedbackv1.UnimplementedFeedbackServiceServer
	svc *domain.Service
}

var (
	_ feedbackv1.FeedbackServiceServer         = (*FeedbackServer)(nil)
	_ feedbackv1connect.FeedbackServiceHandler = (*FeedbackServer)(nil)
)

// SubmitFeedback implements FeedbackService.SubmitFeedback.
func (s *FeedbackServer) SubmitFeedback(ctx context.Context, req *feedbackv1.SubmitFeedbackRequest) (*feedbackv1.SubmitFeedbackResponse, error) {
	f, created, err := s.svc.SubmitFeedback(ctx, feedbackFromProto(req.GetFeedback()))
	if err != nil {
		return nil, err
	}
	return &feedbackv1.SubmitFeedbackResponse{Feedback: feedbackToProto(&f), Created: created}, nil
}

// GetFeedback implements FeedbackService.GetFeedback.
func (s *FeedbackServer) GetFeedback(ctx context.Context, req *feedbackv1.GetFeedbackRequest) (*feedbackv1.Feedback, error) {
	f, err := s.svc.GetFeedback(ctx, req.GetId())
	if err != nil {
		return nil, err
	}
	return feedbackToProto(&f), nil
}

// ListFeedback implements FeedbackService.ListFeedback.
func (s *FeedbackServer) ListFeedback(ctx context.Context, req *feedbackv1.ListFeedbackRequest) (*feedbackv1.ListFeedbackResponse, error) {
	r := domain.ListFeedbackRequest{
		Topic:     req.GetTopic(),
		StartTime: toTime(req.GetStartTime()),
		EndTime:   toTime(req.GetEndTime()),
		PageSize:  int(req.GetPageSize()),
		PageToken: req.GetPageToken(),
	}
	if req.GetCustomer() != nil {
		r.Customer = refFromProto(req.GetCustomer())
	}
	for _, k := range req.GetKinds() {
		r.Kinds = append(r.Kinds, feedbackKind(k))
	}
	for _, st := range req.GetStatuses() {
		r.Statuses = append(r.Statuses, complaintStatus(st))
	}
	rows, next, err := s.svc.ListFeedback(ctx, r)
	if err != nil {
		return nil, err
	}
	resp := &feedbackv1.ListFeedbackResponse{NextPageToken: next, Feedback: make([]*feedbackv1.Feedback, len(rows))}
	for i := range rows {
		resp.Feedback[i] = feedbackToProto(&rows[i])
	}
	return resp, nil
}

// TransitionComplaint implements FeedbackService.TransitionComplaint.
func (s *FeedbackServer) TransitionComplaint(ctx context.Context, req *feedbackv1.TransitionComplaintRequest) (*feedbackv1.Feedback, error) {
	f, err := s.svc.TransitionComplaint(ctx, domain.TransitionRequest{
		ID:        req.GetId(),
		To:        complaintStatus(req.GetStatus()),
		Note:      req.GetNote(),
		RequestID: req.GetRequestId(),
		ETag:      req.GetEtag(),
	})
	if err != nil {
		return nil, err
	}
	return feedbackToProto(&f), nil
}

// GetFeedbackSummary implements FeedbackService.GetFeedbackSummary.
func (s *FeedbackServer) GetFeedbackSummary(ctx context.Context, req *feedbackv1.GetFeedbackSummaryRequest) (*feedbackv1.FeedbackSummary, error) {
	sum, err := s.svc.FeedbackSummary(ctx, domain.FeedbackSummaryRequest{
		CustomerIDs: req.GetCustomerIds(),
		Topics:      req.GetTopics(),
		StartTime:   toTime(req.GetStartTime()),
		EndTime:     toTime(req.GetEndTime()),
		TimeZone:    req.GetTimeZone(),
	})
	if err != nil {
		return nil, err
	}
	return summaryToProto(&sum), nil
}

// CreateTopicRule implements FeedbackService.CreateTopicRule.
func (s *FeedbackServer) CreateTopicRule(ctx context.Context, req *feedbackv1.CreateTopicRuleRequest) (*feedbackv1.TopicRule, error) {
	r, err := s.svc.CreateTopicRule(ctx, domain.TopicRule{Topic: req.GetTopicRule().GetTopic(), Keywords: req.GetTopicRule().GetKeywords()})
	if err != nil {
		return nil, err
	}
	return topicRuleToProto(&r), nil
}

// GetTopicRule implements FeedbackService.GetTopicRule.
func (s *FeedbackServer) GetTopicRule(ctx context.Context, req *feedbackv1.GetTopicRuleRequest) (*feedbackv1.TopicRule, error) {
	r, err := s.svc.GetTopicRule(ctx, req.GetTopic())
	if err != nil {
		return nil, err
	}
	return topicRuleToProto(&r), nil
}

// ListTopicRules implements FeedbackService.ListTopicRules.
func (s *FeedbackServer) ListTopicRules(ctx context.Context, _ *feedbackv1.ListTopicRulesRequest) (*feedbackv1.ListTopicRulesResponse, error) {
	rs, err := s.svc.ListTopicRules(ctx)
	if err != nil {
		return nil, err
	}
	resp := &feedbackv1.ListTopicRulesResponse{TopicRules: make([]*feedbackv1.TopicRule, len(rs))}
	for i := range rs {
		resp.TopicRules[i] = topicRuleToProto(&rs[i])
	}
	return resp, nil
}

// UpdateTopicRule implements FeedbackService.UpdateTopicRule.
func (s *FeedbackServer) UpdateTopicRule(ctx context.Context, req *feedbackv1.UpdateTopicRuleRequest) (*feedbackv1.TopicRule, error) {
	p := req.GetTopicRule()
	r, err := s.svc.UpdateTopicRule(ctx, domain.TopicRule{Topic: p.GetTopic(), Keywords: p.GetKeywords()}, p.GetEtag())
	if err != nil {
		return nil, err
	}
	return topicRuleToProto(&r), nil
}

// DeleteTopicRule implements FeedbackService.DeleteTopicRule.
func (s *FeedbackServer) DeleteTopicRule(ctx context.Context, req *feedbackv1.DeleteTopicRuleRequest) (*emptypb.Empty, error) {
	if err := s.svc.DeleteTopicRule(ctx, req.GetTopic()); err != nil {
		return nil, err
	}
	return &emptypb.Empty{}, nil
}
