package server

import (
	"math"

	"github.com/potentialhq/potential/domain"
	"github.com/potentialhq/potential/domain/clv"
	"github.com/potentialhq/potential/domain/rfm"
	scoringv1 "github.com/potentialhq/potential/gen/go/potential/scoring/v1"
)

var segmentEnum = map[rfm.Segment]scoringv1.RfmSegment{
	rfm.Champions:          scoringv1.RfmSegment_RFM_SEGMENT_CHAMPIONS,
	rfm.Loyal:              scoringv1.RfmSegment_RFM_SEGMENT_LOYAL,
	rfm.PotentialLoyalists: scoringv1.RfmSegment_RFM_SEGMENT_POTENTIAL_LOYALISTS,
	rfm.New:                scoringv1.RfmSegment_RFM_SEGMENT_NEW,
	rfm.Promising:          scoringv1.RfmSegment_RFM_SEGMENT_PROMISING,
	rfm.NeedAttention:      scoringv1.RfmSegment_RFM_SEGMENT_NEED_ATTENTION,
	rfm.AboutToSleep:       scoringv1.RfmSegment_RFM_SEGMENT_ABOUT_TO_SLEEP,
	rfm.AtRisk:             scoringv1.RfmSegment_RFM_SEGMENT_AT_RISK,
	rfm.CantLoseThem:       scoringv1.RfmSegment_RFM_SEGMENT_CANT_LOSE_THEM,
	rfm.Hibernating:        scoringv1.RfmSegment_RFM_SEGMENT_HIBERNATING,
	rfm.Lost:               scoringv1.RfmSegment_RFM_SEGMENT_LOST,
}

func allSegments() []rfm.Segment { return rfm.Segments() }

func segmentToProto(s rfm.Segment) scoringv1.RfmSegment { return segmentEnum[s] }

func churnLevelToProto(l domain.ChurnLevel) scoringv1.ChurnLevel {
	return scoringv1.ChurnLevel(int32(l) + 1)
}

var reasonEnum = map[domain.ChurnReason]scoringv1.ChurnReason{
	domain.ReasonLowPAlive:      scoringv1.ChurnReason_CHURN_REASON_LOW_P_ALIVE,
	domain.ReasonLongSilence:    scoringv1.ChurnReason_CHURN_REASON_LONG_SILENCE,
	domain.ReasonEngagementDrop: scoringv1.ChurnReason_CHURN_REASON_ENGAGEMENT_DROP,
	domain.ReasonOpenComplaint:  scoringv1.ChurnReason_CHURN_REASON_OPEN_COMPLAINT,
}

func churnReasonToProto(r domain.ChurnReason) scoringv1.ChurnReason { return reasonEnum[r] }

var stageEnum = map[domain.LifecycleStage]scoringv1.LifecycleStage{
	domain.StageLead:        scoringv1.LifecycleStage_LIFECYCLE_STAGE_LEAD,
	domain.StageNew:         scoringv1.LifecycleStage_LIFECYCLE_STAGE_NEW,
	domain.StageActive:      scoringv1.LifecycleStage_LIFECYCLE_STAGE_ACTIVE,
	domain.StageAtRisk:      scoringv1.LifecycleStage_LIFECYCLE_STAGE_AT_RISK,
	domain.StageChurned:     scoringv1.LifecycleStage_LIFECYCLE_STAGE_CHURNED,
	domain.StageReactivated: scoringv1.LifecycleStage_LIFECYCLE_STAGE_REACTIVATED,
}

func stageToProto(s domain.LifecycleStage) scoringv1.LifecycleStage { return stageEnum[s] }

func cellString(c rfm.Cell) string {
	if !c.Valid() {
		return ""
	}
	return c.String()
}

func assessmentToProto(ca domain.CustomerAssessment) *scoringv1.CustomerAssessment {
	a, e := ca.Assessment, ca.Explanation
	horizon := domain.ValueSettings{}
	if ca.Model != nil {
		horizon = ca.Model.Settings
	}
	out := &scoringv1.CustomerAssessment{
		CustomerId:   a.CustomerID,
		ModelVersion: a.ModelVersion,
		AssessTime:   fromTime(a.AssessTime),
		Rfm: &scoringv1.RfmAssessment{
			RecencyScore: int32(a.RFM.R), FrequencyScore: int32(a.RFM.F), MonetaryScore: int32(a.RFM.M),
			Cell: cellString(a.RFM), Segment: segmentToProto(a.Segment), RecencyDays: a.SilenceDays, Explanation: e.RFM,
		},
		Value: &scoringv1.ValueAssessment{
			Historical: a.HistoricalValue.String(), Predicted: a.PredictedValue.String(),
			ExpectedPurchases: a.ExpectedPurchases, ExpectedSpend: a.ExpectedSpend.String(),
			PAlive: a.PAlive, ValueAtRisk: a.ValueAtRisk.String(),
			HorizonMonths: int32(horizon.WithDefaults().HorizonMonths), Explanation: e.Value,
		},
		Churn:     &scoringv1.ChurnAssessment{Level: churnLevelToProto(a.Churn), CadenceDays: a.CadenceDays, Explanation: e.Churn},
		Lifecycle: &scoringv1.LifecycleAssessment{Stage: stageToProto(a.Stage), Explanation: e.Stage},
	}
	for _, r := range domain.ChurnReasons {
		if a.HasReason(r) {
			out.Churn.Reasons = append(out.Churn.Reasons, churnReasonToProto(r))
		}
	}
	out.Action = actionToProto(&ca.Action)
	if ca.Conversion != nil {
		out.Conversion = leadConversionToProto(ca.Conversion)
	}
	return out
}

// assessmentSummaryToProto is the brief form carried by a Customer.
func assessmentSummaryToProto(a *domain.Assessment) *scoringv1.AssessmentSummary {
	if a.AssessTime.IsZero() {
		return nil
	}
	return &scoringv1.AssessmentSummary{
		RfmCell:        cellString(a.RFM),
		RfmSegment:     segmentToProto(a.Segment),
		PredictedValue: a.PredictedValue.String(),
		ValueAtRisk:    a.ValueAtRisk.String(),
		PAlive:         a.PAlive,
		ChurnLevel:     churnLevelToProto(a.Churn),
		LifecycleStage: stageToProto(a.Stage),
		AssessTime:     fromTime(a.AssessTime),
	}
}

func settingsFromProto(p *scoringv1.ValueSettings) domain.ValueSettings {
	s := domain.ValueSettings{
		HorizonMonths:         int(p.GetHorizonMonths()),
		DefaultMargin:         p.GetDefaultMargin(),
		RetentionCostPerMonth: p.GetRetentionCostPerMonth(),
		ChurnPAliveMedium:     p.GetChurnPAliveMedium(),
		ChurnPAliveHigh:       p.GetChurnPAliveHigh(),
		SilenceFactor:         p.GetSilenceFactor(),
		EngagementDropRatio:   p.GetEngagementDropRatio(),
		NewDays:               int(p.GetNewDays()),
		ChurnedDays:           int(p.GetChurnedDays()),
	}
	switch p.GetTimeUnit() {
	case scoringv1.TimeUnit_TIME_UNIT_DAY:
		s.Unit = clv.Day
	case scoringv1.TimeUnit_TIME_UNIT_WEEK:
		s.Unit = clv.Week
	}
	if p != nil && p.AnnualDiscountRate != nil {
		s.AnnualDiscountRate = p.GetAnnualDiscountRate()
		if s.AnnualDiscountRate == 0 {
			s.AnnualDiscountRate = -1 // explicitly none
		}
	}
	return s
}

func settingsToProto(s domain.ValueSettings) *scoringv1.ValueSettings {
	rate := math.Max(s.AnnualDiscountRate, 0)
	out := &scoringv1.ValueSettings{
		TimeUnit:              scoringv1.TimeUnit_TIME_UNIT_WEEK,
		HorizonMonths:         int32(s.HorizonMonths),
		AnnualDiscountRate:    &rate,
		DefaultMargin:         s.DefaultMargin,
		RetentionCostPerMonth: s.RetentionCostPerMonth,
		ChurnPAliveMedium:     s.ChurnPAliveMedium,
		ChurnPAliveHigh:       s.ChurnPAliveHigh,
		SilenceFactor:         s.SilenceFactor,
		EngagementDropRatio:   s.EngagementDropRatio,
		NewDays:               int32(s.NewDays),
		ChurnedDays:           int32(s.ChurnedDays),
	}
	if s.Unit == clv.Day {
		out.TimeUnit = scoringv1.TimeUnit_TIME_UNIT_DAY
	}
	return out
}

func fitToProto(f clv.FitResult) *scoringv1.FitDiagnostics {
	return &scoringv1.FitDiagnostics{
		LogLikelihood: f.LogLikelihood, Converged: f.Converged, Iterations: int32(f.Iterations),
		Status: f.Status, StandardErrors: f.StdErr, Customers: f.Customers, Groups: int32(f.Groups),
	}
}

func valueModelToProto(m *domain.ValueModel) *scoringv1.ValueModel {
	out := &scoringv1.ValueModel{
		Version:        m.Version,
		FitTime:        fromTime(m.FitTime),
		ObservationEnd: fromTime(m.ObservationEnd),
		HoldoutEnd:     fromTime(m.HoldoutEnd),
		Settings:       settingsToProto(m.Settings),
		BgNbd:          &scoringv1.BgNbdParameters{R: m.BGNBD.R, Alpha: m.BGNBD.Alpha, A: m.BGNBD.A, B: m.BGNBD.B, Fit: fitToProto(m.BGNBDFit)},
		RfmCutPoints: &scoringv1.RfmCutPoints{
			Recency: m.RFM.Recency.Edges[:], Frequency: m.RFM.Frequency.Edges[:], Monetary: m.RFM.Monetary.Edges[:],
		},
		Customers:       m.Customers,
		RepeatCustomers: m.Repeaters,
	}
	if m.HasSpend {
		out.GammaGamma = &scoringv1.GammaGammaParameters{P: m.Spend.P, Q: m.Spend.Q, Gamma: m.Spend.Gamma, Fit: fitToProto(m.SpendFit)}
	}
	for _, b := range m.Histogram {
		out.CalibrationHistogram = append(out.CalibrationHistogram, &scoringv1.FrequencyBin{Frequency: int32(b.Frequency), OrMore: b.OrMore, Actual: b.Actual, Expected: b.Expected})
	}
	for _, h := range m.Holdout {
		out.Holdout = append(out.Holdout, &scoringv1.HoldoutClass{Frequency: int32(h.Frequency), OrMore: h.OrMore, Customers: h.Customers, Actual: h.Actual, Expected: h.Expected})
	}
	return out
}
