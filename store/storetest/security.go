package storetest

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/potentialhq/potential/domain"
)

// Place is somewhere a store keeps a string: a table's row, or a value in
// memory.
type Place struct {
	Where string // the table, or the path of the value
	Text  string // the row or value that holds the string
	Audit bool   // the place is the audit log
}

// Finder returns every place of a store that holds text, in any tenant.
type Finder func(t *testing.T, text string) []Place

// Erasure checks the right to be forgotten on s: after
// domain.Service.DeleteCustomer, nothing of the customer is left anywhere
// in the store, as find searches it (every table, every value), but the
// audit record of the erasure, which holds the customer's id and external
// id and nothing else of it.
//
// It fills a tenant, through the domain's use cases, with the customer
// (personal data in every field), its orders, refunds, interactions and
// referrals in both roles, and neighbours with their own data; first
// checks that find does find all of it; then erases the customer and
// searches again. Data that use cases store later (assessments, feedback,
// scores...) is covered as soon as these use cases store it for the
// customer.
func Erasure(t *testing.T, s domain.Store, find Finder) {
	t.Helper()
	ctx := t.Context()
	svc := domain.NewService(s, nil)
	tn := domain.Tenant{ID: domain.NewID(), Name: "erasure", CreateTime: t0}
	if err := s.CreateTenant(ctx, tn); err != nil {
		t.Fatal(err)
	}
	actx := domain.WithPrincipal(ctx, domain.Principal{TenantID: tn.ID, KeyID: "eraser", Role: domain.RoleAdmin})
	create := func(c domain.Customer) domain.Customer {
		t.Helper()
		out, err := svc.CreateCustomer(actx, c)
		if err != nil {
			t.Fatalf("CreateCustomer(%s): %v", c.ExternalID, err)
		}
		return out
	}
	target := create(domain.Customer{
		ExternalID: "crm-erase-4711", Kind: domain.KindLead,
		GivenName: "Zenobia", FamilyName: "Erasmusdottir", CompanyName: "Zenobiaworks",
		Email: "zenobia.erasmusdottir@example.org", Phone: "+48 511 222 333",
		Country: "PL", Region: "Mazowieckie", City: "Wyszogrod",
		AcceptedChannels: []domain.Channel{domain.ChannelEmail},
		Attributes:       map[string]domain.AttributeValue{"nickname": {Kind: domain.AttrString, String: "zenzen-the-forgettable"}},
		Qualification:    domain.Qualification{Need: "wants-to-be-forgotten", DecisionTime: t0.Add(90 * 24 * time.Hour)},
	})
	create(domain.Customer{ExternalID: "crm-keep-1", Kind: domain.KindCustomer, GivenName: "Keeper"})
	create(domain.Customer{ExternalID: "crm-keep-2", Kind: domain.KindCustomer, GivenName: "Holder"})
	ref := func(ext string) domain.CustomerRef { return domain.CustomerRef{ExternalID: ext} }
	at := time.Now().UTC().Add(-200 * 24 * time.Hour).Truncate(time.Hour)
	if _, err := svc.RecordTransactions(actx, []domain.Transaction{
		{ExternalID: "erase-order-1", Customer: ref(target.ExternalID), Kind: domain.TxOrder, Amount: 120_000_000, Margin: 30_000_000, HasMargin: true, OccurredAt: at},
		{ExternalID: "erase-order-2", Customer: ref(target.ExternalID), Kind: domain.TxOrder, Amount: 80_000_000, OccurredAt: at.Add(40 * 24 * time.Hour)},
		{ExternalID: "erase-refund-1", Customer: ref(target.ExternalID), Kind: domain.TxRefund, Amount: 10_000_000, OccurredAt: at.Add(41 * 24 * time.Hour)},
		{ExternalID: "keep-order-1", Customer: ref("crm-keep-1"), Kind: domain.TxOrder, Amount: 50_000_000, OccurredAt: at},
	}, false); err != nil {
		t.Fatalf("RecordTransactions: %v", err)
	}
	if _, err := svc.RecordInteractions(actx, []domain.Interaction{
		{ExternalID: "erase-call-1", Customer: ref(target.ExternalID), Type: domain.InteractionCall, Channel: "zenobia-hotline", OccurredAt: at},
		{ExternalID: "keep-call-1", Customer: ref("crm-keep-1"), Type: domain.InteractionCall, OccurredAt: at},
	}, false); err != nil {
		t.Fatalf("RecordInteractions: %v", err)
	}
	if _, err := svc.RecordReferrals(actx, []domain.Referral{
		{ExternalID: "erase-ref-out", Referrer: ref(target.ExternalID), Referred: ref("crm-keep-1"), OccurredAt: at},
		{ExternalID: "erase-ref-in", Referrer: ref("crm-keep-2"), Referred: ref(target.ExternalID), OccurredAt: at},
	}, false); err != nil {
		t.Fatalf("RecordReferrals: %v", err)
	}

	ids := []string{target.ID, target.ExternalID}
	personal := []string{"Zenobia", "Erasmusdottir", "zenobia.erasmusdottir@example.org", "+48 511 222 333", "Wyszogrod",
		"zenzen-the-forgettable", "wants-to-be-forgotten", "erase-order-1", "erase-order-2", "erase-refund-1", "erase-call-1",
		"zenobia-hotline", "erase-ref-out", "erase-ref-in"}
	for _, text := range append(slices.Clone(ids), personal...) {
		if len(find(t, text)) == 0 {
			t.Fatalf("before the erasure, %q is nowhere: the finder does not search what the store keeps", text)
		}
	}

	if err := svc.DeleteCustomer(actx, target.ID, ""); err != nil {
		t.Fatalf("DeleteCustomer: %v", err)
	}
	for _, text := range personal {
		for _, p := range find(t, text) {
			t.Errorf("after the erasure, %q is still in %s: %s", text, p.Where, p.Text)
		}
	}
	for _, text := range ids {
		places := find(t, text)
		audited := false
		for _, p := range places {
			if !p.Audit {
				t.Errorf("after the erasure, %q is still in %s: %s", text, p.Where, p.Text)
			}
			audited = audited || p.Audit
		}
		if !audited {
			t.Errorf("after the erasure, %q is not in the audit log", text)
		}
	}
	// The record itself: the erasure, by whom, of which ids, and nothing else.
	evs, err := s.ListAuditEvents(ctx, tn.ID, domain.AuditQuery{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var erasures []domain.AuditEvent
	for _, ev := range evs {
		if strings.Contains(string(ev.Before)+string(ev.After)+ev.ResourceID, target.ID) {
			erasures = append(erasures, ev)
		}
	}
	if len(erasures) != 1 {
		t.Fatalf("audit records of the customer: %+v, want one", erasures)
	}
	ev := erasures[0]
	var before map[string]any
	if err := json.Unmarshal(ev.Before, &before); err != nil {
		t.Fatalf("erasure record's before %s: %v", ev.Before, err)
	}
	want := map[string]any{"id": target.ID, "external_id": target.ExternalID}
	if ev.Action != domain.AuditEraseCustomer || ev.ResourceType != "customer" || ev.ResourceID != target.ID ||
		ev.KeyID != "eraser" || ev.Role != domain.RoleAdmin || ev.After != nil || len(before) != len(want) ||
		before["id"] != want["id"] || before["external_id"] != want["external_id"] {
		t.Errorf("erasure record = %+v (before %s), want action %s by key eraser of %v only", ev, ev.Before, domain.AuditEraseCustomer, want)
	}
	// The neighbours keep their own data.
	for _, ext := range []string{"crm-keep-1", "crm-keep-2"} {
		if _, err := svc.GetCustomer(actx, domain.CustomerRef{ExternalID: ext}); err != nil {
			t.Errorf("neighbour %s: %v", ext, err)
		}
	}
	for _, text := range []string{"keep-order-1", "keep-call-1"} {
		if len(find(t, text)) == 0 {
			t.Errorf("the neighbours' %q went with the erased customer", text)
		}
	}
}
