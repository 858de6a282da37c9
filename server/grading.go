package server

import (
	"context"

	"github.com/potentialhq/potential/domain"
	scoringv1 "github.com/potentialhq/potential/gen/go/potential/scoring/v1"
)

// Grading: the methods of ScoringService for the grading policy, grades,
// their history and ranked lists.

// GetGradingPolicy implements ScoringService.GetGradingPolicy.
func (s *ScoringServer) GetGradingPolicy(ctx context.Context, _ *scoringv1.GetGradingPolicyRequest) (*scoringv1.GradingPolicy, error) {
	p, err := s.svc.GetGradingPolicy(ctx)
	if err != nil {
		return nil, err
	}
	return policyToProto(&p), nil
}

// UpdateGradingPolicy implements ScoringService.UpdateGradingPolicy.
func (s *ScoringServer) UpdateGradingPolicy(ctx context.Context, req *scoringv1.UpdateGradingPolicyRequest) (*scoringv1.GradingPolicy, error) {
	p, err := policyFromProto(req.GetPolicy())
	if err != nil {
		return nil, err
	}
	out, err := s.svc.UpdateGradingPolicy(ctx, p, req.GetPolicy().GetEtag())
	if err != nil {
		return nil, err
	}
	return policyToProto(&out), nil
}

// PreviewPolicyChange implements ScoringService.PreviewPolicyChange.
func (s *ScoringServer) PreviewPolicyChange(ctx context.Context, req *scoringv1.PreviewPolicyChangeRequest) (*scoringv1.GradePreview, error) {
	p, err := policyFromProto(req.GetPolicy())
	if err != nil {
		return nil, err
	}
	out, err := s.svc.PreviewPolicyChange(ctx, p)
	if err != nil {
		return nil, err
	}
	return gradePreviewToProto(&out), nil
}

// GetCustomerGrade implements ScoringService.GetCustomerGrade.
func (s *ScoringServer) GetCustomerGrade(ctx context.Context, req *scoringv1.GetCustomerGradeRequest) (*scoringv1.CustomerGrade, error) {
	g, err := s.svc.GetCustomerGrade(ctx, domain.CustomerRef{ID: req.GetCustomerId(), ExternalID: req.GetExternalId()})
	if err != nil {
		return nil, err
	}
	return customerGradeToProto(&g.Grade, g.Explanation), nil
}

// ListGradeChanges implements ScoringService.ListGradeChanges.
func (s *ScoringServer) ListGradeChanges(ctx context.Context, req *scoringv1.ListGradeChangesRequest) (*scoringv1.ListGradeChangesResponse, error) {
	cs, next, err := s.svc.ListGradeChanges(ctx, domain.ListGradeChangesRequest{
		Customer: domain.CustomerRef{ID: req.GetCustomerId(), ExternalID: req.GetExternalId()},
		PageSize: int(req.GetPageSize()), PageToken: req.GetPageToken(),
	})
	if err != nil {
		return nil, err
	}
	resp := &scoringv1.ListGradeChangesResponse{NextPageToken: next}
	for i := range cs {
		resp.Changes = append(resp.Changes, gradeChangeToProto(&cs[i]))
	}
	return resp, nil
}

// ListTopCustomers implements ScoringService.ListTopCustomers.
func (s *ScoringServer) ListTopCustomers(ctx context.Context, req *scoringv1.ListTopCustomersRequest) (*scoringv1.ListTopCustomersResponse, error) {
	order := topOrderEnum.domain(req.GetOrderBy())
	if order == "" {
		order = domain.TopByScore
	}
	top, err := s.svc.ListTopCustomers(ctx, domain.ListTopCustomersRequest{
		Order: order, ModelID: req.GetModelId(), PageSize: int(req.GetPageSize()), PageToken: req.GetPageToken(),
		Action: req.GetAction(),
	})
	if err != nil {
		return nil, err
	}
	resp := &scoringv1.ListTopCustomersResponse{NextPageToken: top.NextPageToken}
	if top.Model != nil {
		resp.ModelId = top.Model.ID
	}
	for i := range top.Customers {
		resp.Customers = append(resp.Customers, topCustomerToProto(&top.Customers[i]))
	}
	return resp, nil
}

// GetGradeDistribution implements ScoringService.GetGradeDistribution.
func (s *ScoringServer) GetGradeDistribution(ctx context.Context, _ *scoringv1.GetGradeDistributionRequest) (*scoringv1.GradeDistribution, error) {
	d, err := s.svc.GradeDistribution(ctx)
	if err != nil {
		return nil, err
	}
	out := &scoringv1.GradeDistribution{PolicyVersion: d.PolicyVersion, Customers: d.Customers}
	for _, g := range d.Grades {
		out.Grades = append(out.Grades, &scoringv1.GradeCount{Grade: g.Grade, Customers: g.Customers})
	}
	return out, nil
}
