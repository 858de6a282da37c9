package storetest

import (
	"math"
	"testing"
	"time"

	"github.com/potentialhq/potential/domain"
)

// fullCustomer sets every client field of a customer.
func fullCustomer(tenant domain.Tenant, ext string) domain.Customer {
	c := newCustomer(tenant, ext)
	c.Kind = domain.KindLead
	c.DisplayName, c.GivenName, c.FamilyName, c.CompanyName = "Ada Lovelace", "Ada", "Lovelace", "Analytical Engines Ltd"
	c.Email, c.Phone = "ada@example.com", "+44 20 7946 0000"
	c.AcceptedChannels = []domain.Channel{domain.ChannelEmail, domain.ChannelPhone}
	c.Country, c.Region, c.City = "GB", "London", "London"
	c.AgeBand, c.Gender, c.Industry, c.CompanySize = domain.Age35to44, domain.GenderFemale, "computing", domain.Size11to50
	c.AcquisitionChannel = "referral"
	c.Attributes = map[string]domain.AttributeValue{
		"tier":     {Kind: domain.AttrString, String: "gold ✓"},
		"score":    {Kind: domain.AttrNumber, Number: 0.1},
		"big":      {Kind: domain.AttrNumber, Number: 1e300},
		"tiny":     {Kind: domain.AttrNumber, Number: -5e-324},
		"count":    {Kind: domain.AttrNumber, Number: 42},
		"vip":      {Kind: domain.AttrBool, Bool: true},
		"optout":   {Kind: domain.AttrBool, Bool: false},
		"renewal":  {Kind: domain.AttrTime, Time: time.Date(2025, 1, 2, 3, 4, 5, 6000, time.UTC)},
		"empty":    {Kind: domain.AttrString},
		"epoch_ms": {Kind: domain.AttrNumber, Number: 1709287200123},
	}
	c.Qualification = domain.Qualification{Budget: 1_500_000_000, Authority: domain.AuthorityDecisionMaker, Need: "a difference engine", DecisionTime: time.Date(2024, 6, 30, 0, 0, 0, 0, time.UTC)}
	return c
}

var customerTests = []test{
	{"Customer/CreateGet", func(t *testing.T, s domain.Store) {
		tn := newTenant(t, s)
		c := fullCustomer(tn, "crm-1")
		// Whatever statistics, assessment and version the caller passes, a
		// new customer starts at version 1 with none.
		c.Version = 7
		c.Purchases.Orders, c.Engagement.Interactions = 3, 4
		c.Assessment = domain.Assessment{PredictedValue: 9, PAlive: 0.5} // read-only as well
		// Times come back in UTC, to the microsecond; an attribute's
		// irrelevant fields are dropped.
		cet := time.FixedZone("CET", 3600)
		c.CreateTime = time.Date(2024, 3, 1, 11, 0, 0, 999, cet)
		c.UpdateTime = c.CreateTime
		c.Attributes["vip"] = domain.AttributeValue{Kind: domain.AttrBool, Bool: true, String: "ignored"}
		got := create(t, s, c)

		want := fullCustomer(tn, "crm-1")
		want.ID = c.ID
		want.CreateTime, want.UpdateTime = t0, t0
		if !got.CreateTime.Equal(t0) {
			t.Fatalf("create time %v, want %v", got.CreateTime, t0)
		}
		wantEqual(t, "CreateCustomer", got, want)
		wantEqual(t, "GetCustomer(id)", get(t, s, tn, c.ID), want)
		byExt, err := s.GetCustomer(ctx(t), tn.ID, domain.CustomerRef{ExternalID: "crm-1"})
		if err != nil {
			t.Fatalf("GetCustomer(external id): %v", err)
		}
		wantEqual(t, "GetCustomer(external id)", byExt, want)
		both, err := s.GetCustomer(ctx(t), tn.ID, domain.CustomerRef{ID: c.ID, ExternalID: "crm-1"})
		if err != nil {
			t.Fatalf("GetCustomer(id and external id): %v", err)
		}
		wantEqual(t, "GetCustomer(id and external id)", both, want)
		_, err = s.GetCustomer(ctx(t), tn.ID, domain.CustomerRef{ID: c.ID, ExternalID: "crm-2"})
		wantErr(t, "GetCustomer(id and another external id)", err, domain.ErrNotFound)
	}},
	{"Customer/MinimalRoundTrip", func(t *testing.T, s domain.Store) {
		tn := newTenant(t, s)
		c := domain.Customer{ID: domain.NewID(), TenantID: tn.ID, Kind: domain.KindCustomer, CreateTime: t0, UpdateTime: t0,
			AcceptedChannels: []domain.Channel{}, Attributes: map[string]domain.AttributeValue{}}
		got := create(t, s, c)
		want := c
		want.Version, want.AcceptedChannels, want.Attributes = 1, nil, nil // empty collections come back nil
		wantEqual(t, "CreateCustomer", got, want)
		wantEqual(t, "GetCustomer", get(t, s, tn, c.ID), want)
	}},
	{"Customer/CreateConflict", func(t *testing.T, s domain.Store) {
		tn := newTenant(t, s)
		first := create(t, s, newCustomer(tn, "crm-1"))
		_, err := s.CreateCustomer(ctx(t), newCustomer(tn, "crm-1"))
		wantErr(t, "same external id", err, domain.ErrConflict)
		dup := newCustomer(tn, "crm-2")
		dup.ID = first.ID
		_, err = s.CreateCustomer(ctx(t), dup)
		wantErr(t, "same id", err, domain.ErrConflict)
		_, err = s.GetCustomer(ctx(t), tn.ID, domain.CustomerRef{ExternalID: "crm-2"})
		wantErr(t, "GetCustomer after a failed create", err, domain.ErrNotFound)
		// Customers without an external id do not conflict.
		create(t, s, newCustomer(tn, ""))
		create(t, s, newCustomer(tn, ""))
	}},
	{"Customer/CreateInvalid", func(t *testing.T, s domain.Store) {
		tn := newTenant(t, s)
		_, err := s.CreateCustomer(ctx(t), newCustomer(domain.Tenant{ID: domain.NewID()}, "x"))
		wantErr(t, "unknown tenant", err, domain.ErrNotFound)
		c := newCustomer(tn, "x")
		c.ID = "not-a-uuid"
		_, err = s.CreateCustomer(ctx(t), c)
		wantErr(t, "malformed id", err, domain.ErrInvalid)
		for name, mutate := range map[string]func(*domain.Customer){
			"NUL in a name": func(c *domain.Customer) { c.DisplayName = "a\x00b" },
			"invalid UTF-8": func(c *domain.Customer) { c.City = "\xff" },
			"NUL in an attribute": func(c *domain.Customer) {
				c.Attributes = map[string]domain.AttributeValue{"a": {Kind: domain.AttrString, String: "\x00"}}
			},
			"NaN attribute": func(c *domain.Customer) {
				c.Attributes = map[string]domain.AttributeValue{"a": {Kind: domain.AttrNumber, Number: math.NaN()}}
			},
			"infinite attribute": func(c *domain.Customer) {
				c.Attributes = map[string]domain.AttributeValue{"a": {Kind: domain.AttrNumber, Number: math.Inf(-1)}}
			},
			"untyped attribute":    func(c *domain.Customer) { c.Attributes = map[string]domain.AttributeValue{"a": {String: "x"}} },
			"year 10000":           func(c *domain.Customer) { c.Qualification.DecisionTime = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) },
			"NUL in a channel":     func(c *domain.Customer) { c.AcceptedChannels = []domain.Channel{"\x00"} },
			"invalid external id ": func(c *domain.Customer) { c.ExternalID = "\xfe" },
		} {
			c := newCustomer(tn, "bad")
			mutate(&c)
			_, err := s.CreateCustomer(ctx(t), c)
			wantErr(t, name, err, domain.ErrInvalid)
		}
		list, _ := s.ListCustomers(ctx(t), tn.ID, domain.CustomerQuery{Limit: 10})
		if len(list) != 0 {
			t.Fatalf("failed creates stored %d customers", len(list))
		}
	}},
	{"Customer/GetNotFound", func(t *testing.T, s domain.Store) {
		tn := newTenant(t, s)
		create(t, s, newCustomer(tn, "crm-1"))
		for name, ref := range map[string]domain.CustomerRef{
			"unknown id":          {ID: domain.NewID()},
			"malformed id":        {ID: "crm-1"},
			"unknown external id": {ExternalID: "crm-2"},
		} {
			_, err := s.GetCustomer(ctx(t), tn.ID, ref)
			wantErr(t, name, err, domain.ErrNotFound)
		}
		_, err := s.GetCustomer(ctx(t), "not-a-uuid", domain.CustomerRef{ExternalID: "crm-1"})
		wantErr(t, "malformed tenant", err, domain.ErrNotFound)
		_, err = s.GetCustomer(ctx(t), tn.ID, domain.CustomerRef{})
		wantErr(t, "empty reference", err, domain.ErrInvalid)
	}},
	{"Customer/Update", func(t *testing.T, s domain.Store) {
		tn := newTenant(t, s)
		orig := create(t, s, fullCustomer(tn, "crm-1"))
		next := newCustomer(tn, "crm-1b")
		next.ID, next.Version = orig.ID, orig.Version
		next.CreateTime = t0.Add(time.Hour) // ignored: the create time stays
		next.UpdateTime = t0.Add(2 * time.Hour)
		next.Country = "PL"
		got, err := s.UpdateCustomer(ctx(t), next)
		if err != nil {
			t.Fatalf("UpdateCustomer: %v", err)
		}
		want := next
		want.Version, want.CreateTime = 2, t0
		wantEqual(t, "UpdateCustomer", got, want)
		wantEqual(t, "GetCustomer", get(t, s, tn, orig.ID), want)
		_, err = s.GetCustomer(ctx(t), tn.ID, domain.CustomerRef{ExternalID: "crm-1"})
		wantErr(t, "old external id", err, domain.ErrNotFound)
		// The old external id is free again.
		create(t, s, newCustomer(tn, "crm-1"))
	}},
	{"Customer/UpdateStale", func(t *testing.T, s domain.Store) {
		tn := newTenant(t, s)
		orig := create(t, s, newCustomer(tn, "crm-1"))
		next := orig
		next.DisplayName, next.UpdateTime = "first", t0.Add(time.Hour)
		if _, err := s.UpdateCustomer(ctx(t), next); err != nil {
			t.Fatalf("UpdateCustomer: %v", err)
		}
		stale := orig
		stale.DisplayName = "second"
		_, err := s.UpdateCustomer(ctx(t), stale)
		wantErr(t, "update at version 1 of a customer at version 2", err, domain.ErrStale)
		ahead := orig
		ahead.Version = 5
		_, err = s.UpdateCustomer(ctx(t), ahead)
		wantErr(t, "update at a future version", err, domain.ErrStale)
		got := get(t, s, tn, orig.ID)
		if got.DisplayName != "first" || got.Version != 2 {
			t.Fatalf("stale updates changed the customer: %+v", got)
		}
	}},
	{"Customer/UpdateNotFound", func(t *testing.T, s domain.Store) {
		tn := newTenant(t, s)
		_, err := s.UpdateCustomer(ctx(t), newCustomer(tn, "crm-1"))
		wantErr(t, "unknown id", err, domain.ErrNotFound)
		c := newCustomer(tn, "crm-1")
		c.ID = "not-a-uuid"
		_, err = s.UpdateCustomer(ctx(t), c)
		wantErr(t, "malformed id", err, domain.ErrNotFound)
	}},
	{"Customer/UpdateConflict", func(t *testing.T, s domain.Store) {
		tn := newTenant(t, s)
		create(t, s, newCustomer(tn, "crm-1"))
		b := create(t, s, newCustomer(tn, "crm-2"))
		next := b
		next.ExternalID, next.UpdateTime = "crm-1", t0.Add(time.Hour)
		_, err := s.UpdateCustomer(ctx(t), next)
		wantErr(t, "taking another customer's external id", err, domain.ErrConflict)
		wantEqual(t, "customer after a failed update", get(t, s, tn, b.ID), b)
		// Keeping one's own external id, or dropping it, is fine.
		next.ExternalID = "crm-2"
		if _, err := s.UpdateCustomer(ctx(t), next); err != nil {
			t.Fatalf("UpdateCustomer keeping its external id: %v", err)
		}
	}},
	{"Customer/UpdateKeepsStats", func(t *testing.T, s domain.Store) {
		tn := newTenant(t, s)
		c := create(t, s, newCustomer(tn, "crm-1"))
		record(t, s, tn, withMargin(order("o1", "crm-1", 100, day(0, 10)), 20))
		if _, err := s.RecordInteractions(ctx(t), tn.ID, []domain.Interaction{interaction("i1", "crm-1", day(0, 9))}, domain.RecordOptions{}); err != nil {
			t.Fatalf("RecordInteractions: %v", err)
		}
		before := get(t, s, tn, c.ID)
		next := before
		next.Purchases, next.Engagement = domain.PurchaseStats{}, domain.EngagementStats{}
		next.DisplayName, next.UpdateTime = "renamed", t0.Add(time.Hour)
		got, err := s.UpdateCustomer(ctx(t), next)
		if err != nil {
			t.Fatalf("UpdateCustomer: %v", err)
		}
		if got.Purchases != before.Purchases || got.Engagement != before.Engagement {
			t.Fatalf("update changed statistics: got %+v %+v, want %+v %+v", got.Purchases, got.Engagement, before.Purchases, before.Engagement)
		}
		if got.Purchases.Orders != 1 || got.Engagement.Interactions != 1 {
			t.Fatalf("statistics before the update were not recorded: %+v %+v", got.Purchases, got.Engagement)
		}
	}},
	{"Customer/NoAliasing", func(t *testing.T, s domain.Store) {
		tn := newTenant(t, s)
		c := fullCustomer(tn, "crm-1")
		got := create(t, s, c)
		want := get(t, s, tn, c.ID)
		c.AcceptedChannels[0] = "changed"
		c.Attributes["tier"] = domain.AttributeValue{Kind: domain.AttrString, String: "changed"}
		got.AcceptedChannels[1] = "changed"
		got.Attributes["vip"] = domain.AttributeValue{Kind: domain.AttrBool}
		delete(got.Attributes, "score")
		again := get(t, s, tn, c.ID)
		wantEqual(t, "customer after changing the caller's copies", again, want)
		again.Attributes["new"] = domain.AttributeValue{Kind: domain.AttrBool}
		list, err := s.ListCustomers(ctx(t), tn.ID, domain.CustomerQuery{Limit: 10})
		if err != nil || len(list) != 1 {
			t.Fatalf("ListCustomers: %v, %v", list, err)
		}
		wantEqual(t, "listed customer", list[0], want)
		list[0].AcceptedChannels[0] = "changed"
		wantEqual(t, "customer after changing a listed copy", get(t, s, tn, c.ID), want)
	}},
	{"Customer/Delete", func(t *testing.T, s domain.Store) {
		tn := newTenant(t, s)
		c := create(t, s, newCustomer(tn, "crm-1"))
		keep := create(t, s, newCustomer(tn, "crm-2"))
		if err := s.DeleteCustomer(ctx(t), tn.ID, c.ID); err != nil {
			t.Fatalf("DeleteCustomer: %v", err)
		}
		_, err := s.GetCustomer(ctx(t), tn.ID, domain.CustomerRef{ID: c.ID})
		wantErr(t, "GetCustomer after delete", err, domain.ErrNotFound)
		_, err = s.GetCustomer(ctx(t), tn.ID, domain.CustomerRef{ExternalID: "crm-1"})
		wantErr(t, "GetCustomer(external id) after delete", err, domain.ErrNotFound)
		wantErr(t, "second delete", s.DeleteCustomer(ctx(t), tn.ID, c.ID), domain.ErrNotFound)
		wantErr(t, "delete malformed id", s.DeleteCustomer(ctx(t), tn.ID, "nope"), domain.ErrNotFound)
		wantEqual(t, "other customer", get(t, s, tn, keep.ID), keep)
		create(t, s, newCustomer(tn, "crm-1")) // the external id is free again
	}},
}
