package storetest

import (
	"testing"
	"time"

	"github.com/potentialhq/potential/domain"
)

// upsertItem returns an item as the service passes it: fresh id, times now.
func upsertItem(tenant domain.Tenant, ext, name string, now time.Time) domain.Customer {
	c := newCustomer(tenant, ext)
	c.DisplayName, c.CreateTime, c.UpdateTime = name, now, now
	return c
}

func upsert(t *testing.T, s domain.Store, tenant domain.Tenant, now time.Time, cs ...domain.Customer) []domain.UpsertOutcome {
	t.Helper()
	out, err := s.UpsertCustomers(ctx(t), tenant.ID, cs, now)
	if err != nil {
		t.Fatalf("UpsertCustomers: %v", err)
	}
	if len(out) != len(cs) {
		t.Fatalf("UpsertCustomers returned %d outcomes for %d items", len(out), len(cs))
	}
	return out
}

var upsertTests = []test{
	{"Upsert/CreateReplaceUnchanged", func(t *testing.T, s domain.Store) {
		tn := newTenant(t, s)
		t1, t2 := t0.Add(time.Hour), t0.Add(2*time.Hour)
		first := upsert(t, s, tn, t1,
			upsertItem(tn, "a", "Ann", t1), upsertItem(tn, "b", "Bob", t1), fullCustomer(tn, "c"))
		for i, o := range first {
			if !o.Created || o.Customer.Version != 1 || !o.Customer.CreateTime.Equal(t1) || !o.Customer.UpdateTime.Equal(t1) {
				t.Fatalf("first upsert, item %d: %+v", i, o)
			}
			wantEqual(t, "stored customer", get(t, s, tn, o.Customer.ID), o.Customer)
		}
		record(t, s, tn, order("o1", "a", 100, day(0, 10)))
		a := get(t, s, tn, first[0].Customer.ID)

		sameC := fullCustomer(tn, "c") // equal in every client field, with a new id
		second := upsert(t, s, tn, t2,
			upsertItem(tn, "a", "Anna", t2), // changed
			upsertItem(tn, "b", "Bob", t2),  // unchanged
			sameC,                           // unchanged, attributes and all
			upsertItem(tn, "d", "Dora", t2), // new
		)
		wantA := a
		wantA.DisplayName, wantA.Version, wantA.UpdateTime = "Anna", 2, t2
		wantEqual(t, "changed", second[0], domain.UpsertOutcome{Customer: wantA})
		wantEqual(t, "unchanged", second[1], domain.UpsertOutcome{Customer: first[1].Customer})
		wantEqual(t, "unchanged with attributes", second[2], domain.UpsertOutcome{Customer: first[2].Customer})
		if !second[3].Created || second[3].Customer.DisplayName != "Dora" {
			t.Fatalf("new: %+v", second[3])
		}
		for _, o := range second {
			wantEqual(t, "stored "+o.Customer.ExternalID, get(t, s, tn, o.Customer.ID), o.Customer)
		}
		if second[0].Customer.Purchases.Orders != 1 {
			t.Fatalf("upsert lost the statistics: %+v", second[0].Customer.Purchases)
		}
	}},
	{"Upsert/AtomicOnFailure", func(t *testing.T, s domain.Store) {
		tn := newTenant(t, s)
		existing := upsert(t, s, tn, t0, upsertItem(tn, "a", "Ann", t0))[0].Customer
		t1 := t0.Add(time.Hour)
		check := func(what string, err error) {
			t.Helper()
			if err == nil {
				t.Fatalf("%s: no error", what)
			}
			wantEqual(t, what+": existing customer", get(t, s, tn, existing.ID), existing)
			list, _ := s.ListCustomers(ctx(t), tn.ID, domain.CustomerQuery{Limit: 10})
			if len(list) != 1 {
				t.Fatalf("%s: %d customers stored, want 1", what, len(list))
			}
		}
		_, err := s.UpsertCustomers(ctx(t), tn.ID, []domain.Customer{upsertItem(tn, "a", "Anna", t1), upsertItem(tn, "b", "Bob", t1), upsertItem(tn, "", "Nobody", t1)}, t1)
		wantItemErr(t, "missing external id", err, 2, "external_id", domain.ErrInvalid)
		check("missing external id", err)
		_, err = s.UpsertCustomers(ctx(t), tn.ID, []domain.Customer{upsertItem(tn, "b", "Bob", t1), upsertItem(tn, "a", "Anna", t1), upsertItem(tn, "b", "Bobby", t1)}, t1)
		wantItemErr(t, "repeated external id", err, 2, "external_id", domain.ErrInvalid)
		check("repeated external id", err)
		bad := upsertItem(tn, "c", "Carl\x00", t1)
		_, err = s.UpsertCustomers(ctx(t), tn.ID, []domain.Customer{upsertItem(tn, "a", "Anna", t1), bad}, t1)
		wantItemErr(t, "unstorable name", err, 1, "display_name", domain.ErrInvalid)
		check("unstorable name", err)
		clash := upsertItem(tn, "c", "Carl", t1)
		clash.ID = existing.ID // a new customer with a taken id
		_, err = s.UpsertCustomers(ctx(t), tn.ID, []domain.Customer{upsertItem(tn, "a", "Anna", t1), upsertItem(tn, "b", "Bob", t1), clash}, t1)
		wantErr(t, "taken id", err, domain.ErrConflict)
		check("taken id", err)
	}},
	{"Upsert/UnknownTenant", func(t *testing.T, s domain.Store) {
		tn := domain.Tenant{ID: domain.NewID()}
		_, err := s.UpsertCustomers(ctx(t), tn.ID, []domain.Customer{upsertItem(tn, "a", "Ann", t0)}, t0)
		wantErr(t, "unknown tenant", err, domain.ErrNotFound)
	}},
}
