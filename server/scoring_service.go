package server

import (
	"context"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/grpc"

	"github.com/potentialhq/potential/domain"
	scoringv1 "github.com/potentialhq/potential/gen/go/potential/scoring/v1"
	"github.com/potentialhq/potential/gen/go/potential/scoring/v1/scoringv1connect"
)

// ScoringServer implements potential.scoring.v1.ScoringService for
// connect-go; scoringGRPC adapts its one streaming method to grpc-go.
type ScoringServer struct {
	svc *domain.Service
}

var _ scoringv1connect.ScoringServiceHandler = (*ScoringServer)(nil)

// GetCustomerAssessment implements ScoringService.GetCustomerAssessment.
func (s *ScoringServer) GetCustomerAssessment(ctx context.Context, req *scoringv1.GetCustomerAssessmentRequest) (*scoringv1.CustomerAssessment, error) {
	ca, err := s.svc.GetCustomerAssessment(ctx, domain.CustomerRef{ID: req.GetCustomerId(), ExternalID: req.GetExternalId()})
	if err != nil {
		return nil, err
	}
	return assessmentToProto(ca), nil
}

// GetValueModel implements ScoringService.GetValueModel.
func (s *ScoringServer) GetValueModel(ctx context.Context, _ *scoringv1.GetValueModelRequest) (*scoringv1.ValueModel, error) {
	m, err := s.svc.GetValueModel(ctx)
	if err != nil {
		return nil, err
	}
	return valueModelToProto(&m), nil
}

// FitValueModel implements ScoringService.FitValueModel for connect-go.
func (s *ScoringServer) FitValueModel(ctx context.Context, req *scoringv1.FitValueModelRequest, stream *connect.ServerStream[scoringv1.FitValueModelResponse]) error {
	return s.fit(ctx, req, stream.Send)
}

// fit runs a fit, sending progress at most every 200 ms and the model last.
func (s *ScoringServer) fit(ctx context.Context, req *scoringv1.FitValueModelRequest, send func(*scoringv1.FitValueModelResponse) error) error {
	fr := domain.FitRequest{
		ObservationEnd: toTime(req.GetObservationEnd()),
		HoldoutEnd:     toTime(req.GetHoldoutEnd()),
		Settings:       settingsFromProto(req.GetSettings()),
		SkipReassess:   req.GetSkipReassess(),
	}
	var last time.Time
	var sendErr error
	m, err := s.svc.FitValueModel(ctx, fr, func(p domain.FitProgress) {
		if sendErr != nil || (p.Stage == "assessing" && time.Since(last) < 200*time.Millisecond) {
			return
		}
		last = time.Now()
		sendErr = send(&scoringv1.FitValueModelResponse{Result: &scoringv1.FitValueModelResponse_Progress{
			Progress: &scoringv1.FitProgress{Stage: p.Stage, Done: p.Done, Total: p.Total},
		}})
	})
	if err != nil {
		return err
	}
	if sendErr != nil {
		return sendErr
	}
	return send(&scoringv1.FitValueModelResponse{Result: &scoringv1.FitValueModelResponse_Model{Model: valueModelToProto(&m)}})
}

// GetRfmDistribution implements ScoringService.GetRfmDistribution.
func (s *ScoringServer) GetRfmDistribution(ctx context.Context, _ *scoringv1.GetRfmDistributionRequest) (*scoringv1.GetRfmDistributionResponse, error) {
	st, err := s.svc.AssessmentStats(ctx)
	if err != nil {
		return nil, err
	}
	resp := &scoringv1.GetRfmDistributionResponse{Customers: st.Customers}
	for r := range 5 {
		for f := range 5 {
			resp.Grid = append(resp.Grid, &scoringv1.RfmGridCell{RecencyScore: int32(r + 1), FrequencyScore: int32(f + 1), Customers: st.RF[r][f]})
		}
	}
	for _, seg := range allSegments() {
		resp.Segments = append(resp.Segments, &scoringv1.SegmentCount{Segment: segmentToProto(seg), Customers: st.Segments[seg]})
	}
	return resp, nil
}

// GetChurnSummary implements ScoringService.GetChurnSummary.
func (s *ScoringServer) GetChurnSummary(ctx context.Context, _ *scoringv1.GetChurnSummaryRequest) (*scoringv1.GetChurnSummaryResponse, error) {
	st, err := s.svc.AssessmentStats(ctx)
	if err != nil {
		return nil, err
	}
	resp := &scoringv1.GetChurnSummaryResponse{}
	for _, l := range []domain.ChurnLevel{domain.ChurnNone, domain.ChurnLow, domain.ChurnMedium, domain.ChurnHigh} {
		v := st.Churn[l]
		resp.Levels = append(resp.Levels, &scoringv1.ChurnLevelSummary{Level: churnLevelToProto(l), Customers: v.Customers, PredictedValue: v.Predicted.String(), ValueAtRisk: v.ValueAtRisk.String()})
	}
	for _, r := range domain.ChurnReasons {
		v := st.Reasons[r]
		resp.Reasons = append(resp.Reasons, &scoringv1.ChurnReasonSummary{Reason: churnReasonToProto(r), Customers: v.Customers, PredictedValue: v.Predicted.String(), ValueAtRisk: v.ValueAtRisk.String()})
	}
	return resp, nil
}

// GetLifecycleSummary implements ScoringService.GetLifecycleSummary.
func (s *ScoringServer) GetLifecycleSummary(ctx context.Context, _ *scoringv1.GetLifecycleSummaryRequest) (*scoringv1.GetLifecycleSummaryResponse, error) {
	st, err := s.svc.AssessmentStats(ctx)
	if err != nil {
		return nil, err
	}
	resp := &scoringv1.GetLifecycleSummaryResponse{}
	for _, stage := range domain.LifecycleStages {
		resp.Stages = append(resp.Stages, &scoringv1.StageCount{Stage: stageToProto(stage), Customers: st.Stages[stage]})
	}
	for _, from := range append([]domain.LifecycleStage{domain.StageUnknown}, domain.LifecycleStages...) {
		for _, to := range domain.LifecycleStages {
			if n := st.Transitions[[2]domain.LifecycleStage{from, to}]; n > 0 {
				resp.Transitions = append(resp.Transitions, &scoringv1.StageTransition{From: stageToProto(from), To: stageToProto(to), Count: n})
			}
		}
	}
	return resp, nil
}

// scoringGRPC serves ScoringService on grpc-go: the unary methods are the
// shared implementation's, the streaming one is adapted.
type scoringGRPC struct {
	scoringv1.UnimplementedScoringServiceServer
	*ScoringServer
}

var _ scoringv1.ScoringServiceServer = scoringGRPC{}

// FitValueModel implements ScoringService.FitValueModel for grpc-go.
func (g scoringGRPC) FitValueModel(req *scoringv1.FitValueModelRequest, stream grpc.ServerStreamingServer[scoringv1.FitValueModelResponse]) error {
	return g.fit(stream.Context(), req, stream.Send)
}

// GetCustomerAssessment resolves the ambiguity between the embedded types.
func (g scoringGRPC) GetCustomerAssessment(ctx context.Context, req *scoringv1.GetCustomerAssessmentRequest) (*scoringv1.CustomerAssessment, error) {
	return g.ScoringServer.GetCustomerAssessment(ctx, req)
}

// GetValueModel resolves the ambiguity between the embedded types.
func (g scoringGRPC) GetValueModel(ctx context.Context, req *scoringv1.GetValueModelRequest) (*scoringv1.ValueModel, error) {
	return g.ScoringServer.GetValueModel(ctx, req)
}

// GetRfmDistribution resolves the ambiguity between the embedded types.
func (g scoringGRPC) GetRfmDistribution(ctx context.Context, req *scoringv1.GetRfmDistributionRequest) (*scoringv1.GetRfmDistributionResponse, error) {
	return g.ScoringServer.GetRfmDistribution(ctx, req)
}

// GetChurnSummary resolves the ambiguity between the embedded types.
func (g scoringGRPC) GetChurnSummary(ctx context.Context, req *scoringv1.GetChurnSummaryRequest) (*scoringv1.GetChurnSummaryResponse, error) {
	return g.ScoringServer.GetChurnSummary(ctx, req)
}

// GetLifecycleSummary resolves the ambiguity between the embedded types.
func (g scoringGRPC) GetLifecycleSummary(ctx context.Context, req *scoringv1.GetLifecycleSummaryRequest) (*scoringv1.GetLifecycleSummaryResponse, error) {
	return g.ScoringServer.GetLifecycleSummary(ctx, req)
}
