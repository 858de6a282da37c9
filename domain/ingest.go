package domain

import (
	"context"
	"time"
)

// BatchFollowUp is what a recorded batch's customers need once their events
// are stored, so that the call that recorded them returns with every
// derived figure current: the assessment from their new statistics, their
// points and grade, and their dynamic segments. A store that can, runs it
// in the batch's own database transaction (one commit, the customers
// locked once, the statements pipelined) and says so in
// BatchResult.FollowedUp; otherwise the Service runs the same steps after
// the store returns, each in its own transaction.
//
// The functions are pure computations over what the store read under the
// batch's locks: they must not call the store, and a store may call them
// again when it retries the transaction.
type BatchFollowUp struct {
	// Now is the time of the assessments, grades and segment evaluation.
	Now time.Time
	// Assess derives each customer's assessment from its inputs (with
	// OpenComplaints filled in).
	Assess func(in []AssessmentInput) []Assessment
	// Score is UpdateScoring's callback for the batch's customers, read
	// with their events (ScoringQuery.Events).
	Score func(*ScoringBatch) ([]ScoringUpdate, error)
	// Segments is EvaluateSegments' callback for the batch's customers
	// over every dynamic segment of the tenant; SegmentCause is the cause
	// of the events it records.
	Segments     func(*SegmentBatch) ([]SegmentDecision, error)
	SegmentCause string
}

// followUp returns the follow-up of a batch of events recorded at now: the
// tenant's current value model assesses the customers, its rules re-score
// them from their events and re-grade them, and its dynamic segments are
// re-evaluated (what reassess and scoreEvents do one after the other).
func (s *Service) followUp(ctx context.Context, tenantID string, now time.Time) (*BatchFollowUp, error) {
	m, err := s.currentModel(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	return &BatchFollowUp{
		Now: now,
		Assess: func(in []AssessmentInput) []Assessment {
			out := make([]Assessment, len(in))
			for i := range in {
				out[i] = Assess(in[i], m, now)
			}
			return out
		},
		Score: func(b *ScoringBatch) ([]ScoringUpdate, error) {
			return evaluate(b, true, nil, now, CauseEvents)
		},
		Segments: func(b *SegmentBatch) ([]SegmentDecision, error) {
			return decideSegments(b, nil, now)
		},
		SegmentCause: "events_recorded",
	}, nil
}

// recordOptions are the options of an ingestion batch recorded at now,
// with its follow-up.
func (s *Service) recordOptions(ctx context.Context, tenantID string, createMissing bool, now time.Time) (RecordOptions, error) {
	f, err := s.followUp(ctx, tenantID, now)
	if err != nil {
		return RecordOptions{}, err
	}
	return RecordOptions{CreateMissingCustomers: createMissing, Now: now, FollowUp: f}, nil
}

// finishBatch runs the follow-up of a recorded batch when the store did
// not run it in the batch's transaction.
func (s *Service) finishBatch(ctx context.Context, tenantID string, res BatchResult) error {
	if res.FollowedUp {
		return nil
	}
	if err := s.reassess(ctx, tenantID, res.CustomerIDs); err != nil {
		return err
	}
	return s.scoreEvents(ctx, tenantID, res.CustomerIDs)
}
