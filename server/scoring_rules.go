package server

import (
	"context"

	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/potentialhq/potential/domain"
	scoringv1 "github.com/potentialhq/potential/gen/go/potential/scoring/v1"
)

// Scoring models, rules and scores: the methods of ScoringService that
// manage rules and read the points ledger.

// CreateScoringModel implements ScoringService.CreateScoringModel.
func (s *ScoringServer) CreateScoringModel(ctx context.Context, req *scoringv1.CreateScoringModelRequest) (*scoringv1.ScoringModel, error) {
	m := req.GetModel()
	out, err := s.svc.CreateScoringModel(ctx, domain.ScoringModel{Name: m.GetDisplayName(), Description: m.GetDescription()})
	if err != nil {
		return nil, err
	}
	return scoringModelToProto(&out), nil
}

// GetScoringModel implements ScoringService.GetScoringModel.
func (s *ScoringServer) GetScoringModel(ctx context.Context, req *scoringv1.GetScoringModelRequest) (*scoringv1.ScoringModel, error) {
	out, err := s.svc.GetScoringModel(ctx, req.GetId())
	if err != nil {
		return nil, err
	}
	return scoringModelToProto(&out), nil
}

// ListScoringModels implements ScoringService.ListScoringModels.
func (s *ScoringServer) ListScoringModels(ctx context.Context, _ *scoringv1.ListScoringModelsRequest) (*scoringv1.ListScoringModelsResponse, error) {
	ms, err := s.svc.ListScoringModels(ctx)
	if err != nil {
		return nil, err
	}
	resp := &scoringv1.ListScoringModelsResponse{}
	for i := range ms {
		resp.Models = append(resp.Models, scoringModelToProto(&ms[i]))
	}
	return resp, nil
}

// DeleteScoringModel implements ScoringService.DeleteScoringModel.
func (s *ScoringServer) DeleteScoringModel(ctx context.Context, req *scoringv1.DeleteScoringModelRequest) (*emptypb.Empty, error) {
	if err := s.svc.DeleteScoringModel(ctx, req.GetId()); err != nil {
		return nil, err
	}
	return &emptypb.Empty{}, nil
}

// CreateScoringRule implements ScoringService.CreateScoringRule.
func (s *ScoringServer) CreateScoringRule(ctx context.Context, req *scoringv1.CreateScoringRuleRequest) (*scoringv1.ScoringRule, error) {
	r, err := scoringRuleFromProto(req.GetRule())
	if err != nil {
		return nil, err
	}
	out, err := s.svc.CreateScoringRule(ctx, r)
	if err != nil {
		return nil, err
	}
	return scoringRuleToProto(&out), nil
}

// GetScoringRule implements ScoringService.GetScoringRule.
func (s *ScoringServer) GetScoringRule(ctx context.Context, req *scoringv1.GetScoringRuleRequest) (*scoringv1.ScoringRule, error) {
	out, err := s.svc.GetScoringRule(ctx, req.GetId())
	if err != nil {
		return nil, err
	}
	return scoringRuleToProto(&out), nil
}

// ListScoringRules implements ScoringService.ListScoringRules.
func (s *ScoringServer) ListScoringRules(ctx context.Context, req *scoringv1.ListScoringRulesRequest) (*scoringv1.ListScoringRulesResponse, error) {
	rs, err := s.svc.ListScoringRules(ctx, req.GetModelId())
	if err != nil {
		return nil, err
	}
	resp := &scoringv1.ListScoringRulesResponse{}
	for i := range rs {
		resp.Rules = append(resp.Rules, scoringRuleToProto(&rs[i]))
	}
	return resp, nil
}

// ListScoringRuleVersions implements ScoringService.ListScoringRuleVersions.
func (s *ScoringServer) ListScoringRuleVersions(ctx context.Context, req *scoringv1.ListScoringRuleVersionsRequest) (*scoringv1.ListScoringRuleVersionsResponse, error) {
	vs, err := s.svc.ScoringRuleVersions(ctx, req.GetId())
	if err != nil {
		return nil, err
	}
	resp := &scoringv1.ListScoringRuleVersionsResponse{}
	for i := range vs {
		resp.Versions = append(resp.Versions, scoringRuleToProto(&vs[i]))
	}
	return resp, nil
}

// UpdateScoringRule implements ScoringService.UpdateScoringRule.
func (s *ScoringServer) UpdateScoringRule(ctx context.Context, req *scoringv1.UpdateScoringRuleRequest) (*scoringv1.ScoringRule, error) {
	if req.GetRule().GetId() == "" {
		return nil, domain.Invalid("rule.id", "required: the id of the rule to update")
	}
	mutate, err := ruleMutation(req)
	if err != nil {
		return nil, err
	}
	out, err := s.svc.UpdateScoringRule(ctx, req.GetRule().GetId(), req.GetRule().GetEtag(), mutate)
	if err != nil {
		return nil, err
	}
	return scoringRuleToProto(&out), nil
}

// DeleteScoringRule implements ScoringService.DeleteScoringRule.
func (s *ScoringServer) DeleteScoringRule(ctx context.Context, req *scoringv1.DeleteScoringRuleRequest) (*emptypb.Empty, error) {
	if err := s.svc.DeleteScoringRule(ctx, req.GetId(), req.GetEtag()); err != nil {
		return nil, err
	}
	return &emptypb.Empty{}, nil
}

// PreviewRuleChange implements ScoringService.PreviewRuleChange.
func (s *ScoringServer) PreviewRuleChange(ctx context.Context, req *scoringv1.PreviewRuleChangeRequest) (*scoringv1.GradePreview, error) {
	var ch domain.RuleChange
	switch c := req.GetChange().(type) {
	case *scoringv1.PreviewRuleChangeRequest_Create:
		r, err := scoringRuleFromProto(c.Create)
		if err != nil {
			return nil, err
		}
		ch.Create = &r
	case *scoringv1.PreviewRuleChangeRequest_Update:
		if c.Update.GetRule().GetId() == "" {
			return nil, domain.Invalid("update.rule.id", "required: the id of the rule to change")
		}
		mutate, err := ruleMutation(c.Update)
		if err != nil {
			return nil, err
		}
		ch.Update, ch.Mutate = c.Update.GetRule().GetId(), mutate
	case *scoringv1.PreviewRuleChangeRequest_DeleteRuleId:
		ch.Delete = c.DeleteRuleId
	}
	p, err := s.svc.PreviewRuleChange(ctx, ch)
	if err != nil {
		return nil, err
	}
	return gradePreviewToProto(&p), nil
}

// GetScore implements ScoringService.GetScore.
func (s *ScoringServer) GetScore(ctx context.Context, req *scoringv1.GetScoreRequest) (*scoringv1.Score, error) {
	sc, err := s.svc.GetScore(ctx, domain.CustomerRef{ID: req.GetCustomerId(), ExternalID: req.GetExternalId()}, req.GetModelId(), toTime(req.GetAsOf()))
	if err != nil {
		return nil, err
	}
	return scoreToProto(&sc), nil
}

// ExplainScore implements ScoringService.ExplainScore.
func (s *ScoringServer) ExplainScore(ctx context.Context, req *scoringv1.ExplainScoreRequest) (*scoringv1.ExplainScoreResponse, error) {
	ex, err := s.svc.ExplainScore(ctx, domain.CustomerRef{ID: req.GetCustomerId(), ExternalID: req.GetExternalId()}, req.GetModelId(), toTime(req.GetAsOf()))
	if err != nil {
		return nil, err
	}
	resp := &scoringv1.ExplainScoreResponse{Score: scoreToProto(&ex.Score)}
	for i := range ex.Entries {
		resp.Entries = append(resp.Entries, ledgerEntryToProto(&ex.Entries[i]))
	}
	return resp, nil
}
