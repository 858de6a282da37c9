package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/potentialhq/potential/domain"
)

var _ domain.ConversionStore = (*Store)(nil)

const qExistingCustomers = `SELECT id FROM customers WHERE tenant_id = $1 AND id = ANY($2::uuid[]) FOR SHARE`

// SetLeadOutcomes stores each outcome as its customer's, all or nothing:
// the customers are share-locked and checked first, so that an unknown one
// fails the batch with an *ItemError.
func (s *Store) SetLeadOutcomes(ctx context.Context, tenantID string, os []domain.LeadOutcome) error {
	sc, ok := tenantScope(tenantID)
	if !ok {
		return fmt.Errorf("%w: tenant %q", domain.ErrNotFound, tenantID)
	}
	ids := make([]string, len(os))
	results := make([]string, len(os))
	ats := make([]time.Time, len(os))
	for i, o := range os {
		id, ok := parseID(o.CustomerID)
		if !ok {
			return &domain.ItemError{Index: i, Field: "customer", Err: fmt.Errorf("%w: customer %q", domain.ErrNotFound, o.CustomerID)}
		}
		if o.Result != domain.LeadWon && o.Result != domain.LeadLost {
			return domain.Invalid(fmt.Sprintf("outcomes[%d].result", i), "unknown result %q", o.Result)
		}
		if err := checkTime(o.At); err != nil {
			return fieldError(fmt.Sprintf("outcomes[%d].time", i), err)
		}
		ids[i], results[i], ats[i] = id, string(o.Result), o.At.UTC()
	}
	return s.tx(ctx, sc, func(b *pgx.Batch) {
		b.Queue(qExistingCustomers, sc.tenant, ids)
	}, func(br pgx.BatchResults) error {
		rows, err := br.Query()
		if err != nil {
			return err
		}
		found := map[string]bool{}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return err
			}
			found[id] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for i, id := range ids {
			if !found[id] {
				return &domain.ItemError{Index: i, Field: "customer", Err: fmt.Errorf("%w: customer %q", domain.ErrNotFound, id)}
			}
		}
		return nil
	}, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, qSetLeadOutcomes, sc.tenant, ids, results, ats)
		return err
	})
}

// LeadOutcomes returns the explicit outcomes of customerIDs (nil: all).
func (s *Store) LeadOutcomes(ctx context.Context, tenantID string, customerIDs []string) (map[string]domain.LeadOutcome, error) {
	out := map[string]domain.LeadOutcome{}
	sc, ok := tenantScope(tenantID)
	if !ok {
		return out, nil
	}
	err := s.batch(ctx, sc, func(b *pgx.Batch) {
		if customerIDs == nil {
			b.Queue(qLeadOutcomesAll, sc.tenant)
		} else {
			b.Queue(qLeadOutcomes, sc.tenant, validIDs(customerIDs))
		}
	}, func(br pgx.BatchResults) error {
		clear(out)
		rows, err := br.Query()
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var o domain.LeadOutcome
			var result string
			if err := rows.Scan(&o.CustomerID, &result, &o.At); err != nil {
				return err
			}
			o.Result, o.At = domain.LeadResult(result), o.At.UTC()
			out[o.CustomerID] = o
		}
		return rows.Err()
	})
	return out, err
}

// QualificationHistory returns the qualification changes of customerIDs
// (nil: all), oldest first.
func (s *Store) QualificationHistory(ctx context.Context, tenantID string, customerIDs []string) (map[string][]domain.QualificationChange, error) {
	out := map[string][]domain.QualificationChange{}
	sc, ok := tenantScope(tenantID)
	if !ok {
		return out, nil
	}
	err := s.batch(ctx, sc, func(b *pgx.Batch) {
		if customerIDs == nil {
			b.Queue(qQualificationsAll, sc.tenant)
		} else {
			b.Queue(qQualifications, sc.tenant, validIDs(customerIDs))
		}
	}, func(br pgx.BatchResults) error {
		clear(out)
		rows, err := br.Query()
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var q domain.QualificationChange
			var budget int64
			var authority string
			var decision *time.Time
			if err := rows.Scan(&q.ID, &q.CustomerID, &q.At, &budget, &authority, &q.Qualification.Need, &decision); err != nil {
				return err
			}
			q.At = q.At.UTC()
			q.Qualification.Budget, q.Qualification.Authority = domain.Money(budget), domain.Authority(authority)
			if decision != nil {
				q.Qualification.DecisionTime = decision.UTC()
			}
			out[q.CustomerID] = append(out[q.CustomerID], q)
		}
		return rows.Err()
	})
	return out, err
}

func validIDs(ids []string) []string {
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if u, ok := parseID(id); ok {
			out = append(out, u)
		}
	}
	return out
}

// SaveConversionState stores st, replacing the state of its scoring model.
func (s *Store) SaveConversionState(ctx context.Context, st domain.ConversionState) error {
	sc, ok := tenantScope(st.TenantID)
	if !ok {
		return fmt.Errorf("%w: tenant %q", domain.ErrNotFound, st.TenantID)
	}
	doc, err := json.Marshal(st)
	if err != nil {
		return err
	}
	return s.batch(ctx, sc, func(b *pgx.Batch) {
		b.Queue(qSaveConversionState, sc.tenant, st.ScoringModelID, string(st.Status()), st.LastAttempt.Time, doc)
	}, func(br pgx.BatchResults) error {
		_, err := br.Exec()
		return err
	})
}

// GetConversionState returns the state of a scoring model.
func (s *Store) GetConversionState(ctx context.Context, tenantID, scoringModelID string) (domain.ConversionState, error) {
	sc, ok := tenantScope(tenantID)
	if !ok {
		return domain.ConversionState{}, fmt.Errorf("%w: no conversion model", domain.ErrNotFound)
	}
	var doc []byte
	err := s.batch(ctx, sc, func(b *pgx.Batch) {
		b.Queue(qGetConversionState, sc.tenant, scoringModelID)
	}, func(br pgx.BatchResults) error {
		return br.QueryRow().Scan(&doc)
	})
	if err != nil {
		return domain.ConversionState{}, err
	}
	var st domain.ConversionState
	return st, json.Unmarshal(doc, &st)
}

// ListConversionStates returns the tenant's states by scoring model id.
func (s *Store) ListConversionStates(ctx context.Context, tenantID string) ([]domain.ConversionState, error) {
	sc, ok := tenantScope(tenantID)
	if !ok {
		return nil, nil
	}
	var docs [][]byte
	err := s.batch(ctx, sc, func(b *pgx.Batch) {
		b.Queue(qListConversionStates, sc.tenant)
	}, func(br pgx.BatchResults) error {
		docs = docs[:0]
		rows, err := br.Query()
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var d []byte
			if err := rows.Scan(&d); err != nil {
				return err
			}
			docs = append(docs, d)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	out := make([]domain.ConversionState, len(docs))
	for i, d := range docs {
		if err := json.Unmarshal(d, &out[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// leadScoreChunk bounds the rows of one insert statement.
const leadScoreChunk = 10_000

// ReplaceLeadScores replaces the scores of a scoring model in one
// transaction: a delete, then inserts of up to leadScoreChunk rows.
func (s *Store) ReplaceLeadScores(ctx context.Context, tenantID, scoringModelID string, scores []domain.LeadScore) error {
	sc, ok := tenantScope(tenantID)
	if !ok {
		return fmt.Errorf("%w: tenant %q", domain.ErrNotFound, tenantID)
	}
	ids := make([]string, 0, len(scores))
	probs := make([]float64, 0, len(scores))
	bands := make([]string, 0, len(scores))
	fits := make([]string, 0, len(scores))
	ats := make([]time.Time, 0, len(scores))
	for _, l := range scores {
		id, ok := parseID(l.CustomerID)
		if !ok {
			continue
		}
		ids, probs, bands, fits, ats = append(ids, id), append(probs, l.Probability), append(bands, string(l.Band)), append(fits, l.FitID), append(ats, l.At.UTC())
	}
	return s.tx(ctx, sc, func(b *pgx.Batch) {
		b.Queue(qDeleteLeadScores, sc.tenant, scoringModelID)
	}, func(br pgx.BatchResults) error {
		_, err := br.Exec()
		return err
	}, func(tx pgx.Tx) error {
		for lo := 0; lo < len(ids); lo += leadScoreChunk {
			hi := min(len(ids), lo+leadScoreChunk)
			if _, err := tx.Exec(ctx, qInsertLeadScores, sc.tenant, scoringModelID, ids[lo:hi], probs[lo:hi], bands[lo:hi], fits[lo:hi], ats[lo:hi]); err != nil {
				return err
			}
		}
		return nil
	})
}

// TopLeadScores returns a page of a scoring model's scores, best first.
func (s *Store) TopLeadScores(ctx context.Context, tenantID, scoringModelID string, limit int, after *domain.LeadScoreCursor) ([]domain.LeadScore, error) {
	sc, ok := tenantScope(tenantID)
	if !ok || limit <= 0 {
		return nil, nil
	}
	var out []domain.LeadScore
	err := s.batch(ctx, sc, func(b *pgx.Batch) {
		if after == nil {
			b.Queue(qTopLeadScores, sc.tenant, scoringModelID, limit)
		} else {
			aid, ok := parseID(after.ID)
			if !ok {
				aid = "00000000-0000-0000-0000-000000000000"
			}
			b.Queue(qTopLeadScoresAfter, sc.tenant, scoringModelID, limit, after.Probability, aid)
		}
	}, func(br pgx.BatchResults) error {
		out = out[:0]
		rows, err := br.Query()
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var l domain.LeadScore
			var band string
			if err := rows.Scan(&l.CustomerID, &l.Probability, &band, &l.FitID, &l.At); err != nil {
				return err
			}
			l.Band, l.At = domain.ConversionBand(band), l.At.UTC()
			out = append(out, l)
		}
		return rows.Err()
	})
	return out, err
}
