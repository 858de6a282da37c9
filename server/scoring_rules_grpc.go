package server

import (
	"context"

	"google.golang.org/protobuf/types/known/emptypb"

	scoringv1 "github.com/potentialhq/potential/gen/go/potential/scoring/v1"
)

// The scoring rule and grading methods on grpc-go: scoringGRPC embeds both
// *ScoringServer and UnimplementedScoringServiceServer, so each method
// names the shared implementation.

// CreateScoringModel resolves the ambiguity between the embedded types.
func (g scoringGRPC) CreateScoringModel(ctx context.Context, req *scoringv1.CreateScoringModelRequest) (*scoringv1.ScoringModel, error) {
	return g.ScoringServer.CreateScoringModel(ctx, req)
}

// GetScoringModel resolves the ambiguity between the embedded types.
func (g scoringGRPC) GetScoringModel(ctx context.Context, req *scoringv1.GetScoringModelRequest) (*scoringv1.ScoringModel, error) {
	return g.ScoringServer.GetScoringModel(ctx, req)
}

// ListScoringModels resolves the ambiguity between the embedded types.
func (g scoringGRPC) ListScoringModels(ctx context.Context, req *scoringv1.ListScoringModelsRequest) (*scoringv1.ListScoringModelsResponse, error) {
	return g.ScoringServer.ListScoringModels(ctx, req)
}

// DeleteScoringModel resolves the ambiguity between the embedded types.
func (g scoringGRPC) DeleteScoringModel(ctx context.Context, req *scoringv1.DeleteScoringModelRequest) (*emptypb.Empty, error) {
	return g.ScoringServer.DeleteScoringModel(ctx, req)
}

// CreateScoringRule resolves the ambiguity between the embedded types.
func (g scoringGRPC) CreateScoringRule(ctx context.Context, req *scoringv1.CreateScoringRuleRequest) (*scoringv1.ScoringRule, error) {
	return g.ScoringServer.CreateScoringRule(ctx, req)
}

// GetScoringRule resolves the ambiguity between the embedded types.
func (g scoringGRPC) GetScoringRule(ctx context.Context, req *scoringv1.GetScoringRuleRequest) (*scoringv1.ScoringRule, error) {
	return g.ScoringServer.GetScoringRule(ctx, req)
}

// ListScoringRules resolves the ambiguity between the embedded types.
func (g scoringGRPC) ListScoringRules(ctx context.Context, req *scoringv1.ListScoringRulesRequest) (*scoringv1.ListScoringRulesResponse, error) {
	return g.ScoringServer.ListScoringRules(ctx, req)
}

// ListScoringRuleVersions resolves the ambiguity between the embedded types.
func (g scoringGRPC) ListScoringRuleVersions(ctx context.Context, req *scoringv1.ListScoringRuleVersionsRequest) (*scoringv1.ListScoringRuleVersionsResponse, error) {
	return g.ScoringServer.ListScoringRuleVersions(ctx, req)
}

// UpdateScoringRule resolves the ambiguity between the embedded types.
func (g scoringGRPC) UpdateScoringRule(ctx context.Context, req *scoringv1.UpdateScoringRuleRequest) (*scoringv1.ScoringRule, error) {
	return g.ScoringServer.UpdateScoringRule(ctx, req)
}

// DeleteScoringRule resolves the ambiguity between the embedded types.
func (g scoringGRPC) DeleteScoringRule(ctx context.Context, req *scoringv1.DeleteScoringRuleRequest) (*emptypb.Empty, error) {
	return g.ScoringServer.DeleteScoringRule(ctx, req)
}

// PreviewRuleChange resolves the ambiguity between the embedded types.
func (g scoringGRPC) PreviewRuleChange(ctx context.Context, req *scoringv1.PreviewRuleChangeRequest) (*scoringv1.GradePreview, error) {
	return g.ScoringServer.PreviewRuleChange(ctx, req)
}

// GetScore resolves the ambiguity between the embedded types.
func (g scoringGRPC) GetScore(ctx context.Context, req *scoringv1.GetScoreRequest) (*scoringv1.Score, error) {
	return g.ScoringServer.GetScore(ctx, req)
}

// ExplainScore resolves the ambiguity between the embedded types.
func (g scoringGRPC) ExplainScore(ctx context.Context, req *scoringv1.ExplainScoreRequest) (*scoringv1.ExplainScoreResponse, error) {
	return g.ScoringServer.ExplainScore(ctx, req)
}

// GetGradeDistribution resolves the ambiguity between the embedded types.
func (g scoringGRPC) GetGradeDistribution(ctx context.Context, req *scoringv1.GetGradeDistributionRequest) (*scoringv1.GradeDistribution, error) {
	return g.ScoringServer.GetGradeDistribution(ctx, req)
}

// GetGradingPolicy resolves the ambiguity between the embedded types.
func (g scoringGRPC) GetGradingPolicy(ctx context.Context, req *scoringv1.GetGradingPolicyRequest) (*scoringv1.GradingPolicy, error) {
	return g.ScoringServer.GetGradingPolicy(ctx, req)
}

// UpdateGradingPolicy resolves the ambiguity between the embedded types.
func (g scoringGRPC) UpdateGradingPolicy(ctx context.Context, req *scoringv1.UpdateGradingPolicyRequest) (*scoringv1.GradingPolicy, error) {
	return g.ScoringServer.UpdateGradingPolicy(ctx, req)
}

// PreviewPolicyChange resolves the ambiguity between the embedded types.
func (g scoringGRPC) PreviewPolicyChange(ctx context.Context, req *scoringv1.PreviewPolicyChangeRequest) (*scoringv1.GradePreview, error) {
	return g.ScoringServer.PreviewPolicyChange(ctx, req)
}

// GetCustomerGrade resolves the ambiguity between the embedded types.
func (g scoringGRPC) GetCustomerGrade(ctx context.Context, req *scoringv1.GetCustomerGradeRequest) (*scoringv1.CustomerGrade, error) {
	return g.ScoringServer.GetCustomerGrade(ctx, req)
}

// ListGradeChanges resolves the ambiguity between the embedded types.
func (g scoringGRPC) ListGradeChanges(ctx context.Context, req *scoringv1.ListGradeChangesRequest) (*scoringv1.ListGradeChangesResponse, error) {
	return g.ScoringServer.ListGradeChanges(ctx, req)
}

// ListTopCustomers resolves the ambiguity between the embedded types.
func (g scoringGRPC) ListTopCustomers(ctx context.Context, req *scoringv1.ListTopCustomersRequest) (*scoringv1.ListTopCustomersResponse, error) {
	return g.ScoringServer.ListTopCustomers(ctx, req)
}
