package server

import (
	"context"

	"github.com/potentialhq/potential/domain"
	conversionv1 "github.com/potentialhq/potential/gen/go/potential/conversion/v1"
	"github.com/potentialhq/potential/gen/go/potential/conversion/v1/conversionv1connect"
)

// ConversionServer implements potential.conversion.v1.ConversionService
// for both grpc-go and connect-go.
type ConversionServer struct {
	conversionv1.UnimplementedConversionServiceServer
	svc *domain.Service
}

var (
	_ conversionv1.ConversionServiceServer         = (*ConversionServer)(nil)
	_ conversionv1connect.ConversionServiceHandler = (*ConversionServer)(nil)
)

// TrainConversionModel implements ConversionService.TrainConversionModel.
func (s *ConversionServer) TrainConversionModel(ctx context.Context, req *conversionv1.TrainConversionModelRequest) (*conversionv1.ConversionModel, error) {
	st, err := s.svc.TrainConversionModel(ctx, domain.TrainConversionRequest{ScoringModelID: req.GetScoringModelId(),
		WindowDays: int(req.GetConversionWindowDays()), ObservationDays: int(req.GetObservationDays())})
	if err != nil {
		return nil, err
	}
	return conversionStateToProto(&st), nil
}

// GetConversionModel implements ConversionService.GetConversionModel.
func (s *ConversionServer) GetConversionModel(ctx context.Context, req *conversionv1.GetConversionModelRequest) (*conversionv1.ConversionModel, error) {
	st, err := s.svc.GetConversionModel(ctx, req.GetScoringModelId())
	if err != nil {
		return nil, err
	}
	return conversionStateToProto(&st), nil
}

// GetLeadConversion implements ConversionService.GetLeadConversion.
func (s *ConversionServer) GetLeadConversion(ctx context.Context, req *conversionv1.GetLeadConversionRequest) (*conversionv1.LeadConversion, error) {
	lc, err := s.svc.GetLeadConversion(ctx, domain.CustomerRef{ID: req.GetCustomerId(), ExternalID: req.GetExternalId()}, req.GetScoringModelId())
	if err != nil {
		return nil, err
	}
	return leadConversionToProto(&lc), nil
}

// leadConversionToProto converts a lead's conversion output.
func leadConversionToProto(lc *domain.LeadConversion) *conversionv1.LeadConversion {
	out := &conversionv1.LeadConversion{CustomerId: lc.CustomerID, Status: leadStatusToProto(lc.Status), Probability: lc.Probability,
		Band: bandToProto(lc.Band), Points: lc.Points, ModelId: lc.ModelID, Model: conversionStateToProto(&lc.State)}
	for _, f := range lc.Positive {
		out.PositiveFactors = append(out.PositiveFactors, &conversionv1.ConversionFactor{Feature: f.Feature, Value: f.Value, Contribution: f.Contribution})
	}
	for _, f := range lc.Negative {
		out.NegativeFactors = append(out.NegativeFactors, &conversionv1.ConversionFactor{Feature: f.Feature, Value: f.Value, Contribution: f.Contribution})
	}
	return out
}

// SetLeadOutcomes implements ConversionService.SetLeadOutcomes.
func (s *ConversionServer) SetLeadOutcomes(ctx context.Context, req *conversionv1.SetLeadOutcomesRequest) (*conversionv1.SetLeadOutcomesResponse, error) {
	os := make([]domain.LeadOutcome, len(req.GetOutcomes()))
	for i, o := range req.GetOutcomes() {
		os[i] = domain.LeadOutcome{Customer: domain.CustomerRef{ID: o.GetCustomerId(), ExternalID: o.GetExternalId()}, At: toTime(o.GetTime())}
		switch o.GetResult() {
		case conversionv1.LeadResult_LEAD_RESULT_WON:
			os[i].Result = domain.LeadWon
		case conversionv1.LeadResult_LEAD_RESULT_LOST:
			os[i].Result = domain.LeadLost
		}
	}
	if err := s.svc.SetLeadOutcomes(ctx, os); err != nil {
		return nil, err
	}
	return &conversionv1.SetLeadOutcomesResponse{Stored: int32(len(os))}, nil
}

func conversionStateToProto(st *domain.ConversionState) *conversionv1.ConversionModel {
	out := &conversionv1.ConversionModel{ScoringModelId: st.ScoringModelID, ConversionWindowDays: int32(st.WindowDays),
		ObservationDays: int32(st.ObservationDays), MinConvertedLeads: domain.MinConvertedLeads, MinLostLeads: domain.MinLostLeads,
		Current: conversionFitToProto(st.Current)}
	switch st.Status() {
	case domain.ConversionReady:
		out.Status = conversionv1.ConversionModelStatus_CONVERSION_MODEL_STATUS_READY
	default:
		out.Status = conversionv1.ConversionModelStatus_CONVERSION_MODEL_STATUS_INSUFFICIENT_DATA
	}
	a := &st.LastAttempt
	if !a.Time.IsZero() {
		pa := &conversionv1.ConversionAttempt{AttemptTime: fromTime(a.Time), Reason: a.Reason, Converted: int32(a.Converted),
			Lost: int32(a.Lost), DecidedEarly: int32(a.DecidedEarly), Open: int32(a.Open), Candidate: conversionFitToProto(a.Candidate)}
		switch a.Result {
		case domain.AttemptInstalled:
			pa.Result = conversionv1.AttemptResult_ATTEMPT_RESULT_INSTALLED
		case domain.AttemptKeptCurrent:
			pa.Result = conversionv1.AttemptResult_ATTEMPT_RESULT_KEPT_CURRENT
		case domain.AttemptInsufficientData:
			pa.Result = conversionv1.AttemptResult_ATTEMPT_RESULT_INSUFFICIENT_DATA
		}
		if a.CurrentOnValidation != nil {
			pa.CurrentOnValidation = metricsToProto(a.CurrentOnValidation)
		}
		out.LastAttempt = pa
	}
	return out
}

func conversionFitToProto(f *domain.ConversionFit) *conversionv1.ConversionFit {
	if f == nil {
		return nil
	}
	out := &conversionv1.ConversionFit{Id: f.ID, TrainTime: fromTime(f.TrainTime), SplitTime: fromTime(f.SplitTime),
		TrainConverted: int32(f.TrainConverted), TrainLost: int32(f.TrainLost), ValidationConverted: int32(f.ValidationConverted),
		ValidationLost: int32(f.ValidationLost), Validation: metricsToProto(&f.Validation), Intercept: f.Intercept, Lambda: f.Lambda}
	for _, w := range f.Features {
		out.Features = append(out.Features, &conversionv1.FeatureWeight{Name: w.Name, Weight: w.Weight, Mean: w.Mean, Scale: w.Scale})
	}
	return out
}

func metricsToProto(m *domain.ConversionMetrics) *conversionv1.ConversionMetrics {
	out := &conversionv1.ConversionMetrics{Auc: m.AUC, Brier: m.Brier, LogLoss: m.LogLoss}
	for _, r := range m.Calibration {
		out.Calibration = append(out.Calibration, &conversionv1.CalibrationRow{Decile: int32(r.Decile), Count: int32(r.Count),
			MeanPredicted: r.MeanPredicted, ObservedRate: r.ObservedRate})
	}
	return out
}

func leadStatusToProto(s domain.LeadConversionStatus) conversionv1.LeadConversionStatus {
	switch s {
	case domain.LeadScored:
		return conversionv1.LeadConversionStatus_LEAD_CONVERSION_STATUS_SCORED
	case domain.LeadNoModel:
		return conversionv1.LeadConversionStatus_LEAD_CONVERSION_STATUS_NO_MODEL
	case domain.LeadConverted:
		return conversionv1.LeadConversionStatus_LEAD_CONVERSION_STATUS_CONVERTED
	case domain.LeadClosedLost:
		return conversionv1.LeadConversionStatus_LEAD_CONVERSION_STATUS_LOST
	case domain.LeadNotALead:
		return conversionv1.LeadConversionStatus_LEAD_CONVERSION_STATUS_NOT_LEAD
	}
	return conversionv1.LeadConversionStatus_LEAD_CONVERSION_STATUS_UNSPECIFIED
}

func bandToProto(b domain.ConversionBand) conversionv1.ConversionBand {
	switch b {
	case domain.BandHot:
		return conversionv1.ConversionBand_CONVERSION_BAND_HOT
	case domain.BandWarm:
		return conversionv1.ConversionBand_CONVERSION_BAND_WARM
	case domain.BandCold:
		return conversionv1.ConversionBand_CONVERSION_BAND_COLD
	}
	return conversionv1.ConversionBand_CONVERSION_BAND_UNSPECIFIED
}
