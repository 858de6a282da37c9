package storetest

import (
	"testing"
	"time"

	"github.com/potentialhq/potential/domain"
)

func interaction(ext, customer string, at time.Time) domain.Interaction {
	return domain.Interaction{ID: domain.NewID(), ExternalID: ext, Customer: domain.CustomerRef{ExternalID: customer},
		Type: domain.InteractionEmailOpened, Direction: domain.DirectionInbound, Channel: "email", OccurredAt: at}
}

func referral(ext string, from, to domain.CustomerRef, at time.Time) domain.Referral {
	return domain.Referral{ID: domain.NewID(), ExternalID: ext, Referrer: from, Referred: to, OccurredAt: at}
}

func ref(ext string) domain.CustomerRef { return domain.CustomerRef{ExternalID: ext} }

func recordInteractions(t *testing.T, s domain.Store, tenant domain.Tenant, opts domain.RecordOptions, its ...domain.Interaction) domain.BatchResult {
	t.Helper()
	res, err := s.RecordInteractions(ctx(t), tenant.ID, fresh(its, func(it *domain.Interaction) { it.ID = domain.NewID() }), opts)
	if err != nil {
		t.Fatalf("RecordInteractions: %v", err)
	}
	return res
}

func recordReferrals(t *testing.T, s domain.Store, tenant domain.Tenant, opts domain.RecordOptions, rs ...domain.Referral) domain.BatchResult {
	t.Helper()
	res, err := s.RecordReferrals(ctx(t), tenant.ID, fresh(rs, func(r *domain.Referral) { r.ID = domain.NewID() }), opts)
	if err != nil {
		t.Fatalf("RecordReferrals: %v", err)
	}
	return res
}

// wantEngagement fails unless customer ext's engagement is want.
func wantEngagement(t *testing.T, what string, s domain.Store, tenant domain.Tenant, ext string, want domain.EngagementStats) {
	t.Helper()
	c, err := s.GetCustomer(ctx(t), tenant.ID, domain.CustomerRef{ExternalID: ext})
	if err != nil {
		t.Fatalf("%s: GetCustomer(%q): %v", what, ext, err)
	}
	if c.Engagement != want {
		t.Fatalf("%s: customer %q:\n got %+v\nwant %+v", what, ext, c.Engagement, want)
	}
}

var engagementTests = []test{
	{"Interactions/Stats", func(t *testing.T, s domain.Store) {
		tn := newTenant(t, s)
		a := create(t, s, newCustomer(tn, "a"))
		batch := []domain.Interaction{interaction("i1", "a", day(2, 0)), interaction("i2", "a", day(5, 0)), interaction("i1", "a", day(2, 0)), interaction("i3", "a", day(1, 0))}
		wantResult(t, "first send", recordInteractions(t, s, tn, domain.RecordOptions{}, batch...), 3, 1, 0)
		want := domain.EngagementStats{Interactions: 3, LastInteractionTime: day(5, 0)}
		wantEngagement(t, "first send", s, tn, "a", want)
		wantResult(t, "resend", recordInteractions(t, s, tn, domain.RecordOptions{}, batch...), 0, 4, 0)
		wantEngagement(t, "resend", s, tn, "a", want)
		// An earlier interaction counts but leaves the last time alone.
		recordInteractions(t, s, tn, domain.RecordOptions{}, interaction("i4", "a", day(0, 0)))
		want.Interactions = 4
		wantEngagement(t, "earlier interaction", s, tn, "a", want)

		_, err := s.RecordInteractions(ctx(t), tn.ID, []domain.Interaction{interaction("i5", "a", day(9, 0)), interaction("i6", "ghost", day(9, 0))}, domain.RecordOptions{})
		wantItemErr(t, "unknown customer", err, 1, "customer", domain.ErrNotFound)
		wantEngagement(t, "after a failed batch", s, tn, "a", want)
		bad := interaction("i7", "a", day(9, 0))
		bad.Channel = "\xff"
		_, err = s.RecordInteractions(ctx(t), tn.ID, []domain.Interaction{bad}, domain.RecordOptions{})
		wantItemErr(t, "unstorable channel", err, 0, "channel", domain.ErrInvalid)

		res := recordInteractions(t, s, tn, domain.RecordOptions{CreateMissingCustomers: true, Now: t0}, interaction("i8", "new", day(3, 0)), interaction("i9", "new", day(4, 0)))
		wantResult(t, "creating a customer", res, 2, 0, 1)
		wantEngagement(t, "created customer", s, tn, "new", domain.EngagementStats{Interactions: 2, LastInteractionTime: day(4, 0)})
		if got := get(t, s, tn, a.ID); got.Purchases != (domain.PurchaseStats{}) || got.Version != 1 {
			t.Fatalf("interactions changed purchases or version: %+v", got)
		}
	}},
	{"Referrals/Stats", func(t *testing.T, s domain.Store) {
		tn := newTenant(t, s)
		a, b, c := create(t, s, newCustomer(tn, "a")), create(t, s, newCustomer(tn, "b")), create(t, s, newCustomer(tn, "c"))
		batch := []domain.Referral{
			referral("r1", ref("a"), ref("b"), day(2, 0)),
			referral("r2", domain.CustomerRef{ID: c.ID}, ref("b"), day(1, 0)), // earlier: c brought b
			referral("r3", ref("a"), domain.CustomerRef{ID: c.ID}, day(3, 0)),
			referral("r1", ref("a"), ref("b"), day(2, 0)), // repeats r1
		}
		wantResult(t, "first send", recordReferrals(t, s, tn, domain.RecordOptions{}, batch...), 3, 1, 0)
		check := func(what string) {
			t.Helper()
			wantEngagement(t, what, s, tn, "a", domain.EngagementStats{ReferralsGiven: 2})
			wantEngagement(t, what, s, tn, "b", domain.EngagementStats{ReferredBy: c.ID})
			wantEngagement(t, what, s, tn, "c", domain.EngagementStats{ReferralsGiven: 1, ReferredBy: a.ID})
		}
		check("first send")
		wantResult(t, "resend", recordReferrals(t, s, tn, domain.RecordOptions{}, batch...), 0, 4, 0)
		check("resend")
		// A later referral of b does not change who brought b.
		recordReferrals(t, s, tn, domain.RecordOptions{}, referral("r4", ref("a"), ref("b"), day(8, 0)))
		wantEngagement(t, "later referral", s, tn, "b", domain.EngagementStats{ReferredBy: c.ID})
		wantEngagement(t, "later referral", s, tn, "a", domain.EngagementStats{ReferralsGiven: 3})

		_, err := s.RecordReferrals(ctx(t), tn.ID, []domain.Referral{referral("r5", ref("a"), domain.CustomerRef{ID: a.ID}, t0)}, domain.RecordOptions{})
		wantItemErr(t, "self-referral", err, 0, "referred", domain.ErrInvalid)
		_, err = s.RecordReferrals(ctx(t), tn.ID, []domain.Referral{referral("r6", ref("a"), ref("c"), t0), referral("r7", ref("a"), ref("ghost"), t0)}, domain.RecordOptions{})
		wantItemErr(t, "unknown referred", err, 1, "referred", domain.ErrNotFound)
		_, err = s.RecordReferrals(ctx(t), tn.ID, []domain.Referral{referral("r8", ref("ghost"), ref("a"), t0)}, domain.RecordOptions{})
		wantItemErr(t, "unknown referrer", err, 0, "referrer", domain.ErrNotFound)
		wantEngagement(t, "after failed batches", s, tn, "a", domain.EngagementStats{ReferralsGiven: 3})

		res := recordReferrals(t, s, tn, domain.RecordOptions{CreateMissingCustomers: true, Now: t0}, referral("r9", ref("b"), ref("d"), t0), referral("r10", ref("e"), ref("d"), t0))
		wantResult(t, "creating customers", res, 2, 0, 2)
		d, _ := s.GetCustomer(ctx(t), tn.ID, ref("d"))
		e, _ := s.GetCustomer(ctx(t), tn.ID, ref("e"))
		// Two referrals at the same time: the one with the smaller external id (r10 < r9) counts.
		if d.Engagement.ReferredBy != e.ID || e.Engagement.ReferralsGiven != 1 {
			t.Fatalf("d = %+v, e = %+v", d.Engagement, e.Engagement)
		}
		wantEngagement(t, "b after referring d", s, tn, "b", domain.EngagementStats{ReferralsGiven: 1, ReferredBy: c.ID})
		_ = b
	}},
}
