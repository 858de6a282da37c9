package domain

import "context"

// RescoreAll re-scores every customer of a tenant from the stored events,
// for the tests of package domain_test.
func RescoreAll(s *Service, ctx context.Context, tenantID string) error {
	return s.refreshAll(ctx, tenantID, true, CauseRulesChanged)
}
