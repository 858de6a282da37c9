package storetest

import (
	"testing"
	"time"

	"github.com/potentialhq/potential/domain"
)

// Resends: an item whose external id is known is AlreadyKnown when its
// payload is the stored one, and fails the whole batch with ErrIDReused
// (changing nothing) when it differs — against the store and within a batch.
var resendTests = []test{
	{"Resend/Transactions", func(t *testing.T, s domain.Store) {
		tn := newTenant(t, s)
		opts := domain.RecordOptions{CreateMissingCustomers: true, Now: t0}
		o1 := withMargin(order("o1", "a", 100, day(0, 1)), 30)
		record := func(txs ...domain.Transaction) (domain.BatchResult, error) {
			return s.RecordTransactions(ctx(t), tn.ID, freshTxs(txs), opts)
		}
		res, err := record(o1, order("o2", "b", 50, day(0, 2)))
		if err != nil {
			t.Fatal(err)
		}
		wantResult(t, "first", res, 2, 0, 2)
		res, err = record(order("o3", "a", 10, day(0, 3)), o1, o1)
		if err != nil {
			t.Fatalf("resend with the same payload: %v", err)
		}
		wantResult(t, "resend", res, 1, 2, 0)
		for _, c := range []struct {
			what   string
			change func(*domain.Transaction)
		}{
			{"amount", func(tx *domain.Transaction) { tx.Amount++ }},
			{"margin", func(tx *domain.Transaction) { tx.HasMargin = false }},
			{"kind", func(tx *domain.Transaction) { tx.Kind = domain.TxRefund }},
			{"customer", func(tx *domain.Transaction) { tx.Customer = ref("b") }},
			{"occurred_at", func(tx *domain.Transaction) { tx.OccurredAt = tx.OccurredAt.Add(time.Second) }},
			{"quantity", func(tx *domain.Transaction) { tx.Quantity = 7 }},
		} {
			changed := o1
			c.change(&changed)
			_, err := record(order("o4", "c", 10, day(0, 4)), changed)
			wantItemErr(t, "resend with another "+c.what, err, 1, "external_id", domain.ErrIDReused)
		}
		// Within one batch: the first counts, a different repeat fails.
		o5 := order("o5", "a", 10, day(0, 5))
		o5b := o5
		o5b.Amount = 11
		_, err = record(o5, o5b)
		wantItemErr(t, "repeat in a batch with another amount", err, 1, "external_id", domain.ErrIDReused)
		// Nothing of the failed batches was stored: no o4, o5, customer c.
		res, err = record(order("o4", "d", 99, day(0, 6)), order("o5", "a", 99, day(0, 6)))
		if err != nil {
			t.Fatal(err)
		}
		wantResult(t, "after the failed batches", res, 2, 0, 1)
		if _, err := s.GetCustomer(ctx(t), tn.ID, ref("c")); err == nil {
			t.Fatal("a failed batch created customer c")
		}
		wantPurchases(t, "a", s, tn, "a", expectPurchases([]domain.Transaction{o1, order("o3", "a", 10, day(0, 3)), order("o5", "a", 99, day(0, 6))}))
	}},
	{"Resend/Interactions", func(t *testing.T, s domain.Store) {
		tn := newTenant(t, s)
		opts := domain.RecordOptions{CreateMissingCustomers: true, Now: t0}
		i1 := interaction("i1", "a", day(0, 1))
		recordInteractions(t, s, tn, opts, i1)
		wantResult(t, "resend", recordInteractions(t, s, tn, opts, i1, interaction("i2", "a", day(0, 2))), 1, 1, 0)
		for _, c := range []struct {
			what   string
			change func(*domain.Interaction)
		}{
			{"type", func(it *domain.Interaction) { it.Type = domain.InteractionCall }},
			{"direction", func(it *domain.Interaction) { it.Direction = domain.DirectionOutbound }},
			{"channel", func(it *domain.Interaction) { it.Channel = "sms" }},
			{"customer", func(it *domain.Interaction) { it.Customer = ref("b") }},
			{"occurred_at", func(it *domain.Interaction) { it.OccurredAt = it.OccurredAt.Add(time.Microsecond) }},
		} {
			changed := i1
			c.change(&changed)
			_, err := s.RecordInteractions(ctx(t), tn.ID, []domain.Interaction{changed}, opts)
			wantItemErr(t, "resend with another "+c.what, err, 0, "external_id", domain.ErrIDReused)
		}
		i3 := interaction("i3", "a", day(0, 3))
		i3b := i3
		i3b.Channel = "web"
		_, err := s.RecordInteractions(ctx(t), tn.ID, []domain.Interaction{i3, {ID: domain.NewID(), ExternalID: i3b.ExternalID, Customer: i3b.Customer,
			Type: i3b.Type, Direction: i3b.Direction, Channel: i3b.Channel, OccurredAt: i3b.OccurredAt}}, opts)
		wantItemErr(t, "repeat in a batch with another channel", err, 1, "external_id", domain.ErrIDReused)
		wantResult(t, "after the failed batches", recordInteractions(t, s, tn, opts, i3), 1, 0, 0)
	}},
	{"Resend/Referrals", func(t *testing.T, s domain.Store) {
		tn := newTenant(t, s)
		opts := domain.RecordOptions{CreateMissingCustomers: true, Now: t0}
		r1 := referral("r1", ref("a"), ref("b"), day(0, 1))
		recordReferrals(t, s, tn, opts, r1)
		wantResult(t, "resend", recordReferrals(t, s, tn, opts, r1), 0, 1, 0)
		for _, c := range []struct {
			what   string
			change func(*domain.Referral)
		}{
			{"referrer", func(r *domain.Referral) { r.Referrer = ref("c") }},
			{"referred", func(r *domain.Referral) { r.Referred = ref("c") }},
			{"occurred_at", func(r *domain.Referral) { r.OccurredAt = r.OccurredAt.Add(time.Hour) }},
		} {
			changed := r1
			c.change(&changed)
			changed.ID = domain.NewID()
			_, err := s.RecordReferrals(ctx(t), tn.ID, []domain.Referral{changed}, opts)
			wantItemErr(t, "resend with another "+c.what, err, 0, "external_id", domain.ErrIDReused)
		}
		if _, err := s.GetCustomer(ctx(t), tn.ID, ref("c")); err == nil {
			t.Fatal("a failed batch created customer c")
		}
	}},
}
