package server

import (
	"context"

	"github.com/potentialhq/potential/domain"
	scoringv1 "github.com/potentialhq/potential/gen/go/potential/scoring/v1"
)

// Next best action: the methods of ScoringService for the action table,
// and the conversions of actions.

// GetActionTable implements ScoringService.GetActionTable.
func (s *ScoringServer) GetActionTable(ctx context.Context, _ *scoringv1.GetActionTableRequest) (*scoringv1.ActionTable, error) {
	t, err := s.svc.GetActionTable(ctx)
	if err != nil {
		return nil, err
	}
	return actionTableToProto(&t), nil
}

// UpdateActionTable implements ScoringService.UpdateActionTable.
func (s *ScoringServer) UpdateActionTable(ctx context.Context, req *scoringv1.UpdateActionTableRequest) (*scoringv1.ActionTable, error) {
	in := req.GetActionTable()
	rs := make([]domain.ActionRule, len(in.GetRules()))
	for i, r := range in.GetRules() {
		rs[i] = domain.ActionRule{Action: r.GetAction(), Condition: r.GetCondition(), Reason: r.GetReason(), DueWithinDays: int(r.GetDueWithinDays())}
	}
	out, err := s.svc.UpdateActionTable(ctx, rs, in.GetEtag())
	if err != nil {
		return nil, err
	}
	return actionTableToProto(&out), nil
}

func actionTableToProto(t *domain.ActionTable) *scoringv1.ActionTable {
	out := &scoringv1.ActionTable{Version: t.Version, Etag: domain.ETag(t.Version), UpdateTime: fromTime(t.UpdateTime)}
	for _, r := range t.Rules {
		out.Rules = append(out.Rules, &scoringv1.ActionRule{Action: r.Action, Condition: r.Condition, Reason: r.Reason, DueWithinDays: int32(r.DueWithinDays)})
	}
	return out
}

func actionToProto(a *domain.Action) *scoringv1.NextAction {
	if a.Name == "" {
		return nil
	}
	return &scoringv1.NextAction{Name: a.Name, Reason: a.Reason, DueWithinDays: int32(a.DueWithinDays), RuleIndex: int32(a.Rule), TableVersion: a.TableVersion}
}

// GetActionTable resolves the ambiguity between the embedded types.
func (g scoringGRPC) GetActionTable(ctx context.Context, req *scoringv1.GetActionTableRequest) (*scoringv1.ActionTable, error) {
	return g.ScoringServer.GetActionTable(ctx, req)
}

// UpdateActionTable resolves the ambiguity between the embedded types.
func (g scoringGRPC) UpdateActionTable(ctx context.Context, req *scoringv1.UpdateActionTableRequest) (*scoringv1.ActionTable, error) {
	return g.ScoringServer.UpdateActionTable(ctx, req)
}
