package storetest

import (
	"testing"

	"github.com/potentialhq/potential/domain"
)

var isolationTests = []test{
	{"Isolation/Customers", func(t *testing.T, s domain.Store) {
		a, b := newTenant(t, s), newTenant(t, s)
		theirs := create(t, s, newCustomer(b, "shared"))
		record(t, s, b, order("o1", "shared", 100, day(0, 10)))
		theirs = get(t, s, b, theirs.ID)

		for name, ref := range map[string]domain.CustomerRef{"id": {ID: theirs.ID}, "external id": {ExternalID: "shared"}} {
			_, err := s.GetCustomer(ctx(t), a.ID, ref)
			wantErr(t, "get by "+name, err, domain.ErrNotFound)
		}
		upd := theirs
		upd.TenantID, upd.DisplayName = a.ID, "hijacked"
		_, err := s.UpdateCustomer(ctx(t), upd)
		wantErr(t, "update", err, domain.ErrNotFound)
		wantErr(t, "delete", s.DeleteCustomer(ctx(t), a.ID, theirs.ID), domain.ErrNotFound)
		list, err := s.ListCustomers(ctx(t), a.ID, domain.CustomerQuery{Limit: 10})
		if err != nil || len(list) != 0 {
			t.Fatalf("ListCustomers of an empty tenant = %v, %v", list, err)
		}
		txs, err := s.ListTransactions(ctx(t), a.ID, theirs.ID)
		if err != nil || len(txs) != 0 {
			t.Fatalf("ListTransactions of another tenant's customer = %v, %v", txs, err)
		}

		// Recording against B's customer from A: by id never, by external
		// id only as A's own, new customer.
		_, err = s.RecordTransactions(ctx(t), a.ID, []domain.Transaction{{ID: domain.NewID(), ExternalID: "o2", Customer: domain.CustomerRef{ID: theirs.ID}, Kind: domain.TxOrder, Amount: 1, OccurredAt: t0}}, domain.RecordOptions{CreateMissingCustomers: true})
		wantItemErr(t, "record by id", err, 0, "customer", domain.ErrNotFound)
		_, err = s.RecordTransactions(ctx(t), a.ID, []domain.Transaction{order("o2", "shared", 1, t0)}, domain.RecordOptions{})
		wantItemErr(t, "record by external id", err, 0, "customer", domain.ErrNotFound)
		_, err = s.RecordInteractions(ctx(t), a.ID, []domain.Interaction{interaction("i1", "shared", t0)}, domain.RecordOptions{})
		wantItemErr(t, "interaction by external id", err, 0, "customer", domain.ErrNotFound)
		_, err = s.RecordReferrals(ctx(t), a.ID, []domain.Referral{referral("r1", domain.CustomerRef{ID: theirs.ID}, domain.CustomerRef{ExternalID: "x"}, t0)}, domain.RecordOptions{CreateMissingCustomers: true})
		wantItemErr(t, "referral by id", err, 0, "referrer", domain.ErrNotFound)
		// The same transaction id in A creates A's own transaction and customer.
		res, err := s.RecordTransactions(ctx(t), a.ID, []domain.Transaction{order("o1", "shared", 5, t0)}, domain.RecordOptions{CreateMissingCustomers: true, Now: t0})
		if err != nil {
			t.Fatalf("record in A: %v", err)
		}
		wantResult(t, "record in A", res, 1, 0, 1)
		mine, err := s.GetCustomer(ctx(t), a.ID, domain.CustomerRef{ExternalID: "shared"})
		if err != nil || mine.ID == theirs.ID || mine.Purchases.TotalSpend != 5 {
			t.Fatalf("A's customer = %+v, %v", mine, err)
		}
		wantEqual(t, "B's customer", get(t, s, b, theirs.ID), theirs)
		list, _ = s.ListCustomers(ctx(t), b.ID, domain.CustomerQuery{Limit: 10})
		wantEqual(t, "B's customers", extIDs(list), []string{"shared"})
	}},
	{"Isolation/Keys", func(t *testing.T, s domain.Store) {
		a, b := newTenant(t, s), newTenant(t, s)
		createKey(t, s, newKey(a, "mine", t0))
		theirs := newKey(b, "theirs", t0)
		createKey(t, s, theirs)
		keys, _ := s.ListAPIKeys(ctx(t), a.ID)
		if len(keys) != 1 || keys[0].Name != "mine" {
			t.Fatalf("ListAPIKeys(A) = %+v", keys)
		}
		_, err := s.RevokeAPIKey(ctx(t), a.ID, theirs.ID, t0)
		wantErr(t, "revoke B's key from A", err, domain.ErrNotFound)
		got, _ := s.GetAPIKey(ctx(t), theirs.ID)
		if !got.RevokeTime.IsZero() {
			t.Fatal("A revoked B's key")
		}
	}},
}
