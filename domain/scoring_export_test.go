package domain

import "context"

// ScoreEvents exposes the hook that scores recorded events to the tests of
// package domain_test.
func ScoreEvents(s *Service, ctx context.Context, tenantID string, ids []string) error {
	return s.scoreEvents(ctx, tenantID, ids)
}

// RescoreAll re-scores every customer of a tenant from the stored events,
// for the tests of package domain_test.
func RescoreAll(s *Service, ctx context.Context, tenantID string) error {
	return s.refreshAll(ctx, tenantID, true, CauseRulesChanged)
}
