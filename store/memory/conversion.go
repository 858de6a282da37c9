package memory

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/potentialhq/potential/domain"
)

var _ domain.ConversionStore = (*Store)(nil)

// conversionData is one tenant's explicit lead outcomes and conversion
// states. States are kept JSON-encoded, as the PostgreSQL store keeps
// them, so that no caller shares their slices.
type conversionData struct {
	outcomes map[string]domain.LeadOutcome // by customer id
	states   map[string][]byte             // by scoring model id
	scores   map[string][]domain.LeadScore // by scoring model id, best first
	// byCustomer indexes scores: customer id -> scoring model id -> score.
	byCustomer map[string]map[string]domain.LeadScore
}

// leadScores returns the stored scores of a customer by scoring model id,
// each with its ScoringModelID; s.mu is held.
func (d *tenantData) leadScores(customerID string) []domain.LeadScore {
	if d.conversion == nil || d.conversion.byCustomer[customerID] == nil {
		return nil
	}
	m := d.conversion.byCustomer[customerID]
	out := make([]domain.LeadScore, 0, len(m))
	for _, id := range slices.Sorted(maps.Keys(m)) {
		out = append(out, m[id])
	}
	return out
}

func (d *tenantData) conv() *conversionData {
	if d.conversion == nil {
		d.conversion = &conversionData{outcomes: map[string]domain.LeadOutcome{}, states: map[string][]byte{}}
	}
	return d.conversion
}

// deleteConversionOf erases a customer's lead outcome.
func (d *tenantData) deleteConversionOf(customerID string) {
	if d.conversion != nil {
		delete(d.conversion.outcomes, customerID)
		delete(d.conversion.byCustomer, customerID)
	}
}

// SetLeadOutcomes stores each outcome as its customer's, all or nothing.
func (s *Store) SetLeadOutcomes(_ context.Context, tenantID string, os []domain.LeadOutcome) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, err := s.scoringTenant(tenantID)
	if err != nil {
		return err
	}
	for i, o := range os {
		if d.customers[o.CustomerID] == nil {
			return &domain.ItemError{Index: i, Field: "customer", Err: notFound(domain.CustomerRef{ID: o.CustomerID})}
		}
		if o.Result != domain.LeadWon && o.Result != domain.LeadLost {
			return fieldError(fmt.Sprintf("outcomes[%d].result", i), fmt.Errorf("unknown result %q", o.Result))
		}
	}
	cd := d.conv()
	for _, o := range os {
		cd.outcomes[o.CustomerID] = domain.LeadOutcome{CustomerID: o.CustomerID, Result: o.Result, At: o.At.UTC()}
	}
	return nil
}

// LeadOutcomes returns the explicit outcomes of customerIDs (nil: all).
func (s *Store) LeadOutcomes(_ context.Context, tenantID string, customerIDs []string) (map[string]domain.LeadOutcome, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := map[string]domain.LeadOutcome{}
	d := s.tenant(tenantID)
	if d == nil || d.conversion == nil {
		return out, nil
	}
	if customerIDs == nil {
		for id, o := range d.conversion.outcomes {
			out[id] = o
		}
		return out, nil
	}
	for _, id := range customerIDs {
		if o, ok := d.conversion.outcomes[id]; ok {
			out[id] = o
		}
	}
	return out, nil
}

// QualificationHistory returns the qualification changes of customerIDs
// (nil: all), oldest first.
func (s *Store) QualificationHistory(_ context.Context, tenantID string, customerIDs []string) (map[string][]domain.QualificationChange, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := map[string][]domain.QualificationChange{}
	d := s.tenant(tenantID)
	if d == nil || d.scoring == nil {
		return out, nil
	}
	add := func(id string) {
		if qs := d.scoring.quals[id]; len(qs) > 0 {
			cp := slices.Clone(qs)
			slices.SortStableFunc(cp, func(a, b domain.QualificationChange) int {
				if c := a.At.Compare(b.At); c != 0 {
					return c
				}
				return strings.Compare(a.ID, b.ID)
			})
			out[id] = cp
		}
	}
	if customerIDs == nil {
		for id := range d.scoring.quals {
			add(id)
		}
	} else {
		for _, id := range customerIDs {
			add(id)
		}
	}
	return out, nil
}

// SaveConversionState stores st, replacing the state of its scoring model.
func (s *Store) SaveConversionState(_ context.Context, st domain.ConversionState) error {
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d, err := s.scoringTenant(st.TenantID)
	if err != nil {
		return err
	}
	d.conv().states[st.ScoringModelID] = b
	return nil
}

// GetConversionState returns the state of a scoring model.
func (s *Store) GetConversionState(_ context.Context, tenantID, scoringModelID string) (domain.ConversionState, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	d := s.tenant(tenantID)
	if d == nil || d.conversion == nil || d.conversion.states[scoringModelID] == nil {
		return domain.ConversionState{}, fmt.Errorf("%w: no conversion model for scoring model %q", domain.ErrNotFound, scoringModelID)
	}
	var st domain.ConversionState
	err := json.Unmarshal(d.conversion.states[scoringModelID], &st)
	return st, err
}

// ListConversionStates returns the tenant's states by scoring model id.
func (s *Store) ListConversionStates(_ context.Context, tenantID string) ([]domain.ConversionState, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	d := s.tenant(tenantID)
	if d == nil || d.conversion == nil {
		return nil, nil
	}
	var out []domain.ConversionState
	for _, id := range slices.Sorted(maps.Keys(d.conversion.states)) {
		var st domain.ConversionState
		if err := json.Unmarshal(d.conversion.states[id], &st); err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	return out, nil
}

// ReplaceLeadScores replaces the scores of a scoring model.
func (s *Store) ReplaceLeadScores(_ context.Context, tenantID, scoringModelID string, scores []domain.LeadScore) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, err := s.scoringTenant(tenantID)
	if err != nil {
		return err
	}
	var out []domain.LeadScore
	for _, sc := range scores {
		if d.customers[sc.CustomerID] != nil {
			sc.At = sc.At.UTC()
			out = append(out, sc)
		}
	}
	slices.SortFunc(out, compareLeadScores)
	cd := d.conv()
	if cd.scores == nil {
		cd.scores = map[string][]domain.LeadScore{}
	}
	for _, old := range cd.scores[scoringModelID] {
		delete(cd.byCustomer[old.CustomerID], scoringModelID)
		if len(cd.byCustomer[old.CustomerID]) == 0 {
			delete(cd.byCustomer, old.CustomerID)
		}
	}
	cd.scores[scoringModelID] = out
	if cd.byCustomer == nil {
		cd.byCustomer = map[string]map[string]domain.LeadScore{}
	}
	for _, sc := range out {
		if cd.byCustomer[sc.CustomerID] == nil {
			cd.byCustomer[sc.CustomerID] = map[string]domain.LeadScore{}
		}
		sc.ScoringModelID = scoringModelID
		cd.byCustomer[sc.CustomerID][scoringModelID] = sc
	}
	return nil
}

func compareLeadScores(a, b domain.LeadScore) int {
	switch {
	case a.Probability > b.Probability:
		return -1
	case a.Probability < b.Probability:
		return 1
	}
	return strings.Compare(a.CustomerID, b.CustomerID)
}

// TopLeadScores returns a page of a scoring model's scores, best first.
func (s *Store) TopLeadScores(_ context.Context, tenantID, scoringModelID string, limit int, after *domain.LeadScoreCursor) ([]domain.LeadScore, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	d := s.tenant(tenantID)
	if d == nil || d.conversion == nil {
		return nil, nil
	}
	var out []domain.LeadScore
	for _, sc := range d.conversion.scores[scoringModelID] {
		if d.customers[sc.CustomerID] == nil {
			continue // erased since
		}
		if after != nil && compareLeadScores(sc, domain.LeadScore{Probability: after.Probability, CustomerID: after.ID}) <= 0 {
			continue
		}
		if len(out) == limit {
			break
		}
		out = append(out, sc)
	}
	return out, nil
}
