package storetest

import (
	"testing"

	"github.com/potentialhq/potential/domain"
)

var deleteTests = []test{
	{"Delete/ErasesEvents", func(t *testing.T, s domain.Store) {
		tn := newTenant(t, s)
		x := create(t, s, newCustomer(tn, "x"))
		for _, ext := range []string{"y", "z", "w", "v"} {
			create(t, s, newCustomer(tn, ext))
		}
		txs := []domain.Transaction{withMargin(order("o1", "x", 100, day(1, 0)), 10), order("o2", "x", 50, day(2, 0)), refund("r1", "x", 5, day(3, 0))}
		record(t, s, tn, append(txs, order("o3", "y", 7, day(1, 0)))...)
		its := []domain.Interaction{interaction("i1", "x", day(1, 0)), interaction("i2", "x", day(2, 0))}
		recordInteractions(t, s, tn, domain.RecordOptions{}, its...)
		refs := []domain.Referral{
			referral("f1", ref("x"), ref("y"), day(1, 0)), // x brought y ...
			referral("f2", ref("v"), ref("y"), day(2, 0)), // ... before v did
			referral("f3", ref("z"), ref("x"), day(1, 0)), // z brought x
			referral("f4", ref("x"), ref("w"), day(1, 0)), // x brought w, alone
			referral("f5", ref("z"), ref("v"), day(1, 0)),
		}
		recordReferrals(t, s, tn, domain.RecordOptions{}, refs...)
		wantEngagement(t, "before", s, tn, "y", domain.EngagementStats{ReferredBy: x.ID})
		y := get(t, s, tn, mustID(t, s, tn, "y"))

		if err := s.DeleteCustomer(ctx(t), tn.ID, x.ID); err != nil {
			t.Fatalf("DeleteCustomer: %v", err)
		}
		if got := listTxs(t, s, tn, x.ID); len(got) != 0 {
			t.Fatalf("transactions survived: %v", got)
		}
		v := mustID(t, s, tn, "v")
		wantEngagement(t, "y after delete", s, tn, "y", domain.EngagementStats{ReferredBy: v})
		wantEngagement(t, "z after delete", s, tn, "z", domain.EngagementStats{ReferralsGiven: 1})
		wantEngagement(t, "w after delete", s, tn, "w", domain.EngagementStats{})
		wantPurchases(t, "y after delete", s, tn, "y", y.Purchases)

		// The erased customer's events are gone for good: sent again, now
		// for a new customer with the same external id, they are new.
		x2 := create(t, s, newCustomer(tn, "x"))
		wantResult(t, "transactions again", record(t, s, tn, txs...), 3, 0, 0)
		wantPurchases(t, "new x", s, tn, "x", expectPurchases(txs))
		if got := listTxs(t, s, tn, x2.ID); len(got) != 3 || got[0].CustomerID != x2.ID {
			t.Fatalf("new x's transactions: %+v", got)
		}
		wantResult(t, "interactions again", recordInteractions(t, s, tn, domain.RecordOptions{}, its...), 2, 0, 0)
		wantResult(t, "referrals again", recordReferrals(t, s, tn, domain.RecordOptions{}, refs...), 3, 2, 0)
		wantEngagement(t, "new x", s, tn, "x", domain.EngagementStats{Interactions: 2, LastInteractionTime: day(2, 0), ReferralsGiven: 2, ReferredBy: mustID(t, s, tn, "z")})
		wantEngagement(t, "y again", s, tn, "y", domain.EngagementStats{ReferredBy: x2.ID})
	}},
}

func mustID(t *testing.T, s domain.Store, tenant domain.Tenant, ext string) string {
	t.Helper()
	c, err := s.GetCustomer(ctx(t), tenant.ID, domain.CustomerRef{ExternalID: ext})
	if err != nil {
		t.Fatalf("GetCustomer(%q): %v", ext, err)
	}
	return c.ID
}
